"""The SDK's exception hierarchy.

Every error the SDK raises on purpose derives from :class:`SynapseError`, so callers
can catch the SDK's errors in one place. The tree::

    SynapseError
    ├── StepExecutionError (also RuntimeError)  a step failed; the run was rolled back
    ├── InvalidParamsError (also ValueError)    action params failed validation
    ├── ActionNotFoundError (also LookupError)  no installed action has that name
    └── PluginLoadError                         a plugin could not be loaded (strict mode)

Messages are written for the person running the action: they say what is wrong and
what to do about it. Causes are always chained (``raise ... from exc``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synapse_sdk.plugins.steps.base import StepResult

__all__ = [
    "SynapseError",
    "StepExecutionError",
    "InvalidParamsError",
    "ActionNotFoundError",
    "PluginLoadError",
]


class SynapseError(Exception):
    """Base class of every error the SDK raises on purpose."""


class StepExecutionError(SynapseError, RuntimeError):
    """A step failed and the steps that had run were rolled back.

    Attributes:
        step: name of the step that failed.
        error: the failure text (the step's ``StepResult.error`` or the exception text).
        result: the failed step's result, as passed to its ``rollback``.
        rollback_errors: one line per rollback that raised, naming the step.
    """

    def __init__(
        self,
        step: str,
        error: str,
        *,
        result: StepResult | None = None,
        rollback_errors: Sequence[str] = (),
    ) -> None:
        self.step = step
        self.error = error
        self.result = result
        self.rollback_errors = list(rollback_errors)
        message = f"step '{step}' failed: {error}"
        if self.rollback_errors:
            message += f" ({len(self.rollback_errors)} rollback(s) also failed)"
        super().__init__(message)


class InvalidParamsError(SynapseError, ValueError):
    """Action params failed validation.

    Attributes:
        action: the action's name.
        problems: one ``(field, reason)`` pair per bad field, in plain words.
    """

    def __init__(self, action: str, problems: Sequence[tuple[str, str]]) -> None:
        self.action = action
        self.problems = list(problems)
        lines = "\n".join(f"  - {field}: {reason}" for field, reason in self.problems)
        super().__init__(f"invalid params for action '{action}':\n{lines}")


class ActionNotFoundError(SynapseError, LookupError):
    """No installed action has the requested name."""

    def __init__(self, name: str, available: Sequence[str]) -> None:
        self.name = name
        self.available = sorted(available)
        hint = ", ".join(self.available) if self.available else "none are installed"
        super().__init__(
            f"unknown action '{name}'; installed actions: {hint}. "
            "Run 'synapse actions list' to see them."
        )


class PluginLoadError(SynapseError):
    """A plugin failed to load while ``SYNAPSE_STRICT_PLUGINS=1`` is set."""
