"""The integrity hook plugin changes upload actions it has never seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepResult

import synapse_integrity.plugin as integrity

SAMPLE = Path(__file__).resolve().parents[2] / "upload-files" / "sample_data"
SYNAPSE = str(Path(sys.executable).with_name("synapse"))


def plan(**env: str) -> list[list[str]]:
    result = subprocess.run(
        [SYNAPSE, "plan", "upload-files", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)["steps"]
    return [[step["name"], step["contributed_by"], ",".join(step["wrapped_by"])] for step in steps]


def test_installing_it_changes_the_plan() -> None:
    assert plan(SYNAPSE_LOAD_PLUGINS="integrity") == [
        ["discover", "action", "integrity"],
        ["validate", "action", "integrity"],
        ["upload", "action", "integrity"],
        ["verify_upload", "integrity", "integrity"],
        ["manifest", "action", "integrity"],
        ["summary", "action", "integrity"],
    ]
    assert [row[0] for row in plan(SYNAPSE_LOAD_PLUGINS="")] == [
        "discover",
        "validate",
        "upload",
        "manifest",
        "summary",
    ]


def test_verifies_and_reports_timing(
    synapse_run: Any, synapse_host: Any, synapse_recorder: Any, tmp_path: Path
) -> None:
    synapse_host.register(integrity, "integrity")
    result = synapse_run("upload-files", {"source": str(SAMPLE), "target": str(tmp_path / "out")})
    assert result["steps_executed"] == 6
    metrics = {key for event in synapse_recorder.metrics for key in event.values}
    assert {"upload_seconds", "verify_upload_seconds", "summary_seconds"} <= metrics
    assert ("verify_upload", "succeeded") in synapse_recorder.steps


class Corrupt(BaseStep[Any]):
    """Tampers with one uploaded object, as a faulty storage backend would."""

    name = "corrupt"
    progress_weight = 0.0

    def execute(self, context: Any) -> StepResult:
        Path(context.uploaded[0].target.removeprefix("file://")).write_bytes(b"bit rot")
        return StepResult(success=True)


class Tamper:
    @hookimpl(trylast=True)
    def synapse_setup_steps(self, registry: Any) -> None:
        registry.insert_after("upload", Corrupt())


def test_a_corrupted_object_fails_verification_and_rolls_back(
    synapse_run: Any, synapse_host: Any, synapse_recorder: Any, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "existing.txt").write_text("before")
    synapse_host.register(integrity, "integrity")
    synapse_host.register(Tamper(), "tamper")
    with pytest.raises(
        StepExecutionError, match="1 uploaded object\\(s\\) failed verification"
    ) as caught:
        synapse_run("upload-files", {"source": str(SAMPLE), "target": str(target)})
    assert "README.txt: 7 bytes" in str(caught.value)
    # The rollback removes what the upload wrote, except the object changed after it was
    # written: that content is not the run's, so the storage layer keeps it and says so.
    assert sorted(p.name for p in target.iterdir()) == ["README.txt", "existing.txt"]
    assert (target / "README.txt").read_bytes() == b"bit rot"
    [undone] = [log for log in synapse_recorder.logs if log.message == "storage_undone"]
    assert undone.data["changed_since"] == [(target / "README.txt").as_uri()]
