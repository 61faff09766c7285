"""Three actions that hand real files on, for the pipeline tests.

``prepare`` writes ``data.txt`` under ``out`` and hands on its URL; ``train`` reads that
file (``data_uri``) and writes a "model" next to ``model_uri``; ``publish`` copies both
to ``target``. Every write goes through ``context.storage``, so each is undone exactly.
``fail_at`` makes a step fail: ``"train"`` (before it writes), ``"publish"`` (after it
copied the first file). ``slow`` makes ``publish`` wait between its two copies.

``slow_rollback`` (seconds) gives ``train``'s ``fit`` step a rollback of its own that
sleeps that long before the SDK undoes the step's writes, so that a signal can land while
a pipeline undoes its earlier actions; with ``rollback_log`` (a file outside the folder
being checked) it appends ``start`` before the sleep and ``end`` after it, so a test can
count how often the rollback ran to its end. Without ``slow_rollback`` ``fit`` is the plain
step, with no rollback of its own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class PrepareParams(ActionParams):
    out: str
    lines: int = Field(3, ge=1)


class PrepareResult(BaseModel):
    output_uri: str
    lines: int


class WriteData(BaseStep[ActionContext]):
    name = "write_data"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        url = f"{context.params.out.rstrip('/')}/data.txt"
        context.storage.write_text(url, "".join(f"row {i}\n" for i in range(context.params.lines)))
        context.set_result(output_uri=url, lines=context.params.lines)
        return StepResult(success=True)


class PrepareAction(BaseAction[PrepareParams]):
    action_name = "prepare"
    result_model = PrepareResult

    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(WriteData())


class TrainParams(ActionParams):
    data_uri: str
    model_uri: str
    fail_at: str | None = None
    token: SecretStr | None = None
    slow_rollback: float = 0.0
    rollback_log: str | None = None


class TrainResult(BaseModel):
    model_uri: str
    rows: int
    pid: int  # the process the step ran in (a Ray worker's on a cluster)


class Fit(BaseStep[ActionContext]):
    name = "fit"
    progress_weight = 3.0

    def execute(self, context: ActionContext) -> StepResult:
        if context.params.fail_at == "train":
            raise RuntimeError("the training diverged")
        rows = Path(context.params.data_uri).read_text().count("\n")
        context.storage.write_text(context.params.model_uri, f"model of {rows} rows\n")
        context.set_result(model_uri=context.params.model_uri, rows=rows, pid=os.getpid())
        return StepResult(success=True)


class SlowlyUndoneFit(Fit):
    """``fit`` with a rollback of its own that takes ``slow_rollback`` seconds."""

    def rollback(self, context: ActionContext, result: StepResult) -> None:
        log = context.params.rollback_log
        if log:
            with Path(log).open("a") as file:
                file.write("start\n")
        time.sleep(context.params.slow_rollback)
        if log:
            with Path(log).open("a") as file:
                file.write("end\n")


class TrainAction(BaseAction[TrainParams]):
    action_name = "train"
    result_model = TrainResult

    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(SlowlyUndoneFit() if self.params.slow_rollback else Fit())


class PublishParams(ActionParams):
    annotations_uri: str
    model_uri: str
    target: str
    fail_at: str | None = None
    slow: float = 0.0


class Copy(BaseStep[ActionContext]):
    name = "copy"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        params = context.params
        target = params.target.rstrip("/")
        context.storage.put_file(params.annotations_uri, f"{target}/data.txt")
        time.sleep(params.slow)
        if params.fail_at == "publish":
            raise RuntimeError("the target refused the model")
        context.storage.put_file(params.model_uri, f"{target}/model.txt")
        return StepResult(success=True)


class PublishAction(BaseAction[PublishParams]):
    action_name = "publish"

    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(Copy())


NIGHTLY_TOML = """
name = "nightly"

[[actions]]
action = "support.pipeline_actions:PrepareAction"
id = "prepare"
params = { out = "prep" }

[[actions]]
action = "support.pipeline_actions:TrainAction"
id = "train"
params = { model_uri = "models/m.txt" }

[[actions]]
action = "support.pipeline_actions:PublishAction"
id = "publish"
params = { target = "pub" }

[mappings]
"train.data_uri" = "prepare.output_uri"
"publish.annotations_uri" = "prepare.output_uri"
"publish.model_uri" = "train.model_uri"
"""
"""The chain as a pipeline file, with paths relative to the folder it runs in."""
