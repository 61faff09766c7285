"""``context.map`` on the local executor (a thread pool): order, parallelism, progress,
per-item failures, rollback data and interrupts, against a real directory."""

from __future__ import annotations

import _thread
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.lost_interrupt import ctrl_c_in_a_weakref_callback

from synapse_sdk.errors import FanOutError, StepExecutionError
from synapse_sdk.fanout.threads import ThreadExecutor
from synapse_sdk.interrupts import cancellation_handlers
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)
from synapse_sdk.runtime.events import ProgressEvent
from synapse_sdk.testing import RecordingSink


def step_context(sink: RecordingSink | None = None) -> BaseStepContext:
    """A context as a running step sees it (outside an orchestrator)."""
    runtime = RuntimeContext(sinks=[sink] if sink else [])
    context = BaseStepContext(runtime_ctx=runtime)
    context.current_step = "work"
    return context


def test_results_come_back_in_item_order_whatever_order_items_finish_in() -> None:
    def slow_first(n: int) -> int:
        time.sleep((10 - n) * 0.01)
        return n * n

    assert step_context().map(slow_first, range(10)) == [n * n for n in range(10)]


def test_items_run_in_parallel() -> None:
    together = threading.Barrier(4, timeout=10)  # only passable with 4 items in flight at once

    def meet(n: int) -> int:
        together.wait()
        return n

    assert step_context().map(meet, range(8)) == list(range(8))


def test_no_items_means_no_work_and_no_progress() -> None:
    sink = RecordingSink()
    assert step_context(sink).map(str, []) == []
    assert sink.percents == []


def test_a_chunk_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        step_context().map(str, [1, 2], chunk_size=0)


def test_chunks_group_items_and_keep_the_order() -> None:
    seen_threads: dict[int, str] = {}

    def record_thread(n: int) -> int:
        seen_threads[n] = threading.current_thread().name
        return -n

    assert step_context().map(record_thread, range(9), chunk_size=3) == [-n for n in range(9)]
    for first in (0, 3, 6):  # one chunk runs on one thread, item after item
        assert len({seen_threads[first + offset] for offset in range(3)}) == 1


def test_failing_items_are_collected_with_their_positions_and_errors() -> None:
    def picky(n: int) -> int:
        if n in (3, 7):
            raise OSError(f"disk refused {n}")
        return n

    with pytest.raises(FanOutError) as caught:
        step_context().map(picky, range(10))
    error = caught.value
    assert [failure.index for failure in error.failures] == [3, 7]
    assert error.failures[0].error == "OSError: disk refused 3"
    assert error.failures[1].item == "7"
    assert error.results == [0, 1, 2, None, 4, 5, 6, None, 8, 9]
    assert str(error).startswith("2 of 10 items failed: item 3 (3): OSError: disk refused 3")


def test_long_failure_lists_are_cut_short_in_the_message() -> None:
    def always_fails(n: int) -> int:
        raise ValueError("no")

    with pytest.raises(FanOutError) as caught:
        step_context().map(always_fails, range(12))
    assert len(caught.value.failures) == 12
    assert str(caught.value).endswith("; and 7 more")


def test_fail_fast_starts_no_more_items_after_a_failure() -> None:
    started: list[int] = []

    def first_fails(n: int) -> int:
        started.append(n)
        if n == 0:
            raise RuntimeError("first item broke")
        return n

    context = step_context()
    context.runtime_ctx.executor = ThreadExecutor(max_workers=1)
    with pytest.raises(FanOutError) as caught:
        context.map(first_fails, range(50), fail_fast=True)
    assert [failure.index for failure in caught.value.failures] == [0]
    assert len(started) < 50


def test_successes_are_recorded_for_rollback_as_they_arrive() -> None:
    def half_fail(n: int) -> str:
        if n % 2:
            raise ValueError("odd")
        return f"obj-{n}"

    context = step_context()
    with pytest.raises(FanOutError):
        context.map(half_fail, range(8), rollback_key="written")
    assert context.recorded_rollback["work"]["written"] == ["obj-0", "obj-2", "obj-4", "obj-6"]


