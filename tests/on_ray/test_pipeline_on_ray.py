"""``synapse pipeline run --executor ray``: each action of a pipeline runs on the cluster."""

from __future__ import annotations

import json
import os
from pathlib import Path

from support.cli import Synapse

from synapse_sdk.journal.store import RunJournal

TESTS = Path(__file__).resolve().parents[1]


def pipeline_file(tmp_path: Path, *, fail: bool = False) -> Path:
    publish = f'target = "{tmp_path / "pub"}"' + (', fail_at = "publish"' if fail else "")
    path = tmp_path / "nightly.toml"
    path.write_text(
        f"""
name = "nightly"

[[actions]]
action = "support.pipeline_actions:PrepareAction"
id = "prepare"
params = {{ out = "{tmp_path / "prep"}" }}

[[actions]]
action = "support.pipeline_actions:TrainAction"
id = "train"
params = {{ model_uri = "{tmp_path / "models" / "m.txt"}" }}

[[actions]]
action = "support.pipeline_actions:PublishAction"
id = "publish"
params = {{ {publish} }}

[mappings]
"train.data_uri" = "prepare.output_uri"
"publish.annotations_uri" = "prepare.output_uri"
"publish.model_uri" = "train.model_uri"
"""
    )
    return path


def with_tests(synapse: Synapse) -> Synapse:
    synapse.env["PYTHONPATH"] = os.pathsep.join([synapse.env["PYTHONPATH"], str(TESTS)])
    return synapse


def test_each_action_of_a_pipeline_runs_on_the_cluster_and_hands_on_its_result(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    done = with_tests(synapse)(
        "pipeline", "run", str(pipeline_file(tmp_path)), "--ray-address", ray_cluster, "--json"
    )

    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    result = events[-1]["result"]
    assert result["actions"]["train"]["result"]["rows"] == 3
    assert (tmp_path / "pub" / "model.txt").read_text() == "model of 3 rows\n"
    steps = {e["step"] for e in events if e["event"] == "step"}
    assert {"prepare \u203a write_data", "train \u203a fit", "publish \u203a copy"} <= steps
    percents = [e["percent"] for e in events if e["event"] == "progress"]
    assert percents == sorted(percents)
    assert percents[-1] == 100
    journal = RunJournal(tmp_path / "home" / "runs.db")
    try:
        [top] = journal.list_runs(top_level=True)
        children = journal.children(top.run_id)
    finally:
        journal.close()
    assert [(c.stage, c.state) for c in children] == [
        ("prepare", "succeeded"),
        ("train", "succeeded"),
        ("publish", "succeeded"),
    ]
    assert {c.pid for c in children} == {top.pid}  # journalled by the caller...
    assert result["actions"]["train"]["result"]["pid"] != top.pid  # ...run by a worker


def test_a_failing_action_on_the_cluster_undoes_every_action_of_the_pipeline(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    failed = with_tests(synapse)(
        "pipeline", "run", str(pipeline_file(tmp_path, fail=True)), "--ray-address", ray_cluster
    )

    assert failed.returncode == 1, failed.stderr
    assert "every action that ran was rolled back" in failed.stderr
    assert not (tmp_path / "prep").exists()
    assert not (tmp_path / "models").exists()
    assert not (tmp_path / "pub").exists()
