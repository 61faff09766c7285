"""ThreadExecutor: the local fan-out, one thread pool per ``context.map`` call."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Empty, SimpleQueue
from typing import Any

from synapse_sdk.fanout.base import SETTLE_SECONDS, Chunk, ItemOutcome, run_chunk, unsettled

__all__ = ["ThreadExecutor"]

_POLL = 0.1


class _ThreadBatch:
    def __init__(
        self,
        pool: ThreadPoolExecutor,
        fn: Callable[[Any], Any],
        chunks: Sequence[Chunk],
        settle_seconds: float,
    ) -> None:
        self._pool = pool
        self._settle_seconds = settle_seconds
        self._done: SimpleQueue[Future[list[ItemOutcome]]] = SimpleQueue()
        self._finished: list[Future[list[ItemOutcome]]] = []
        self._chunks: dict[Future[list[ItemOutcome]], Chunk] = {}
        for chunk in chunks:
            future = pool.submit(run_chunk, fn, chunk)
            self._chunks[future] = chunk
            future.add_done_callback(self._done.put)

    @property
    def pending(self) -> int:
        return len(self._chunks)

    def _take(self, timeout: float | None) -> None:
        """Move finished futures from the done-queue to ``_finished``; wait up to ``timeout``."""
        if timeout is not None:
            with contextlib.suppress(Empty):
                self._finished.append(self._done.get(timeout=timeout))
        while not self._done.empty():
            self._finished.append(self._done.get_nowait())

    def wait(self) -> None:
        self._take(None)
        while not self._finished:  # short waits: an interrupt lands between them
            self._take(_POLL)

    def collect(self) -> list[list[ItemOutcome]]:
        self._take(None)
        finished, self._finished = self._finished, []
        return [self._collect(future) for future in finished if future in self._chunks]

    def cancel(self) -> list[list[ItemOutcome]]:
        # Only chunks not started yet can be cancelled: threads cannot be interrupted.
        # The running ones are waited for through the done-queue, never by taking the
        # futures' own locks, which an interrupt could leave held (a worker would then
        # hang in set_result and the process could never exit).
        outcomes = [self._collect(future) for future in list(self._chunks) if future.cancel()]
        deadline = time.monotonic() + self._settle_seconds
        while any(not future.done() for future in self._chunks):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._take(min(_POLL, remaining))
        for future in list(self._chunks):
            if future.done():
                outcomes.append(self._collect(future))
            else:
                outcomes.append(unsettled(self._chunks.pop(future), self._settle_seconds))
        self._finished.clear()
        return outcomes

    def _collect(self, future: Future[list[ItemOutcome]]) -> list[ItemOutcome]:
        chunk = self._chunks.pop(future)
        if future.cancelled():
            return [ItemOutcome(index, "cancelled") for index, _ in chunk]
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ThreadExecutor:
    """Fans out over threads in this process: right for I/O-bound items (uploads, HTTP).

    Args:
        max_workers: threads per fan-out; by default ``min(32, cpus + 4)``, as
            :class:`concurrent.futures.ThreadPoolExecutor` chooses.
        settle_seconds: how long a stopped fan-out waits for the items still running
            (threads cannot be interrupted) before it reports them failed, outcome unknown.
    """

    name = "local"

    def __init__(
        self, max_workers: int | None = None, settle_seconds: float = SETTLE_SECONDS
    ) -> None:
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self.settle_seconds = settle_seconds

    def chunk_size(self, total: int) -> int:
        return 1

    def submit(self, fn: Callable[[Any], Any], chunks: Sequence[Chunk]) -> _ThreadBatch:
        workers = max(1, min(self.max_workers, len(chunks)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synapse-map")
        return _ThreadBatch(pool, fn, chunks, self.settle_seconds)
