"""An action that hands on what the variable ``PROBE_VARIABLE`` holds where its step runs."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class Seen(BaseModel):
    value: str | None
    pid: int


class Look(BaseStep[ActionContext]):
    name = "look"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        context.set_result(value=os.environ.get("PROBE_VARIABLE"), pid=os.getpid())
        return StepResult(success=True)


class EnvProbeAction(BaseAction[ActionParams]):
    action_name = "env-probe"
    result_model = Seen

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(Look())
