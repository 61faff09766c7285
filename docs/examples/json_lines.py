"""The JSON-lines sink: one JSON object per event, the shapes of every event kind."""

import contextlib
import io
import json
import tempfile
from pathlib import Path

from pydantic import SecretStr
from structlog.testing import capture_logs

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.runtime import JsonLinesSink
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)


class Train(BaseStep[BaseStepContext]):
    @property
    def name(self) -> str:
        return "train"

    @property
    def progress_weight(self) -> float:
        return 0.8

    def execute(self, context: BaseStepContext) -> StepResult:
        context.log("connecting", {"token": SecretStr("s3cr3t")})  # secrets are redacted
        for epoch in range(1, 3):
            context.set_metrics({"epoch": epoch, "loss": round(1 / epoch, 2)})
            context.set_progress(epoch, 2)
        return StepResult(success=True)


class Upload(BaseStep[BaseStepContext]):
    @property
    def name(self) -> str:
        return "upload"

    @property
    def progress_weight(self) -> float:
        return 0.2

    def execute(self, context: BaseStepContext) -> StepResult:
        raise TimeoutError("storage did not answer in 30 s")


registry = StepRegistry[BaseStepContext]()
registry.register(Train())
registry.register(Upload())

stream = io.StringIO()
runtime = RuntimeContext(sinks=[JsonLinesSink(stream)])
with capture_logs(), contextlib.suppress(StepExecutionError):
    Orchestrator(registry, BaseStepContext(runtime_ctx=runtime)).execute()
runtime.close()  # a stream passed in is flushed, not closed

lines = stream.getvalue().splitlines()
for line in lines:
    print(line)
events = [json.loads(line) for line in lines]
assert {event["event"] for event in events} == {"step", "log", "metrics", "progress"}
assert events[1] == {
    "event": "log",
    "level": "info",
    "message": "connecting",
    "step": "train",
    "data": {"token": "**********"},
}
assert {"event": "progress", "percent": 80, "step": "train", "current": 2, "total": 2} in events
assert [(e["step"], e["status"]) for e in events if e["event"] == "step"][-3:] == [
    ("upload", "failed"),
    ("upload", "rolled_back"),  # reported for every step rolled back, even a no-op rollback
    ("train", "rolled_back"),
]

# Given a path, the sink appends to that file and closes it on close().
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "events.jsonl"
    sink = JsonLinesSink(path)
    sink.write({"event": "result", "success": True})  # any JSON object, one line
    sink.close()
    print(path.read_text(encoding="utf-8"), end="")
    assert path.read_text(encoding="utf-8") == '{"event": "result", "success": true}\n'
