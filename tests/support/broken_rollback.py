"""An action whose step fails and whose rollback then raises: a run left rollback_failed."""

from __future__ import annotations

from typing import Any

from synapse_sdk.actions.base import ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class FailsThenCannotUndo(BaseStep[Any]):
    name = "half_done"
    progress_weight = 1.0

    def execute(self, context: Any) -> StepResult:
        raise RuntimeError("the write half happened")

    def rollback(self, context: Any, result: StepResult) -> None:
        raise OSError("the undo could not reach the target")


class BrokenRollbackAction(BaseAction[ActionParams]):
    action_name = "broken-rollback"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(FailsThenCannotUndo())
