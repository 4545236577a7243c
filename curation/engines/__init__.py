"""Where detection and embedding run: `local` (the worker processes of `faces/worker.py` and
`embed/worker.py`) or `ray` (Ray Data over a Ray cluster, `ray_detect.py` and `ray_embed.py`).

Each engine is a worker module with the same contract: it reads the job's Parquet snapshot,
writes the same Parquet parts into the job's work folder and prints one JSON line per part, so
the job that records the parts is the same whatever ran them.
"""

from __future__ import annotations

from ..jobs.kinds import ENGINES
WORKERS = {
    ("detect", "local"): "curation.faces.worker",
    ("detect", "ray"): "curation.engines.ray_detect",
    ("embed", "local"): "curation.embed.worker",
    ("embed", "ray"): "curation.engines.ray_embed",
}


class UnknownEngine(ValueError):
    """An engine name other than local or ray."""


def worker_module(step: str, engine: str) -> str:
    """The module run as the worker process of `step` ("detect" or "embed") on `engine`."""
    if engine not in ENGINES:
        raise UnknownEngine(f"No engine is called '{engine}'; choose one of {', '.join(ENGINES)}.")
    return WORKERS[(step, engine)]


def engine_args(engine: str, address: str | None) -> list[str]:
    """The worker's extra arguments for `engine`: the Ray cluster's address, when one is given."""
    return ["--address", address] if engine == "ray" and address else []
