"""Demo hook plugins: one inserts a step before ``copy``, one wraps every step."""

from __future__ import annotations

from typing import Any

from synapse_sdk.plugins import hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepResult, StepWrapper


class Announce(BaseStep[Any]):
    name = "announce"
    progress_weight = 0.0

    def execute(self, context: Any) -> StepResult:
        context.log("announcing", {"files": len(context.files)})
        return StepResult(success=True)


class Stamp(StepWrapper[Any]):
    prefix = "stamped_"

    def execute(self, context: Any) -> StepResult:
        context.log("stamp", {"inner": self.inner.name})
        return self.inner.execute(context)


class announce:
    @staticmethod
    @hookimpl
    def synapse_setup_steps(action: Any, registry: Any) -> None:
        if action.kind == "upload" and "copy" in registry:
            registry.insert_before("copy", Announce())


class stamp:
    @staticmethod
    @hookimpl
    def synapse_wrap_step(step: BaseStep[Any]) -> BaseStep[Any]:
        return Stamp(step)
