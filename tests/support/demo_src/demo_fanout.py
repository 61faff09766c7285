"""demo-fanout: a step that fans out over items with ``context.map``, for the executor tests.

Each item writes ``item-<n>.txt`` in the target folder (items listed in ``fail_items``
raise instead); ``hold`` keeps a first step busy, reporting progress, so a test can watch
live events or interrupt the run. Every file written is removed by the rollbacks.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from synapse_sdk.actions.base import ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class FanOutParams(ActionParams):
    target: str = Field(description="Folder the items are written to.")
    items: int = Field(20, ge=0, description="How many items to fan out over.")
    fail_items: list[int] = Field(default_factory=list, description="Items that raise.")
    delay: float = Field(0.0, ge=0, description="Seconds each item takes.")
    hold: float = Field(0.0, ge=0, description="Seconds the first step stays busy.")
    fail_after: bool = Field(False, description="Fail a last step, after the fan-out.")


def write_item(job: tuple[str, int, bool, float]) -> str:
    target, index, fails, delay = job
    time.sleep(delay)
    if fails:
        raise ValueError(f"item {index} refused")
    path = Path(target) / f"item-{index}.txt"
    path.write_text(f"{os.getpid()}\n")  # the process that ran the item
    return str(path)


class Prepare(BaseStep[Any]):
    name = "prepare"
    progress_weight = 0.2

    def execute(self, context: Any) -> StepResult:
        marker = Path(context.params.target) / "prepared.txt"
        context.record_rollback("marker", str(marker))
        marker.write_text(f"{os.getpid()}\n")  # the process that ran the action
        started = time.monotonic()
        ticks = 0
        while (elapsed := time.monotonic() - started) < context.params.hold:
            time.sleep(0.05)
            if int(elapsed / 0.25) > ticks:
                ticks = int(elapsed / 0.25)
                context.set_progress(elapsed, context.params.hold)
        return StepResult(success=True, rollback_data={"marker": str(marker)})

    def rollback(self, context: Any, result: StepResult) -> None:
        Path(result.rollback_data["marker"]).unlink(missing_ok=True)
        context.log("prepare_rolled_back", level="warning")


class FanOut(BaseStep[Any]):
    name = "fan_out"
    progress_weight = 0.7

    def execute(self, context: Any) -> StepResult:
        params = context.params
        jobs = [
            (params.target, index, index in params.fail_items, params.delay)
            for index in range(params.items)
        ]
        written = context.map(write_item, jobs, rollback_key="written")
        return StepResult(success=True, data={"written": len(written)})

    def rollback(self, context: Any, result: StepResult) -> None:
        written = result.rollback_data.get("written", [])
        for path in written:
            Path(path).unlink()
        context.log("fan_out_rolled_back", {"removed": len(written)}, level="warning")


class Finish(BaseStep[Any]):
    name = "finish"
    progress_weight = 0.1

    def execute(self, context: Any) -> StepResult:
        if context.params.fail_after:
            return StepResult(success=False, error="asked to fail after the fan-out")
        return StepResult(success=True)


class DemoFanOut(BaseAction[FanOutParams]):
    action_name = "demo-fanout"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(Prepare())
        registry.register(FanOut())
        registry.register(Finish())
