"""The rollback contract: what is rolled back, in which order, and what is raised."""

from __future__ import annotations

import pytest
from steps.helpers import RecordingContext, Step, make_context, rolled_back_names, run
from structlog.testing import capture_logs

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import StepResult


def fail_with(context: RecordingContext, *steps: Step) -> StepExecutionError:
    with pytest.raises(StepExecutionError) as caught:
        run(*steps, context=context)
    return caught.value


def test_step_execution_error_is_a_runtime_error() -> None:
    assert issubclass(StepExecutionError, RuntimeError)


def test_success_false_rolls_back_failing_step_first_then_the_rest_in_reverse() -> None:
    context = make_context()
    failed = StepResult(success=False, error="disk full")
    error = fail_with(
        context,
        Step("a"),
        Step("skipped", skip=True),
        Step("b"),
        Step("c", returns=failed),
        Step("never"),
    )

    assert rolled_back_names(context) == ["c", "b", "a"]
    results = dict(context.rolled_back)
    assert results["c"] is failed
    a_result, skipped_result, b_result, c_result = context.step_results
    assert results["a"] is a_result
    assert results["b"] is b_result
    assert results["a"].data == {"step": "a"}
    assert results["b"].data == {"step": "b"}
    assert skipped_result.skipped
    assert c_result is failed
    assert context.executed == ["a", "b", "c"]

    assert isinstance(error, RuntimeError)
    assert "'c'" in str(error)
    assert "disk full" in str(error)
    assert error.__cause__ is None


def test_success_false_without_an_error_still_explains_itself() -> None:
    context = make_context()
    error = fail_with(context, Step("quiet", returns=StepResult(success=False)))
    assert "'quiet'" in str(error)
    assert context.rolled_back[0][1].error


def test_raising_step_is_rolled_back_with_a_failed_result_and_chained() -> None:
    context = make_context()
    boom = OSError("no such bucket")
    error = fail_with(context, Step("a"), Step("upload", raises=boom), Step("never"))

    assert rolled_back_names(context) == ["upload", "a"]
    failed = context.rolled_back[0][1]
    assert failed.success is False
    assert failed.error is not None
    assert "no such bucket" in failed.error
    assert context.step_results[-1] is failed
    assert "'upload'" in str(error)
    assert "no such bucket" in str(error)
    assert error.__cause__ is boom
    assert context.executed == ["a", "upload"]


@pytest.mark.parametrize("outcome", [{"success": True}, "ok", True])
def test_returning_something_else_than_a_step_result_fails_naming_the_step(
    outcome: object,
) -> None:
    context = make_context()
    error = fail_with(context, Step("a"), Step("sloppy", returns=outcome), Step("never"))

    assert rolled_back_names(context) == ["sloppy", "a"]
    failed = context.rolled_back[0][1]
    assert isinstance(failed, StepResult)
    assert failed.success is False
    assert failed.error is not None
    assert "'sloppy'" in failed.error
    assert "StepResult" in failed.error
    assert "'sloppy'" in str(error)
    assert "StepResult" in str(error)
    assert error.__cause__ is None


def test_can_skip_raising_fails_the_step_without_executing_it() -> None:
    context = make_context()
    broken = LookupError("marker file unreadable")
    error = fail_with(context, Step("a"), Step("check", skip_raises=broken), Step("never"))

    assert context.executed == ["a"]
    assert rolled_back_names(context) == ["check", "a"]
    assert context.rolled_back[0][1].success is False
    assert "'check'" in str(error)
    assert "marker file unreadable" in str(error)
    assert error.__cause__ is broken


def test_first_step_failing_rolls_back_only_itself() -> None:
    context = make_context()
    fail_with(context, Step("only", raises=ValueError("x")), Step("never"))
    assert rolled_back_names(context) == ["only"]


def test_failure_is_recorded_in_errors_naming_the_step() -> None:
    context = make_context()
    fail_with(context, Step("a"), Step("b", raises=ValueError("bad input")))
    assert len(context.errors) == 1
    assert "'b'" in context.errors[0]
    assert "bad input" in context.errors[0]


def test_a_raising_rollback_is_logged_recorded_and_the_others_still_run() -> None:
    with capture_logs() as logs:
        context = RecordingContext(runtime_ctx=RuntimeContext())
        cleanup_error = PermissionError("cannot delete /tmp/out")
        error = fail_with(
            context,
            Step("a"),
            Step("b", rollback_raises=cleanup_error),
            Step("c"),
            Step("d", raises=ValueError("bad")),
        )

    assert rolled_back_names(context) == ["d", "c", "b", "a"]
    [line] = [line for line in context.errors if "rollback" in line]
    assert "'b'" in line
    assert "cannot delete /tmp/out" in line
    [entry] = [entry for entry in logs if entry["event"] == "rollback_failed"]
    assert entry["step"] == "b"
    assert entry["log_level"] == "error"
    assert entry["exc_info"] is cleanup_error
    assert error.rollback_errors == [line]
    assert error.__cause__ is not cleanup_error


def test_the_failing_steps_own_rollback_may_raise_too() -> None:
    context = make_context()
    fail_with(
        context,
        Step("a", rollback_raises=RuntimeError("a undo")),
        Step("b", raises=ValueError("bad"), rollback_raises=RuntimeError("b undo")),
    )
    assert rolled_back_names(context) == ["b", "a"]
    rollback_lines = [line for line in context.errors if "rollback" in line]
    assert len(rollback_lines) == 2
    assert "'b'" in rollback_lines[0]
    assert "b undo" in rollback_lines[0]
    assert "'a'" in rollback_lines[1]
    assert "a undo" in rollback_lines[1]


def test_the_failure_is_logged_with_its_exception() -> None:
    with capture_logs() as logs:
        context = RecordingContext(runtime_ctx=RuntimeContext())
        boom = ValueError("bad")
        fail_with(context, Step("a", raises=boom))
    [entry] = [entry for entry in logs if entry["event"] == "step_failed"]
    assert entry["step"] == "a"
    assert entry["exc_info"] is boom


def test_no_rollback_on_success() -> None:
    result, context = run(Step("a"), Step("b"))
    assert result == {"success": True, "steps_executed": 2, "steps_total": 2}
    assert context.rolled_back == []
    assert context.errors == []
