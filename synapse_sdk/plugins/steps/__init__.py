"""The step engine: steps, their registry, the orchestrator and ready-made utility steps."""

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
    "StepRegistry",
    "StepResult",
    "StepWrapper",
    "TimingStep",
    "ValidationStep",
    "unwrap",
]
