"""Helpers the unit tests share: throwaway operations for the job runner."""

from __future__ import annotations

import time
from dataclasses import dataclass

from curation.jobs import OPERATIONS, Operation


@dataclass(frozen=True)
class NoParams:
    pass


def make_operation(name: str, run) -> Operation:
    """An operation without params running `run(ctx)`; guarded as the real kind of that name is, if any."""
    real = OPERATIONS.get(name)
    return Operation(name, NoParams, run, f"test {name}", action=real.guarded_action if real else "ingest")


def slow_job(steps: int):
    """A runner of `steps` of 20 ms each, reporting every step and stopping early on a cancel."""
    def run(ctx):
        for step in range(steps):
            ctx.progress(step, steps, f"step {step}")
            if ctx.cancelled():
                return "stopped early", True
            time.sleep(0.02)
        return "all steps", False
    return run
