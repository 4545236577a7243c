"""Peeling every label's pool into coherent groups, here or on worker processes.

Peeling a pool (joint.coherent_groups) runs replicator dynamics on its faces' affinity: up to
MAX_STEPS products of a dense pool x pool matrix with a vector per group, six groups. On a pool of
2,400 one-person faces the dynamics do not settle, so that is 18,000 products of a 46 MB matrix,
and Theia's 500 labels hold 500 such pools. Pools are independent, so the clean job deals them to
one worker process per core (`python -m curation.clean.peel`, curation.jobs.worker's protocol):
the job's process writes each worker's pools to a file, reads back each pool's groups as it is
peeled, reports progress and looks for a cancel per pool, and alone writes the database.

Each worker keeps BLAS to one thread. Its matrix-vector product gives the same bits with one thread
as with several (each row's sum is one thread's either way), so the groups are those of peeling in
the job's process; and on a shared CPU, OpenBLAS's threads waiting on each other made each product
3-5 times slower than one thread alone.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from ..jobs.worker import emit, follow_workers, work_folder
from ..lifeline import exit_with_parent
from .joint import coherent_groups
from .method import MIN_GROUP, cannot_link, pairwise_distances

#: Below this many face pairs over all pools, the pools are peeled in the job's process: a worker
#: costs 1-3 s of wall time to start on a shared CPU (numpy, pandas, scipy), a pool of 1,000 faces
#: 3-10 s to peel.
WORKER_PAIRS = 4_000_000


class PeelingCancelled(Exception):
    """The job was cancelled while the pools were being peeled."""


def peel_one(vectors: np.ndarray, image_ids: np.ndarray, attributes: np.ndarray | None,
             same_person: float) -> list[np.ndarray]:
    """The coherent groups of one pool, from its own faces' vectors, images and attributes."""
    return coherent_groups(pairwise_distances(vectors), cannot_link(image_ids, attributes), same_person)


Report = Callable[[int, int], None]


def peel_here(pools: list, same_person: float, progress: Report | None = None,
              cancelled: Callable[[], bool] | None = None) -> list[list[np.ndarray]]:
    """Every pool's groups, peeled one after another in this process (progress and cancel per pool)."""
    out = []
    for number, pool in enumerate(pools):
        if cancelled and cancelled():
            raise PeelingCancelled
        out.append(coherent_groups(pool.distances, pool.blocked, same_person))
        if progress:
            progress(number + 1, len(pools))
    return out


def deal(sizes: list[int], workers: int) -> list[list[int]]:
    """Pools dealt to workers, largest first to the least loaded (cost grows with size squared)."""
    hands, loads = [[] for _ in range(workers)], [0] * workers
    for k in sorted(range(len(sizes)), key=lambda k: -sizes[k]):
        least = loads.index(min(loads))
        hands[least].append(k)
        loads[least] += sizes[k] ** 2
    return [hand for hand in hands if hand]


def peel_in_workers(pools: list, same_person: float, root: Path, workers: int | None = None,
                    progress: Report | None = None, cancelled: Callable[[], bool] | None = None) -> list[list[np.ndarray]]:
    """Every pool's groups, peeled on `workers` processes (default: one per core) under `root`'s
    work folder; raises PeelingCancelled when `cancelled` says so (the workers are stopped)."""
    sizes = [len(pool.rows) for pool in pools]
    hands = deal(sizes, workers or os.cpu_count() or 1)
    groups: list = [None] * len(pools)

    def record(message: dict) -> int:
        groups[message["pool"]] = [np.asarray(group, dtype=np.intp) for group in message["groups"]]
        return 1

    with work_folder(root, "peel") as work:
        arguments = []
        for number, hand in enumerate(hands):
            path = work / f"pools-{number}.pkl"
            with open(path, "wb") as out:
                pickle.dump((same_person, [pool_input(pools[k], k) for k in hand]), out, protocol=5)
            arguments.append([str(path)])
        stopped = follow_workers("curation.clean.peel", arguments, [work / f"worker-{n}.log" for n in range(len(hands))],
                                 record, total=len(pools), progress=progress, cancelled=cancelled)
    if stopped:
        raise PeelingCancelled
    return groups


def pool_input(pool, number: int) -> tuple:
    """What a worker needs of one pool: its number, its faces' vectors, images and attributes."""
    attributes = None if pool.attributes is None else pool.attributes[pool.rows]
    return number, pool.vectors[pool.rows], pool.image_ids[pool.rows], attributes


def peeler(root: Path, progress: Report | None = None, cancelled: Callable[[], bool] | None = None,
           workers: int | None = None):
    """The clean job's way of peeling: on workers when the pools are large enough to pay for them,
    else here; both report progress and look for a cancel per pool."""
    def peel(pools: list, same_person: float) -> list[list[np.ndarray]]:
        pairs = sum(len(pool.rows) ** 2 for pool in pools if len(pool.rows) >= MIN_GROUP)
        if pairs >= WORKER_PAIRS and len(pools) > 1:
            return peel_in_workers(pools, same_person, root, workers, progress, cancelled)
        return peel_here(pools, same_person, progress, cancelled)
    return peel


def main(argv: list[str]) -> None:
    from threadpoolctl import threadpool_limits

    with open(argv[0], "rb") as source:
        same_person, pools = pickle.load(source)
    with threadpool_limits(limits=1, user_api="blas"):
        for number, vectors, image_ids, attributes in pools:
            groups = peel_one(vectors, image_ids, attributes, same_person)
            emit(pool=number, groups=[group.tolist() for group in groups])


if __name__ == "__main__":
    exit_with_parent()
    main(sys.argv[1:])
