"""The nightly pipeline as a user runs it: the real ``synapse`` command on ``nightly.toml``.

Each test lays the example out under its own ``site`` folder as it is in the repository
(``nightly-pipeline/nightly.toml`` beside ``export-annotations/sample_dataset``) and runs
the shipped file unchanged from ``site/nightly-pipeline``, overriding params only through
``--params-file``, as the README does. Everything a run may touch is under ``site`` (the
journal is in the test's own ``SYNAPSE_HOME``, outside it), so a snapshot of every file's
bytes under ``site`` tells exactly what a run changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.moto import MotoServer, bucket_listing
from synapse_sdk.journal.store import RunJournal, RunRecord

HERE = Path(__file__).resolve().parents[1]
SAMPLE = HERE.parent / "export-annotations" / "sample_dataset"
SYNAPSE = str(Path(sys.executable).with_name("synapse"))
REFUSE = {"publish-release": {"refuse": True}}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """``tmp_path/site/nightly-pipeline``, holding nightly.toml, with the sample beside it."""
    folder = tmp_path / "site" / "nightly-pipeline"
    folder.mkdir(parents=True)
    shutil.copy(HERE / "nightly.toml", folder)
    shutil.copytree(SAMPLE, folder.parent / "export-annotations" / "sample_dataset")
    return folder


def synapse(
    *args: str, cwd: Path, params: dict[str, Any] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``synapse`` command in ``cwd``; ``params`` go in a ``--params-file``."""
    return subprocess.run(
        [SYNAPSE, *args, *params_file(cwd, params)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def params_file(cwd: Path, params: dict[str, Any] | None) -> list[str]:
    """``["--params-file", PATH]`` for ``params`` (written outside ``site``), or nothing."""
    if params is None:
        return []
    path = cwd.parents[1] / "params" / f"{uuid.uuid4().hex}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(params))
    return ["--params-file", str(path)]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file under ``root`` with its bytes, and every folder (None)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def files(folder: Path) -> dict[str, bytes]:
    return {name: data for name, data in snapshot(folder).items() if data is not None}


def runs() -> list[dict[str, Any]]:
    listed = synapse("runs", "list", "--json", cwd=Path.cwd())
    assert listed.returncode == 0, listed.stderr
    found: list[dict[str, Any]] = json.loads(listed.stdout)
    return found


def show(run_id: str) -> dict[str, Any]:
    shown = synapse("runs", "show", run_id, "--json", cwd=Path.cwd())
    assert shown.returncode == 0, shown.stderr
    record: dict[str, Any] = json.loads(shown.stdout)
    return record


def only_run() -> dict[str, Any]:
    """The one run journalled: a pipeline run."""
    [run] = runs()
    assert (run["kind"], run["action"]) == ("pipeline", "nightly")
    return run


def storage_ops(child: dict[str, Any], step: str) -> set[tuple[str, str]]:
    """``(op, url)`` of every write a step of a child run journalled."""
    [record] = [s for s in child["steps"] if s["name"] == step]
    return {(e["op"], e["url"]) for e in record["rollback_data"].get("synapse.storage", [])}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_plan_feeds_the_publish_from_the_export_and_the_model(site: Path) -> None:
    planned = synapse("pipeline", "plan", "nightly.toml", "--json", cwd=site)
    assert planned.returncode == 0, planned.stderr
    actions = json.loads(planned.stdout)["actions"]
    assert [a["id"] for a in actions] == [
        "export-annotations",
        "train-classifier",
        "publish-release",
    ]
    assert actions[2]["feeds"] == {
        "export_uri": "export-annotations.output_uri",
        "model_uri": "train-classifier.model_uri",
        "accuracy": "train-classifier.accuracy",
    }
    assert [s["name"] for s in actions[2]["steps"] if s["contributed_by"] == "action"] == [
        "collect",
        "upload",
        "manifest",
    ]
    assert list(site.iterdir()) == [site / "nightly.toml"]  # a plan runs nothing


def test_without_its_mappings_it_is_refused_before_anything_runs(site: Path) -> None:
    toml = site / "nightly.toml"
    toml.write_text(toml.read_text().split("[mappings]")[0])
    refused = synapse("pipeline", "run", "nightly.toml", cwd=site)
    assert refused.returncode == 2, refused.stderr
    assert "action 'publish-release', param 'export_uri' (str)" in refused.stderr
    assert "export-annotations.output_uri" in refused.stderr  # what could feed it
    assert list(site.iterdir()) == [toml]
    assert runs() == []


def test_publishes_the_export_and_the_model_as_one_release(site: Path) -> None:
    ran = synapse("pipeline", "run", "nightly.toml", "-q", cwd=site)
    assert ran.returncode == 0, ran.stderr
    export, model = files(site / "work" / "export"), (site / "work" / "model.pkl").read_bytes()
    assert sorted(export) == [
        "coco/annotations.json",
        "yolo/classes.txt",
        "yolo/labels/img1.txt",
        "yolo/labels/img2.txt",
        "yolo/labels/img3.txt",
        "yolo/labels/img4.txt",
    ]
    published = files(site / "release")
    manifest = json.loads(published.pop("manifest.json"))
    assert published == {**{f"export/{n}": data for n, data in export.items()}, "model.pkl": model}
    assert manifest["files"] == [
        {"path": name, "size": len(data), "sha256": sha256(data)}
        for name, data in sorted(published.items())
    ]
    assert manifest["export_uri"] == f"file://{site}/work/export"
    assert manifest["model_uri"] == f"file://{site}/work/model.pkl"

    run = only_run()
    assert run["state"] == "succeeded"
    assert json.loads(ran.stdout)["run_id"] == run["run_id"]
    children = show(run["run_id"])["actions"]
    assert [(c["stage"], c["state"], c["parent"]) for c in children] == [
        ("export-annotations", "succeeded", run["run_id"]),
        ("train-classifier", "succeeded", run["run_id"]),
        ("publish-release", "succeeded", run["run_id"]),
    ]
    export_result, train_result, publish_result = (c["result"] for c in children)
    assert export_result == {
        "output_uri": f"file://{site}/work/export",
        "formats": ["coco", "yolo"],
        "images": 4,
    }
    assert train_result["model_uri"] == f"file://{site}/work/model.pkl"
    assert manifest["accuracy"] == train_result["accuracy"] > 0.8
    assert publish_result == {
        "release_uri": f"file://{site}/release",
        "manifest_uri": f"file://{site}/release/manifest.json",
        "files": 7,
    }
    assert [s["name"] for s in children[2]["steps"]][:2] == ["collect", "upload"]


@pytest.fixture
def last_release(site: Path) -> Path:
    """A release folder from an earlier night: two files the run replaces, one it does not."""
    release = site / "release"
    (release / "export" / "coco").mkdir(parents=True)
    (release / "export" / "coco" / "annotations.json").write_text("last night's export")
    (release / "model.pkl").write_bytes(b"last night's model")
    (release / "notes.txt").write_text("not the pipeline's")
    return release


def test_a_failed_publish_undoes_all_three_actions(site: Path, last_release: Path) -> None:
    before = snapshot(site.parent)
    ran = synapse("pipeline", "run", "nightly.toml", "-q", cwd=site, params=REFUSE)
    assert ran.returncode == 1, ran.stderr
    assert "action 'publish-release' failed: step 'manifest' failed" in ran.stderr
    assert "every action that ran was rolled back" in ran.stderr
    assert snapshot(site.parent) == before

    run = show(only_run()["run_id"])
    assert run["state"] == "rolled_back"
    export, train, publish = run["actions"]
    assert [c["state"] for c in run["actions"]] == ["rolled_back"] * 3
    # Each action had written before the failure, the publish over the earlier release.
    assert ("create", f"file://{site}/work/export/coco/annotations.json") in storage_ops(
        export, "coco"
    )
    assert ("create", f"file://{site}/work/model.pkl") in storage_ops(train, "save_model")
    replaced = {url for op, url in storage_ops(publish, "upload") if op == "replace"}
    assert replaced == {
        f"file://{last_release}/export/coco/annotations.json",
        f"file://{last_release}/model.pkl",
    }


def test_keep_completed_then_resume_runs_only_the_publish(site: Path) -> None:
    failed = synapse(
        "pipeline", "run", "nightly.toml", "--keep-completed", "-q", cwd=site, params=REFUSE
    )
    assert failed.returncode == 1, failed.stderr
    run_id = only_run()["run_id"]
    assert f"Continue with: synapse runs resume {run_id}" in failed.stderr
    first = show(run_id)
    assert first["state"] == "failed"
    assert [(c["stage"], c["state"]) for c in first["actions"]] == [
        ("export-annotations", "succeeded"),
        ("train-classifier", "succeeded"),
        ("publish-release", "rolled_back"),
    ]
    kept = snapshot(site / "work")
    assert "model.pkl" in kept
    assert "export/coco/annotations.json" in kept
    assert not (site / "release").exists()
    model_written = (site / "work" / "model.pkl").stat().st_mtime_ns

    resumed = synapse(
        "runs",
        "resume",
        run_id,
        "-q",
        cwd=site,
        params={"publish-release": {"refuse": False}},
    )
    assert resumed.returncode == 0, resumed.stderr
    after = show(run_id)
    assert after["state"] == "succeeded"
    old = [c["run_id"] for c in first["actions"]]
    assert [(c["stage"], c["run_id"], c["state"]) for c in after["actions"][:3]] == [
        ("export-annotations", old[0], "succeeded"),
        ("train-classifier", old[1], "succeeded"),
        ("publish-release", old[2], "rolled_back"),
    ]
    [new] = after["actions"][3:]
    assert (new["stage"], new["state"]) == ("publish-release", "succeeded")
    assert new["run_id"] not in old
    assert [r["run_id"] for r in runs()] == [run_id]
    # The export and the model were not made again: the release holds the kept ones.
    assert snapshot(site / "work") == kept
    assert (site / "work" / "model.pkl").stat().st_mtime_ns == model_written
    published = files(site / "release")
    assert published["model.pkl"] == kept["model.pkl"]
    assert published["export/coco/annotations.json"] == kept["export/coco/annotations.json"]
    assert (
        json.loads(published["manifest.json"])["accuracy"]
        == after["actions"][1]["result"]["accuracy"]
    )


def wait_for_step(process: subprocess.Popen[bytes], stage: str, step: str, log: Path) -> str:
    """The pipeline run's id, once the step ``step`` of action ``stage`` has started."""
    journal = RunJournal(Path(os.environ["SYNAPSE_HOME"]) / "runs.db")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the pipeline ended early:\n{log.read_text()}"
            for run in journal.list_runs(top_level=True):
                if started_step(journal.children(run.run_id), stage) == step:
                    return run.run_id
            time.sleep(0.05)
    finally:
        journal.close()
    raise AssertionError(f"step {step} of {stage} did not start:\n{log.read_text()}")


def started_step(children: list[RunRecord], stage: str) -> str | None:
    for child in children:
        if child.stage == stage:
            for step in child.steps:
                if step.state == "started":
                    return step.name
    return None


def test_killed_mid_publish_then_rolled_back(
    site: Path, last_release: Path, tmp_path: Path
) -> None:
    pause = tmp_path / "publish-waits-while-this-exists"
    pause.touch()
    before = snapshot(site.parent)
    log = tmp_path / "pipeline.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                SYNAPSE,
                "pipeline",
                "run",
                "nightly.toml",
                *params_file(site, {"publish-release": {"pause_file": str(pause)}}),
            ],
            cwd=site,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        run_id = wait_for_step(process, "publish-release", "manifest", log)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    # Killed with the release half made: the earlier model already replaced, no manifest.
    assert (last_release / "model.pkl").read_bytes() == (site / "work" / "model.pkl").read_bytes()
    assert not (last_release / "manifest.json").exists()
    assert only_run()["state"] == "needs_rollback"

    rolled = synapse("runs", "rollback", run_id, cwd=site.parents[1])  # from another folder
    assert rolled.returncode == 0, rolled.stderr
    run = show(run_id)
    assert run["state"] == "rolled_back"
    assert [(c["stage"], c["state"]) for c in run["actions"]] == [
        ("export-annotations", "rolled_back"),
        ("train-classifier", "rolled_back"),
        ("publish-release", "rolled_back"),
    ]
    assert snapshot(site.parent) == before


def test_publishes_to_s3_and_a_failure_puts_the_bucket_back(
    site: Path, moto: MotoServer, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="release/notes.txt", Body=b"not the pipeline's")
    s3.put_object(Bucket=bucket, Key="elsewhere/model.pkl", Body=b"another model")
    publish = {
        "target": f"s3://{bucket}/release/",
        "storage_options": {"endpoint_url": moto.endpoint_url, "key": "id", "secret": "s3cr3t"},
    }
    ran = synapse(
        "pipeline", "run", "nightly.toml", "-q", cwd=site, params={"publish-release": publish}
    )
    assert ran.returncode == 0, ran.stderr
    export, model = files(site / "work" / "export"), (site / "work" / "model.pkl").read_bytes()
    listing = bucket_listing(s3, bucket)
    manifest = json.loads(listing.pop("release/manifest.json"))
    assert listing == {
        **{f"release/export/{name}": data for name, data in export.items()},
        "release/model.pkl": model,
        "release/notes.txt": b"not the pipeline's",
        "elsewhere/model.pkl": b"another model",
    }
    assert len(manifest["files"]) == 7
    run = show(only_run()["run_id"])
    assert run["actions"][2]["result"]["release_uri"] == f"s3://{bucket}/release"
    assert "s3cr3t" not in json.dumps(run)  # the secret is not journalled

    # Another night, in another work folder, fails after replacing the release's objects.
    before, local = bucket_listing(s3, bucket), snapshot(site.parent)
    failed = synapse(
        "pipeline",
        "run",
        "nightly.toml",
        "-q",
        cwd=site,
        params={
            "export-annotations": {"output_uri": "work2/export"},
            "train-classifier": {"model_uri": "work2/model.pkl"},
            "publish-release": {**publish, "refuse": True},
        },
    )
    assert failed.returncode == 1, failed.stderr
    assert bucket_listing(s3, bucket) == before
    assert snapshot(site.parent) == local
    second = show(runs()[0]["run_id"])
    assert second["state"] == "rolled_back"
    replaced = {url for op, url in storage_ops(second["actions"][2], "upload") if op == "replace"}
    assert len(replaced) == 7
    assert f"s3://{bucket}/release/model.pkl" in replaced
