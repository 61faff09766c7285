"""synapse-sdk: a plugin SDK for ML data work.

Every public name is importable from here (``from synapse_sdk import BaseUploadAction``),
as well as from the faces the seed documents: :mod:`synapse_sdk.plugins` (actions, hooks,
the runtime context, ``run_action``) and :mod:`synapse_sdk.plugins.steps` (the step
engine). Importing this package is cheap: each name is loaded on first access.
"""

# This module imports nothing at run time: the ``synapse`` command imports it before it
# can install its signal handlers, so each import here would widen the moment in which a
# Ctrl-C ends the command with a traceback. Hence ``TYPE_CHECKING`` without ``typing``.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from synapse_sdk.actions import (
        ActionContext,
        ActionParams,
        BaseAction,
        BaseExportAction,
        BaseTrainAction,
        BaseUploadAction,
        ExportContext,
        ExportParams,
        TrainContext,
        TrainParams,
        UploadContext,
        UploadParams,
    )
    from synapse_sdk.engine.base import BaseStep
    from synapse_sdk.engine.context import BaseStepContext
    from synapse_sdk.engine.orchestrator import Orchestrator, OrchestratorResult
    from synapse_sdk.engine.registry import StepRegistry
    from synapse_sdk.engine.resilience import RetryStep, TimeoutStep
    from synapse_sdk.engine.result import StepResult
    from synapse_sdk.engine.utility import (
        LoggingStep,
        StepWrapper,
        TimingStep,
        ValidationStep,
        unwrap,
    )
    from synapse_sdk.errors import (
        ExecutorError,
        FanOutError,
        InvalidParamsError,
        StepExecutionError,
        StepInputError,
        StepTimeout,
        SynapseError,
    )
    from synapse_sdk.host.hookspecs import hookimpl
    from synapse_sdk.host.manager import PluginHost
    from synapse_sdk.run.runner import run_action
    from synapse_sdk.runtime import CallbackSink, JsonLinesSink, NullSink, ProgressSink
    from synapse_sdk.runtime.context import RuntimeContext
    from synapse_sdk.storage import Storage, StoredObject

__all__ = [
    "ActionContext",
    "ActionParams",
    "BaseAction",
    "BaseExportAction",
    "BaseStep",
    "BaseStepContext",
    "BaseTrainAction",
    "BaseUploadAction",
    "CallbackSink",
    "ExecutorError",
    "ExportContext",
    "ExportParams",
    "FanOutError",
    "InvalidParamsError",
    "JsonLinesSink",
    "LoggingStep",
    "NullSink",
    "Orchestrator",
    "OrchestratorResult",
    "PluginHost",
    "ProgressSink",
    "RetryStep",
    "RuntimeContext",
    "StepExecutionError",
    "StepInputError",
    "StepRegistry",
    "StepResult",
    "StepTimeout",
    "StepWrapper",
    "Storage",
    "StoredObject",
    "SynapseError",
    "TimeoutStep",
    "TimingStep",
    "TrainContext",
    "TrainParams",
    "UploadContext",
    "UploadParams",
    "ValidationStep",
    "__version__",
    "hookimpl",
    "run_action",
    "unwrap",
]

_HOMES = {
    "synapse_sdk.actions": (
        "ActionContext ActionParams BaseAction BaseExportAction BaseTrainAction "
        "BaseUploadAction ExportContext ExportParams TrainContext TrainParams "
        "UploadContext UploadParams"
    ),
    "synapse_sdk.engine.base": "BaseStep",
    "synapse_sdk.engine.context": "BaseStepContext",
    "synapse_sdk.engine.orchestrator": "Orchestrator OrchestratorResult",
    "synapse_sdk.engine.registry": "StepRegistry",
    "synapse_sdk.engine.resilience": "RetryStep TimeoutStep",
    "synapse_sdk.engine.result": "StepResult",
    "synapse_sdk.engine.utility": "LoggingStep StepWrapper TimingStep ValidationStep unwrap",
    "synapse_sdk.errors": (
        "ExecutorError FanOutError InvalidParamsError StepExecutionError StepInputError "
        "StepTimeout SynapseError"
    ),
    "synapse_sdk.host.hookspecs": "hookimpl",
    "synapse_sdk.host.manager": "PluginHost",
    "synapse_sdk.run.runner": "run_action",
    "synapse_sdk.runtime": "CallbackSink JsonLinesSink NullSink ProgressSink",
    "synapse_sdk.runtime.context": "RuntimeContext",
    "synapse_sdk.storage": "Storage StoredObject",
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names.split()}


def __getattr__(name: str) -> "Any":
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("synapse-sdk")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0.0.0+unknown"
    from synapse_sdk.lazy import load_on_first_use

    return load_on_first_use(__name__, name, _HOME_OF, globals())


def __dir__() -> list[str]:
    return list(__all__)
