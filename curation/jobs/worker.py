"""The one protocol of every worker process (DESIGN.md: heavy work runs apart from the database).

The process that owns the project's database (the server, or a command) must not run networks or
long numeric work itself, and inside Streamlit the page is `__main__`, so no process pool may be
started from it. Ingest, detection, embedding, training and the map therefore run as
`python -m <module> ARGS...`:

- inputs are files (a Parquet snapshot, a JSON-lines task list, a run folder) named in ARGS;
- progress and results are JSON objects, one a line, on the worker's stdout (`emit`);
- bulk outputs are Parquet parts written atomically into a work folder (`write_part`), each named
  in a message, which the job records as it arrives;
- stderr goes to a log; a worker that fails has its last stderr line as the job's sentence.

A run that is killed keeps every part recorded, and the next run does only the rest.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:  # pyarrow is imported where a part is written: ingest's worker writes none
    import pyarrow as pa

POLL_SECONDS = 0.5
_END = object()


class WorkerFailed(RuntimeError):
    """The worker process stopped with an error; the message is its last line on stderr."""


def emit(**message) -> None:
    """Worker side: report progress or a part to the job, one JSON line on stdout."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def write_part(table: pa.Table, folder: Path, name: str) -> str:
    """Worker side: write a part atomically (the job never sees half a file)."""
    import pyarrow.parquet as pq

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

    Reading past the last message raises `WorkerFailed`, with the worker's last line on stderr, if it
    exited with an error.
    """
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.PIPE, stderr=err,
                                text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc, lines), daemon=True, name=f"{module}-stdout").start()
    try:
        yield _messages(proc, lines, log)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait()


def follow_worker(module: str, args: list[str], log: Path, record: Callable[[dict], int], done: int = 0,
                  total: int | None = None, progress: Callable[[int, int | None], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> bool:
    """Run a worker and `record` each message as it arrives (`record` returns how many units the
    message covers, for the progress); stop it as soon as `cancelled` says so. True when cancelled."""
    return follow_workers(module, [args], [log], record, done, total, progress, cancelled)


def follow_workers(module: str, arg_lists: list[list[str]], logs: list[Path], record: Callable[[dict], int],
                   done: int = 0, total: int | None = None, progress: Callable[[int, int | None], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> bool:
    """Run one worker of `module` per list of args at once; `record` each message in this thread as it
    arrives from any of them (it returns how many units the message covers, for the progress). All
    are stopped on a cancel, looked for at least every POLL_SECONDS, or when one fails (its
    WorkerFailed is raised here). True when cancelled."""
    merged: queue.Queue = queue.Queue()
    with ExitStack() as running:
        for args, log in zip(arg_lists, logs):
            messages = running.enter_context(worker_messages(module, args, log))
            threading.Thread(target=_forward, args=(messages, merged), daemon=True, name=f"{module}-merge").start()
        ended = 0
        while ended < len(arg_lists):
            try:
                message = merged.get(timeout=POLL_SECONDS)
            except queue.Empty:
                message = None
            if isinstance(message, BaseException):
                raise message
            if message is _END:
                ended += 1
            elif message is not None:
                done += record(message)
                if progress:
                    progress(done, total)
            if cancelled and cancelled():
                return True
    return False


def _forward(messages: Iterator[dict | None], merged: queue.Queue) -> None:
    """One worker's messages into the merged queue, then _END (or the error that ended it)."""
    try:
        for message in messages:
            merged.put(message)
        merged.put(_END)
    except BaseException as exc:  # noqa: BLE001 - handed to the following thread, which raises it
        merged.put(exc)


def _pump(proc: subprocess.Popen, lines: queue.Queue) -> None:
    for line in proc.stdout:
        if line.startswith("{"):
            lines.put(json.loads(line))
    proc.stdout.close()
    lines.put(_END)


def _messages(proc: subprocess.Popen, lines: queue.Queue, log: Path) -> Iterator[dict]:
    while (message := lines.get()) is not _END:
        yield message
    if proc.wait() != 0:
        raise WorkerFailed(last_line(log) or f"The worker stopped with exit status {proc.returncode}.")


def last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""
