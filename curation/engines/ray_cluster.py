"""Joining a Ray cluster, and sizing the actor pools to what it holds.

With an address (`ray://host:10001`, `host:6379` or `auto`) the worker joins that cluster as a
driver; without one it starts a local Ray on this machine for the run and stops it afterwards.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster at the address cannot be reached."""


@dataclass(frozen=True)
class Pool:
    """How many model actors to run, and what each one holds."""

    actors: int
    gpus_per_actor: float
    cpus_per_actor: float
    device: str


def connect(address: str | None):
    """Start or join Ray; returns the `ray` module."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable("--engine ray needs Ray: pip install 'ray[data]'.") from exc
    if address:
        check_reachable(address)
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"Ray could not be started or reached at {address or 'this machine'} ({exc}).") from exc
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # parts in the snapshot's order, as the local worker writes them
    context.enable_progress_bars = False
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail at once when nothing listens at a `host:port` (or `ray://host:port`) address: Ray
    itself retries a missing cluster for minutes. `auto` is left to Ray."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayUnavailable(f"No Ray cluster answers at {address} ({exc.strerror or exc}).") from exc


def actor_pool(ray, device: str) -> Pool:
    """One actor per GPU when the cluster has GPUs (and the device allows them); on CPUs, one actor
    with half the cores, leaving the other half to decoding."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus and device in ("auto", "cuda"):
        return Pool(actors=gpus, gpus_per_actor=1, cpus_per_actor=1, device="cuda")
    if device == "cuda":
        raise RayUnavailable("--device cuda was asked for, but the Ray cluster has no GPU.")
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return Pool(actors=1, gpus_per_actor=0, cpus_per_actor=max(1, cpus // 2), device="cpu")


def set_torch_threads(cpus: float) -> None:
    """An actor's PyTorch uses the cores Ray gave it, not every core of its node."""
    import torch

    torch.set_num_threads(max(1, int(cpus)))
