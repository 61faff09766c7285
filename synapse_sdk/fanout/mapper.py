"""fan_out: the algorithm behind ``context.map`` (ordered results, progress, rollback data)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from synapse_sdk.errors import FanOutError, ItemFailure
from synapse_sdk.fanout.base import Chunk, ChunkBatch, ItemOutcome
from synapse_sdk.interrupts import critical_section, raise_lost_interrupt

if TYPE_CHECKING:
    from synapse_sdk.fanout.base import Executor


class MappingContext(Protocol):
    """What the fan-out needs of a step context (the engine's ``BaseStepContext`` is one)."""

    @property
    def runtime_ctx(self) -> _HasExecutor: ...

    def reserve_rollback_positions(self, key: str, count: int) -> int: ...

    def append_rollback(
        self, key: str, *items: Any, positions: Sequence[int] | None = None
    ) -> None: ...

    def set_progress(self, current: float, total: float) -> None: ...


class _HasExecutor(Protocol):
    @property
    def executor(self) -> Executor: ...


__all__ = ["MappingContext", "fan_out"]

T = TypeVar("T")
R = TypeVar("R")

_ITEM_REPR = 60


def _short(item: Any) -> str:
    text = repr(item)
    return text if len(text) <= _ITEM_REPR else text[: _ITEM_REPR - 3] + "..."


class _Tally:
    """What the caller has learnt so far: results, failures, and what to roll back."""

    def __init__(self, context: MappingContext, items: list[Any], rollback_key: str | None) -> None:
        self.context = context
        self.items = items
        self.rollback_key = rollback_key
        self.first_position = (
            context.reserve_rollback_positions(rollback_key, len(items))
            if rollback_key is not None
            else 0
        )
        self.results: list[Any] = [None] * len(items)
        self.failures: list[ItemFailure] = []
        self.settled = 0

    def absorb(self, chunks: list[list[ItemOutcome]]) -> None:
        """Take in finished chunks: record their successes first, then report progress.

        One journal commit per call, not per item: under load, the chunks that finish
        while one commit is being written are recorded together by the next, so a
        journalled run writes as often as the disk allows. Each success is placed by its
        item's position, so the rollback sees them in item order.
        """
        positions: list[int] = []
        values: list[Any] = []
        for chunk in chunks:
            for outcome in chunk:
                if outcome.status == "succeeded":
                    self.results[outcome.index] = outcome.value
                    positions.append(self.first_position + outcome.index)
                    values.append(outcome.value)
                elif outcome.status == "failed":
                    item = _short(self.items[outcome.index])
                    error = outcome.error or "failed"
                    self.failures.append(ItemFailure(outcome.index, item, error))
        if values and self.rollback_key is not None:
            self.context.append_rollback(self.rollback_key, *values, positions=positions)
        for chunk in chunks:  # progress chunk by chunk, so item by item on threads
            ran = sum(1 for outcome in chunk if outcome.status != "cancelled")
            if ran:  # items that never ran are not progress
                self.settled += ran
                self.context.set_progress(self.settled, len(self.items))


def fan_out(
    context: MappingContext,
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    rollback_key: str | None = None,
    chunk_size: int | None = None,
    fail_fast: bool = False,
) -> list[R]:
    """Run ``fn`` over ``items`` through the run's executor; see ``BaseStepContext.map``."""
    pending_items = list(items)
    total = len(pending_items)
    if total == 0:
        return []
    executor = context.runtime_ctx.executor
    size = chunk_size if chunk_size is not None else executor.chunk_size(total)
    if size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {size}")
    indexed = list(enumerate(pending_items))
    chunks: list[Chunk] = [indexed[start : start + size] for start in range(0, total, size)]
    tally = _Tally(context, pending_items, rollback_key)
    batch: ChunkBatch | None = None
    try:
        with critical_section():  # no item runs without the batch that tracks it
            batch = executor.submit(fn, chunks)
        while batch.pending:
            batch.wait()
            with critical_section():  # collected outcomes are recorded before any interrupt
                tally.absorb(batch.collect())
            raise_lost_interrupt()  # a Ctrl-C CPython dropped: stop now, not after the run
            if fail_fast and tally.failures and batch.pending:
                with critical_section():
                    tally.absorb(batch.cancel())
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM, a step timeout): let the running items settle so
        # the step's rollback knows every item that succeeded, then interrupt the step.
        # Settling is bounded (settle_seconds) and not interruptible: a second Ctrl-C
        # meanwhile takes effect once every success is recorded.
        if batch is not None:
            with critical_section():
                tally.absorb(batch.cancel())
        raise
    finally:
        if batch is not None:
            batch.close()
    if tally.failures:
        failures = sorted(tally.failures, key=lambda failure: failure.index)
        raise FanOutError(failures, tally.results, total)
    results: list[R] = tally.results
    return results
