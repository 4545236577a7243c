"""Where embeddings live: DuckDB `FLOAT[]` columns in the project's database, or Parquet files
beside it. Both are written the way an embedding run writes them (a part of 256 vectors at a
time) and read back the way similarity work reads them (every vector of a model into one numpy
matrix). Prints seconds and MiB for each.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PART = 256


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="vectors")
    parser.add_argument("--dims", type=int, nargs="+", default=[128, 512])
    return parser.parse_args()


def parts(vectors: np.ndarray):
    for start in range(0, len(vectors), PART):
        chunk = vectors[start:start + PART]
        yield pa.table({"key": np.arange(start, start + len(chunk)),
                        "vector": pa.FixedSizeListArray.from_arrays(pa.array(chunk.ravel()), chunk.shape[1])})


def duckdb_run(vectors: np.ndarray, folder: Path) -> tuple[float, float, float]:
    con = duckdb.connect(str(folder / "project.duckdb"))
    con.execute("CREATE TABLE e (face_id BIGINT, model VARCHAR, vector FLOAT[], PRIMARY KEY (face_id, model))")
    part_file = folder / "part.parquet"
    start = time.perf_counter()
    for table in parts(vectors):
        pq.write_table(table, part_file)
        con.begin()
        con.execute("INSERT INTO e SELECT key, 'm', vector::FLOAT[] FROM read_parquet(?)", [str(part_file)])
        con.commit()
    con.execute("CHECKPOINT")
    write = time.perf_counter() - start
    con.close()
    con = duckdb.connect(str(folder / "project.duckdb"), read_only=True)
    start = time.perf_counter()
    table = con.sql("SELECT vector FROM e WHERE model = 'm' ORDER BY face_id").to_arrow_table()
    column = table.column(0).combine_chunks()
    matrix = column.values.to_numpy().reshape(len(column), -1)
    read = time.perf_counter() - start
    con.close()
    assert np.array_equal(matrix, vectors)
    return write, read, (folder / "project.duckdb").stat().st_size / 2**20


def parquet_run(vectors: np.ndarray, folder: Path) -> tuple[float, float, float]:
    out = folder / "embeddings"
    out.mkdir()
    start = time.perf_counter()
    for n, table in enumerate(parts(vectors)):
        pq.write_table(table, out / f"part-{n:06d}.parquet")
    write = time.perf_counter() - start
    start = time.perf_counter()
    column = pq.read_table(out).sort_by("key").column("vector").combine_chunks()
    matrix = column.flatten().to_numpy().reshape(len(column), -1)
    read = time.perf_counter() - start
    assert np.array_equal(matrix, vectors)
    return write, read, sum(f.stat().st_size for f in out.iterdir()) / 2**20


def main() -> None:
    args = parse_args()
    print(f"{'store':<40}{'write s':>10}{'read s':>10}{'MiB':>8}")
    for dim in args.dims:
        vectors = np.random.default_rng(0).standard_normal((args.n, dim)).astype(np.float32)
        for name, run in (("DuckDB FLOAT[]", duckdb_run), ("Parquet parts beside it", parquet_run)):
            folder = Path(tempfile.mkdtemp(prefix="curation-bench-storage-"))
            try:
                write, read, size = run(vectors, folder)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            print(f"{f'{name}, {args.n} x {dim}':<40}{write:>10.2f}{read:>10.2f}{size:>8.0f}")


if __name__ == "__main__":
    main()
