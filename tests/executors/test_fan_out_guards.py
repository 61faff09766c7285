"""``context.map`` keeps item order, even when items finish in the opposite order.

Real threads: item ``n`` waits for item ``n + 1`` to finish, so the items finish last
first, and what is recorded for rollback or reported as failed must still come in item
order.
"""

from __future__ import annotations

import _thread
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from synapse_sdk.errors import FanOutError
from synapse_sdk.fanout.threads import ThreadExecutor
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import BaseStepContext
from synapse_sdk.runtime.events import ProgressEvent
from synapse_sdk.testing import RecordingSink

ITEMS = 5


def running_step_context() -> BaseStepContext:
    """A context as a running step sees it, with a thread per item."""
    context = BaseStepContext(runtime_ctx=RuntimeContext())
    context.runtime_ctx.executor = ThreadExecutor(max_workers=ITEMS)
    context.current_step = "work"
    return context


def last_item_first(work: Callable[[int], str]) -> Callable[[int], str]:
    """``work`` run so that item n finishes well after item n + 1."""
    finished = [threading.Event() for _ in range(ITEMS)]

    def in_reverse(n: int) -> str:
        if n + 1 < ITEMS:
            assert finished[n + 1].wait(timeout=10), "the items did not run side by side"
            time.sleep(0.02)  # item n + 1 has returned well before this one does
        try:
            return work(n)
        finally:
            finished[n].set()

    return in_reverse


def test_successes_are_recorded_for_rollback_in_item_order() -> None:
    context = running_step_context()

    results = context.map(last_item_first(lambda n: f"obj-{n}"), range(ITEMS), rollback_key="made")

    in_order = [f"obj-{n}" for n in range(ITEMS)]
    assert results == in_order
    assert context.recorded_rollback["work"]["made"] == in_order


def fails_if_odd(n: int) -> str:
    if n % 2:
        raise OSError(f"refused {n}")
    return f"obj-{n}"


def test_failures_are_reported_in_item_order() -> None:
    context = running_step_context()

    with pytest.raises(FanOutError) as caught:
        context.map(last_item_first(fails_if_odd), range(ITEMS), rollback_key="made")

    assert [failure.index for failure in caught.value.failures] == [1, 3]
    assert str(caught.value).startswith("2 of 5 items failed: item 1 (1): OSError: refused 1; ")
    assert context.recorded_rollback["work"]["made"] == ["obj-0", "obj-2", "obj-4"]


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """SIGINT raises ``KeyboardInterrupt``, whatever handler this process inherited.

    mutmut's workers ignore SIGINT, and ``_thread.interrupt_main()`` does nothing then.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_interrupt_records_every_item_that_succeeded_before_it_propagates(
    tmp_path: Path, ctrl_c_raises: None
) -> None:
    def write_or_interrupt(n: int) -> str:
        if n == 6:
            _thread.interrupt_main()  # Ctrl-C reaches the main thread while items run
        time.sleep(0.02)
        path = tmp_path / f"{n}.txt"
        path.write_text(str(n))
        return str(path)

    context = running_step_context()

    with pytest.raises(KeyboardInterrupt):
        context.map(write_or_interrupt, range(100), rollback_key="written")

    on_disk = sorted(str(path) for path in tmp_path.iterdir())
    assert sorted(context.recorded_rollback["work"]["written"]) == on_disk
    assert 6 < len(on_disk) < 100


def refuse(item: object) -> None:
    raise ValueError("no")


def test_an_item_is_named_whole_in_a_failure_up_to_sixty_characters() -> None:
    item = "x" * 58  # its repr, quotes included, is 60 characters

    with pytest.raises(FanOutError) as caught:
        running_step_context().map(refuse, [item])

    assert caught.value.failures[0].item == repr(item)


def test_a_longer_item_is_cut_to_sixty_characters_ending_in_dots() -> None:
    item = "y" * 59  # 61 characters as a repr

    with pytest.raises(FanOutError) as caught:
        running_step_context().map(refuse, [item])

    assert caught.value.failures[0].item == repr(item)[:57] + "..."


def test_nothing_is_recorded_for_rollback_when_no_item_succeeded() -> None:
    context = running_step_context()
    context.runtime_ctx.executor = ThreadExecutor(max_workers=1)

    with pytest.raises(FanOutError):
        context.map(refuse, range(3), rollback_key="made")

    assert context.recorded_rollback == {}


def test_by_default_a_failure_does_not_stop_the_other_items() -> None:
    started: list[int] = []

    def first_fails(n: int) -> int:
        started.append(n)
        if n == 0:
            raise RuntimeError("first item broke")
        return n

    context = running_step_context()
    context.runtime_ctx.executor = ThreadExecutor(max_workers=1)

    with pytest.raises(FanOutError):
        context.map(first_fails, range(20))

    assert sorted(started) == list(range(20))


def test_items_cancelled_by_fail_fast_are_not_counted_as_progress() -> None:
    started: list[int] = []

    def first_fails(n: int) -> int:
        started.append(n)
        time.sleep(0.01)
        if n == 0:
            raise RuntimeError("first item broke")
        return n

    sink = RecordingSink()
    context = running_step_context()
    context.runtime_ctx.sinks.append(sink)
    context.runtime_ctx.executor = ThreadExecutor(max_workers=1)

    with pytest.raises(FanOutError):
        context.map(first_fails, range(20), fail_fast=True)

    reported = [event.current for event in sink.events if isinstance(event, ProgressEvent)]
    assert len(started) < 20
    assert reported[-1] == len(started)


class HalvingExecutor(ThreadExecutor):
    """A thread executor that puts the items in two chunks, and remembers what it was asked."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.asked: list[int] = []

    def chunk_size(self, total: int) -> int:
        self.asked.append(total)
        return (total + 1) // 2


def test_the_executor_chooses_the_chunk_size_knowing_how_many_items_there_are() -> None:
    executor = HalvingExecutor()
    context = running_step_context()
    context.runtime_ctx.executor = executor

    assert context.map(str, range(10)) == [str(n) for n in range(10)]
    assert executor.asked == [10]


class UnreachableExecutor(ThreadExecutor):
    """An executor whose workers cannot be reached (as a remote cluster that is down)."""

    def submit(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> Any:
        raise ConnectionError("the cluster is unreachable")


def test_an_executor_that_cannot_start_the_items_fails_the_map_with_its_own_error() -> None:
    context = running_step_context()
    context.runtime_ctx.executor = UnreachableExecutor()

    with pytest.raises(ConnectionError, match="the cluster is unreachable"):
        context.map(str, range(3))
