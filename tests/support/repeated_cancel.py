"""An action that Ray's cancellation reaches twice, as it does on a Ray worker.

``ray.cancel(task)`` stops a running task two ways: a blocking Ray call in it (a fan-out
waiting for its items) raises ``KeyboardInterrupt`` of its own, and the task's main thread
is interrupted as by SIGINT (``_thread.interrupt_main()``), which can come later, while
the run is rolled back. Seen on a real cluster when the cancel was sent while the task
was still starting. The step writes a file through ``context.storage`` and is then
stopped the first way; its rollback is interrupted the second way, and notes (in the
``notes`` file) that it ran in the main thread under the SDK's handler, where the
interruption does arrive.
"""

from __future__ import annotations

import _thread
import signal
import threading
import time
from pathlib import Path
from typing import Any

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class RepeatedCancelParams(ActionParams):
    target: str
    notes: str


class WriteThenCancelled(BaseStep[ActionContext]):
    name = "write"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        params: Any = context.params
        context.storage.write_text(f"{params.target}/written.txt", "the run's")
        raise KeyboardInterrupt  # what ray.wait raises in a cancelled task

    def rollback(self, context: ActionContext, result: StepResult) -> None:
        params: Any = context.params
        handler = signal.getsignal(signal.SIGINT)
        main = threading.current_thread() is threading.main_thread()
        Path(params.notes).write_text(f"main thread: {main}; handler: {handler.__module__}")
        _thread.interrupt_main()  # the same cancel's signal, arriving late
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # its handler runs within this loop
            time.sleep(0.001)


class RepeatedCancelAction(BaseAction[RepeatedCancelParams]):
    action_name = "repeated-cancel"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(WriteThenCancelled())
