"""RetryStep and TimeoutStep: retries are events, time limits hold even in blocking calls."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    RetryStep,
    StepRegistry,
    StepResult,
    TimeoutStep,
)
from synapse_sdk.testing import RecordingSink


class Flaky(BaseStep[BaseStepContext]):
    name = "flaky"
    progress_weight = 1.0

    def __init__(
        self, failures: int, error: type[Exception] = OSError, as_result: bool = False
    ) -> None:
        self.failures = failures
        self.error = error
        self.as_result = as_result
        self.calls = 0
        self.rolled_back: list[StepResult] = []

    def execute(self, context: BaseStepContext) -> StepResult:
        self.calls += 1
        if self.calls <= self.failures:
            if self.as_result:
                return StepResult(success=False, error=f"attempt {self.calls} failed")
            raise self.error(f"attempt {self.calls} failed")
        return StepResult(success=True, data={"calls": self.calls})

    def rollback(self, context: BaseStepContext, result: StepResult) -> None:
        self.rolled_back.append(result)


def run(step: BaseStep[Any]) -> tuple[dict[str, Any], RecordingSink]:
    sink = RecordingSink()
    registry: StepRegistry[BaseStepContext] = StepRegistry()
    registry.register(step)
    result = Orchestrator(
        registry, BaseStepContext(runtime_ctx=RuntimeContext(sinks=[sink]))
    ).execute()
    return dict(result), sink


def test_retry_until_success_logs_every_retry() -> None:
    sleeps: list[float] = []
    flaky = Flaky(failures=2)
    step = RetryStep(
        flaky, attempts=3, backoff=0.5, jitter=0.0, retry_on=(OSError,), sleep=sleeps.append
    )
    result, sink = run(step)
    assert result["success"] is True
    assert flaky.calls == 3
    assert sleeps == [0.5, 1.0]
    retries = [event.data for event in sink.logs if event.message == "step_retry"]
    assert [(data["attempt"], data["of"], data["error"]) for data in retries] == [
        (1, 3, "OSError: attempt 1 failed"),
        (2, 3, "OSError: attempt 2 failed"),
    ]
    assert {event.level for event in sink.logs if event.message == "step_retry"} == {"warning"}


def test_retry_gives_up_after_the_last_attempt_and_rolls_back() -> None:
    flaky = Flaky(failures=5)
    step = RetryStep(flaky, attempts=2, backoff=0.0, sleep=lambda _: None)
    with pytest.raises(StepExecutionError, match="attempt 2 failed"):
        run(step)
    assert flaky.calls == 2
    assert len(flaky.rolled_back) == 1


def test_retry_only_on_the_listed_exceptions() -> None:
    flaky = Flaky(failures=1, error=KeyError)
    step = RetryStep(flaky, attempts=3, retry_on=(OSError,), sleep=lambda _: None)
    with pytest.raises(StepExecutionError):
        run(step)
    assert flaky.calls == 1


def test_retry_failed_results_when_asked() -> None:
    flaky = Flaky(failures=1, as_result=True)
    assert run(
        RetryStep(flaky, attempts=2, backoff=0, sleep=lambda _: None, retry_failed_results=True)
    )[0]["success"]
    stubborn = Flaky(failures=1, as_result=True)
    with pytest.raises(StepExecutionError):
        run(RetryStep(stubborn, attempts=2, backoff=0, sleep=lambda _: None))


def test_backoff_is_exponential_capped_and_jittered() -> None:
    step = RetryStep(Flaky(0), backoff=1.0, max_backoff=5.0, jitter=0.1)
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        for _ in range(20):
            assert base * 0.9 <= step.delay(attempt) <= base * 1.1
    with pytest.raises(ValueError, match="attempts"):
        RetryStep(Flaky(0), attempts=0)


class Sleeper(BaseStep[BaseStepContext]):
    name = "sleeper"
    progress_weight = 1.0

    def __init__(self, seconds: float, swallow: bool = False) -> None:
        self.seconds = seconds
        self.swallow = swallow
        self.rolled_back = False

    def execute(self, context: BaseStepContext) -> StepResult:
        try:
            time.sleep(self.seconds)
        except Exception:  # a step that catches everything still cannot outlive its limit
            if not self.swallow:
                raise
        return StepResult(success=True)

    def rollback(self, context: BaseStepContext, result: StepResult) -> None:
        self.rolled_back = True


def test_timeout_interrupts_a_sleeping_step_and_rolls_it_back() -> None:
    sleeper = Sleeper(30, swallow=True)
    started = time.monotonic()
    with pytest.raises(StepExecutionError, match=r"timed out after 0\.5 s"):
        run(TimeoutStep(sleeper, 0.5))
    assert time.monotonic() - started < 1.5
    assert sleeper.rolled_back


def test_timeout_interrupts_blocking_io() -> None:
    class Reader(Sleeper):
        def execute(self, context: BaseStepContext) -> StepResult:
            left, right = socket.socketpair()
            try:
                left.recv(1)  # nothing is ever sent: blocks forever
            finally:
                left.close()
                right.close()
            return StepResult(success=True)

    reader = Reader(0)
    started = time.monotonic()
    with pytest.raises(StepExecutionError, match="timed out"):
        run(TimeoutStep(reader, 0.3))
    assert time.monotonic() - started < 1.3
    assert reader.rolled_back


def test_timeout_restores_the_previous_alarm_handler() -> None:
    import signal

    before = signal.getsignal(signal.SIGALRM)
    run(TimeoutStep(Sleeper(0.01), 5))
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_timeout_outside_the_main_thread() -> None:
    outcome: dict[str, Any] = {}

    def target() -> None:
        started = time.monotonic()
        try:
            run(TimeoutStep(Sleeper(3), 0.3))
        except StepExecutionError as exc:
            outcome["error"] = str(exc)
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    assert "timed out after 0.3 s" in outcome["error"]
    assert outcome["elapsed"] < 1.3


def test_fast_steps_are_unaffected() -> None:
    result, _ = run(TimeoutStep(Sleeper(0.01), 5))
    assert result == {"success": True, "steps_executed": 1, "steps_total": 1}