@settings(max_examples=60, deadline=None)
@given(
    outcomes=st.lists(st.booleans(), min_size=1, max_size=40),
    chunk_size=st.integers(min_value=1, max_value=7),
)
def test_rollback_data_is_exactly_the_items_that_succeeded(
    outcomes: list[bool], chunk_size: int
) -> None:
    def maybe(n: int) -> int:
        if not outcomes[n]:
            raise ValueError(f"item {n}")
        return n

    context = step_context()
    failed = [index for index, ok in enumerate(outcomes) if not ok]
    succeeded = [index for index, ok in enumerate(outcomes) if ok]
    if failed:
        with pytest.raises(FanOutError) as caught:
            context.map(maybe, range(len(outcomes)), rollback_key="done", chunk_size=chunk_size)
        assert [failure.index for failure in caught.value.failures] == failed
    else:
        assert context.map(maybe, range(len(outcomes)), chunk_size=chunk_size) == succeeded
        context.map(maybe, range(len(outcomes)), rollback_key="done", chunk_size=chunk_size)
    recorded = context.recorded_rollback.get("work", {}).get("done", [])
    assert recorded == succeeded


class WriteFiles(BaseStep[BaseStepContext]):
    """Writes one file per item through ``context.map``; rollback deletes what was recorded."""

    name = "write"
    progress_weight = 1.0

    def __init__(self, folder: Path, count: int, failing: set[int]) -> None:
        self.folder = folder
        self.count = count
        self.failing = failing
        self.rolled_back_with: list[str] | None = None

    def write(self, n: int) -> str:
        if n in self.failing:
            raise PermissionError(f"cannot write {n}")
        path = self.folder / f"{n}.txt"
        path.write_text(str(n))
        return str(path)

    def execute(self, context: BaseStepContext) -> StepResult:
        context.map(self.write, range(self.count), rollback_key="written")
        return StepResult(success=True)

    def rollback(self, context: BaseStepContext, result: StepResult) -> None:
        self.rolled_back_with = list(result.rollback_data["written"])
        for path in self.rolled_back_with:
            Path(path).unlink()


class Report(BaseStep[BaseStepContext]):
    name = "report"
    progress_weight = 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult(success=True)


def test_a_failed_fan_out_fails_the_step_and_its_rollback_undoes_exactly_the_successes(
    tmp_path: Path,
) -> None:
    writer = WriteFiles(tmp_path, 30, failing={4, 17})
    registry: StepRegistry[BaseStepContext] = StepRegistry()
    registry.register(writer)
    context = BaseStepContext(runtime_ctx=RuntimeContext())
    with pytest.raises(StepExecutionError, match=r"2 of 30 items failed: item 4 \(4\)"):
        Orchestrator(registry, context).execute()
    assert writer.rolled_back_with is not None
    assert sorted(writer.rolled_back_with) == sorted(
        str(tmp_path / f"{n}.txt") for n in range(30) if n not in (4, 17)
    )
    assert list(tmp_path.iterdir()) == []


def test_progress_moves_through_the_steps_band_item_by_item(tmp_path: Path) -> None:
    sink = RecordingSink()
    registry: StepRegistry[BaseStepContext] = StepRegistry()
    registry.register(Report())
    registry.register(WriteFiles(tmp_path, 10, failing=set()))
    Orchestrator(registry, BaseStepContext(runtime_ctx=RuntimeContext(sinks=[sink]))).execute()
    during = [
        event for event in sink.events if isinstance(event, ProgressEvent) and event.step == "write"
    ]
    reported = [event.current for event in during if event.current is not None]
    assert reported == list(range(1, 11))
    percents = [event.percent for event in during]
    assert percents == sorted(percents)
    assert percents[0] > 50
    assert percents[-1] == 100
    assert len(list(tmp_path.iterdir())) == 10


