"""JsonLinesSink: one JSON object per line, with an ``event`` key, secrets redacted."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, SecretStr
from structlog.testing import capture_logs

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)
from synapse_sdk.runtime import JsonLinesSink

SECRET = "hunter2-very-secret"


def emit_one_of_each(runtime: RuntimeContext) -> None:
    with capture_logs():
        runtime.log("hello", {"n": 1}, step="load")
    runtime.set_progress(1, 2, step="load")
    runtime.set_metrics({"loss": 0.5}, step="train")


def parse(text: str) -> list[dict[str, object]]:
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_writes_one_object_per_line_to_a_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    runtime = RuntimeContext(sinks=[JsonLinesSink(path)])
    emit_one_of_each(runtime)
    runtime.close()

    lines = parse(path.read_text(encoding="utf-8"))
    assert [line["event"] for line in lines] == ["log", "progress", "metrics"]
    assert lines[0]["message"] == "hello"
    assert lines[0]["data"] == {"n": 1}
    assert lines[1]["percent"] == 50
    assert lines[2]["values"] == {"loss": 0.5}


def test_lines_are_written_as_they_happen(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonLinesSink(path)
    RuntimeContext(sinks=[sink]).set_progress(1, 4)
    assert parse(path.read_text(encoding="utf-8"))[0]["percent"] == 25
    sink.close()


def test_appends_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    for current in (1, 2):
        sink = JsonLinesSink(str(path))
        RuntimeContext(sinks=[sink]).set_progress(current, 2)
        sink.close()
    assert [line["percent"] for line in parse(path.read_text(encoding="utf-8"))] == [50, 100]


def test_writes_to_a_stream_and_leaves_it_open() -> None:
    stream = io.StringIO()
    runtime = RuntimeContext(sinks=[JsonLinesSink(stream)])
    emit_one_of_each(runtime)
    runtime.close()
    assert not stream.closed
    lines = parse(stream.getvalue())
    assert all("event" in line for line in lines)
    assert len(lines) == 3


def test_secrets_are_redacted() -> None:
    class Credentials(BaseModel):
        user: str
        password: SecretStr

    stream = io.StringIO()
    runtime = RuntimeContext(sinks=[JsonLinesSink(stream)])
    with capture_logs():
        runtime.log("connecting", {"token": SecretStr(SECRET)})
    runtime.set_metrics({"creds": Credentials(user="me", password=SecretStr(SECRET))})

    text = stream.getvalue()
    assert SECRET not in text
    log_line, metrics_line = parse(text)
    assert log_line["data"] == {"token": "**********"}
    assert metrics_line["values"] == {"creds": {"user": "me", "password": "**********"}}


def test_a_whole_run_as_json_lines() -> None:
    @dataclass
    class Context(BaseStepContext):
        pass

    class Work(BaseStep[Context]):
        def __init__(self, name: str) -> None:
            self._name = name

        @property
        def name(self) -> str:
            return self._name

        @property
        def progress_weight(self) -> float:
            return 1.0

        def execute(self, context: Context) -> StepResult:
            context.set_progress(1, 2)
            return StepResult(success=True)

    stream = io.StringIO()
    registry = StepRegistry[Context]()
    registry.register(Work("a"))
    registry.register(Work("b"))
    context = Context(runtime_ctx=RuntimeContext(sinks=[JsonLinesSink(stream)]))
    Orchestrator(registry, context).execute()

    lines = parse(stream.getvalue())
    assert all(isinstance(line["event"], str) for line in lines)
    progress = [line["percent"] for line in lines if line["event"] == "progress"]
    assert progress == [25, 50, 75, 100]
    steps = [(line["step"], line["status"]) for line in lines if line["event"] == "step"]
    assert steps == [("a", "started"), ("a", "succeeded"), ("b", "started"), ("b", "succeeded")]
