"""BaseStep: what subclasses must provide and what they get for free."""

from __future__ import annotations

import pytest
from steps.helpers import RecordingContext, make_context

from synapse_sdk.plugins.steps import BaseStep, StepResult


class Minimal(BaseStep[RecordingContext]):
    @property
    def name(self) -> str:
        return "minimal"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: RecordingContext) -> StepResult:
        return StepResult(success=True)


def test_base_step_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError):
        BaseStep()  # type: ignore[abstract]


@pytest.mark.parametrize("missing", ["name", "progress_weight", "execute"])
def test_each_abstract_member_is_required(missing: str) -> None:
    members = {
        k: v for k, v in vars(Minimal).items() if k in {"name", "progress_weight", "execute"}
    }
    del members[missing]
    incomplete = type("Incomplete", (BaseStep,), members)
    with pytest.raises(TypeError, match=missing):
        incomplete()


def test_can_skip_defaults_to_false() -> None:
    assert Minimal().can_skip(make_context()) is False


def test_rollback_defaults_to_a_no_op() -> None:
    context = make_context()
    result = StepResult(success=False, error="x", rollback_data={"k": 1})
    assert Minimal().rollback(context, result) is None
    assert result == StepResult(
        success=False, error="x", rollback_data={"k": 1}, timestamp=result.timestamp
    )
    assert context.step_results == []
    assert context.errors == []
