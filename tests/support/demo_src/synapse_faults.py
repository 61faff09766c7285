"""A fault-injection hook plugin for the fault suite (tests/faults).

``SYNAPSE_FAULT=<step>:<mode>`` (and a second one in ``SYNAPSE_FAULT_ALSO``) wraps the
step whose innermost name is ``<step>``:

* ``fail`` — the step returns ``success=False`` after doing its work;
* ``raise`` — it raises ``RuntimeError`` after doing its work;
* ``interrupt`` — it raises ``KeyboardInterrupt`` after doing its work;
* ``sigterm`` — the process sends itself SIGTERM after the step did its work;
* ``sigkill`` — the process is killed with SIGKILL mid-step: when the step records
  the same key a second time (``record_rollback``), or when its ``execute`` returns;
* ``rollback_raises`` — the step's rollback raises after undoing its work;
* ``rollback_interrupt`` — a second Ctrl-C: the step's rollback raises
  ``KeyboardInterrupt`` before undoing anything (only once, when ``SYNAPSE_FAULT_ONCE``
  names a marker file: the fault fires while the file does not exist, and creates it).

Faults fire after the step's own work, so every step leaves something to roll back.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from synapse_sdk.plugins import hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepResult, StepWrapper, unwrap

FAULT_ENVS = ("SYNAPSE_FAULT", "SYNAPSE_FAULT_ALSO")


def _faults() -> dict[str, str]:
    """``{step: mode}`` from ``SYNAPSE_FAULT`` and ``SYNAPSE_FAULT_ALSO``."""
    found = {}
    for name in FAULT_ENVS:
        spec = os.environ.get(name, "")
        if ":" in spec:
            step, mode = spec.split(":", 1)
            found[step] = mode
    return found


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)


class Fault(StepWrapper[Any]):
    prefix = "fault_"

    def __init__(self, step: BaseStep[Any], mode: str) -> None:
        super().__init__(step)
        self.mode = mode

    def execute(self, context: Any) -> StepResult:
        if self.mode == "sigkill":
            original = context.record_rollback
            calls = []

            def record_then_die(key: str, value: Any) -> None:
                original(key, value)
                calls.append(key)
                if calls.count(key) == 2:  # mid-way: the second record of the same thing
                    _kill()

            context.record_rollback = record_then_die
            try:
                self.inner.execute(context)
            finally:
                del context.record_rollback
            _kill()
        result = self.inner.execute(context)
        if self.mode == "fail":
            return StepResult(
                success=False, error="injected failure", rollback_data=result.rollback_data
            )
        if self.mode == "raise":
            context.record_rollback("injected", True)
            raise RuntimeError("injected error")
        if self.mode == "interrupt":
            raise KeyboardInterrupt
        if self.mode == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        return result

    def rollback(self, context: Any, result: StepResult) -> None:
        if self.mode == "rollback_interrupt":
            marker = os.environ.get("SYNAPSE_FAULT_ONCE")
            if marker and not os.path.exists(marker):
                open(marker, "w").close()
                raise KeyboardInterrupt
        self.inner.rollback(context, result)
        if self.mode == "rollback_raises":
            raise RuntimeError("injected rollback error")


@hookimpl
def synapse_wrap_step(step: BaseStep[Any]) -> BaseStep[Any] | None:
    mode = _faults().get(unwrap(step).name)
    return Fault(step, mode) if mode else None
