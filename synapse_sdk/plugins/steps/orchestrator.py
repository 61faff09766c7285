"""Orchestrator: runs a registry's steps in order with weighted progress and rollback.

The contract (docs/step-orchestration.md spells it out with examples):

* Steps run in registry order. A step whose ``can_skip`` returns True gets
  ``StepResult(success=True, skipped=True)`` and is never rolled back.
* A step fails when it returns ``success=False``, raises, returns something that is not a
  ``StepResult``, or its ``can_skip`` raises. Then the failing step is rolled back first
  (with its failed result) and every executed, non-skipped step after it in reverse
  order (each with its own result). A rollback that raises is logged, recorded in
  ``context.errors`` and the remaining rollbacks still run. Finally
  :class:`~synapse_sdk.exceptions.StepExecutionError` (a ``RuntimeError``) is raised,
  chained to the original exception where there was one.
* ``KeyboardInterrupt`` / ``SystemExit`` in a step trigger the same rollback, then
  propagate unchanged.
* Progress is reported after every finished or skipped step as
  ``round(100 * cumulative_weight / total_weight)``, and within a step through
  ``context.set_progress``; it never goes backwards and ends at 100 on success.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypedDict

from synapse_sdk.exceptions import StepExecutionError
from synapse_sdk.plugins.steps.progress import WeightedProgress
from synapse_sdk.plugins.steps.base import BaseStep, C, StepResult
from synapse_sdk.plugins.steps.registry import StepRegistry

__all__ = ["Orchestrator", "OrchestratorResult", "ProgressCallback"]

ProgressCallback = Callable[[int, int], object]
"""``callback(current, total)``: overall progress as ``current`` percent of ``total=100``."""


class OrchestratorResult(TypedDict):
    success: bool
    steps_executed: int
    steps_total: int


class _Failure:
    """Why a run stopped: the step, its failed result and the exception if there was one."""

    __slots__ = ("exc", "result", "step")

    def __init__(self, step: BaseStep[C], result: StepResult, exc: BaseException | None) -> None:
        self.step = step
        self.result = result
        self.exc = exc


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class Orchestrator(Generic[C]):
    """Runs the steps of ``registry`` against ``context``.

    Args:
        registry: the steps, in order. The list is read at the start of each ``execute``.
        context: the step context shared by all steps.
        progress_callback: optional ``callback(current, total)`` receiving the overall
            percentage with ``total=100``. If it raises, it is logged and not called again
            during that run.

    ``execute()`` may be called again; each call starts fresh (``step_results`` and
    ``errors`` are cleared).
    """

    def __init__(
        self,
        registry: StepRegistry[C],
        context: C,
        progress_callback: ProgressCallback | None = None,
    ) -> None:
        self.registry = registry
        self.context = context
        self.progress_callback = progress_callback
        self._callback: ProgressCallback | None = None

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
        context.step_results.clear()
        context.errors.clear()
        context.current_step = None
        self._callback = self.progress_callback
        progress = WeightedProgress([step.progress_weight for step in steps], self._report)
        executed: list[tuple[BaseStep[C], StepResult]] = []

        with runtime.progress_scope(progress):
            if not steps:
                progress.finish_empty()
            for index, step in enumerate(steps):
                name = step.name
                context.current_step = name
                progress.start_step(index, name)
                runtime.report_step(name, "started")
                try:
                    failure = self._run_step(step, executed)
                except BaseException as interrupt:  # KeyboardInterrupt, SystemExit
                    if executed and executed[-1][0] is step:  # it finished just before
                        _, failed = executed.pop()
                    else:
                        failed = StepResult(success=False, error=_error_text(interrupt))
                        context.step_results.append(failed)
                    self._rollback(_Failure(step, failed, interrupt), executed)
                    raise
                finally:
                    context.current_step = None
                if failure is not None:
                    self._fail(failure, executed)
                progress.finish_step()

        return {
            "success": True,
            "steps_executed": sum(1 for _, result in executed if not result.skipped),
            "steps_total": len(steps),
        }

    def _run_step(
        self, step: BaseStep[C], executed: list[tuple[BaseStep[C], StepResult]]
    ) -> _Failure | None:
        """Run one step; record its result. Return the failure, if it failed."""
        context = self.context
        runtime = context.runtime_ctx
        try:
            if step.can_skip(context):
                result = StepResult(success=True, skipped=True)
                context.step_results.append(result)
                executed.append((step, result))
                runtime.report_step(step.name, "skipped")
                return None
            outcome: object = step.execute(context)
        except Exception as exc:
            failed = StepResult(success=False, error=_error_text(exc))
            context.step_results.append(failed)
            return _Failure(step, failed, exc)

        if not isinstance(outcome, StepResult):
            failed = StepResult(
                success=False,
                error=(
                    f"step {step.name!r} returned {type(outcome).__name__} instead of a "
                    "StepResult; return StepResult(success=...) from execute()"
                ),
            )
            context.step_results.append(failed)
            return _Failure(step, failed, None)
        context.step_results.append(outcome)
        if not outcome.success:
            if not outcome.error:
                outcome.error = "step returned success=False without an error message"
            return _Failure(step, outcome, None)
        executed.append((step, outcome))
        runtime.report_step(step.name, "succeeded")
        return None

    def _fail(self, failure: _Failure, executed: list[tuple[BaseStep[C], StepResult]]) -> None:
        rollback_errors = self._rollback(failure, executed)
        exc = StepExecutionError(
            failure.step.name,
            failure.result.error or "failed",
            result=failure.result,
            rollback_errors=rollback_errors,
        )
        if failure.exc is not None:
            raise exc from failure.exc
        raise exc

    def _rollback(
        self, failure: _Failure, executed: list[tuple[BaseStep[C], StepResult]]
    ) -> list[str]:
        """Roll back the failing step, then every executed, non-skipped step in reverse.

        Returns one line per rollback that raised (also appended to ``context.errors``).
        """
        context = self.context
        runtime = context.runtime_ctx
        name = failure.step.name
        error = failure.result.error or "failed"
        context.errors.append(f"step '{name}' failed: {error}")
        runtime.report_step(name, "failed", error)
        runtime.log(
            "step_failed", {"error": error}, step=name, level="error", exc=failure.exc
        )
        to_undo = [(failure.step, failure.result)]
        to_undo += [(step, result) for step, result in reversed(executed) if not result.skipped]
        rollback_errors: list[str] = []
        for step, result in to_undo:
            context.current_step = step.name
            try:
                step.rollback(context, result)
            except Exception as exc:
                line = f"rollback of step '{step.name}' failed: {type(exc).__name__}: {exc}"
                context.errors.append(line)
                rollback_errors.append(line)
                runtime.report_step(step.name, "rollback_failed", _error_text(exc))
                runtime.log("rollback_failed", {"error": str(exc)}, step=step.name, level="error", exc=exc)
            else:
                runtime.report_step(step.name, "rolled_back")
            finally:
                context.current_step = None
        return rollback_errors

    def _report(
        self, percent: int, step: str | None, current: float | None, total: float | None
    ) -> None:
        callback = self._callback
        if callback is not None:
            try:
                callback(percent, 100)
            except Exception as exc:
                self._callback = None
                self.context.runtime_ctx.log(
                    "progress_callback_failed", {"error": str(exc)}, level="error", exc=exc
                )
        self.context.runtime_ctx.report_progress(percent, step, current, total)
