"""The step engine: steps, their registry, the orchestrator and ready-made utility steps.

Below it lie only the errors, the fan-out, the runtime context and storage; plugin
authors reach it through :mod:`synapse_sdk.plugins.steps`. ``RetryStep`` and
``TimeoutStep`` are loaded on first use (they pull in ``random``, ``signal`` and
``threading``), keeping the import cheap.
"""

from typing import TYPE_CHECKING, Any

from synapse_sdk.engine.base import BaseStep
from synapse_sdk.engine.context import BaseStepContext
from synapse_sdk.engine.orchestrator import Orchestrator, OrchestratorResult
from synapse_sdk.engine.registry import StepRegistry
from synapse_sdk.engine.result import StepResult
from synapse_sdk.engine.utility import LoggingStep, StepWrapper, TimingStep, ValidationStep, unwrap
from synapse_sdk.errors import StepTimeout

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
    from synapse_sdk.engine.resilience import RetryStep, TimeoutStep

_RESILIENCE = frozenset({"RetryStep", "TimeoutStep"})


def __getattr__(name: str) -> Any:
    if name in _RESILIENCE:
        from synapse_sdk.engine import resilience  # random, signal, threading: on demand

        return getattr(resilience, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
