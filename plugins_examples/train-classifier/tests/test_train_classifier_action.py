"""The train-classifier example: metrics per epoch, a model that loads back, rollback."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import pytest
from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepResult
from synapse_sdk.storage import STORAGE_KEY
from synapse_sdk.testing import crash_after_step

from synapse_train_classifier.action import TrainClassifierResult


def test_trains_reports_metrics_and_saves(
    synapse_run: Any, synapse_recorder: Any, tmp_path: Path
) -> None:
    uri = str(tmp_path / "model.pkl")
    result = synapse_run("train-classifier", {"epochs": 4, "model_uri": uri})
    result.pop("result")  # what it hands on: see test_hands_on_the_model_and_its_accuracy
    assert result == {"success": True, "steps_executed": 4, "steps_total": 4}
    epochs = [event.values for event in synapse_recorder.metrics if "epoch" in event.values]
    assert [values["epoch"] for values in epochs] == [1, 2, 3, 4]
    assert epochs[-1]["val_accuracy"] > 0.8
    assert synapse_recorder.percents == sorted(synapse_recorder.percents)
    model = pickle.loads(Path(uri).read_bytes())
    from sklearn.datasets import load_digits

    digits = load_digits()
    assert (model.predict(digits.data[:100] / 16.0) == digits.target[:100]).mean() > 0.8


def test_hands_on_the_model_and_its_accuracy(
    synapse_run: Any, synapse_recorder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result is the saved model's canonical URL and the accuracy `evaluate` measured."""
    monkeypatch.chdir(tmp_path)
    result = synapse_run("train-classifier", {"epochs": 2, "model_uri": "sub/../m.pkl"})
    handed_on = result["result"]
    assert isinstance(handed_on, TrainClassifierResult)
    assert handed_on.model_uri == f"file://{tmp_path}/m.pkl"
    [measured] = [
        e.values["test_accuracy"] for e in synapse_recorder.metrics if "test_accuracy" in e.values
    ]
    assert round(handed_on.accuracy, 4) == measured
    assert 0.8 < handed_on.accuracy <= 1
    fs, path = fsspec.core.url_to_fs(handed_on.model_uri)
    model = pickle.loads(fs.cat_file(path))
    from sklearn.datasets import load_digits

    digits = load_digits()
    assert model.score(digits.data / 16.0, digits.target) > 0.8


def test_memory_uri(synapse_run: Any) -> None:
    synapse_run("train-classifier", {"epochs": 1, "model_uri": "memory://models/m1.pkl"})
    fs = fsspec.filesystem("memory")
    assert fs.exists("/models/m1.pkl")
    fs.rm("/models", recursive=True)


def test_below_min_accuracy_fails_before_saving(synapse_run: Any, tmp_path: Path) -> None:
    uri = tmp_path / "model.pkl"
    with pytest.raises(StepExecutionError, match=r"is below the required 1\.010"):
        synapse_run("train-classifier", {"epochs": 1, "model_uri": str(uri), "min_accuracy": 1.01})
    assert not uri.exists()


class Boom(BaseStep[Any]):
    name = "publish"
    progress_weight = 0.0

    def execute(self, context: Any) -> StepResult:
        return StepResult(success=False, error="registry unreachable")


class FailAfterSave:
    @hookimpl
    def synapse_setup_steps(self, registry: Any) -> None:
        registry.insert_after("save_model", Boom())


def test_a_later_failure_deletes_the_saved_model(
    synapse_run: Any, synapse_host: Any, tmp_path: Path
) -> None:
    uri = tmp_path / "model.pkl"
    synapse_host.register(FailAfterSave(), "fail-after-save")
    with pytest.raises(StepExecutionError, match="registry unreachable"):
        synapse_run("train-classifier", {"epochs": 1, "model_uri": str(uri)})
    assert not uri.exists()


def test_the_journalled_model_uri_is_an_absolute_url(
    synapse_run: Any,
    synapse_host: Any,
    synapse_journal: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    synapse_host.register(FailAfterSave(), "fail-after-save")
    with pytest.raises(StepExecutionError, match="registry unreachable"):
        synapse_run("train-classifier", {"epochs": 1, "model_uri": "sub/../model.pkl"})
    run = synapse_journal.get_run(synapse_journal.list_runs()[0].run_id)
    [saved] = [step for step in run.steps if step.name == "save_model"]
    assert [(e["op"], e["url"]) for e in saved.rollback_data[STORAGE_KEY]] == [
        ("create", f"file://{tmp_path}/model.pkl"),
        ("written", f"file://{tmp_path}/model.pkl"),
    ]
    assert not (tmp_path / "model.pkl").exists()


def test_the_journalled_model_uri_keeps_its_protocol(
    synapse_run: Any, synapse_host: Any, synapse_journal: Any
) -> None:
    synapse_host.register(FailAfterSave(), "fail-after-save")
    with pytest.raises(StepExecutionError, match="registry unreachable"):
        synapse_run("train-classifier", {"epochs": 1, "model_uri": "memory://journal/m.pkl"})
    run = synapse_journal.get_run(synapse_journal.list_runs()[0].run_id)
    [saved] = [step for step in run.steps if step.name == "save_model"]
    assert [(e["op"], e["url"]) for e in saved.rollback_data[STORAGE_KEY]] == [
        ("folder", "memory:///journal"),
        ("create", "memory:///journal/m.pkl"),
        ("written", "memory:///journal/m.pkl"),
    ]
    assert not fsspec.filesystem("memory").exists("/journal/m.pkl")


def test_a_crashed_run_is_undone_from_another_folder(tmp_path: Path) -> None:
    """Killed after saving in one folder; rolled back from another holding its own model."""
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "model.pkl").write_bytes(b"someone else's model")
    crashed = crash_after_step(
        "train-classifier",
        {"epochs": 1, "model_uri": "model.pkl"},
        "save_model",
        cwd=here,
        home=tmp_path / "home",
    )
    assert crashed.state() == "needs_rollback"
    assert (here / "model.pkl").exists()
    recovered = crashed.roll_back(cwd=elsewhere)
    assert recovered.returncode == 0, recovered.stderr
    assert crashed.state() == "rolled_back"
    assert not (here / "model.pkl").exists()
    assert (elsewhere / "model.pkl").read_bytes() == b"someone else's model"


def test_the_real_command(tmp_path: Path) -> None:
    env = {**os.environ, "SYNAPSE_LOAD_PLUGINS": "", "SYNAPSE_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("synapse")),
            "run",
            "train-classifier",
            "--json",
            "--params",
            json.dumps({"epochs": 2, "model_uri": "m.pkl"}),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [
        e["values"]["epoch"] for e in events if e["event"] == "metrics" and "epoch" in e["values"]
    ] == [1, 2]
    assert events[-1]["success"] is True
    assert (tmp_path / "m.pkl").exists()
