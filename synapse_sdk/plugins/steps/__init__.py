"""The step engine's public face: steps, their registry, the orchestrator, utility steps.

Everything here is defined in :mod:`synapse_sdk.engine`'s modules; this is the path plugin
authors import from. What a module that only defines steps does not need is loaded on
first use, keeping ``import synapse_sdk.plugins.steps`` cheap: ``Orchestrator`` and
``OrchestratorResult`` (with the rollback and signal machinery, a third of the engine's
import), ``RetryStep`` and ``TimeoutStep`` (``random``, ``signal`` and ``threading``), and
``StepTimeout`` (the SDK's error tree). ``from synapse_sdk.plugins.steps import
Orchestrator`` loads the orchestrator then.
"""

from typing import TYPE_CHECKING, Any

from synapse_sdk.engine.base import BaseStep
from synapse_sdk.engine.context import BaseStepContext
from synapse_sdk.engine.registry import StepRegistry
from synapse_sdk.engine.result import StepResult
from synapse_sdk.engine.utility import LoggingStep, StepWrapper, TimingStep, ValidationStep, unwrap

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
    from synapse_sdk.engine.orchestrator import Orchestrator, OrchestratorResult
    from synapse_sdk.engine.resilience import RetryStep, TimeoutStep
    from synapse_sdk.errors import StepTimeout

_ON_FIRST_USE = {
    "Orchestrator": "synapse_sdk.engine.orchestrator",
    "OrchestratorResult": "synapse_sdk.engine.orchestrator",
    "RetryStep": "synapse_sdk.engine.resilience",
    "TimeoutStep": "synapse_sdk.engine.resilience",
    "StepTimeout": "synapse_sdk.errors",
}


def __getattr__(name: str) -> Any:
    from synapse_sdk.lazy import load_on_first_use

    return load_on_first_use(__name__, name, _ON_FIRST_USE, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
