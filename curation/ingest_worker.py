"""The ingest's worker process: verifies, hashes and thumbnails files in parallel.

Run as `python -m curation.ingest_worker ROOT WORKERS`, with one JSON task per line on stdin; it
writes one JSON outcome per line to stdout, in task order. Being its own process gives the pool
a clean `__main__`: inside Streamlit the page script is `__main__`, and spawned pool workers
would run it again. It is also the worker process DESIGN.md asks heavy work to run in.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from functools import partial
from typing import Iterator

from .ingest import FileOutcome, FileTask, process_file


def pool_context():
    """`fork` where there is one: this process is single-threaded and holds no database, so its
    children can safely start as copies, with Pillow, numpy and scipy already imported."""
    import scipy.fftpack  # noqa: F401  (imported once here, used by every child's perceptual hash)

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run(root: str, workers: int) -> None:
    tasks = [FileTask(**json.loads(line)) for line in sys.stdin]
    with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context()) as pool:
        for outcome in pool.map(partial(process_file, root=root), tasks, chunksize=4):
            sys.stdout.write(json.dumps(asdict(outcome)) + "\n")
            sys.stdout.flush()


def outcomes_from_worker(tasks: list[FileTask], root: str, workers: int) -> Iterator[FileOutcome]:
    """Outcomes of `tasks` computed by a worker process; stopping early stops the worker."""
    proc = subprocess.Popen([sys.executable, "-m", "curation.ingest_worker", root, str(workers)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    received = 0
    try:
        proc.stdin.write("".join(json.dumps(asdict(t)) + "\n" for t in tasks))
        proc.stdin.close()
        for line in proc.stdout:
            received += 1
            yield FileOutcome(**json.loads(line))
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait()
    if received < len(tasks):
        raise RuntimeError(f"The ingest worker stopped (exit status {proc.returncode}) after {received} of {len(tasks)} files.")


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]))
