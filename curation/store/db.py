"""Opening a project's database: one cached connection per process, a cursor per call.

DuckDB lets one process write a database file; a second process gets an IOException about a
lock. That is turned into `ProjectLocked`, which says who holds the project, at once.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from datetime import datetime, timezone

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from ..project import Project, ProjectError
from .schema import migrate


class ProjectLocked(ProjectError):
    """Another process (the app, or another command) has the project open."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def connect(project: Project) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(project.db_path))
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        pid = re.search(r"PID (\d+)", str(exc))
        holder = f"process {pid.group(1)}" if pid else "another process"
        raise ProjectLocked(
            f"The project at {project.root} is open in {holder} (the app or another command): "
            "stop it, or do this from the app."
        ) from None


class Database:
    """Connection, cursors and write transactions for one project in this process."""

    def __init__(self, project: Project):
        self.project = project
        self._con = connect(project)
        self._write_lock = threading.RLock()
        try:
            migrate(self._con.cursor(), utcnow())
        except BaseException:
            self._con.close()
            raise

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
            except BaseException:
                cur.rollback()
                raise
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
