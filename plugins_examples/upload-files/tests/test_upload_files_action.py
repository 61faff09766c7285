"""The upload-files example: real directories, fsspec memory://, the real command."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import pytest
from synapse_sdk.exceptions import StepExecutionError
from synapse_sdk.plugins import hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepResult

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_uploads_the_tree_with_a_manifest(
    synapse_run: Any, synapse_recorder: Any, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    result = synapse_run("upload-files", {"source": str(SAMPLE), "target": str(target)})
    assert result == {"success": True, "steps_executed": 5, "steps_total": 5}
    copied = tree(target)
    manifest = json.loads(copied.pop("manifest.json"))
    assert copied == tree(SAMPLE)
    assert {entry["path"]: entry["sha256"] for entry in manifest["objects"]} == {
        name: hashlib.sha256(data).hexdigest() for name, data in tree(SAMPLE).items()
    }
    upload_progress = [
        e.percent
        for e in synapse_recorder.events
        if getattr(e, "step", None) == "upload" and e.kind == "progress"
    ]
    assert len(upload_progress) >= 3  # per-file progress inside the step
    assert synapse_recorder.percents == sorted(synapse_recorder.percents)


def test_memory_filesystem_target(synapse_run: Any) -> None:
    url = "memory://upload-test/run1"
    synapse_run("upload-files", {"source": str(SAMPLE), "target": url})
    fs = fsspec.filesystem("memory")
    assert fs.cat(f"{url}/labels/train.csv") == (SAMPLE / "labels" / "train.csv").read_bytes()
    assert fs.exists(f"{url}/manifest.json")
    fs.rm("/upload-test", recursive=True)


def test_validation_lists_every_problem_and_writes_nothing(
    synapse_run: Any, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "ok.csv").write_text("a,b\n")
    (source / "big.csv").write_text("x" * 2000)
    (source / "script.exe").write_text("nope")
    target = tmp_path / "out"
    with pytest.raises(StepExecutionError) as caught:
        synapse_run(
            "upload-files",
            {
                "source": str(source),
                "target": str(target),
                "extensions": ["csv"],
                "max_file_size": 1000,
            },
        )
    message = str(caught.value)
    assert "2 problem(s), nothing was uploaded" in message
    assert "big.csv: 2000 bytes is over the limit of 1000" in message
    assert "script.exe: extension '.exe' is not allowed" in message
    assert not target.exists()


def test_existing_objects_are_never_overwritten(synapse_run: Any, tmp_path: Path) -> None:
    target = tmp_path / "out"
    (target / "labels").mkdir(parents=True)
    (target / "labels" / "train.csv").write_text("mine")
    with pytest.raises(
        StepExecutionError, match=r"labels/train\.csv: already exists at the target"
    ):
        synapse_run("upload-files", {"source": str(SAMPLE), "target": str(target)})
    assert tree(target) == {"labels/train.csv": b"mine"}


class FailAtTheEnd:
    @hookimpl
    def synapse_setup_steps(self, registry: Any) -> None:
        registry.register(Boom())


class Boom(BaseStep[Any]):
    name = "boom"
    progress_weight = 0.0

    def execute(self, context: Any) -> StepResult:
        return StepResult(success=False, error="later failure")


def test_rollback_removes_only_what_this_run_wrote(
    synapse_run: Any, synapse_host: Any, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    (target / "images").mkdir(parents=True)
    (target / "images" / "older.png").write_bytes(b"older")
    (target / "notes.txt").write_text("keep me")
    before = tree(target)
    synapse_host.register(FailAtTheEnd(), "fail-at-the-end")
    with pytest.raises(StepExecutionError, match="later failure"):
        synapse_run("upload-files", {"source": str(SAMPLE), "target": str(target)})
    assert tree(target) == before
    assert sorted(p.name for p in target.iterdir()) == ["images", "notes.txt"]  # new folders gone


def test_the_real_command_with_the_sample(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"source": str(SAMPLE), "target": "upload-output"}))
    env = {**os.environ, "SYNAPSE_LOAD_PLUGINS": "", "SYNAPSE_HOME": str(tmp_path / "home")}
    synapse = str(Path(sys.executable).with_name("synapse"))
    first = subprocess.run(
        [synapse, "run", "upload-files", "--params-file", str(params)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"success": True, "steps_executed": 5, "steps_total": 5}
    again = subprocess.run(
        [synapse, "run", "upload-files", "--params-file", str(params)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 1
    assert "already exists at the target" in again.stderr
    assert "Traceback" not in again.stderr
    assert len(tree(tmp_path / "upload-output")) == 8


def test_unreadable_files_are_listed_and_nothing_is_written(tmp_path: Path) -> None:
    """Run without the capabilities that let root read any file, so permissions apply."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "ok.csv").write_text("a\n")
    for name in ("locked1.csv", "locked2.csv"):
        (source / name).write_text("secret\n")
        (source / name).chmod(0)
    target = tmp_path / "out"
    params = json.dumps({"source": str(source), "target": str(target)})
    env = {**os.environ, "SYNAPSE_LOAD_PLUGINS": "", "SYNAPSE_HOME": str(tmp_path / "home")}
    command = [
        str(Path(sys.executable).with_name("synapse")),
        "run",
        "upload-files",
        "--params",
        params,
    ]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "2 problem(s), nothing was uploaded" in result.stderr
    assert "locked1.csv: cannot be read (permission denied)" in result.stderr
    assert "locked2.csv: cannot be read (permission denied)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists()
