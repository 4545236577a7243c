"""Heavy work in a worker process that reads files and writes files (DESIGN.md).

The process that owns the project's database (the app, or a command) must not run the networks
itself, and inside Streamlit the page is `__main__`, so no process pool may be started from it.
Detection and embedding therefore run as `python -m <module> ...`: the worker reads a Parquet
snapshot, writes its results as Parquet parts in a work folder and prints one JSON line per
part; the caller records each part as it arrives. A run that is killed keeps every part
recorded, and the next run does only the rest.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq


class WorkerFailed(RuntimeError):
    """The worker process stopped with an error; the message is its last line on stderr."""


def emit(**message) -> None:
    """Worker side: report a part (or anything) to the caller, one JSON line on stdout."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def write_part(table: pa.Table, folder: Path, name: str) -> str:
    """Worker side: write a part atomically (the caller never sees half a file)."""
    path = folder / name
    pq.write_table(table, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
    return str(path)


@contextmanager
def work_folder(root: Path, kind: str):
    """A fresh folder under the project's `work/` for one run's files, removed afterwards."""
    folder = root / "work" / f"{kind}-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def worker_messages(module: str, args: list[str], log: Path) -> Iterator[Iterator[dict]]:
    """Start `python -m module args` and give its messages; leaving the block stops it.

    Reading past the last message raises `WorkerFailed`, with the worker's last line on stderr,
    if it exited with an error. Its stderr goes to `log`.
    """
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.PIPE, stderr=err,
                                text=True)
    try:
        yield _messages(proc, log)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait()
        proc.stdout.close()


def follow_worker(module: str, args: list[str], log: Path, record: Callable[[dict], int], done: int, total: int,
                  progress: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> bool:
    """Run a worker and `record` each part it reports as it arrives (`record` returns how many units
    the part covers, for the progress); stop it when `cancelled` says so. True when cancelled."""
    with worker_messages(module, args, log) as messages:
        for message in messages:
            done += record(message)
            if progress:
                progress(done, total)
            if cancelled and cancelled():
                return True
    return False


def _messages(proc: subprocess.Popen, log: Path) -> Iterator[dict]:
    for line in proc.stdout:
        if line.startswith("{"):
            yield json.loads(line)
    if proc.wait() != 0:
        raise WorkerFailed(last_line(log) or f"The worker stopped with exit status {proc.returncode}.")


def last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""
