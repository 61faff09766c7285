"""Hook implementations: a verification step after every upload, timing around every step."""

from __future__ import annotations

import time
from typing import Any

from synapse_sdk.actions.upload import UPLOAD_STEP, UploadContext
from synapse_sdk.plugins import BaseAction, hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult, StepWrapper

from synapse_integrity.verify import VerifyUpload


class Timed(StepWrapper[Any]):
    """Reports the wrapped step's wall time as the metric ``<step>_seconds``."""

    prefix = "timed_"

    def execute(self, context: Any) -> StepResult:
        started = time.perf_counter()
        try:
            return self.inner.execute(context)
        finally:
            context.set_metrics(
                {f"{self.inner.name}_seconds": round(time.perf_counter() - started, 6)}
            )


@hookimpl
def synapse_setup_steps(action: BaseAction[Any], registry: StepRegistry[UploadContext]) -> None:
    if action.kind == "upload" and UPLOAD_STEP in registry:
        registry.insert_after(UPLOAD_STEP, VerifyUpload())


@hookimpl
def synapse_wrap_step(step: BaseStep[Any]) -> BaseStep[Any]:
    return Timed(step)
