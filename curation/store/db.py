"""Opening a project's database: one cached connection per process, a cursor per call.

DuckDB lets one process write a database file; a second process gets an IOException about a
lock. That is turned into `ProjectLocked`, which says who holds the project, at once. Any other
failure to open (an empty, truncated or overwritten file, a file that cannot be read) is one
`ProjectError` sentence. A project on a read-only folder or disk is opened read-only: what can be
read is shown, and each write fails as `WriteFailed` naming the cause, as does a write on a full
disk (never DuckDB's follow-on "cannot rollback - no transaction is active").
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from ..project import READ_ONLY_SIGNS, Project, ProjectError, disk_problem, disk_sentence
from .schema import SCHEMA_VERSION, current_version, migrate



class ProjectLocked(ProjectError):
    """Another process (the app, or another command) has the project open."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def connect(project: Project, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(project.db_path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise ProjectError(open_failure(project, exc)) from None
        pid = re.search(r"PID (\d+)", str(exc))
        holder = f"process {pid.group(1)}" if pid else "another process"
        raise ProjectLocked(
            f"The project at {project.root} is open in {holder} (the app or another command): "
            "stop it, or do this from the app."
        ) from None
    except duckdb.Error as exc:
        raise ProjectError(open_failure(project, exc)) from None


def open_failure(project: Project, exc: Exception) -> str:
    """One sentence for a database file DuckDB cannot open."""
    text = str(exc).lower()
    path = project.db_path
    restore = "restore it from a backup (`curation restore BACKUP DIR`) or an earlier copy of the folder"
    if "not a valid duckdb database" in text:
        return f"The project's database {path} is not a DuckDB database (empty or overwritten): {restore}."
    if "could not read enough bytes" in text or "corrupt" in text or "checksum" in text:
        return f"The project's database {path} is truncated or damaged: {restore}."
    if any(sign in text for sign in READ_ONLY_SIGNS):
        return f"The project's database {path} cannot be opened: permission denied or a read-only disk."
    return f"The project's database {path} cannot be opened: {str(exc).splitlines()[0]}"


def write_failed(project: Project, exc: BaseException) -> WriteFailed | None:
    """The error to raise for a write the disk refused (full, read-only); None for any other error."""
    problem = disk_problem(exc)
    if problem is None:
        return None
    sentence = disk_sentence(project.root, problem, "this change was not saved, and nothing saved before it is lost")
    return WriteFailed(sentence, problem)


class EditError(ValueError):
    """An edit the user asked for that cannot be made, with a sentence that says why."""


@dataclass(frozen=True)
class Streamed:
    """A query's result read batch by batch: how many rows, and the Arrow batches."""

    rows: int
    batches: Iterator[pa.RecordBatch]


class WriteFailed(ProjectError, EditError):
    """A write the disk refused; its message names the real cause, `problem` is 'full' or
    'read-only'. Pages that show an edit's refusal show this one the same way."""

    def __init__(self, sentence: str, problem: str):
        super().__init__(sentence)
        self.problem = problem


