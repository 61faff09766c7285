"""The rollback contract: who is rolled back, in which order, with which result."""

from structlog.testing import capture_logs

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)

rolled_back: list[tuple[str, bool, str | None, dict[str, str]]] = []


class Step(BaseStep[BaseStepContext]):
    """Records its rollback; can be told to skip, fail, raise, or fail its rollback."""

    def __init__(
        self,
        name: str,
        *,
        skip: bool = False,
        outcome: str = "ok",
        rollback_raises: bool = False,
    ) -> None:
        self._name = name
        self.skip = skip
        self.outcome = outcome
        self.rollback_raises = rollback_raises

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def can_skip(self, context: BaseStepContext) -> bool:
        return self.skip

    def execute(self, context: BaseStepContext) -> StepResult:
        if self.outcome == "raise":
            raise OSError("connection reset")
        if self.outcome == "fail":
            return StepResult(success=False, error="quota exceeded")
        return StepResult(success=True, rollback_data={"created": f"/tmp/{self._name}"})

    def rollback(self, context: BaseStepContext, result: StepResult) -> None:
        assert context.current_step == self._name  # set while a step rolls back
        rolled_back.append((self._name, result.success, result.error, result.rollback_data))
        if self.rollback_raises:
            raise PermissionError(f"cannot delete {result.rollback_data['created']}")


registry = StepRegistry[BaseStepContext]()
registry.register(Step("make_dir"))
registry.register(Step("cached", skip=True))  # skipped: never rolled back
registry.register(Step("write_files", rollback_raises=True))
registry.register(Step("upload", outcome="raise"))
registry.register(Step("notify"))  # never reached

context = BaseStepContext(runtime_ctx=RuntimeContext())
with capture_logs() as logs:
    try:
        Orchestrator(registry, context).execute()
    except StepExecutionError as error:
        caught = error

# The failing step first, with its failed result; then the executed steps in reverse order,
# each with its own result. The skipped step and the step never reached are not rolled back.
for line in rolled_back:
    print(line)
assert [name for name, *_ in rolled_back] == ["upload", "write_files", "make_dir"]
assert rolled_back[0] == ("upload", False, "connection reset", {})
assert rolled_back[1] == ("write_files", True, None, {"created": "/tmp/write_files"})

# context.errors: the failure, then one line per rollback that raised.
for error_line in context.errors:
    print(error_line)
assert context.errors == [
    "step 'upload' failed: connection reset",
    "rollback of step 'write_files' failed: PermissionError: cannot delete /tmp/write_files",
]

# The exception: a RuntimeError naming the step and its error, chained to the original.
print(repr(caught))
assert isinstance(caught, RuntimeError)
assert str(caught) == "step 'upload' failed: connection reset (1 rollback(s) also failed)"
assert caught.step == "upload"
assert caught.error == "connection reset"
assert caught.result is not None
assert caught.result.success is False
assert caught.rollback_errors == context.errors[1:]
assert isinstance(caught.__cause__, OSError)

# step_results: one result per step that ran, was skipped or failed.
print([(r.success, r.skipped, r.error) for r in context.step_results])
assert [(r.success, r.skipped) for r in context.step_results] == [
    (True, False),
    (True, True),
    (True, False),
    (False, False),
]

# Both failures were logged at error level, with the exception attached; each rollback
# that went through is logged too.
for entry in logs:
    print(entry["event"], entry.get("step"), entry["log_level"], repr(entry.get("exc_info")))
assert [(e["event"], e["step"], e["log_level"]) for e in logs] == [
    ("step_failed", "upload", "error"),
    ("rolled_back", "upload", "info"),
    ("rollback_failed", "write_files", "error"),
    ("rolled_back", "make_dir", "info"),
]

# A step that returns success=False fails the same way, but with nothing to chain.
rolled_back.clear()
registry = StepRegistry[BaseStepContext]()
registry.register(Step("make_dir"))
registry.register(Step("reserve", outcome="fail"))
context = BaseStepContext(runtime_ctx=RuntimeContext())
with capture_logs():
    try:
        Orchestrator(registry, context).execute()
    except StepExecutionError as error:
        caught = error
print(repr(caught), caught.__cause__)
assert str(caught) == "step 'reserve' failed: quota exceeded"
assert caught.__cause__ is None
assert [name for name, *_ in rolled_back] == ["reserve", "make_dir"]
