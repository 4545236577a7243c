"""Image quality and outlier checks (`checks.py`, `outliers.py`) and the job that runs them (`run.py`)."""

from . import outliers  # noqa: F401  (registers the embedding outlier check)
from .checks import CHECKS, Check, PixelCheck, SizeCheck

__all__ = ["CHECKS", "Check", "PixelCheck", "SizeCheck"]
