"""A step and its result: the unit of work the orchestrator runs and rolls back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from synapse_sdk.plugins.steps.context import BaseStepContext

__all__ = ["BaseStep", "StepResult", "C"]

C = TypeVar("C", bound=BaseStepContext)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StepResult:
    """What a step returns.

    Attributes:
        success: False makes the orchestrator stop and roll back.
        data: anything the step wants to hand back (shown to later steps via
            ``context.step_results``).
        error: why the step failed, in words a user can act on.
        rollback_data: what the step's ``rollback`` needs to undo its work (for example the
            paths it created).
        skipped: set by the orchestrator for steps whose ``can_skip`` returned True.
        timestamp: when the result was made (timezone-aware UTC).
    """

    success: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    rollback_data: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    timestamp: datetime = field(default_factory=_utc_now)


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
