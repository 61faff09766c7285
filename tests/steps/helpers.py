"""Small real steps and a recording context shared by the step engine tests.

Imported as ``steps.helpers`` (pytest puts ``tests/`` on the path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog
from structlog.testing import CapturingLogger

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)
from synapse_sdk.runtime import ProgressSink


@dataclass
class RecordingContext(BaseStepContext):
    """A step context that remembers what ran and what was rolled back, in order."""

    executed: list[str] = field(default_factory=list)
    rolled_back: list[tuple[str, StepResult]] = field(default_factory=list)


class Step(BaseStep[RecordingContext]):
    """A configurable step.

    By default it succeeds with ``data={'step': name}``. ``returns`` replaces the result
    (anything, even a non-StepResult), ``raises`` is raised from ``execute``, ``skip`` and
    ``skip_raises`` drive ``can_skip``, ``rollback_raises`` is raised from ``rollback``
    and ``during`` is called with the context inside ``execute``.
    """

    def __init__(
        self,
        name: str,
        weight: float = 1.0,
        *,
        returns: object = None,
        raises: BaseException | None = None,
        skip: bool = False,
        skip_raises: BaseException | None = None,
        rollback_raises: BaseException | None = None,
        during: Callable[[RecordingContext], object] | None = None,
    ) -> None:
        self._name = name
        self._weight = weight
        self.returns = returns
        self.raises = raises
        self.skip = skip
        self.skip_raises = skip_raises
        self.rollback_raises = rollback_raises
        self.during = during

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def can_skip(self, context: RecordingContext) -> bool:
        if self.skip_raises is not None:
            raise self.skip_raises
        return self.skip

    def execute(self, context: RecordingContext) -> StepResult:
        context.executed.append(self._name)
        if self.during is not None:
            self.during(context)
        if self.raises is not None:
            raise self.raises
        if self.returns is not None:
            return self.returns
        return StepResult(success=True, data={"step": self._name})

    def rollback(self, context: RecordingContext, result: StepResult) -> None:
        context.rolled_back.append((self._name, result))
        if self.rollback_raises is not None:
            raise self.rollback_raises


def quiet_runtime(sinks: Iterable[ProgressSink] = ()) -> RuntimeContext:
    """A runtime context whose log lines go to an in-memory logger instead of stdout."""
    logger = structlog.wrap_logger(CapturingLogger(), processors=[])
    return RuntimeContext(logger=logger, sinks=sinks)


def make_context(sinks: Iterable[ProgressSink] = ()) -> RecordingContext:
    return RecordingContext(runtime_ctx=quiet_runtime(sinks))


def make_registry(*steps: BaseStep[RecordingContext]) -> StepRegistry[RecordingContext]:
    registry = StepRegistry[RecordingContext]()
    for step in steps:
        registry.register(step)
    return registry


def run(
    *steps: BaseStep[RecordingContext],
    context: RecordingContext | None = None,
    progress: list[tuple[int, int]] | None = None,
) -> tuple[dict[str, object], RecordingContext]:
    """Run ``steps`` once; progress reports are appended to ``progress`` if given."""
    context = context if context is not None else make_context()
    callback = None if progress is None else (lambda cur, tot: progress.append((cur, tot)))
    result = Orchestrator(make_registry(*steps), context, callback).execute()
    return dict(result), context


def rolled_back_names(context: RecordingContext) -> list[str]:
    return [name for name, _ in context.rolled_back]
