"""Actions: params models from the generic argument, contexts, simple and step modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from synapse_sdk.actions.export import ExportContext
from synapse_sdk.actions.train import TrainContext
from synapse_sdk.actions.upload import UploadContext
from synapse_sdk.errors import InvalidParamsError, StepExecutionError
from synapse_sdk.plugins import (
    BaseAction,
    BaseExportAction,
    BaseTrainAction,
    BaseUploadAction,
    ExportParams,
    PluginHost,
    RuntimeContext,
    TrainParams,
    UploadParams,
    run_action,
)
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult
from synapse_sdk.runtime import CallbackSink, JsonLinesSink


class Record(BaseStep[Any]):
    def __init__(self, name: str, *, fail: bool = False) -> None:
        self._name = name
        self.fail = fail

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Any) -> StepResult:
        context.log("ran", {"step": self._name})
        if self.fail:
            return StepResult(success=False, error=f"{self._name} failed on purpose")
        return StepResult(success=True)


class MyTrainParams(TrainParams):
    layers: int = 2


class MyTrain(BaseTrainAction[MyTrainParams]):
    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        registry.register(Record("fit"))


class MyExport(BaseExportAction[ExportParams]):
    def setup_steps(self, registry: StepRegistry[ExportContext]) -> None:
        registry.register(Record("convert"))


class SecretParams(UploadParams):
    api_key: SecretStr
    retries: int = 1


class SecretUpload(BaseUploadAction[SecretParams]):
    def setup_steps(self, registry: StepRegistry[UploadContext]) -> None:
        registry.register(Record("one"))
        registry.register(Record("two", fail=True))


class SimpleParams(BaseModel):
    count: int


class Simple(BaseAction[SimpleParams]):
    def execute(self) -> dict[str, int]:
        return {"doubled": self.params.count * 2}


def test_generic_argument_becomes_params_model() -> None:
    assert MyTrain.params_model is MyTrainParams
    assert SecretUpload.params_model is SecretParams
    assert Simple.params_model is SimpleParams


def test_kinds_and_contexts() -> None:
    host = PluginHost()
    train = MyTrain({"model_uri": "memory://m"}, plugins=host)
    export = MyExport({"output_uri": "out"}, plugins=host)
    upload = SecretUpload({"source": "a", "target": "b", "api_key": "k"}, plugins=host)
    assert (train.kind, export.kind, upload.kind, Simple.kind) == (
        "train",
        "export",
        "upload",
        "other",
    )
    train_context = train.create_context()
    assert isinstance(train_context, TrainContext)
    assert train_context.params.layers == 2
    assert train_context.runtime_ctx is train.ctx
    assert isinstance(export.create_context(), ExportContext)
    assert isinstance(upload.create_context(), UploadContext)


def test_base_params_models_share_fields() -> None:
    assert {"epochs", "batch_size", "learning_rate", "seed", "model_uri"} <= set(
        TrainParams.model_fields
    )
    assert {"output_uri", "overwrite"} <= set(ExportParams.model_fields)
    assert {"source", "target"} <= set(UploadParams.model_fields)


def test_run_uses_steps_and_returns_orchestrator_result() -> None:
    result = MyTrain({}, plugins=PluginHost()).run()
    assert result == {"success": True, "steps_executed": 1, "steps_total": 1}


def test_run_without_steps_calls_execute() -> None:
    assert Simple({"count": 21}, plugins=PluginHost()).run() == {"doubled": 42}


def test_run_action_accepts_class_dict_or_model_instance() -> None:
    host = PluginHost()
    assert run_action(Simple, {"count": 2}, plugins=host) == {"doubled": 4}
    assert run_action(Simple, SimpleParams(count=3), plugins=host) == {"doubled": 6}


def test_run_action_by_installed_name(demo_site: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text("a")
    result = run_action(
        "demo-upload",
        {"source": str(source), "target": str(tmp_path / "dst")},
        plugins=PluginHost(),
    )
    assert result == {"success": True, "steps_executed": 3, "steps_total": 3}
    assert (tmp_path / "dst" / "a.txt").read_text() == "a"


def test_invalid_params_lists_every_bad_field_in_plain_words() -> None:
    with pytest.raises(InvalidParamsError) as caught:
        run_action(
            SecretUpload, {"source": 3, "retries": "many", "colour": "red"}, plugins=PluginHost()
        )
    error = caught.value
    assert isinstance(error, ValueError)
    fields = [field for field, _ in error.problems]
    assert fields == ["source", "target", "api_key", "retries", "colour"]
    message = str(error)
    assert "target: required, but missing" in message
    assert (
        "colour: unknown field (allowed fields: api_key, retries, source, storage_options, target)"
        in message
    )
    assert "retries: Input should be a valid integer" in message


def test_secrets_never_appear_in_logs_events_or_errors(tmp_path: Path) -> None:
    secret = "hunter2-very-secret"
    events: list[Any] = []
    lines = tmp_path / "events.jsonl"
    ctx = RuntimeContext(sinks=[CallbackSink(events.append), JsonLinesSink(lines)])
    with pytest.raises(StepExecutionError) as caught:
        run_action(
            SecretUpload,
            {"source": "s", "target": "t", "api_key": secret},
            ctx=ctx,
            plugins=PluginHost(),
        )
    ctx.close()
    assert secret not in str(caught.value)
    assert secret not in repr(events)
    written = lines.read_text()
    assert '"api_key": "**********"' in written
    assert secret not in written
    with pytest.raises(InvalidParamsError) as invalid:
        run_action(
            SecretUpload,
            {"source": "s", "api_key": secret, "retries": secret},
            plugins=PluginHost(),
        )
    assert secret not in str(invalid.value)
    assert invalid.value.__cause__ is None
    assert invalid.value.__context__ is not None
    assert secret not in "".join(str(arg) for arg in invalid.value.args)


def test_action_without_steps_or_execute_says_what_to_override() -> None:
    class Empty(BaseAction[SimpleParams]):
        pass

    with pytest.raises(NotImplementedError, match="override setup_steps"):
        Empty({"count": 1}, plugins=PluginHost()).run()
