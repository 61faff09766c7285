"""An action for recovery tests: ``steps`` numbered steps whose rollbacks are counted.

``CRASH_AT`` makes the n-th rollback call (counting down) raise ``KeyboardInterrupt``
before it does anything, which is how a test simulates a process dying mid-recovery.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult

COMPLETED: Counter[str] = Counter()
CALLS: list[str] = []
CRASH_AT: list[int] = []  # [n]: the n-th next rollback call crashes; [] never


class CountingParams(ActionParams):
    steps: int = 3


class Counted(BaseStep[ActionContext]):
    def __init__(self, index: int) -> None:
        self.index = index

    @property
    def name(self) -> str:
        return f"s{self.index}"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: ActionContext) -> StepResult:
        return StepResult(success=True, rollback_data={"index": self.index})

    def rollback(self, context: ActionContext, result: StepResult) -> None:
        CALLS.append(self.name)
        if CRASH_AT:
            CRASH_AT[0] -= 1
            if CRASH_AT[0] == 0:
                CRASH_AT.clear()
                raise KeyboardInterrupt
        assert result.rollback_data.get("index", self.index) == self.index
        COMPLETED[self.name] += 1


class CountingAction(BaseAction[CountingParams]):
    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        for index in range(self.params.steps):
            registry.register(Counted(index))


def reset() -> None:
    COMPLETED.clear()
    CALLS.clear()
    CRASH_AT.clear()


class Auth(BaseModel):
    user: str
    password: SecretStr


class Endpoint(BaseModel):
    url: str
    key: SecretStr


class SecretParams(ActionParams):
    tokens: list[SecretStr]
    auth: Auth
    endpoints: list[Endpoint] = Field(default_factory=list)


SEEN_PARAMS: list[SecretParams] = []


class SeesParams(BaseStep[ActionContext]):
    name = "s0"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        return StepResult(success=True)

    def rollback(self, context: ActionContext, result: StepResult) -> None:
        SEEN_PARAMS.append(context.params)


class SecretAction(BaseAction[SecretParams]):
    """One step whose rollback keeps the params it was rebuilt with."""

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(SeesParams())
