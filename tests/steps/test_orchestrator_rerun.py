"""execute() may be called again; each call starts fresh."""

from __future__ import annotations

import pytest
from steps.helpers import Step, make_context, make_registry

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins.steps import Orchestrator


def test_two_successful_runs_do_not_accumulate_results() -> None:
    context = make_context()
    progress: list[tuple[int, int]] = []
    orchestrator = Orchestrator(
        make_registry(Step("a", 1), Step("b", 3)), context, lambda c, t: progress.append((c, t))
    )

    first = orchestrator.execute()
    second = orchestrator.execute()

    assert first == second == {"success": True, "steps_executed": 2, "steps_total": 2}
    assert len(context.step_results) == 2
    assert context.errors == []
    assert [current for current, _ in progress] == [25, 100, 25, 100]


def test_a_run_after_a_failure_starts_clean() -> None:
    context = make_context()
    flaky = Step("flaky", raises=ValueError("first time"))
    orchestrator = Orchestrator(make_registry(Step("a"), flaky), context)
    with pytest.raises(StepExecutionError):
        orchestrator.execute()
    assert context.errors
    assert len(context.step_results) == 2

    flaky.raises = None
    assert orchestrator.execute() == {"success": True, "steps_executed": 2, "steps_total": 2}
    assert context.errors == []
    assert [r.success for r in context.step_results] == [True, True]


def test_the_registry_is_read_at_each_call() -> None:
    registry = make_registry(Step("a"))
    orchestrator = Orchestrator(registry, make_context())
    assert orchestrator.execute()["steps_total"] == 1
    registry.register(Step("b"))
    assert orchestrator.execute()["steps_total"] == 2


def test_a_callback_dropped_in_one_run_is_used_again_in_the_next() -> None:
    calls: list[int] = []

    def flaky_callback(current: int, total: int) -> None:
        calls.append(current)
        if len(calls) == 1:
            raise ValueError("once")

    orchestrator = Orchestrator(make_registry(Step("a"), Step("b")), make_context(), flaky_callback)
    orchestrator.execute()
    orchestrator.execute()
    assert calls == [50, 50, 100]
