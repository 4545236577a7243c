"""Writing the dataset out: tables as CSV or Parquet, usable images as an image folder.

Shared by the command line (`curation export`, through `curation.client`), the pages' downloads
and the HTTP API, so that
every copy of the data leaving the project passes the same two guards:

- every CSV cell that a spreadsheet would run as a formula (a text starting with `=`, `+`, `-`,
  `@`, a tab or a carriage return: OWASP's CSV-injection rule) is written with a `'` in front, so
  it reads as the text it is, and every text cell is quoted, so a line break inside one stays
  inside it (`csv_text`, used by `file_chunks` and every download);
- the image folder builds each folder from a sanitised, unique name (`names.repair_name`, unique
  also where a file system ignores case) and checks that every path it writes resolves inside OUT.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .names import repair_name

CHUNK = 1 << 20
EXPORT_BATCH_ROWS = 50_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """An export that cannot be written, with a sentence that says why."""


def neutralise_cell(value):
    """A text that a spreadsheet would run as a formula, with `'` in front; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (and column names) cannot start a formula."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_cell)
    safe.columns = [neutralise_cell(str(c)) for c in safe.columns]
    return safe


def csv_text(frame: pd.DataFrame, header: bool = True) -> str:
    """`frame` as CSV text with every formula-like cell neutralised: the project's only CSV writer."""
    return neutralised(frame).to_csv(index=False, header=header, quoting=csv.QUOTE_NONNUMERIC)



def table(store, what: str, run_id: int | None = None, model: str | None = None, batch_rows: int | None = None):
    """DESIGN.md's export `what` as a table (one row per source); with `batch_rows`, a `Streamed`
    (row count and Arrow batches) to write with `file_chunks`."""
    if what == "images":
        return store.export_images(batch_rows)
    if what == "predictions":
        return store.export_predictions(run_id, batch_rows)
    if what == "embeddings":
        return store.export_embeddings(model, batch_rows)
    return store.export_suggestions(model, batch_rows)


def file_chunks(batches: Iterator[pa.RecordBatch], fmt: str) -> Iterator[bytes]:
    """The export file, written batch by batch: CSV (formula-proof, `csv_text`) or Parquet."""
    if fmt == "csv":
        for n, batch in enumerate(batches):
            yield csv_text(batch.to_pandas(), header=n == 0).encode("utf-8")
        return
    sink, writer = ChunkSink(), None
    for batch in batches:
        writer = writer or pq.ParquetWriter(sink, batch.schema)
        writer.write_batch(batch)
        yield sink.take()
    writer.close()
    yield sink.take()


def stream_export(store, what: str, fmt: str, run_id: int | None = None, model: str | None = None) -> tuple[int, Iterator[bytes]]:
    """(rows, the file's bytes in chunks) of an export, never held whole."""
    streamed = table(store, what, run_id, model, batch_rows=EXPORT_BATCH_ROWS)
    return streamed.rows, file_chunks(streamed.batches, fmt)


def imagefolder_entries(store) -> list[tuple[Path, str]]:
    """(original file, `<folder>/<sha256>.<ext>`) of every usable, labelled image; <folder> is the
    label made a safe, unique folder name."""
    rows = store.labelled_originals()
    folders = folder_names(sorted({label for _, _, label in rows}))
    return [(store.project.original_path(sha, ext), f"{folders[label]}/{sha}.{ext}") for sha, ext, label in rows]


def export_imagefolder(store, out: Path) -> int:
    """Usable, labelled images copied as OUT/<folder>/<sha256>.<ext>, the layout torchvision reads.
    Every target is checked to stay inside OUT before anything is copied."""
    root = Path(os.path.abspath(out))
    copies = [(source, inside(root, *relative.split("/"))) for source, relative in imagefolder_entries(store)]
    for source, target in copies:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return len(copies)


class ChunkSink(io.RawIOBase):
    """An unseekable file that keeps what is written until `take` hands it on (zipfile then writes
    each member's sizes after its data, so the archive never has to be held whole)."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def zip_chunks(entries: list[tuple[Path, str]]) -> Iterator[bytes]:
    """A stored (not recompressed) zip of `entries`, yielded member by member: memory stays at one
    file's size whatever the dataset's, so a million-image export streams."""
    sink = ChunkSink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for source, relative in entries:
            archive.write(source, relative)
            yield sink.take()
    yield sink.take()


def imagefolder_zip(store) -> tuple[Iterator[bytes], int]:
    """The image folder as a stream of zip chunks, and its number of images."""
    entries = imagefolder_entries(store)
    return zip_chunks(entries), len(entries)


def unpack_imagefolder(archive_file: Path | BinaryIO, out: Path) -> int:
    """Write an image-folder zip (from a server) into OUT; ExportError, before anything is written,
    when a member would land outside OUT."""
    root = Path(os.path.abspath(out))
    with zipfile.ZipFile(archive_file) as archive:
        members = [(member, inside(root, *member.filename.split("/"))) for member in archive.infolist()
                   if not member.is_dir()]
        for member, target in members:
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as copy:
                shutil.copyfileobj(source, copy, CHUNK)
    return len(members)


def folder_names(labels: list[str]) -> dict[str, str]:
    """Each label's folder: its usable form, made unique where two would clash (also by case)."""
    taken: set[str] = set()
    folders = {}
    for label in labels:
        base = repair_name(label)
        name, n = base, 2
        while name.casefold() in taken:
            name, n = f"{base} ({n})", n + 1
        taken.add(name.casefold())
        folders[label] = name
    return folders


def inside(root: Path, *parts: str) -> Path:
    """root/parts..., or ExportError when it would resolve anywhere but inside `root`."""
    target = root.joinpath(*parts)
    if "\x00" in str(target) or not target.resolve().is_relative_to(root.resolve()) or target.resolve() == root.resolve():
        raise ExportError(f"A label would write outside {root}; nothing was written.")
    return target
