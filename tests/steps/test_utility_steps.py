"""LoggingStep, TimingStep and ValidationStep."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from steps.helpers import (
    RecordingContext,
    Step,
    make_context,
    make_registry,
    rolled_back_names,
    run,
)
from structlog.testing import capture_logs

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    LoggingStep,
    Orchestrator,
    StepResult,
    TimingStep,
    ValidationStep,
)

Wrap = Callable[[BaseStep[RecordingContext]], BaseStep[RecordingContext]]

WRAPPERS: dict[str, tuple[Wrap, str]] = {
    "logging": (LoggingStep, "logged_"),
    "timing": (TimingStep, "timed_"),
    "logging(timing)": (lambda step: LoggingStep(TimingStep(step)), "logged_timed_"),
}


def execute_alone(step: BaseStep[RecordingContext]) -> tuple[StepResult, RecordingContext]:
    context = RecordingContext(runtime_ctx=RuntimeContext())
    Orchestrator(make_registry(step), context).execute()
    return context.step_results[0], context


# -- what every wrapper keeps ---------------------------------------------------------------


@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS.values(), ids=WRAPPERS.keys())
def test_wrapper_name_and_weight(wrap: Wrap, prefix: str) -> None:
    wrapped = wrap(Step("load", 0.35))
    assert wrapped.name == f"{prefix}load"
    assert wrapped.progress_weight == 0.35


@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS.values(), ids=WRAPPERS.keys())
def test_wrapper_delegates_can_skip(wrap: Wrap, prefix: str) -> None:
    context = make_context()
    assert wrap(Step("a", skip=True)).can_skip(context) is True
    assert wrap(Step("a", skip=False)).can_skip(context) is False
    result, context = run(wrap(Step("a", skip=True)), Step("b"))
    assert context.executed == ["b"]
    assert result["steps_executed"] == 1


@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS.values(), ids=WRAPPERS.keys())
def test_wrapper_delegates_rollback_to_the_inner_step(wrap: Wrap, prefix: str) -> None:
    context = make_context()
    registry = make_registry(wrap(Step("a")), Step("b", raises=ValueError("x")))
    with pytest.raises(StepExecutionError):
        Orchestrator(registry, context).execute()
    assert rolled_back_names(context) == ["b", "a"]

    direct = make_context()
    result = StepResult(success=False, error="e")
    wrap(Step("c")).rollback(direct, result)
    assert direct.rolled_back == [("c", result)]


@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS.values(), ids=WRAPPERS.keys())
def test_a_failing_wrapped_step_is_rolled_back_through_the_wrapper(wrap: Wrap, prefix: str) -> None:
    context = make_context()
    with pytest.raises(StepExecutionError, match=f"'{prefix}bad'"):
        run(Step("ok"), wrap(Step("bad", raises=ValueError("no"))), context=context)
    assert rolled_back_names(context) == ["bad", "ok"]


# -- LoggingStep -------------------------------------------------------------------------


def test_logging_step_logs_start_and_end() -> None:
    with capture_logs() as logs:
        result, _ = execute_alone(LoggingStep(Step("load")))

    assert result.data == {"step": "load"}
    events = [entry for entry in logs if entry["event"] in {"step_start", "step_end"}]
    assert [entry["event"] for entry in events] == ["step_start", "step_end"]
    start, end = events
    assert start["step"] == end["step"] == "logged_load"
    assert isinstance(end["elapsed"], float)
    assert end["elapsed"] >= 0
    assert end["success"] is True
    assert end["skipped"] is False


def test_logging_step_logs_end_of_a_failed_result() -> None:
    with capture_logs() as logs, pytest.raises(StepExecutionError):
        execute_alone(LoggingStep(Step("load", returns=StepResult(success=False, error="e"))))
    [end] = [entry for entry in logs if entry["event"] == "step_end"]
    assert end["success"] is False
    assert end["skipped"] is False


@pytest.mark.parametrize("error", [ValueError("inner broke"), KeyboardInterrupt()], ids=type)
def test_logging_step_logs_end_even_when_the_inner_step_raises(error: BaseException) -> None:
    with capture_logs() as logs, pytest.raises((StepExecutionError, KeyboardInterrupt)):
        execute_alone(LoggingStep(Step("load", raises=error)))

    events = [entry["event"] for entry in logs if entry["event"] in {"step_start", "step_end"}]
    assert events == ["step_start", "step_end"]
    [end] = [entry for entry in logs if entry["event"] == "step_end"]
    assert end["success"] is False
    assert isinstance(end["elapsed"], float)
    assert end["step"] == "logged_load"


def test_logging_step_lets_the_exception_through_unchanged() -> None:
    error = ValueError("inner broke")
    with capture_logs(), pytest.raises(ValueError, match="inner broke") as caught:
        LoggingStep(Step("load", raises=error)).execute(
            RecordingContext(runtime_ctx=RuntimeContext())
        )
    assert caught.value is error


def test_logging_step_logs_are_bound_with_the_job_id() -> None:
    with capture_logs() as logs:
        context = RecordingContext(runtime_ctx=RuntimeContext(job_id="job-42"))
        Orchestrator(make_registry(LoggingStep(Step("a"))), context).execute()
    assert {entry["job_id"] for entry in logs if entry["event"].startswith("step_")} == {"job-42"}


# -- TimingStep --------------------------------------------------------------------------


def test_timing_step_keeps_the_inner_data_and_adds_a_float_duration() -> None:
    inner = Step("load", returns=StepResult(success=True, data={"rows": 3}, rollback_data={"k": 1}))
    result, _ = execute_alone(TimingStep(inner))
    assert result.success is True
    assert result.data["rows"] == 3
    assert isinstance(result.data["duration_seconds"], float)
    assert result.data["duration_seconds"] >= 0
    assert set(result.data) == {"rows", "duration_seconds"}
    assert result.rollback_data == {"k": 1}


def test_timing_step_does_not_change_the_inner_result() -> None:
    inner_result = StepResult(success=True, data={"rows": 3})
    TimingStep(Step("load", returns=inner_result)).execute(make_context())
    assert inner_result.data == {"rows": 3}


def test_timing_step_keeps_a_failed_result_failed() -> None:
    context = make_context()
    failed = StepResult(success=False, error="quota exceeded")
    with pytest.raises(StepExecutionError, match="quota exceeded"):
        run(TimingStep(Step("upload", returns=failed)), context=context)
    rolled = context.rolled_back[0][1]
    assert rolled.error == "quota exceeded"
    assert "duration_seconds" in rolled.data


def test_timing_step_lets_a_wrong_return_type_fail_naming_the_step() -> None:
    with pytest.raises(StepExecutionError, match="'timed_load'"):
        run(TimingStep(Step("load", returns="oops")))


# -- ValidationStep ----------------------------------------------------------------------


def test_validation_step_defaults() -> None:
    step = ValidationStep[RecordingContext](lambda context: (True, ""))
    assert step.name == "validate"
    assert step.progress_weight == 0.05
    assert step.can_skip(make_context()) is False


def test_validation_step_name_and_weight_can_be_set() -> None:
    step = ValidationStep[RecordingContext](
        lambda context: (True, ""), name="check_inputs", progress_weight=0.3
    )
    assert (step.name, step.progress_weight) == ("check_inputs", 0.3)


def test_passing_validation_succeeds() -> None:
    seen: list[RecordingContext] = []

    def validator(context: RecordingContext) -> tuple[bool, str]:
        seen.append(context)
        return True, "all good"

    context = make_context()
    registry = make_registry(ValidationStep(validator), Step("next"))
    assert Orchestrator(registry, context).execute()["steps_executed"] == 2
    assert seen == [context]
    assert context.step_results[0].success is True


def test_failing_validation_fails_the_run_with_its_message() -> None:
    context = make_context()
    registry = make_registry(
        Step("load"),
        ValidationStep(lambda ctx: (False, "no files to upload")),
        Step("never"),
    )
    with pytest.raises(StepExecutionError) as caught:
        Orchestrator(registry, context).execute()

    assert "'validate'" in str(caught.value)
    assert "no files to upload" in str(caught.value)
    failed = context.step_results[-1]
    assert failed.success is False
    assert failed.error == "no files to upload"
    assert context.executed == ["load"]
    assert rolled_back_names(context) == ["load"]
