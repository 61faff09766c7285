"""The executor protocol: how ``context.map`` hands chunks of items to workers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from synapse_sdk.errors import describe_error

__all__ = [
    "SETTLE_SECONDS",
    "Chunk",
    "ChunkBatch",
    "Executor",
    "ItemOutcome",
    "run_chunk",
    "unsettled",
]

SETTLE_SECONDS = 10.0
"""How long a stopped fan-out waits by default for its running items before giving up."""

Chunk = Sequence[tuple[int, Any]]
"""Items of one task, each with its position in the fan-out."""

OutcomeStatus = Literal["succeeded", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What became of one item: its result, the text of its error, or that it never ran."""

    index: int
    status: OutcomeStatus
    value: Any = None
    error: str | None = None


def unsettled(chunk: Chunk, waited: float) -> list[ItemOutcome]:
    """Outcomes for a chunk still running when the fan-out stopped waiting: unknown, failed."""
    error = f"still running {waited:g} s after the fan-out was stopped; outcome unknown"
    return [ItemOutcome(index, "failed", error=error) for index, _ in chunk]


def run_chunk(fn: Callable[[Any], Any], chunk: Chunk) -> list[ItemOutcome]:
    """Run ``fn`` over one chunk on a worker; one outcome per item, in chunk order.

    An exception fails only its item. An interrupt (Ray's cancellation raises
    ``KeyboardInterrupt`` in the task) stops the chunk: the item it hit and the items
    after it are ``cancelled``, so the caller still learns exactly which items succeeded.
    Errors travel as text because not every exception can be pickled.
    """
    outcomes: list[ItemOutcome] = []
    try:
        for index, item in chunk:
            try:
                value = fn(item)
            except Exception as exc:
                outcomes.append(ItemOutcome(index, "failed", error=describe_error(exc)))
            else:
                outcomes.append(ItemOutcome(index, "succeeded", value))
    except KeyboardInterrupt:
        finished = len(outcomes)
        outcomes.extend(ItemOutcome(index, "cancelled") for index, _ in chunk[finished:])
    return outcomes


class ChunkBatch(Protocol):
    """Chunks submitted to an executor and not yet collected.

    Waiting and collecting are separate so that the caller can take in what it collects
    inside a :func:`~synapse_sdk.interrupts.critical_section`: an interrupt then never
    falls between a chunk leaving the batch and its successes being recorded.
    """

    @property
    def pending(self) -> int:
        """How many chunks have not been collected yet."""

    def wait(self) -> None:
        """Block until at least one chunk not collected yet is done (interruptible)."""

    def collect(self) -> list[list[ItemOutcome]]:
        """The outcomes of every chunk done and not collected yet; does not block."""

    def cancel(self) -> list[list[ItemOutcome]]:
        """Stop: chunks not started are cancelled, running ones finish or are interrupted.

        Waits a while (:data:`SETTLE_SECONDS` by default) for the running ones; items still
        running then are reported failed with an unknown outcome (see :func:`unsettled`).
        Returns the outcomes of every chunk not collected before, so that the caller
        records exactly the items that succeeded.
        """

    def close(self) -> None:
        """Release the workers' resources."""


class Executor(Protocol):
    """Runs chunks of a fan-out in parallel."""

    name: str

    def chunk_size(self, total: int) -> int:
        """How many items one task gets when the caller did not say."""

    def submit(self, fn: Callable[[Any], Any], chunks: Sequence[Chunk]) -> ChunkBatch:
        """Start running ``fn`` over every chunk.

        Called inside a critical section: no interrupt can separate the workers starting
        from the caller holding the batch that tracks them.
        """
