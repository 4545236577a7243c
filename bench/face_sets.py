"""The embedded face sets the benchmarks share, read from a private copy of bench/clean.py's cache.

bench/clean.py builds each set once into ~/.cache/curation/bench-clean by the project's commands.
Opening a project migrates its database to this checkout's schema, and other checkouts (other
branches) read the same cache: so this opens a copy of the database only, kept beside the cache."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
MODEL = "dlib-resnet34"


def embedded_faces(data: Path, cache: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Every face of the set `data` with its vector and `person` (the labelled face of its image)."""
    sys.path.insert(0, str(BENCH))
    import clean

    shared = cache / f"{data.name}-{MODEL}" / "project.duckdb"
    if not shared.exists():
        clean.embedded_faces(data, cache, MODEL)  # builds the shared cache (at this checkout's schema)
    private = cache.with_name(cache.name + "-private")
    copy = private / f"{data.name}-{MODEL}" / "project.duckdb"
    if not copy.exists():
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared, copy)
    return clean.embedded_faces(data, private, MODEL)
