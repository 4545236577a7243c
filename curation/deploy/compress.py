"""int8 post-training quantisation (ONNX Runtime, static, QDQ, per-channel weights), and the size
and latency of a variant.

Static quantisation calibrates activation ranges on training inputs (min-max over up to 64 of
them); the accuracy it costs is measured by the bundle on validation, never assumed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np


def quantize_int8(fp32: Path, out: Path, calibration: np.ndarray) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Rows(CalibrationDataReader):
        def __init__(self):
            self.rows = iter(calibration[i:i + 1] for i in range(len(calibration)))

        def get_next(self):
            row = next(self.rows, None)
            return None if row is None else {"input": row}

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser advises pre-processing on every call, through the root logger
    try:
        quantize_static(str(fp32), str(out), Rows(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


def size_mb(path: Path) -> float:
    return round(path.stat().st_size / 1e6, 3)


def latency_ms(session, inputs: np.ndarray, batch: int, runs: int) -> dict:
    """p50 and p99 of `runs` calls on a batch of `batch` rows (repeating `inputs`), after one warm-up."""
    rows = np.concatenate([inputs] * (batch // len(inputs) + 1))[:batch]
    session.run(None, {"input": rows})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, {"input": rows})
        times.append((time.perf_counter() - start) * 1000)
    return {"batch": batch, "runs": runs, "p50_ms": round(float(np.percentile(times, 50)), 3),
            "p99_ms": round(float(np.percentile(times, 99)), 3)}
