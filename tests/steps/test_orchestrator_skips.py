"""Skipped steps: recorded as skipped successes, not counted, never rolled back."""

from __future__ import annotations

import pytest
from steps.helpers import Step, make_context, rolled_back_names, run

from synapse_sdk.errors import StepExecutionError


def test_skipped_steps_are_recorded_and_not_executed() -> None:
    result, context = run(Step("a", skip=True), Step("b"), Step("c", skip=True))

    assert result == {"success": True, "steps_executed": 1, "steps_total": 3}
    assert context.executed == ["b"]
    skipped_a, b, skipped_c = context.step_results
    for skipped in (skipped_a, skipped_c):
        assert skipped.success is True
        assert skipped.skipped is True
        assert skipped.error is None
    assert b.skipped is False
    assert b.data == {"step": "b"}


def test_all_skipped() -> None:
    result, context = run(Step("a", skip=True), Step("b", skip=True))
    assert result == {"success": True, "steps_executed": 0, "steps_total": 2}
    assert len(context.step_results) == 2


def test_skipped_steps_are_never_rolled_back() -> None:
    context = make_context()
    with pytest.raises(StepExecutionError):
        run(
            Step("s1", skip=True),
            Step("a"),
            Step("s2", skip=True),
            Step("fail", raises=ValueError("x")),
            context=context,
        )
    assert rolled_back_names(context) == ["fail", "a"]


def test_each_skipped_result_is_its_own_object() -> None:
    _, context = run(Step("a", skip=True), Step("b", skip=True))
    first, second = context.step_results
    assert first is not second
    assert first.data is not second.data
