"""Signals that reach the code as another error.

A library may catch a signal's ``KeyboardInterrupt`` and raise its own error from it;
Python 3.11 does it itself while a class is being created (what ``__set_name__`` raises
becomes ``RuntimeError: Error calling __set_name__ ...``; from 3.12 it arrives as itself).
The helpers here wrap explicitly, so the tests mean the same on every Python.
"""

from __future__ import annotations

import signal
from typing import Any

from support.lost_interrupt import CtrlC, LostInterruptParams, WriteSecond, signal_this_process
from synapse_sdk.actions.base import ActionContext
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)
from synapse_sdk.runtime import RuntimeContext


class LibraryError(RuntimeError):
    """What a library raises in place of the ``KeyboardInterrupt`` it caught."""


def signal_wrapped_in_another_error(signum: int) -> None:
    """Send ``signum`` to this process; raise the handler's exception wrapped in LibraryError."""
    try:
        signal_this_process(signum)
    except BaseException as caught:
        raise LibraryError("the library was interrupted") from caught


class SignalOnSetName:
    """An attribute whose ``__set_name__`` sends ``signum`` to this process and waits for it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __set_name__(self, owner: type, name: str) -> None:
        signal_this_process(self.signum)


def class_created_under(signum: int) -> type:
    """Define a class while ``signum`` arrives (Python 3.11 wraps it in a RuntimeError)."""

    class Interrupted:
        attribute = SignalOnSetName(signum)

    return Interrupted


class CtrlCWrappedByALibrary(BaseStep[ActionContext]):
    name = "library_call"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        signal_wrapped_in_another_error(signal.SIGINT)
        return StepResult(success=True)


class CtrlCRaisedAgainByALibrary(BaseStep[ActionContext]):
    """A library that cleans up after the user's Ctrl-C, then raises a new KeyboardInterrupt."""

    name = "cleaning_library_call"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        try:
            signal_this_process()
        except KeyboardInterrupt as caught:
            raise KeyboardInterrupt("the library cleaned up") from caught
        return StepResult(success=True)


class WrappedInterruptAction(BaseAction[LostInterruptParams]):
    """Writes a file, then a library it calls turns the user's Ctrl-C into its own error."""

    action_name = "wrapped-interrupt"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(WriteSecond())
        registry.register(CtrlCWrappedByALibrary())


class WrappedInExecuteAction(BaseAction[LostInterruptParams]):
    """An action without steps whose ``execute()`` gets the Ctrl-C as a library's error."""

    action_name = "wrapped-in-execute"

    def execute(self) -> dict[str, Any]:
        signal_wrapped_in_another_error(signal.SIGINT)
        return {"success": True}


class _Fails(BaseStep[BaseStepContext]):
    name = "fails"
    progress_weight = 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        raise ValueError("the compensation did not work")


class CompensateInRollback(BaseStep[ActionContext]):
    """Its rollback runs a small workflow of its own that fails, and logs that it did."""

    name = "compensate"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        return StepResult(success=True)

    def rollback(self, context: ActionContext, result: StepResult) -> None:
        registry: StepRegistry[BaseStepContext] = StepRegistry()
        registry.register(_Fails())
        inner = Orchestrator(registry, BaseStepContext(runtime_ctx=RuntimeContext()))
        try:
            inner.execute()
        except Exception as exc:  # an ordinary error, raised while the Ctrl-C is handled
            context.log("compensation_failed", {"error": str(exc)})


class FailingCompensationAction(BaseAction[LostInterruptParams]):
    """Writes a file; a step whose rollback fails inside; Ctrl-C."""

    action_name = "failing-compensation"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(WriteSecond())
        registry.register(CompensateInRollback())
        registry.register(CtrlC())


class RaisedAgainThenCompensationFailsAction(BaseAction[LostInterruptParams]):
    """Writes a file; a step whose rollback fails inside; Ctrl-C raised again by a library."""

    action_name = "raised-again-then-compensation-fails"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(WriteSecond())
        registry.register(CompensateInRollback())
        registry.register(CtrlCRaisedAgainByALibrary())
