"""The state shared between the steps of one run."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from synapse_sdk.engine.result import StepResult
    from synapse_sdk.runtime.context import RuntimeContext
    from synapse_sdk.storage import Storage

__all__ = ["BaseStepContext"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class BaseStepContext:
    """Base class of step contexts; subclass it (as a dataclass) to add workflow state.

    Attributes:
        runtime_ctx: the run-wide :class:`~synapse_sdk.runtime.RuntimeContext`.
        step_results: one result per step that ran, was skipped or failed, in order.
        errors: the failure and every rollback failure, one line each, naming the step.
        current_step: the running (or rolling back) step's name; None between steps.
        recorded_rollback: per step, what it recorded with :meth:`record_rollback` and
            :meth:`append_rollback`.
    """

    runtime_ctx: RuntimeContext
    step_results: list[StepResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    current_step: str | None = None
    recorded_rollback: dict[str, dict[str, Any]] = field(default_factory=dict)
    _appended_positions: dict[tuple[str, str], list[int]] = field(
        default_factory=dict, init=False, repr=False
    )
    _next_position: dict[tuple[str, str], int] = field(default_factory=dict, init=False, repr=False)
    _progress_span: tuple[float, float] = field(default=(0.0, 1.0), init=False, repr=False)

    def log(
        self, event: str, data: Mapping[str, Any] | None = None, *, level: str = "info"
    ) -> None:
        """Log through the runtime context, tagged with the current step."""
        self.runtime_ctx.log(event, data, step=self.current_step, level=level)

    def set_progress(self, current: float, total: float) -> None:
        """Report progress within the current step (``current`` of ``total`` done).

        Inside :meth:`progress_span` the figure is that part of the step's band.
        """
        low, high = self._progress_span
        if high - low != 1.0 and total > 0:
            current = total * (low + (high - low) * min(max(current / total, 0.0), 1.0))
        self.runtime_ctx.set_progress(current, total, self.current_step)

    @contextmanager
    def progress_span(self, start: float, end: float) -> Iterator[None]:
        """Report the progress made inside as the part ``start``..``end`` of the step's band.

        For a step in phases, each reporting its own ``current/total`` (``map`` does):
        ``with context.progress_span(0.0, 0.2): prepare()``, then
        ``with context.progress_span(0.2, 1.0): context.map(...)``. ``start`` and ``end``
        are fractions (0 to 1); spans nest, each a part of the one around it. Progress
        never goes back: a phase that reports less than was shown moves nothing.
        """
        if not 0.0 <= start <= end <= 1.0:
            raise ValueError(f"progress_span({start}, {end}): need 0 <= start <= end <= 1")
        outer = self._progress_span
        low, high = outer
        self._progress_span = (low + (high - low) * start, low + (high - low) * end)
        try:
            yield
        finally:
            self._progress_span = outer

    def set_metrics(self, values: Mapping[str, Any]) -> None:
        """Report metrics, tagged with the current step."""
        self.runtime_ctx.set_metrics(values, self.current_step)

    def record_rollback(self, key: str, value: Any) -> None:
        """Record what the running step has created so far, for its rollback.

        Use it for work done progressively outside :attr:`storage` (rows inserted one
        batch at a time, remote jobs started one by one): ``rollback`` receives the
        recorded values in ``result.rollback_data`` even if the step never finished
        (merged under the keys the step returns, which win). Files need none of this:
        write them through :attr:`storage`, which journals and undoes them. With a run
        journal the value is on disk when this returns, so ``synapse runs rollback`` can
        undo the work after a crash; values must then be JSON (str, numbers, bools, None,
        lists, dicts).
        """
        step = self._running_step("record_rollback")
        # Memory first: if an interrupt lands while the journal is being written, this
        # process's own rollback still sees the value.
        self.recorded_rollback.setdefault(step, {})[key] = value
        recorder = self.runtime_ctx.recorder
        if recorder is not None:
            recorder.record(step, key, value)

    def append_rollback(
        self, key: str, *items: Any, positions: Sequence[int] | None = None
    ) -> None:
        """Add ``items`` to the list recorded under ``key`` for the running step's rollback.

        Like :meth:`record_rollback`, durable when it returns (all the items in one journal
        commit); unlike it, each call costs the same however many items came before (the
        journal appends records instead of rewriting the list). ``rollback`` receives the
        items as a list under ``key``, in the order they were appended, or by
        ``positions`` (one per item, taken from :meth:`reserve_rollback_positions`) when
        given: ``map`` uses them so results come back in item order whatever order the
        items finish in. Use one key for either appending or recording, not both.
        """
        step = self._running_step("append_rollback")
        if positions is None:
            start = self.reserve_rollback_positions(key, len(items))
            positions = range(start, start + len(items))
        elif len(positions) != len(items):
            raise ValueError(f"{len(items)} items but {len(positions)} positions")
        values = self.recorded_rollback.setdefault(step, {}).setdefault(key, [])
        placed = self._appended_positions.setdefault((step, key), [])
        if not values:  # a fresh list (a new run of the context): old places are void
            placed.clear()
        for position, item in zip(positions, items, strict=True):
            at = bisect.bisect_right(placed, position)
            placed.insert(at, position)
            values.insert(at, item)
        recorder = self.runtime_ctx.recorder
        if recorder is not None and items:
            recorder.append(step, key, list(items), list(positions))

    def reserve_rollback_positions(self, key: str, count: int) -> int:
        """Reserve ``count`` places in the running step's ``key`` list; return the first.

        Items later appended with ``positions`` in ``range(first, first + count)`` read
        back in that order, after everything appended before the reservation.
        """
        step = self._running_step("reserve_rollback_positions")
        first = self._next_position.get((step, key), 0)
        self._next_position[(step, key)] = first + count
        return first

    def _running_step(self, method: str) -> str:
        if self.current_step is None:
            raise RuntimeError(f"{method}() can only be called while a step is running")
        return self.current_step

    @property
    def storage(self) -> Storage:
        """Journalled storage: writes through it are undone exactly when the run rolls back.

        See :class:`synapse_sdk.storage.Storage`. The storage options come from the
        action params' ``storage_options``, when they have that field.
        """
        # Deferred: storage (and pathlib) load with the first step that writes through
        # it, not with every import of the step API.
        from synapse_sdk.storage import Storage

        return Storage(self)

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        rollback_key: str | None = None,
        chunk_size: int | None = None,
        fail_fast: bool = False,
    ) -> list[R]:
        """Run ``fn(item)`` for every item in parallel; return the results in item order.

        The work goes through the run's executor: a thread pool in a local run, Ray tasks
        when the action runs on Ray (so ``fn`` and the items must pickle, and ``fn`` must
        not touch the context). As items finish, the step's progress moves from 0 to 100%
        of its band.

        Args:
            fn: the work for one item. Its own partial work on failure is its to clean up.
            items: what to work on.
            rollback_key: if given, the results of the items that succeeded are appended
                under this key with :meth:`append_rollback` as they arrive (one journal
                commit per collected batch), in item order, so the step's ``rollback``
                undoes exactly those, even after a failure or an interrupt. A second
                ``map`` with the same key adds its results after the first's. They must
                be JSON when the run is journalled.
            chunk_size: items per task; by default 1 for threads and enough for about 16
                tasks per CPU on Ray.
            fail_fast: after the first failure, start no more items (running ones finish).

        Raises:
            FanOutError: some items failed; it lists which and why. Every other item ran
                to completion first (unless ``fail_fast``).
        """
        # The fan-out machinery loads with the first map, not with every import of the steps.
        from synapse_sdk.fanout.mapper import fan_out

        return fan_out(
            self, fn, items, rollback_key=rollback_key, chunk_size=chunk_size, fail_fast=fail_fast
        )
