"""The state shared between the steps of one run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synapse_sdk.plugins.runtime.context import RuntimeContext
    from synapse_sdk.plugins.steps.base import StepResult

__all__ = ["BaseStepContext"]


@dataclass
class BaseStepContext:
    """Base class of step contexts; subclass it (as a dataclass) to add workflow state.

    Attributes:
        runtime_ctx: the run-wide :class:`~synapse_sdk.plugins.RuntimeContext`.
        step_results: one result per step that ran, was skipped or failed, in order.
        errors: the failure and every rollback failure, one line each, naming the step.
        current_step: the running (or rolling back) step's name; None between steps.
    """

    runtime_ctx: RuntimeContext
    step_results: list[StepResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    current_step: str | None = None

    def log(
        self, event: str, data: Mapping[str, Any] | None = None, *, level: str = "info"
    ) -> None:
        """Log through the runtime context, tagged with the current step."""
        self.runtime_ctx.log(event, data, step=self.current_step, level=level)

    def set_progress(self, current: float, total: float) -> None:
        """Report progress within the current step (``current`` of ``total`` done)."""
        self.runtime_ctx.set_progress(current, total, self.current_step)

    def set_metrics(self, values: Mapping[str, Any]) -> None:
        """Report metrics, tagged with the current step."""
        self.runtime_ctx.set_metrics(values, self.current_step)