def test_an_interrupt_lets_running_items_settle_and_records_every_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write_or_interrupt(n: int) -> str:
        if n == 6:
            _thread.interrupt_main()  # Ctrl-C reaches the step's thread while items run
        time.sleep(0.02)
        path = tmp_path / f"{n}.txt"
        path.write_text(str(n))
        return str(path)

    sink = RecordingSink()
    context = step_context(sink)
    context.runtime_ctx.executor = ThreadExecutor(max_workers=3)
    # interrupt_main() does nothing unless Python handles SIGINT: an earlier test that left
    # another handler behind would make this test's failure lie about the fan-out.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, signal.getsignal(
        signal.SIGINT
    )
    # 100 items: each one moves the step's progress by a whole percent, so no report is
    # dropped as a repeat of the one before. The run's own signal handlers, as in a run:
    # with Python's, a Ctrl-C that lands in a GC or weakref callback is lost for good.
    # If the Ctrl-C lands in a GC or weakref callback, CPython drops the exception ("Exception
    # ignored"); the handler noted it and map raises it at its next batch instead.
    dropped: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda raised: dropped.append(raised.exc_type))
    with pytest.raises(KeyboardInterrupt), cancellation_handlers():
        context.map(write_or_interrupt, range(100), rollback_key="written")
    assert set(dropped) <= {KeyboardInterrupt}
    recorded = set(context.recorded_rollback["work"]["written"])
    on_disk = {str(path) for path in tmp_path.iterdir()}
    assert recorded == on_disk
    assert 0 < len(on_disk) < 100
    # Items that never ran are not progress: the last report counts only what ran.
    reported = [e.current for e in sink.events if isinstance(e, ProgressEvent) and e.current]
    assert reported[-1] == len(on_disk)


def test_a_ctrl_c_cpython_dropped_stops_the_fan_out_at_its_next_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal was noted but its exception lost: ``map`` raises it, it does not run on."""
    discarded: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda raised: discarded.append(raised.exc_type))

    def write(n: int) -> str:
        time.sleep(0.01)
        (tmp_path / f"{n}.txt").write_text(str(n))
        return str(n)

    context = step_context(RecordingSink())
    context.runtime_ctx.executor = ThreadExecutor(max_workers=2)

    def lose_a_ctrl_c_then_map() -> None:
        ctrl_c_in_a_weakref_callback()  # noted by the handler, dropped by CPython
        context.map(write, range(200), rollback_key="written")

    with cancellation_handlers(), pytest.raises(KeyboardInterrupt):
        lose_a_ctrl_c_then_map()

    assert discarded == [KeyboardInterrupt]
    written = sorted(path.name for path in tmp_path.iterdir())
    assert 0 < len(written) < 200  # stopped early, and what ran is recorded
    assert sorted(f"{n}.txt" for n in context.recorded_rollback["work"]["written"]) == written


def test_the_local_executor_is_a_thread_pool_by_default() -> None:
    runtime = RuntimeContext()
    assert isinstance(runtime.executor, ThreadExecutor)
    assert runtime.executor is runtime.executor


def test_fan_out_errors_pickle_with_their_details() -> None:
    import pickle

    error = FanOutError([], [1, None], 2)
    copy: Any = pickle.loads(pickle.dumps(error))
    assert (copy.results, copy.total, str(copy)) == ([1, None], 2, str(error))


def test_a_step_error_pickles_with_the_fan_out_error_that_caused_it() -> None:
    import pickle

    failure = FanOutError([], [None], 1)
    error = StepExecutionError("upload", str(failure))
    error.__cause__ = failure
    copy: Any = pickle.loads(pickle.dumps(error))
    assert isinstance(copy.__cause__, FanOutError)
    assert copy.__cause__.total == 1


def test_a_cause_that_cannot_pickle_travels_as_its_text() -> None:
    import pickle

    class Unpicklable(Exception):
        def __reduce__(self) -> Any:
            raise TypeError("no")

    error = StepExecutionError("upload", "boom")
    error.__cause__ = Unpicklable("held a socket")
    copy: Any = pickle.loads(pickle.dumps(error))
    assert str(copy.__cause__) == "Unpicklable: held a socket"


def test_a_stopped_fan_out_gives_up_on_a_stuck_item_after_the_settle_time() -> None:
    release = threading.Event()

    def fail_or_hang(n: int) -> int:
        if n == 0:
            time.sleep(0.05)  # fails once the stuck item is running
            raise ValueError("bad item")
        release.wait(30)  # blocked in a call that nothing can interrupt
        return n

    context = step_context()
    context.runtime_ctx.executor = ThreadExecutor(max_workers=2, settle_seconds=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(FanOutError) as raised:
            context.map(fail_or_hang, range(2), fail_fast=True)
    finally:
        release.set()
    assert time.monotonic() - started < 10
    failures = {failure.index: failure.error for failure in raised.value.failures}
    assert failures[0] == "ValueError: bad item"
    assert failures[1] == "still running 0.3 s after the fan-out was stopped; outcome unknown"
    assert set(failures) == {0, 1}
