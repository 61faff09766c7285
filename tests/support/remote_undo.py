"""An action that replaces a file through ``context.storage``, then waits or fails.

Params: ``target`` (a folder holding ``existing.txt``), ``hang`` (seconds the second step
waits: time to kill the caller), ``fail`` (the second step fails: the run rolls back).
"""

from __future__ import annotations

import time
from typing import Any

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class RemoteUndoParams(ActionParams):
    target: str
    hang: float = 0.0
    fail: bool = False


class Replace(BaseStep[ActionContext]):
    name = "replace"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        params: Any = context.params
        context.storage.write_text(f"{params.target}/existing.txt", "replaced by the run")
        return StepResult(success=True)


class WaitOrFail(BaseStep[ActionContext]):
    name = "wait"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        params: Any = context.params
        time.sleep(params.hang)
        if params.fail:
            raise RuntimeError("asked to fail")
        return StepResult(success=True)


class ReplaceThenWait(BaseAction[RemoteUndoParams]):
    action_name = "replace-then-wait"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(Replace())
        registry.register(WaitOrFail())
