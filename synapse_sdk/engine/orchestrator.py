"""Orchestrator: runs a registry's steps in order with weighted progress and rollback.

The contract (docs/step-orchestration.md spells it out with examples):

* Steps run in registry order. A step whose ``can_skip`` returns True gets
  ``StepResult(success=True, skipped=True)`` and is never rolled back.
* A step fails when it returns ``success=False``, raises, returns something that is not a
  ``StepResult``, or its ``can_skip`` raises. Then the failing step is rolled back first
  (with its failed result) and every executed, non-skipped step after it in reverse
  order (each with its own result). A rollback that raises is logged, recorded in
  ``context.errors`` and the remaining rollbacks still run. Finally
  :class:`~synapse_sdk.errors.StepExecutionError` (a ``RuntimeError``) is raised,
  chained to the original exception where there was one.
* ``KeyboardInterrupt`` / ``SystemExit`` in a step trigger the same rollback, then
  propagate unchanged.
* Progress is reported after every finished or skipped step as
  ``round(100 * cumulative_weight / total_weight)``, and within a step through
  ``context.set_progress``; it never goes backwards and ends at 100 on success.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Generic, NamedTuple, TypedDict

from synapse_sdk.engine.base import BaseStep, C
from synapse_sdk.engine.progress import WeightedProgress
from synapse_sdk.engine.registry import StepRegistry
from synapse_sdk.engine.result import StepResult
from synapse_sdk.engine.rollback import error_text, journal_safely, roll_back_steps
from synapse_sdk.errors import RunAbandoned, StepExecutionError
from synapse_sdk.interrupts import raise_lost_interrupt, raise_wrapped_interrupt, received

if TYPE_CHECKING:
    from synapse_sdk.runtime.events import StepStatus
    from synapse_sdk.runtime.recorder import StepRecorder
    from synapse_sdk.runtime.sinks import ProgressSink

__all__ = ["Orchestrator", "OrchestratorResult", "ProgressCallback"]

ProgressCallback = Callable[[int, int], object]
"""``callback(current, total)``: overall progress as ``current`` percent of ``total=100``."""


class OrchestratorResult(TypedDict):
    success: bool
    steps_executed: int
    steps_total: int


class _Failure(NamedTuple, Generic[C]):
    """Why a run stopped: the step, its failed result and the exception if there was one."""

    step: BaseStep[C]
    result: StepResult
    exc: BaseException | None


_SKIPPED = object()
"""Marks a step whose ``can_skip`` returned True."""


def _formatted(exc: BaseException | None) -> str | None:
    """The traceback of ``exc`` as text, its type and message last (None: no exception)."""
    if exc is None:
        return None
    import traceback  # deferred: only a failing run pays for it (and textwrap)

    return "".join(traceback.format_exception(exc))


def _failed_result(exc: Exception, outcome: object) -> StepResult:
    """The failed result of a step that raised, or whose result could not be journalled.

    In the second case the step did its work, so its data and rollback data are kept for
    its rollback.
    """
    if isinstance(outcome, StepResult):
        return replace(outcome, success=False, error=error_text(exc))
    return StepResult(success=False, error=error_text(exc))


def _wrong_type_result(step: str, outcome: object) -> StepResult:
    return StepResult(
        success=False,
        error=(
            f"step {step!r} returned {type(outcome).__name__} instead of a StepResult; "
            "return StepResult(success=...) from execute()"
        ),
    )


class Orchestrator(Generic[C]):
    """Runs the steps of ``registry`` against ``context``.

    Args:
        registry: the steps, in order. The list is read at the start of each ``execute``.
        context: the step context shared by all steps.
        progress_callback: optional ``callback(current, total)`` receiving the overall
            percentage with ``total=100``. If it raises, it is logged and not called again
            during that run.
        complete: optional check called after the last step, inside the run: if it
            raises, every step that ran is rolled back and its exception is re-raised
            (an action uses it to validate the result its steps handed on).

    ``execute()`` may be called again; each call starts fresh (``step_results`` and
    ``errors`` are cleared).
    """

    def __init__(
        self,
        registry: StepRegistry[C],
        context: C,
        progress_callback: ProgressCallback | None = None,
        *,
        complete: Callable[[], object] | None = None,
    ) -> None:
        self.registry = registry
        self.context = context
        self.progress_callback = progress_callback
        self.complete = complete
        self._callback: ProgressCallback | None = None
        self._sinks: list[ProgressSink] = []
        self._progress: WeightedProgress | None = None

    def execute(self) -> OrchestratorResult:
        """Run every step; return ``{'success': True, 'steps_executed': N, 'steps_total': M}``.

        ``steps_executed`` counts steps whose ``execute`` ran (skipped steps are not
        counted); ``steps_total`` is the number of registered steps.

        Raises:
            StepExecutionError: a step failed; everything that ran was rolled back.
            KeyboardInterrupt, SystemExit: re-raised unchanged after the rollback.
        """
        context = self.context
        runtime = context.runtime_ctx
        steps = self.registry.get_steps()
        results = context.step_results
        results.clear()
        context.errors.clear()
        context.recorded_rollback.clear()
        context.current_step = None
        recorder = runtime.recorder
        self._callback = self.progress_callback
        self._sinks = sinks = runtime.sinks
        progress = self._progress = WeightedProgress(
            [step.progress_weight for step in steps], [step.name for step in steps], self._report
        )
        executed: list[tuple[BaseStep[C], StepResult]] = []
        failure: _Failure[C] | None = None
        incomplete: Exception | None = None
        running: BaseStep[C] | None = None
        outcome: object = None

        names = progress.names
        ends = progress.ends

        # Everything from the first step to the return of a successful run is inside this
        # `try`: an interrupt anywhere in it, even after the last step finished, rolls
        # back what ran (the run is not reported successful until `return`).
        try:
            with runtime.progress_scope(progress):
                if not steps:
                    self._report(100, None, None, None)
                raise_lost_interrupt()  # stopped before the run began: start nothing
                try:
                    # The per-step hot path: every call added here costs every step of every run.
                    for index, step in enumerate(steps):
                        outcome = None  # before `running`: an interrupt must not see a stale one
                        running = step
                        name = context.current_step = names[index]
                        progress.index = index
                        if sinks:
                            runtime.report_step(name, "started")
                        try:
                            if recorder is not None:
                                recorder.step_started(index, name)
                            # Not a conditional expression: from 3.12 its jump target after
                            # execute() returns is a line event of its own, a point where an
                            # interrupt would find the result returned but not yet taken in.
                            if step.can_skip(context):  # noqa: SIM108 - see above
                                outcome = _SKIPPED
                            else:
                                outcome = step.execute(context)
                            if recorder is not None:
                                self._record_outcome(recorder, name, outcome)
                        except Exception as exc:
                            raise_wrapped_interrupt(exc)  # a Ctrl-C that came as another error
                            failure = _Failure(step, _failed_result(exc, outcome), exc)
                            break
                        if outcome is _SKIPPED:
                            results.append(StepResult(success=True, skipped=True))
                            status: StepStatus = "skipped"
                        elif not isinstance(outcome, StepResult):
                            failure = _Failure(step, _wrong_type_result(name, outcome), None)
                            break
                        elif not outcome.success:
                            if not outcome.error:
                                outcome.error = "the step returned success=False without an error"
                            failure = _Failure(step, outcome, None)
                            break
                        else:
                            results.append(outcome)
                            executed.append((step, outcome))
                            status = "succeeded"
                        running = context.current_step = None
                        percent = ends[index]
                        if percent < progress.last:  # in-step reports may have rounded past the end
                            percent = progress.last
                        progress.last = percent
                        if sinks:
                            runtime.report_step(name, status)
                        self._report(percent, name, None, None)
                finally:
                    context.current_step = None
            if failure is None:
                raise_lost_interrupt()  # a Ctrl-C whose exception CPython discarded
                incomplete = self._incomplete()
                if incomplete is None:
                    return {
                        "success": True,
                        "steps_executed": len(executed),
                        "steps_total": len(steps),
                    }
        except BaseException as interrupt:  # KeyboardInterrupt, SystemExit
            received(interrupt)  # what the rollback raises from now on is its own error
            if isinstance(interrupt, RunAbandoned):
                raise  # a second signal: leave the rollback to `synapse runs rollback`
            self._rollback(self._interrupted(running, outcome, interrupt, executed), executed)
            raise

        if incomplete is not None:  # every step succeeded, but the run's check failed
            rollback_errors = self._rollback(None, executed)
            if isinstance(incomplete, StepExecutionError):
                incomplete.rollback_errors = rollback_errors
            raise incomplete
        assert failure is not None  # a successful run returned above
        results.append(failure.result)
        rollback_errors = self._rollback(failure, executed)
        error = StepExecutionError(
            failure.step.name,
            failure.result.error or "failed",
            result=failure.result,
            rollback_errors=rollback_errors,
        )
        if failure.exc is not None:
            raise error from failure.exc
        raise error

    def _incomplete(self) -> Exception | None:
        """What the ``complete`` check raised (None: it passed, or there is none)."""
        if self.complete is None:
            return None
        try:
            self.complete()
        except Exception as exc:
            return exc
        return None

    def _interrupted(
        self,
        running: BaseStep[C] | None,
        outcome: object,
        interrupt: BaseException,
        executed: list[tuple[BaseStep[C], StepResult]],
    ) -> _Failure[C] | None:
        """The failure to roll back first when an interrupt stops the run (None: between steps).

        The running step is rolled back with a failed result whose error is the interrupt,
        the same whether or not the orchestrator had taken in its result; when the step
        had returned one, it keeps that result's data and rollback data. The step has one
        entry in ``step_results``: that failed result.
        """
        if running is None:
            return None
        results = self.context.step_results
        if executed and executed[-1][0] is running:  # it had finished when the interrupt came
            _, returned = executed.pop()
        else:
            returned = outcome if isinstance(outcome, StepResult) else StepResult(success=False)
        failed = replace(returned, success=False, error=error_text(interrupt))
        if results and results[-1] is returned:  # taken in already: replace, never duplicate
            results[-1] = failed
        else:
            results.append(failed)
        return _Failure(running, failed, interrupt)

    def _rollback(
        self, failure: _Failure[C] | None, executed: list[tuple[BaseStep[C], StepResult]]
    ) -> list[str]:
        """Roll back the failing step, then every executed step in reverse order.

        Returns one line per rollback that raised (also appended to ``context.errors``).
        """
        context = self.context
        runtime = context.runtime_ctx
        to_undo = [(step.name, step, result) for step, result in reversed(executed)]
        if failure is not None:
            name = failure.step.name
            error = failure.result.error or "failed"
            context.errors.append(f"step '{name}' failed: {error}")
            runtime.report_step(name, "failed", error)
            runtime.log("step_failed", {"error": error}, step=name, level="error", exc=failure.exc)
            recorder = runtime.recorder
            if recorder is not None:
                journal_safely(runtime, recorder.step_failed, name, error, _formatted(failure.exc))
            to_undo.insert(0, (name, failure.step, failure.result))
        return roll_back_steps(context, to_undo)

    @staticmethod
    def _record_outcome(recorder: StepRecorder, name: str, outcome: object) -> None:
        """Journal a finished step: skipped, or succeeded with its rollback data (durable)."""
        if outcome is _SKIPPED:
            recorder.step_skipped(name)
        elif isinstance(outcome, StepResult) and outcome.success:
            recorder.step_succeeded(name, outcome.rollback_data)

    def _report(
        self, percent: int, step: str | None, current: float | None, total: float | None
    ) -> None:
        """Send an overall percentage to the callback and the sinks."""
        callback = self._callback
        if callback is not None:
            try:
                callback(percent, 100)
            except Exception as exc:
                self._drop_callback(exc)
        if self._sinks:
            self.context.runtime_ctx.report_progress(percent, step, current, total)

    def _drop_callback(self, exc: Exception) -> None:
        self._callback = None
        self.context.runtime_ctx.log(
            "progress_callback_failed", {"error": str(exc)}, level="error", exc=exc
        )
