"""Ready-made steps: wrappers that add logging or timing to a step, and a validation step.

A wrapper takes the wrapped step's name with a prefix, keeps its progress weight and
delegates ``can_skip`` and ``rollback`` to it, so wrapping never changes what is undone.
Wrappers nest: ``LoggingStep(TimingStep(step))`` is ``logged_timed_<name>``. A step that
plugins wrap through ``synapse_wrap_step`` keeps its own name instead (:class:`PluginWrapped`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from synapse_sdk.engine.base import BaseStep, C
from synapse_sdk.engine.result import StepResult

__all__ = [
    "LoggingStep",
    "PluginWrapped",
    "StepWrapper",
    "TimingStep",
    "ValidationStep",
    "unwrap",
]


class StepWrapper(BaseStep[C]):
    """Base class of steps that wrap another step (``inner``).

    Subclasses set ``prefix`` and override :meth:`execute`, calling ``self.inner.execute``.
    Name, weight, ``can_skip``, ``rollback`` and ``has_rollback`` follow the inner step.
    """

    prefix = "wrapped_"

    def __init__(self, step: BaseStep[C]) -> None:
        if not isinstance(step, BaseStep):
            raise TypeError(f"{type(self).__name__} wraps a BaseStep, got {type(step).__name__!r}")
        self.inner = step

    @property
    def name(self) -> str:
        return f"{self.prefix}{self.inner.name}"

    @property
    def progress_weight(self) -> float:
        return self.inner.progress_weight

    def execute(self, context: C) -> StepResult:
        return self.inner.execute(context)

    def can_skip(self, context: C) -> bool:
        return self.inner.can_skip(context)

    def rollback(self, context: C, result: StepResult) -> None:
        self.inner.rollback(context, result)

    @property
    def has_rollback(self) -> bool:
        return self.inner.has_rollback


class PluginWrapped(StepWrapper[C]):
    """A step as plugins' ``synapse_wrap_step`` left it: their wrappers, under its own name.

    A plugin's wrapper may rename what it wraps (a ``TimingStep`` is ``timed_<name>``). The
    plugin host puts each wrapper a plugin returns inside one of these, so the step keeps
    the name its action registered wherever it appears (plan, journal, events, errors, and
    what the next plugin is given), however many plugins wrap it and in whatever order.

    Attributes:
        wrapped_by: the plugins that wrapped the step, innermost first.
    """

    def __init__(self, step: BaseStep[C], name: str, wrapped_by: tuple[str, ...]) -> None:
        super().__init__(step)
        self._name = name
        self.wrapped_by = wrapped_by

    @property
    def name(self) -> str:
        return self._name


def unwrap(step: BaseStep[C]) -> BaseStep[C]:
    """The innermost step under any number of wrappers."""
    while isinstance(step, StepWrapper):
        step = step.inner
    return step


class LoggingStep(StepWrapper[C]):
    """Logs ``step_start`` and ``step_end`` (elapsed seconds, success, skipped) around a step.

    ``step_end`` is logged even when the inner step raises (then with ``success=False`` and
    the error), and the exception propagates.
    """

    prefix = "logged_"

    def execute(self, context: C) -> StepResult:
        runtime = context.runtime_ctx
        # The name the orchestrator runs this under: ours when registered directly, the
        # step's own when a plugin wrapped it (inside a PluginWrapped).
        step = context.current_step or self.name
        runtime.log("step_start", {"inner": self.inner.name}, step=step)
        started = time.perf_counter()
        try:
            result = self.inner.execute(context)
        except BaseException as exc:
            runtime.log(
                "step_end",
                {
                    "elapsed": time.perf_counter() - started,
                    "success": False,
                    "skipped": False,
                    "error": str(exc) or type(exc).__name__,
                },
                step=step,
                level="error",
            )
            raise
        success = getattr(result, "success", False)
        runtime.log(
            "step_end",
            {
                "elapsed": time.perf_counter() - started,
                "success": success,
                "skipped": getattr(result, "skipped", False),
            },
            step=step,
            level="info" if success else "error",
        )
        return result


class TimingStep(StepWrapper[C]):
    """Adds ``data['duration_seconds']`` (float) to the inner step's result."""

    prefix = "timed_"

    def execute(self, context: C) -> StepResult:
        started = time.perf_counter()
        result = self.inner.execute(context)
        duration = time.perf_counter() - started
        if not isinstance(result, StepResult):
            return result  # the orchestrator reports the wrong return type, naming the step
        return replace(result, data={**result.data, "duration_seconds": duration})


Validator = Callable[[C], tuple[bool, str]]


class ValidationStep(BaseStep[C]):
    """Fails the run unless ``validator(context)`` returns ``(True, ...)``.

    ``validator(context) -> (ok, message)``; when ``ok`` is false the step fails with
    ``message`` as its error.
    """

    def __init__(
        self, validator: Validator[C], name: str = "validate", progress_weight: float = 0.05
    ) -> None:
        self.validator = validator
        self._name = name
        self._weight = progress_weight

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: C) -> StepResult:
        ok, message = self.validator(context)
        if ok:
            return StepResult(success=True, data={"message": message} if message else {})
        return StepResult(success=False, error=message or f"validation {self._name!r} failed")
