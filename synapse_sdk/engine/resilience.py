"""Wrappers that make a step retry on failure or give up after a time limit.

``RetryStep(step, attempts=3, backoff=0.5, retry_on=(OSError,))`` re-runs a step whose
``execute`` raised one of ``retry_on`` (or, with ``retry_failed_results=True``, returned
``success=False``), waiting ``backoff * 2**(n-1)`` seconds (capped at ``max_backoff``,
with ±``jitter`` randomisation) before attempt ``n + 1``. Every retry is logged as a
``step_retry`` warning event, so it shows in logs and in ``synapse run --json``.

``TimeoutStep(step, seconds)`` fails a step that runs longer than ``seconds``. In the
main thread it uses ``SIGALRM``, which interrupts the step's code even while it sleeps or
waits in blocking I/O; the step's own ``except Exception`` blocks cannot swallow it. In
other threads the step runs in a helper thread that is abandoned at the deadline (Python
cannot stop a thread): there the step should check ``context`` state and return soon.
Either way the step fails with ``timed out after N s`` and the run rolls back.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from synapse_sdk.engine.base import BaseStep, C
from synapse_sdk.engine.result import StepResult
from synapse_sdk.engine.utility import StepWrapper
from synapse_sdk.errors import StepTimeout, describe_error

__all__ = ["RetryStep", "StepTimeout", "TimeoutStep"]


class RetryStep(StepWrapper[C]):
    """Retries the inner step with exponential backoff and jitter."""

    prefix = "retried_"

    def __init__(
        self,
        step: BaseStep[C],
        *,
        attempts: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        jitter: float = 0.1,
        retry_on: tuple[type[Exception], ...] = (Exception,),
        retry_failed_results: bool = False,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        super().__init__(step)
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        if backoff < 0 or max_backoff < 0 or not 0 <= jitter <= 1:
            raise ValueError("backoff and max_backoff must be >= 0 and jitter within 0..1")
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.jitter = jitter
        self.retry_on = retry_on
        self.retry_failed_results = retry_failed_results
        self._sleep = sleep

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return float(base * (1 + random.uniform(-self.jitter, self.jitter)))

    def execute(self, context: C) -> StepResult:
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                result = self.inner.execute(context)
            except self.retry_on as exc:
                if last:
                    raise
                reason = describe_error(exc)
            else:
                if last or not self.retry_failed_results or getattr(result, "success", True):
                    return result
                reason = result.error or "failed"
            wait = self.delay(attempt)
            context.runtime_ctx.log(
                "step_retry",
                {"attempt": attempt, "of": self.attempts, "delay": round(wait, 3), "error": reason},
                step=context.current_step,
                level="warning",
            )
            self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise StepTimeout


class TimeoutStep(StepWrapper[C]):
    """Fails the inner step when it runs longer than ``seconds``."""

    prefix = "limited_"

    def __init__(self, step: BaseStep[C], seconds: float) -> None:
        super().__init__(step)
        if not seconds > 0:
            raise ValueError(f"the time limit must be positive, got {seconds!r}")
        self.seconds = seconds

    def _timed_out(self) -> StepResult:
        return StepResult(success=False, error=f"timed out after {self.seconds:g} s")

    def execute(self, context: C) -> StepResult:
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            return self._execute_with_alarm(context)
        return self._execute_in_thread(context)

    def _execute_with_alarm(self, context: C) -> StepResult:
        previous = signal.signal(signal.SIGALRM, _raise_timeout)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        try:
            return self.inner.execute(context)
        except StepTimeout:
            return self._timed_out()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def _execute_in_thread(self, context: C) -> StepResult:
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["result"] = self.inner.execute(context)
            except BaseException as exc:  # handed back to the calling thread
                outcome["error"] = exc

        worker = threading.Thread(target=target, name=f"step-{self.inner.name}", daemon=True)
        worker.start()
        worker.join(self.seconds)
        if worker.is_alive():
            return self._timed_out()
        if "error" in outcome:
            raise outcome["error"]
        result: StepResult = outcome["result"]
        return result
