"""LoggingStep, TimingStep and ValidationStep."""

import contextlib
from dataclasses import dataclass, field

from structlog.testing import capture_logs

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    LoggingStep,
    Orchestrator,
    StepRegistry,
    StepResult,
    TimingStep,
    ValidationStep,
)


@dataclass
class JobContext(BaseStepContext):
    files: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)


class ListFiles(BaseStep[JobContext]):
    @property
    def name(self) -> str:
        return "list_files"

    @property
    def progress_weight(self) -> float:
        return 0.3

    def execute(self, context: JobContext) -> StepResult:
        context.files = ["a.jpg", "b.jpg"]
        return StepResult(success=True, data={"count": len(context.files)})

    def rollback(self, context: JobContext, result: StepResult) -> None:
        context.undone.append(self.name)


def has_files(context: JobContext) -> tuple[bool, str]:
    if not context.files:
        return False, "no files to upload; check the source folder"
    return True, f"{len(context.files)} files"


# Wrappers take the inner name with a prefix and keep its weight; they nest.
wrapped = LoggingStep(TimingStep(ListFiles()))
print(wrapped.name, wrapped.progress_weight)
assert wrapped.name == "logged_timed_list_files"
assert wrapped.progress_weight == 0.3

registry = StepRegistry[JobContext]()
registry.register(wrapped)
registry.register(ValidationStep(has_files, name="check_files"))
context = JobContext(runtime_ctx=RuntimeContext())
with capture_logs() as logs:
    Orchestrator(registry, context).execute()

timed = context.step_results[0]
print(timed.data)
assert timed.data["count"] == 2  # the inner data is kept ...
assert isinstance(timed.data["duration_seconds"], float)  # ... and the duration added
assert context.step_results[1].data == {"message": "2 files"}
for entry in logs:
    print(entry)
assert [e["event"] for e in logs] == ["step_start", "step_end"]
assert logs[1]["success"] is True
assert logs[1]["skipped"] is False
assert isinstance(logs[1]["elapsed"], float)

# ValidationStep defaults: name "validate", weight 0.05. A false result fails the step with
# the validator's message, and the wrapped step is rolled back through its wrappers.
validate = ValidationStep[JobContext](lambda context: (False, "disk almost full"))
assert (validate.name, validate.progress_weight) == ("validate", 0.05)
registry.unregister("check_files")
registry.register(validate)
context = JobContext(runtime_ctx=RuntimeContext())
with capture_logs():
    try:
        Orchestrator(registry, context).execute()
    except StepExecutionError as error:
        caught = error
print(caught)
assert str(caught) == "step 'validate' failed: disk almost full"
assert context.undone == ["list_files"]


# LoggingStep logs step_end even when the inner step raises (then at error level).
class Explodes(ListFiles):
    def execute(self, context: JobContext) -> StepResult:
        raise RuntimeError("boom")


registry = StepRegistry[JobContext]()
registry.register(LoggingStep(Explodes()))
with capture_logs() as logs, contextlib.suppress(StepExecutionError):
    Orchestrator(registry, JobContext(runtime_ctx=RuntimeContext())).execute()
step_end = next(e for e in logs if e["event"] == "step_end")
print(step_end)
assert step_end["success"] is False
assert step_end["error"] == "boom"
assert step_end["log_level"] == "error"
