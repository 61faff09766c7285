"""A step: the unit of work the orchestrator runs and rolls back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from synapse_sdk.engine.context import BaseStepContext
from synapse_sdk.engine.result import StepResult

__all__ = ["BaseStep", "C"]

C = TypeVar("C", bound=BaseStepContext)


class BaseStep(ABC, Generic[C]):
    """One step of a workflow, generic over the step context type ``C``.

    Subclasses provide ``name`` (unique within a registry), ``progress_weight`` (its share
    of overall progress, any finite number >= 0) and ``execute``. Override ``can_skip`` to
    skip work that is already done and ``rollback`` to undo what ``execute`` did.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Unique name of the step within its registry."""

    @property
    @abstractmethod
    def progress_weight(self) -> float:
        """Relative share of overall progress (normalised against the other steps)."""

    @abstractmethod
    def execute(self, context: C) -> StepResult:
        """Do the work. Return ``StepResult(success=False, error=...)`` or raise to fail."""

    def can_skip(self, context: C) -> bool:
        """Return True to skip this step (it is then never rolled back)."""
        return False

    def rollback(self, context: C, result: StepResult) -> None:
        """Undo what ``execute`` did; ``result`` is this step's own result."""
        return

    @property
    def has_rollback(self) -> bool:
        """Whether this step (or a step it wraps) overrides :meth:`rollback`."""
        return type(self).rollback is not BaseStep.rollback

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} weight={self.progress_weight}>"
