"""The ingest's worker process: verifies, hashes and thumbnails files in parallel.

Run as `python -m curation.ingest_worker ROOT WORKERS TASKS` (curation.jobs.worker's protocol):
TASKS is a file of JSON tasks, one a line; it reports one JSON outcome per line on stdout, in task
order. Being its own process gives the pool a clean `__main__`: inside Streamlit the page script is
`__main__`, and spawned pool workers would run it again.

Its start is part of every ingest's cost (a tenth of a 600-image ingest's CPU), so it imports only
what the per-file work needs: no job machinery, and numpy with its BLAS on one thread.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .lifeline import exit_with_parent

if TYPE_CHECKING:
    from .ingest import FileOutcome, FileTask

#: Outcomes written to the pipe at once: the reading process wakes once per this many images,
#: not per image, and still sees them long before it records its next chunk (64 or more).
LINES_PER_WRITE = 8

#: numpy's BLAS starts a spinning thread per core at import; nothing here multiplies matrices.
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def pool_context():
    """`fork` where there is one: this process is single-threaded and holds no database, so its
    children can safely start as copies, with Pillow, numpy and the DCT already imported. What was
    imported is frozen out of the garbage collector's sweeps, which would otherwise walk it in
    every child."""
    import multiprocessing

    import scipy.fftpack  # noqa: F401  (the pHash's DCT, imported once for every child)

    gc.freeze()
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run(root: str, workers: int, tasks_file: str) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from .ingest import FileTask, process_file

    with open(tasks_file) as lines:
        tasks = [FileTask(**json.loads(line)) for line in lines]
    lines: list[str] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=exit_with_parent) as pool:
        for outcome in pool.map(partial(process_file, root=root), tasks, chunksize=8):
            lines.append(json.dumps(vars(outcome)) + "\n")
            if len(lines) == LINES_PER_WRITE:
                write_lines(lines)
    write_lines(lines)


def write_lines(lines: list[str]) -> None:
    """Report outcomes (curation.jobs.worker.emit's format, several lines per write)."""
    sys.stdout.write("".join(lines))
    sys.stdout.flush()
    lines.clear()


def outcomes_from_worker(tasks: list[FileTask], root: str, workers: int) -> Iterator[FileOutcome]:
    """Outcomes of `tasks` computed by a worker process, which is started before this returns (its
    imports take a few tenths of a second: the caller works meanwhile); closing the iterator early
    stops the worker."""
    outcomes = _worker_outcomes(tasks, root, workers)
    next(outcomes)
    return outcomes


def _worker_outcomes(tasks: list[FileTask], root: str, workers: int) -> Iterator[FileOutcome | None]:
    """None once the worker is started, then its outcomes."""
    from .ingest import FileOutcome
    from .jobs.worker import work_folder, worker_messages

    received = 0
    with work_folder(Path(root), "ingest") as work:
        tasks_file = work / "tasks.jsonl"
        tasks_file.write_text("".join(json.dumps(asdict(t)) + "\n" for t in tasks))
        with worker_messages("curation.ingest_worker", [root, str(workers), str(tasks_file)],
                             work / "worker.log") as messages:
            yield None
            for message in messages:
                received += 1
                yield FileOutcome(**message)
    if received < len(tasks):
        raise RuntimeError(f"The ingest worker stopped after {received} of {len(tasks)} files.")


if __name__ == "__main__":
    exit_with_parent()
    os.environ.update(ONE_THREAD)  # before numpy is first imported (by curation.ingest, in run)
    run(sys.argv[1], int(sys.argv[2]), sys.argv[3])
