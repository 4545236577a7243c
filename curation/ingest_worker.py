"""The ingest's worker process: verifies, hashes and thumbnails files in parallel.

Run as `python -m curation.ingest_worker ROOT WORKERS TASKS` (curation.jobs.worker's protocol):
TASKS is a file of JSON tasks, one a line; it reports one JSON outcome per line on stdout, in task
order. Being its own process gives the pool a clean `__main__`: inside Streamlit the page script is
`__main__`, and spawned pool workers would run it again.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Iterator

from .ingest import FileOutcome, FileTask, process_file
from .jobs.worker import emit, work_folder, worker_messages
from .lifeline import exit_with_parent


def pool_context():
    """`fork` where there is one: this process is single-threaded and holds no database, so its
    children can safely start as copies, with Pillow, numpy and scipy already imported."""
    import scipy.fftpack  # noqa: F401  (imported once here, used by every child's perceptual hash)

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run(root: str, workers: int, tasks_file: str) -> None:
    with open(tasks_file) as lines:
        tasks = [FileTask(**json.loads(line)) for line in lines]
    with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=exit_with_parent) as pool:
        for outcome in pool.map(partial(process_file, root=root), tasks, chunksize=8):
            emit(**asdict(outcome))


def outcomes_from_worker(tasks: list[FileTask], root: str, workers: int) -> Iterator[FileOutcome]:
    """Outcomes of `tasks` computed by a worker process, which is started before this returns (its
    imports take a few tenths of a second: the caller works meanwhile); closing the iterator early
    stops the worker."""
    outcomes = _worker_outcomes(tasks, root, workers)
    next(outcomes)
    return outcomes


def _worker_outcomes(tasks: list[FileTask], root: str, workers: int) -> Iterator[FileOutcome | None]:
    """None once the worker is started, then its outcomes."""
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
    run(sys.argv[1], int(sys.argv[2]), sys.argv[3])
