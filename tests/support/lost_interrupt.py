"""An action during which a Ctrl-C lands where CPython discards the exception it raises.

The first step writes a file through ``context.storage``; then a real SIGINT is handled
inside a weakref callback (``os.kill`` of this process, then a loop whose back edge runs
the handler). CPython prints "Exception ignored in ..." and carries on: the
``KeyboardInterrupt`` never reaches the step. The second step writes another file.
"""

from __future__ import annotations

import os
import signal
import weakref
from typing import Any

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class LostInterruptParams(ActionParams):
    target: str


class _Anything:
    pass


def signal_this_process(signum: int = signal.SIGINT, spins: int = 1_000_000) -> None:
    """Send ``signum`` to this process and let its handler run, at a back edge of a loop.

    A handler that raises ends the loop there; one that holds or drops the signal lets it
    run ``spins`` times.
    """
    os.kill(os.getpid(), signum)
    for _spin in range(spins):
        pass


def ctrl_c_in_a_weakref_callback() -> None:
    """Send SIGINT to this process so that its handler runs inside a weakref callback."""

    def callback(_: object) -> None:
        signal_this_process(spins=10_000)  # the exception is dropped: the loop runs on

    doomed = _Anything()
    kept = weakref.ref(doomed, callback)
    del doomed  # the callback runs now, in this thread
    assert kept() is None


class WriteThenLoseTheSignal(BaseStep[ActionContext]):
    name = "write_first"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        params: Any = context.params
        context.storage.write_text(f"{params.target}/first.txt", "the run's")
        ctrl_c_in_a_weakref_callback()
        return StepResult(success=True)


class WriteSecond(BaseStep[ActionContext]):
    name = "write_second"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        params: Any = context.params
        context.storage.write_text(f"{params.target}/second.txt", "the run's too")
        return StepResult(success=True)


class LostInterruptAction(BaseAction[LostInterruptParams]):
    action_name = "lost-interrupt"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(WriteThenLoseTheSignal())
        registry.register(WriteSecond())


class WriteManyUndoneByMap(BaseStep[ActionContext]):
    """Writes five files (recorded); its rollback deletes them through ``context.map``."""

    name = "write_many"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        params: Any = context.params
        for index in range(5):
            path = os.path.join(params.target, f"{index}.txt")
            context.append_rollback("files", path)  # recorded before it exists
            with open(path, "w") as file:
                file.write("the run's")
        return StepResult(success=True)

    def rollback(self, context: ActionContext, result: StepResult) -> None:
        context.map(os.remove, result.rollback_data.get("files", []))


class CtrlC(BaseStep[ActionContext]):
    """The user presses Ctrl-C; the exception reaches this step as usual."""

    name = "ctrl_c"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        signal_this_process()
        raise AssertionError("the Ctrl-C never arrived")


class MapInRollbackAction(BaseAction[LostInterruptParams]):
    action_name = "map-in-rollback"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(WriteManyUndoneByMap())
        registry.register(CtrlC())
