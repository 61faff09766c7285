"""The step engine's public face: steps, their registry, the orchestrator, utility steps.

Everything here is defined in :mod:`synapse_sdk.engine`'s modules; this is the path plugin
authors import from. ``RetryStep`` and ``TimeoutStep`` are loaded on first use (they pull
in ``random``, ``signal`` and ``threading``), keeping ``import synapse_sdk.plugins.steps``
cheap.
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


def __getattr__(name: str) -> Any:
    if name in {"RetryStep", "TimeoutStep"}:
        from synapse_sdk.engine import resilience  # random, signal, threading: on demand

        return getattr(resilience, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
