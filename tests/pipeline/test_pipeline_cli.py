"""The real ``synapse pipeline`` and ``synapse runs`` commands on a three-action chain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pipeline.conftest import snapshot
from support.pipeline_actions import NIGHTLY_TOML

SYNAPSE = str(Path(sys.executable).with_name("synapse"))
TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def work(tmp_path: Path, existing: dict[str, bytes]) -> Path:
    (tmp_path / "nightly.toml").write_text(NIGHTLY_TOML)
    return tmp_path


def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(TESTS),
        "SYNAPSE_HOME": str(tmp_path / "home"),
        "SYNAPSE_LOAD_PLUGINS": "",  # no hook plugin: only the actions' own steps
        "COLUMNS": "200",
    }


def synapse(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYNAPSE, *args],
        cwd=work,
        env=env(work),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def params_file(work: Path, params: dict[str, Any]) -> str:
    path = work / "params.json"
    path.write_text(json.dumps(params))
    return str(path)


def runs(work: Path) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(synapse(work, "runs", "list", "--json").stdout)
    return listed


def shown(work: Path, run_id: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(synapse(work, "runs", "show", run_id, "--json").stdout)
    return record


def test_a_pipeline_runs_from_its_file_and_prints_every_actions_result(work: Path) -> None:
    done = synapse(work, "pipeline", "run", "nightly.toml")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    trained = result["actions"]["train"]["result"]
    assert (trained["model_uri"], trained["rows"]) == ("models/m.txt", 3)
    assert trained["pid"] != os.getpid()  # the command's own process
    assert (work / "pub" / "model.txt").read_text() == "model of 3 rows\n"
    assert "✓ train \u203a fit" in done.stderr
    [top] = runs(work)
    assert top["kind"] == "pipeline"
    assert top["state"] == "succeeded"
    assert [a["stage"] for a in shown(work, top["run_id"])["actions"]] == [
        "prepare",
        "train",
        "publish",
    ]
    listing = synapse(work, "runs", "list").stdout
    assert "nightly (pipeline, 3 action runs)" in listing


def test_a_param_nothing_feeds_is_exit_2_before_anything_runs(work: Path) -> None:
    (work / "nightly.toml").write_text(
        NIGHTLY_TOML.replace('"train.data_uri" = "prepare.output_uri"', "")
    )
    before = snapshot(work)

    refused = synapse(work, "pipeline", "run", "nightly.toml")

    assert refused.returncode == 2
    assert refused.stderr.startswith("error: pipeline 'nightly' cannot run:\n")
    assert "action 'train', param 'data_uri' (str): required" in refused.stderr
    assert '"train.data_uri" = "prepare.output_uri"' in refused.stderr
    assert "Traceback" not in refused.stderr
    assert snapshot(work) == before
    assert runs(work) == []


def test_the_plan_shows_every_action_with_weights_of_the_whole_pipeline(work: Path) -> None:
    plan = synapse(work, "pipeline", "plan", "nightly.toml", "--json")

    assert plan.returncode == 0, plan.stderr
    actions = json.loads(plan.stdout)["actions"]
    assert [(a["id"], round(a["percent"])) for a in actions] == [
        ("prepare", 20),
        ("train", 60),
        ("publish", 20),
    ]
    assert actions[2]["feeds"] == {
        "annotations_uri": "prepare.output_uri",
        "model_uri": "train.model_uri",
    }
    text = synapse(work, "pipeline", "plan", "nightly.toml").stdout
    assert "2. train (train), 60.0%" in text
    assert "data_uri <- prepare.output_uri" in text


def test_a_failure_in_the_last_action_rolls_back_all_three(
    work: Path, existing: dict[str, bytes]
) -> None:
    failed = synapse(
        work, "pipeline", "run", "nightly.toml", "--params-file",
        params_file(work, {"publish": {"fail_at": "publish"}}),
    )  # fmt: skip

    assert failed.returncode == 1
    assert "error: action 'publish' failed: step 'copy' failed: RuntimeError" in failed.stderr
    assert "every action that ran was rolled back" in failed.stderr
    assert "↺ prepare \u203a write_data rolled back" in failed.stderr
    after = snapshot(work)
    assert {k: v for k, v in after.items() if k.startswith(("pub", "prep", "models"))} == existing
    assert runs(work)[0]["state"] == "rolled_back"


def test_keep_completed_then_resume_finishes_without_rerunning_the_first_actions(
    work: Path,
) -> None:
    failed = synapse(
        work, "pipeline", "run", "nightly.toml", "--keep-completed", "--params-file",
        params_file(work, {"publish": {"fail_at": "publish"}}),
    )  # fmt: skip
    assert failed.returncode == 1
    run_id = runs(work)[0]["run_id"]
    assert f"Continue with: synapse runs resume {run_id}" in failed.stderr
    first = {a["stage"]: a["run_id"] for a in shown(work, run_id)["actions"]}

    resumed = synapse(
        work, "runs", "resume", run_id, "--params-file",
        params_file(work, {"publish": {"fail_at": None}}),
    )  # fmt: skip

    assert resumed.returncode == 0, resumed.stderr
    actions = shown(work, run_id)["actions"]
    assert [(a["stage"], a["state"]) for a in actions] == [
        ("prepare", "succeeded"),
        ("train", "succeeded"),
        ("publish", "rolled_back"),
        ("publish", "succeeded"),
    ]
    assert actions[0]["run_id"] == first["prepare"]
    assert actions[1]["run_id"] == first["train"]
    assert (work / "pub" / "model.txt").exists()
    assert runs(work)[0]["state"] == "succeeded"


def test_rolling_back_an_action_run_of_a_pipeline_points_at_the_pipeline(work: Path) -> None:
    synapse(
        work, "pipeline", "run", "nightly.toml", "--keep-completed", "--params-file",
        params_file(work, {"publish": {"fail_at": "publish"}}),
    )  # fmt: skip
    run_id = runs(work)[0]["run_id"]
    child = shown(work, run_id)["actions"][0]["run_id"]

    refused = synapse(work, "runs", "rollback", child)

    assert refused.returncode == 2
    assert f"roll back the whole pipeline: synapse runs rollback {run_id}" in refused.stderr


def _start_slow(work: Path, *extra: str) -> subprocess.Popen[str]:
    slow = params_file(work, {"publish": {"slow": 60}})
    return subprocess.Popen(
        [SYNAPSE, "pipeline", "run", "nightly.toml", "--params-file", slow, *extra],
        cwd=work,
        env=env(work),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.read_bytes().startswith(b"row"):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_kill_9_in_the_last_action_then_runs_rollback_restores_every_file(
    work: Path, existing: dict[str, bytes]
) -> None:
    process = _start_slow(work)
    _wait_for(work / "pub" / "data.txt", process)  # publish copied its first file

    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    [top] = runs(work)
    assert top["state"] == "needs_rollback"

    undone = synapse(work, "runs", "rollback", top["run_id"])

    assert undone.returncode == 0, undone.stderr
    assert f"run {top['run_id']} (nightly): rolled_back" in undone.stdout
    after = snapshot(work)
    assert {k: v for k, v in after.items() if k not in ("nightly.toml", "params.json")} == existing
    assert {a["state"] for a in shown(work, top["run_id"])["actions"]} == {"rolled_back"}
    again = synapse(work, "runs", "rollback", top["run_id"])
    assert again.returncode == 2  # each step exactly once: nothing is undone twice


@pytest.mark.parametrize(("keep", "state"), [(False, "rolled_back"), (True, "failed")])
def test_ctrl_c_in_the_last_action_undoes_it_and_the_rest_unless_kept(
    work: Path, existing: dict[str, bytes], keep: bool, state: str
) -> None:
    process = _start_slow(work, *(["--keep-completed"] if keep else []))
    _wait_for(work / "pub" / "data.txt", process)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    [top] = runs(work)
    assert top["state"] == state
    after = snapshot(work)
    assert after["pub/data.txt"] == existing["pub/data.txt"]
    assert ("prep/data.txt" in after) is keep
    assert ("models/m.txt" in after) is keep


def test_resume_after_kill_9_undoes_the_crashed_actions_partial_work_then_reruns_it(
    work: Path, existing: dict[str, bytes]
) -> None:
    process = _start_slow(work)
    _wait_for(work / "pub" / "data.txt", process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    [top] = runs(work)

    resumed = synapse(
        work, "runs", "resume", top["run_id"], "--params-file",
        params_file(work, {"publish": {"slow": 0}}),
    )  # fmt: skip

    assert resumed.returncode == 0, resumed.stderr
    actions = shown(work, top["run_id"])["actions"]
    assert [(a["stage"], a["state"]) for a in actions] == [
        ("prepare", "succeeded"),
        ("train", "succeeded"),
        ("publish", "rolled_back"),  # the crashed attempt, undone before the rerun
        ("publish", "succeeded"),
    ]
    assert (work / "pub" / "model.txt").read_text() == "model of 3 rows\n"
    assert (work / "pub" / "notes.txt").read_bytes() == existing["pub/notes.txt"]
    # The pipeline succeeded in the end: there is nothing for `runs rollback` to finish.
    assert synapse(work, "runs", "rollback", top["run_id"]).returncode == 2
