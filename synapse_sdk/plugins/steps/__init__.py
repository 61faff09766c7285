"""The step engine: steps, their registry, the orchestrator and ready-made utility steps.

``RetryStep``, ``TimeoutStep`` and ``StepTimeout`` are loaded on first use (they pull in
``random``, ``signal`` and ``threading``), keeping ``import synapse_sdk.plugins.steps`` cheap.
"""

from typing import TYPE_CHECKING, Any

from synapse_sdk.plugins.steps.base import BaseStep, StepResult
from synapse_sdk.plugins.steps.context import BaseStepContext
from synapse_sdk.plugins.steps.orchestrator import Orchestrator, OrchestratorResult
from synapse_sdk.plugins.steps.registry import StepRegistry
from synapse_sdk.plugins.steps.utility import (
    LoggingStep,
    StepWrapper,
    TimingStep,
    ValidationStep,
    unwrap,
)

__all__ = [
    "BaseStep",
    "BaseStepContext",
    "LoggingStep",
    "Orchestrator",
    "OrchestratorResult",
    "RetryStep",
    "StepRegistry",
    "StepResult",
    "StepTimeout",
    "StepWrapper",
    "TimeoutStep",
    "TimingStep",
    "ValidationStep",
    "unwrap",
]

if TYPE_CHECKING:
    from synapse_sdk.plugins.steps.resilience import RetryStep, StepTimeout, TimeoutStep


def __getattr__(name: str) -> Any:
    if name in {"RetryStep", "StepTimeout", "TimeoutStep"}:
        from synapse_sdk.plugins.steps import resilience

        return getattr(resilience, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
