"""The step engine's public face: steps, their registry, the orchestrator, utility steps.

Everything here is defined in :mod:`synapse_sdk.engine`; this path is the one plugin
authors import from. ``RetryStep`` and ``TimeoutStep`` load on first use.
"""

from typing import TYPE_CHECKING, Any

from synapse_sdk import engine
from synapse_sdk.engine import (
    BaseStep,
    BaseStepContext,
    LoggingStep,
    Orchestrator,
    OrchestratorResult,
    StepRegistry,
    StepResult,
    StepTimeout,
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
    from synapse_sdk.engine import RetryStep, TimeoutStep


def __getattr__(name: str) -> Any:
    return getattr(engine, name)
