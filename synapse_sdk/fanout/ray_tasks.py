"""RayTaskExecutor: ``context.map`` as Ray tasks spread over the cluster."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from synapse_sdk.fanout.base import SETTLE_SECONDS, Chunk, ItemOutcome, run_chunk, unsettled
from synapse_sdk.fanout.ray_cluster import import_ray

ray = import_ray()

__all__ = ["RayTaskExecutor"]

_POLL = 0.1
_TASKS_PER_CPU = 16
_MAX_CHUNK = 256

_remote_chunk = ray.remote(max_retries=0)(run_chunk)


class _RayBatch:
    def __init__(
        self,
        fn: Callable[[Any], Any],
        chunks: Sequence[Chunk],
        num_cpus: float,
        settle_seconds: float,
    ) -> None:
        self._settle_seconds = settle_seconds
        fn_ref = ray.put(fn)
        task = _remote_chunk.options(num_cpus=num_cpus)
        self._chunks: dict[Any, Chunk] = {task.remote(fn_ref, chunk): chunk for chunk in chunks}

    @property
    def pending(self) -> int:
        return len(self._chunks)

    def wait(self) -> None:
        refs = list(self._chunks)
        ready: list[Any] = []
        while not ready:  # short waits: Ray delivers a cancellation between them
            ready, _ = ray.wait(refs, num_returns=1, timeout=_POLL, fetch_local=True)

    def collect(self) -> list[list[ItemOutcome]]:
        refs = list(self._chunks)
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=True)
        return [self._collect(ref) for ref in ready]

    def cancel(self) -> list[list[ItemOutcome]]:
        for ref in self._chunks:
            ray.cancel(ref, recursive=True)  # a running chunk stops after its current item
        refs = list(self._chunks)
        _, running = ray.wait(refs, num_returns=len(refs), timeout=self._settle_seconds)
        stuck = []
        for ref in running:  # blocked in a call Ray's interrupt cannot reach
            ray.cancel(ref, force=True)
            stuck.append(unsettled(self._chunks.pop(ref), self._settle_seconds))
        return [self._collect(ref) for ref in list(self._chunks)] + stuck

    def _collect(self, ref: Any) -> list[ItemOutcome]:
        chunk = self._chunks.pop(ref)
        try:
            outcomes: list[ItemOutcome] = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return [ItemOutcome(index, "cancelled") for index, _ in chunk]
        except ray.exceptions.RayError as exc:  # the worker died: its items' fate is unknown
            error = f"{type(exc).__name__}: the Ray task running this item was lost"
            return [ItemOutcome(index, "failed", error=error) for index, _ in chunk]
        return outcomes

    def close(self) -> None:
        for ref in self._chunks:
            ray.cancel(ref, force=True)
        self._chunks.clear()


class RayTaskExecutor:
    """Fans out as Ray tasks: chunks of items go wherever the cluster has a free CPU.

    Args:
        num_cpus: CPUs each task reserves (fractions allowed for I/O-bound work).
        settle_seconds: how long a stopped fan-out waits for its interrupted tasks to
            return before it kills them and reports their items failed, outcome unknown.
    """

    name = "ray"

    def __init__(self, num_cpus: float = 1, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.num_cpus = num_cpus
        self.settle_seconds = settle_seconds

    def chunk_size(self, total: int) -> int:
        cpus = max(1.0, float(ray.cluster_resources().get("CPU", 1)))
        return max(1, min(_MAX_CHUNK, math.ceil(total / (cpus * _TASKS_PER_CPU))))

    def submit(self, fn: Callable[[Any], Any], chunks: Sequence[Chunk]) -> _RayBatch:
        return _RayBatch(fn, chunks, self.num_cpus, self.settle_seconds)
