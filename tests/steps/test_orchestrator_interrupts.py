"""KeyboardInterrupt and SystemExit: roll back, then let the original exception through."""

from __future__ import annotations

import pytest
from steps.helpers import Step, make_context, make_registry, rolled_back_names, run

from synapse_sdk.plugins.steps import Orchestrator

INTERRUPTS = [KeyboardInterrupt(), SystemExit(3)]


@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=type)
def test_interrupt_in_execute_rolls_back_then_propagates_unchanged(
    interrupt: BaseException,
) -> None:
    context = make_context()
    with pytest.raises(type(interrupt)) as caught:
        run(
            Step("a"),
            Step("skipped", skip=True),
            Step("b"),
            Step("stop", raises=interrupt),
            Step("never"),
            context=context,
        )

    assert caught.value is interrupt
    assert rolled_back_names(context) == ["stop", "b", "a"]
    a_result, _, b_result, stop_result = context.step_results
    assert context.rolled_back[0][1] is stop_result
    assert stop_result.success is False
    assert context.rolled_back[1][1] is b_result
    assert context.rolled_back[2][1] is a_result
    assert context.executed == ["a", "b", "stop"]


@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=type)
def test_interrupt_in_can_skip_rolls_back_then_propagates_unchanged(
    interrupt: BaseException,
) -> None:
    context = make_context()
    with pytest.raises(type(interrupt)) as caught:
        run(Step("a"), Step("stop", skip_raises=interrupt), Step("never"), context=context)
    assert caught.value is interrupt
    assert rolled_back_names(context) == ["stop", "a"]


def test_system_exit_keeps_its_code() -> None:
    with pytest.raises(SystemExit) as caught:
        run(Step("a", raises=SystemExit(7)), context=make_context())
    assert caught.value.code == 7


def test_a_raising_rollback_does_not_hide_the_interrupt() -> None:
    context = make_context()
    interrupt = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt) as caught:
        run(
            Step("a"),
            Step("b", rollback_raises=OSError("undo failed")),
            Step("stop", raises=interrupt),
            context=context,
        )
    assert caught.value is interrupt
    assert rolled_back_names(context) == ["stop", "b", "a"]
    assert any("'b'" in line and "undo failed" in line for line in context.errors)


def test_interrupt_from_the_progress_callback_rolls_back_finished_steps() -> None:
    context = make_context()
    interrupt = KeyboardInterrupt()

    def callback(current: int, total: int) -> None:
        if current >= 50:
            raise interrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        Orchestrator(make_registry(Step("a"), Step("b")), context, callback).execute()
    assert caught.value is interrupt
    assert rolled_back_names(context) == ["a"]
    assert context.executed == ["a"]
