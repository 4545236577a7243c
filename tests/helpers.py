"""Helpers the unit tests share: throwaway operations for the job runner."""

from __future__ import annotations

from dataclasses import dataclass

from curation.jobs import OPERATIONS, Operation


@dataclass(frozen=True)
class NoParams:
    pass


def make_operation(name: str, run) -> Operation:
    """An operation without params running `run(ctx)`; guarded as the real kind of that name is, if any."""
    real = OPERATIONS.get(name)
    return Operation(name, NoParams, run, f"test {name}", action=real.guarded_action if real else "ingest")
