"""What an action hands on: its result model, filled by its steps, checked, journalled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from support.pipeline_actions import PrepareAction

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.errors import InvalidResultError
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import BaseAction, run_action
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


def test_run_action_returns_the_result_next_to_the_seeds_summary(
    tmp_path: Path, journal: RunJournal
) -> None:
    outcome = run_action(PrepareAction, {"out": str(tmp_path / "p"), "lines": 2}, journal=journal)

    assert {k: outcome[k] for k in ("success", "steps_executed", "steps_total")} == {
        "success": True,
        "steps_executed": 1,
        "steps_total": 1,
    }
    assert outcome["result"].model_dump() == {
        "output_uri": str(tmp_path / "p" / "data.txt"),
        "lines": 2,
    }
    [run] = journal.list_runs()
    assert run.result == outcome["result"].model_dump()


class TokenResult(BaseModel):
    url: str
    token: SecretStr


class HandOn(BaseStep[ActionContext]):
    name = "hand_on"
    progress_weight = 1.0

    def execute(self, context: ActionContext) -> StepResult:
        path = Path(context.params.out)
        context.storage.write_text(str(path), "written")
        if context.params.hand_on:
            context.set_result(url=str(path), token="tok-123")
        return StepResult(success=True)


class TokenParams(ActionParams):
    out: str
    hand_on: bool = True


class TokenAction(BaseAction[TokenParams]):
    action_name = "token"
    result_model = TokenResult

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(HandOn())


def test_a_secret_in_the_result_is_handed_on_but_never_journalled(
    tmp_path: Path, journal: RunJournal
) -> None:
    outcome = run_action(TokenAction, {"out": str(tmp_path / "x")}, journal=journal)

    assert outcome["result"].token.get_secret_value() == "tok-123"
    [run] = journal.list_runs()
    assert run.result == {"url": str(tmp_path / "x"), "token": "**********"}


def test_a_result_the_steps_left_incomplete_fails_the_run_and_undoes_it(
    tmp_path: Path, journal: RunJournal
) -> None:
    with pytest.raises(InvalidResultError) as caught:
        run_action(TokenAction, {"out": str(tmp_path / "x"), "hand_on": False}, journal=journal)

    assert caught.value.problems == [
        ("url", "required, but missing"),
        ("token", "required, but missing"),
    ]
    assert "context.set_result(name=value)" in str(caught.value)
    assert not (tmp_path / "x").exists()  # the step's write was rolled back
    [run] = journal.list_runs()
    assert run.state == "rolled_back"
    assert run.result is None


def test_an_action_without_a_result_model_returns_the_seeds_keys_only(
    tmp_path: Path, journal: RunJournal
) -> None:
    class Plain(BaseAction[TokenParams]):
        def setup_steps(self, registry: StepRegistry[Any]) -> None:
            registry.register(HandOn())

    outcome = run_action(Plain, {"out": str(tmp_path / "x")}, journal=journal)

    assert outcome == {"success": True, "steps_executed": 1, "steps_total": 1}