class Database:
    """Connection, cursors and write transactions for one project in this process."""

    def __init__(self, project: Project):
        self.project = project
        self.read_only = not os.access(project.root, os.W_OK) or (
            project.db_path.exists() and not os.access(project.db_path, os.W_OK))
        self._con = self._connect()
        self._write_lock = threading.RLock()
        #: Write transactions committed through this object. This process alone writes the project while
        #: it holds it, so an unchanged count means unchanged data: a key for what is computed from it.
        self.revision = 0
        try:
            self._bring_up_to_date()
        except BaseException:
            self._con.close()
            raise

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Read-write, or read-only when the folder or disk refuses writes (the app then shows what it can)."""
        if not self.read_only:
            try:
                return connect(self.project)
            except ProjectLocked:
                raise
            except ProjectError as exc:
                if "read-only disk" not in str(exc):
                    raise
                self.read_only = True
        return connect(self.project, read_only=True)

    def _bring_up_to_date(self) -> None:
        cur = self._con.cursor()
        try:
            if not self.read_only:
                migrate(cur, utcnow())
            elif current_version(cur) != SCHEMA_VERSION:
                raise ProjectError(f"The project at {self.project.root} needs its database upgraded, and its "
                                   "folder is read-only: make it writable and open it again.")
        except duckdb.Error as exc:
            raise write_failed(self.project, exc) or ProjectError(open_failure(self.project, exc)) from None
        finally:
            cur.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    @contextmanager
    def transaction(self):
        """A write transaction; writes in this process are serialised so ids stay unique."""
        with self._write_lock:
            cur = self._con.cursor()
            cur.begin()
            try:
                yield cur
                cur.commit()
                self.revision += 1
            except BaseException as exc:
                _quiet_rollback(cur)
                failure = write_failed(self.project, exc)
                if failure is None:
                    raise
                raise failure from None
            finally:
                cur.close()

    def query(self, sql: str, params=None) -> list[tuple]:
        cur = self._con.cursor()
        try:
            return cur.execute(sql, params or []).fetchall()
        finally:
            cur.close()

    def query_df(self, sql: str, params=None):
        cur = self._con.cursor()
        try:
            return cur.execute(sql, params or []).df()
        finally:
            cur.close()

    def query_batches(self, sql: str, params=None, rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """A query's rows as Arrow batches of at most `rows`, read as they are consumed: an export of a
        million rows never sits whole in memory. An empty result is one empty batch with its columns."""
        cur = self._con.cursor()
        try:
            reader = cur.sql(sql, params=params or []).to_arrow_reader(rows)
            empty = True
            for batch in reader:
                empty = False
                yield batch
            if empty:
                yield pa.RecordBatch.from_pylist([], schema=reader.schema)
        finally:
            cur.close()

    def query_frame_or_batches(self, sql: str, params=None, batch_rows: int | None = None):
        """The whole result as a DataFrame, or with `batch_rows`, a `Streamed`: its row count (asked
        first, so an HTTP answer can name it before its body) and its `query_batches`."""
        if batch_rows is None:
            return self.query_df(sql, params)
        rows = self.query(f"SELECT count(*) FROM ({sql}) AS counted", params)[0][0]
        return Streamed(rows, self.query_batches(sql, params, batch_rows))

    def query_arrow(self, sql: str, params=None) -> pa.Table:
        """A query's rows as an Arrow table: columns go to numpy without a Python object per value."""
        cur = self._con.cursor()
        try:
            return cur.sql(sql, params=params or []).to_arrow_table()
        finally:
            cur.close()

    def rows_with_vectors(self, sql: str, params=None) -> tuple[pd.DataFrame, np.ndarray]:
        """A query with a `vector` column: the other columns as a DataFrame and the vectors as one
        float32 matrix, rows in the same order (read through Arrow: no Python list per vector)."""
        cur = self._con.cursor()
        try:
            table = cur.sql(sql, params=params or []).to_arrow_table()
        finally:
            cur.close()
        vectors = table.column("vector").combine_chunks()
        matrix = vectors.values.to_numpy().reshape(len(vectors), -1) if len(vectors) else np.zeros((0, 0))
        return table.drop(["vector"]).to_pandas(), matrix.astype(np.float32, copy=False)

    def close(self) -> None:
        self._con.close()


def _quiet_rollback(cur) -> None:
    """Roll back what DuckDB has not already aborted; its own failure to do so ("no transaction is
    active") would hide the error that matters."""
    try:
        cur.rollback()
    except duckdb.Error:
        pass


def next_id(cur, table: str) -> int:
    return cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchall()[0][0]


def executemany(cur, sql: str, rows: list) -> None:
    """`executemany` that accepts an empty list (DuckDB 2.0 rejects one)."""
    if rows:
        cur.executemany(sql, rows)


def insert_rows(cur, insert: str, rows: list[list]) -> None:
    """`insert` ("INSERT INTO t (a, b)") of all `rows` in one statement, read from an Arrow table.

    Bound parameters cost DuckDB a planning step each (a 64-row chunk of images, 1,088 of them,
    took ~40 ms); an Arrow table typed like the target columns is scanned instead.
    """
    if not rows:
        return
    schema = target_schema(cur, insert)
    columns = [arrow_column(values, field.type) for values, field in zip(zip(*rows), schema)]
    batch = pa.Table.from_arrays(columns, names=schema.names)
    cur.register("insert_batch", batch)
    try:
        cur.execute(f"{insert} SELECT * FROM insert_batch")
    finally:
        cur.unregister("insert_batch")


def arrow_column(values, arrow_type: pa.DataType) -> pa.Array:
    """`values` as the column's type; values of another type (a number as text) are left for
    DuckDB to cast on insert, as it does for bound parameters."""
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


_SCHEMAS: dict[str, pa.Schema] = {}
INSERT_TARGET = re.compile(r"INSERT\s+(?:OR\s+\w+\s+)?INTO\s+(\w+)\s*\((.*)\)", re.IGNORECASE | re.DOTALL)


def target_schema(cur, insert: str) -> pa.Schema:
    """The Arrow types of the columns `insert` ("INSERT [OR REPLACE] INTO t (a, b)") names, as the table
    declares them."""
    if insert not in _SCHEMAS:
        table, columns = INSERT_TARGET.fullmatch(insert.strip()).groups()
        _SCHEMAS[insert] = cur.sql(f"SELECT {columns} FROM {table} LIMIT 0").to_arrow_table().schema
    return _SCHEMAS[insert]
