"""StepResult: what a step hands back to the orchestrator, and what its rollback receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["StepResult"]


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
