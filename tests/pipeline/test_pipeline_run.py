"""Running pipelines through the Python API: hand-offs, rollback across actions, resume."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from pipeline.conftest import chain, snapshot
from support.lost_interrupt import signal_this_process
from support.pipeline_actions import PrepareAction

from synapse_sdk.errors import PipelineFailedError, RecoveryError
from synapse_sdk.journal.recovery import rollback_run
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.pipeline import Pipeline, resume_pipeline, rollback_pipeline, run_pipeline
from synapse_sdk.plugins import PluginHost, hookimpl
from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.events import ProgressEvent, StepEvent
from synapse_sdk.runtime.sinks import CallbackSink


def test_each_action_is_fed_the_results_of_those_before_it(
    tmp_path: Path, journal: RunJournal
) -> None:
    outcome = run_pipeline(chain(tmp_path), journal=journal)

    assert outcome["success"] is True
    prepared = outcome["actions"]["prepare"]["result"]
    assert prepared.output_uri == str(tmp_path / "prep" / "data.txt")
    assert outcome["actions"]["train"]["result"].rows == 3
    assert (tmp_path / "pub" / "model.txt").read_text() == "model of 3 rows\n"
    assert (tmp_path / "pub" / "data.txt").read_bytes() == (tmp_path / "prep/data.txt").read_bytes()


def test_the_journal_holds_one_pipeline_run_with_a_child_run_per_action(
    tmp_path: Path, journal: RunJournal
) -> None:
    outcome = run_pipeline(chain(tmp_path), journal=journal)

    [top] = journal.list_runs(top_level=True)
    assert (top.run_id, top.kind, top.action, top.state) == (
        outcome["run_id"],
        "pipeline",
        "nightly",
        "succeeded",
    )
    children = journal.children(top.run_id)
    assert [(c.stage, c.action, c.state, c.parent) for c in children] == [
        ("prepare", "prepare", "succeeded", top.run_id),
        ("train", "train", "succeeded", top.run_id),
        ("publish", "publish", "succeeded", top.run_id),
    ]
    assert children[1].result == {
        "model_uri": str(tmp_path / "models" / "m.txt"),
        "rows": 3,
        "pid": os.getpid(),
    }
    assert [s.name for s in children[2].steps] == ["copy"]
    assert len(journal.list_runs()) == 4  # the action runs are runs too


def test_a_failure_in_the_last_action_undoes_all_three_exactly(
    tmp_path: Path, journal: RunJournal, existing: dict[str, bytes]
) -> None:
    with pytest.raises(PipelineFailedError) as caught:
        run_pipeline(chain(tmp_path, publish={"fail_at": "publish"}), journal=journal)

    assert caught.value.action == "publish"
    assert caught.value.state == "rolled_back"
    assert snapshot(tmp_path) == existing
    assert not (tmp_path / "prep").exists()
    top = journal.get_run(caught.value.run_id)
    assert top is not None
    assert top.state == "rolled_back"
    assert {c.state for c in journal.children(top.run_id)} == {"rolled_back"}


def test_a_failure_in_the_middle_undoes_the_first_action_and_never_starts_the_last(
    tmp_path: Path, journal: RunJournal, existing: dict[str, bytes]
) -> None:
    with pytest.raises(PipelineFailedError) as caught:
        run_pipeline(chain(tmp_path, train={"fail_at": "train"}), journal=journal)

    assert caught.value.action == "train"
    assert "the training diverged" in caught.value.error
    assert snapshot(tmp_path) == existing
    assert [c.stage for c in journal.children(caught.value.run_id)] == ["prepare", "train"]


def test_keep_completed_keeps_upstream_outputs_and_leaves_the_pipeline_failed(
    tmp_path: Path, journal: RunJournal, existing: dict[str, bytes]
) -> None:
    with pytest.raises(PipelineFailedError) as caught:
        run_pipeline(
            chain(tmp_path, publish={"fail_at": "publish"}), journal=journal, keep_completed=True
        )

    assert caught.value.state == "failed"
    kept = snapshot(tmp_path)
    assert "prep/data.txt" in kept
    assert "models/m.txt" in kept
    assert kept["pub/data.txt"] == existing["pub/data.txt"]  # the failed action is undone
    assert "pub/model.txt" not in kept
    states = {c.stage: c.state for c in journal.children(caught.value.run_id)}
    assert states == {"prepare": "succeeded", "train": "succeeded", "publish": "rolled_back"}


def _kept_failure(tmp_path: Path, journal: RunJournal) -> str:
    with pytest.raises(PipelineFailedError) as caught:
        run_pipeline(
            chain(tmp_path, publish={"fail_at": "publish"}), journal=journal, keep_completed=True
        )
    return caught.value.run_id


def test_resume_skips_completed_actions_and_feeds_their_journalled_results(
    tmp_path: Path, journal: RunJournal
) -> None:
    run_id = _kept_failure(tmp_path, journal)
    before = {c.stage: c.run_id for c in journal.children(run_id)}
    model = (tmp_path / "models" / "m.txt").stat().st_mtime_ns

    outcome = resume_pipeline(journal, run_id, params={"publish": {"fail_at": None}})

    assert outcome["run_id"] == run_id
    assert outcome["actions"]["prepare"] == {
        "success": True,
        "completed_earlier": before["prepare"],
        "result": {"lines": 3, "output_uri": str(tmp_path / "prep" / "data.txt")},
    }
    assert (tmp_path / "pub" / "model.txt").read_text() == "model of 3 rows\n"
    assert (tmp_path / "models" / "m.txt").stat().st_mtime_ns == model  # not trained again
    children = journal.children(run_id)
    assert [c.stage for c in children] == ["prepare", "train", "publish", "publish"]
    assert children[0].run_id == before["prepare"]
    assert children[1].run_id == before["train"]
    assert children[-1].state == "succeeded"
    top = journal.get_run(run_id)
    assert top is not None
    assert top.state == "succeeded"


def test_a_resumed_pipeline_that_fails_again_undoes_the_earlier_actions_too(
    tmp_path: Path, journal: RunJournal, existing: dict[str, bytes]
) -> None:
    run_id = _kept_failure(tmp_path, journal)

    with pytest.raises(PipelineFailedError) as caught:
        resume_pipeline(journal, run_id)

    assert caught.value.state == "rolled_back"
    assert snapshot(tmp_path) == existing


def test_a_rolled_back_or_succeeded_pipeline_cannot_be_resumed(
    tmp_path: Path, journal: RunJournal
) -> None:
    outcome = run_pipeline(chain(tmp_path), journal=journal)

    with pytest.raises(RecoveryError, match="is succeeded; only a failed or interrupted"):
        resume_pipeline(journal, outcome["run_id"])


def test_rollback_pipeline_undoes_the_kept_actions_of_a_failed_pipeline(
    tmp_path: Path, journal: RunJournal, existing: dict[str, bytes]
) -> None:
    run_id = _kept_failure(tmp_path, journal)

    record = rollback_pipeline(journal, run_id)

    assert record.state == "rolled_back"
    assert snapshot(tmp_path) == existing
    assert {c.state for c in journal.children(run_id)} == {"rolled_back"}
    with pytest.raises(RecoveryError, match="is rolled_back"):
        rollback_pipeline(journal, run_id)  # nothing left to undo: refused, not repeated


def test_an_action_run_of_a_pipeline_is_not_rolled_back_alone(
    tmp_path: Path, journal: RunJournal
) -> None:
    run_id = _kept_failure(tmp_path, journal)
    first = journal.children(run_id)[0]

    with pytest.raises(RecoveryError, match=f"roll back the whole pipeline.*{run_id}"):
        rollback_run(journal, first.run_id, plugins=None)  # type: ignore[arg-type]


def test_secret_params_must_be_given_again_to_resume(tmp_path: Path, journal: RunJournal) -> None:
    with pytest.raises(PipelineFailedError) as caught:
        run_pipeline(
            chain(tmp_path, train={"fail_at": "train", "token": "s3cr3t"}),
            journal=journal,
            keep_completed=True,
        )
    top = journal.get_run(caught.value.run_id)
    assert top is not None
    assert "s3cr3t" not in str(top.params)

    with pytest.raises(RecoveryError, match=r"secret params \(train.token\)"):
        resume_pipeline(journal, caught.value.run_id)
    outcome = resume_pipeline(
        journal, caught.value.run_id, params={"train": {"token": "s3cr3t", "fail_at": None}}
    )
    assert outcome["success"] is True


def test_one_progress_bar_rises_across_the_actions_and_names_them(
    tmp_path: Path, journal: RunJournal
) -> None:
    events: list[Any] = []
    ctx = RuntimeContext(sinks=[CallbackSink(events.append)])

    run_pipeline(chain(tmp_path), ctx=ctx, journal=journal)

    percents = [e.percent for e in events if isinstance(e, ProgressEvent)]
    assert percents == sorted(set(percents))
    assert percents[-1] == 100
    # weights: prepare 1, train 3, publish 1 -> the bands end at 20, 80 and 100
    assert {20, 80, 100} <= set(percents)
    steps = [(e.step, e.status) for e in events if isinstance(e, StepEvent)]
    assert ("train \u203a fit", "succeeded") in steps


def test_prune_deletes_a_pipelines_action_runs_with_it_and_never_alone(
    tmp_path: Path, journal: RunJournal
) -> None:
    outcome = run_pipeline(chain(tmp_path), journal=journal)

    assert journal.prune(older_than=-60, states={"rolled_back"}) == []
    removed = journal.prune(older_than=-60)

    pipeline, *actions = removed  # the pipeline run, then its action runs
    assert pipeline.run_id == outcome["run_id"]
    assert [r.parent for r in actions] == [outcome["run_id"]] * len(outcome["actions"])
    assert journal.list_runs() == []


def test_an_action_without_steps_is_refused_before_anything_runs(
    tmp_path: Path, journal: RunJournal
) -> None:
    from synapse_sdk.errors import PipelineError
    from synapse_sdk.plugins import BaseAction

    class OneGo(BaseAction[Any]):
        action_name = "one-go"

        def execute(self) -> Any:
            return {"done": True}

    pipeline = Pipeline([PrepareAction, OneGo], params={"prepare": {"out": str(tmp_path / "prep")}})
    with pytest.raises(PipelineError, match="action 'one-go' has no steps"):
        run_pipeline(pipeline, journal=journal)
    assert journal.list_runs() == []
    assert not (tmp_path / "prep").exists()


@pytest.mark.parametrize("keep", [False, True])
def test_a_file_a_completed_action_replaced_comes_back_when_the_pipeline_is_undone(
    tmp_path: Path, journal: RunJournal, keep: bool
) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.txt").write_text("the model in production\n")
    before = snapshot(tmp_path)

    with pytest.raises(PipelineFailedError) as caught:
        run_pipeline(
            chain(tmp_path, publish={"fail_at": "publish"}), journal=journal, keep_completed=keep
        )
    if keep:  # kept, then undone later from the journal, as after a crash
        assert (tmp_path / "models" / "m.txt").read_text() == "model of 3 rows\n"
        assert rollback_pipeline(journal, caught.value.run_id).state == "rolled_back"

    assert snapshot(tmp_path) == before
    assert not list((tmp_path / "home").glob("undo/*"))  # settled: nothing kept for later


def test_a_resume_refused_for_a_missing_secret_changes_nothing(
    tmp_path: Path, journal: RunJournal
) -> None:
    with pytest.raises(PipelineFailedError) as caught:
        run_pipeline(
            chain(tmp_path, train={"token": "s3cr3t"}, publish={"fail_at": "publish"}),
            journal=journal,
            keep_completed=True,
        )
    before = journal.get_run(caught.value.run_id)

    with pytest.raises(RecoveryError, match=r"action 'train'.*secret params \(token\)"):
        resume_pipeline(journal, caught.value.run_id)  # would undo train if publish failed

    after = journal.get_run(caught.value.run_id)
    assert after == before


class _CtrlCAfterTraining:
    """A hook plugin during whose ``synapse_after_run`` of ``train`` the user presses Ctrl-C.

    Every step of that action has finished, so no orchestrator is left to roll it back.
    """

    @hookimpl
    def synapse_after_run(self, action: Any, context: Any, result: Any) -> None:
        if action.name == "train":
            signal_this_process(spins=10_000)


@pytest.mark.parametrize("keep_completed", [False, True], ids=["undo all", "keep completed"])
def test_a_ctrl_c_after_an_actions_last_step_undoes_that_action_too(
    keep_completed: bool, tmp_path: Path, journal: RunJournal, existing: dict[str, bytes]
) -> None:
    """The action the signal stopped is undone whether or not completed ones are kept."""
    host = PluginHost()
    host.register(_CtrlCAfterTraining(), "ctrl-c-after-training")

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(chain(tmp_path), plugins=host, journal=journal, keep_completed=keep_completed)

    [top] = journal.list_runs(top_level=True)
    states = {child.stage: child.state for child in journal.children(top.run_id)}
    assert states["train"] == "rolled_back"
    assert not (tmp_path / "models" / "m.txt").exists()
    if keep_completed:
        assert (top.state, states["prepare"]) == ("failed", "succeeded")
        assert (tmp_path / "prep" / "data.txt").exists()
    else:
        assert (top.state, states) == (
            "rolled_back",
            {"prepare": "rolled_back", "train": "rolled_back"},
        )
        assert snapshot(tmp_path) == existing


def test_a_ctrl_c_after_the_last_action_before_the_pipeline_is_journalled_undoes_all(
    tmp_path: Path,
    journal: RunJournal,
    existing: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real SIGINT just before the section that journals the pipeline ``succeeded``."""
    from synapse_sdk.pipeline import runner

    section = runner.critical_section
    sent: list[int] = []

    @contextlib.contextmanager
    def ctrl_c_first(*args: Any, **kwargs: Any) -> Any:
        if not sent:  # the first section of the pipeline's own: its end
            sent.append(signal.SIGINT)
            signal_this_process(spins=10_000)
        with section(*args, **kwargs):
            yield

    monkeypatch.setattr(runner, "critical_section", ctrl_c_first)

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(chain(tmp_path), journal=journal)

    assert sent
    [top] = journal.list_runs(top_level=True)
    assert top.state == "rolled_back"
    assert {child.state for child in journal.children(top.run_id)} == {"rolled_back"}
    assert snapshot(tmp_path) == existing
