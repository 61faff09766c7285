"""Signals that reach the code as another error: Python 3.11 wraps what ``__set_name__`` raises.

A class whose attribute has ``__set_name__`` (dataclass and pydantic fields do) is being
created when the signal's handler runs: on Python 3.11 the ``KeyboardInterrupt`` arrives as
``RuntimeError: Error calling __set_name__ ...``; from 3.12 it arrives as itself.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from support.lost_interrupt import LostInterruptParams, WriteSecond
from synapse_sdk.actions.base import ActionContext
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class SignalOnSetName:
    """An attribute whose ``__set_name__`` sends ``signum`` to this process and waits for it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __set_name__(self, owner: type, name: str) -> None:
        os.kill(os.getpid(), self.signum)
        for _spin in range(1_000_000):  # the handler runs at a back edge of this loop
            pass


def class_created_under(signum: int) -> type:
    """Define a class while ``signum`` arrives; return it (if the signal did nothing)."""

    class Interrupted:
        attribute = SignalOnSetName(signum)

    return Interrupted


class DefineAClassUnderCtrlC(BaseStep[ActionContext]):
    name = "define_a_class"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        class_created_under(signal.SIGINT)
        return StepResult(success=True)


class WrappedInterruptAction(BaseAction[LostInterruptParams]):
    """Writes a file, then is interrupted while a class is being created."""

    action_name = "wrapped-interrupt"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(WriteSecond())
        registry.register(DefineAClassUnderCtrlC())


class WrappedInExecuteAction(BaseAction[LostInterruptParams]):
    """An action without steps, interrupted in its ``execute()`` while a class is created."""

    action_name = "wrapped-in-execute"

    def execute(self) -> dict[str, Any]:
        class_created_under(signal.SIGINT)
        return {"success": True}
