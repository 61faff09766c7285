"""The export-annotations example: COCO and YOLO from a real dataset, checked and rolled back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from synapse_sdk.exceptions import StepExecutionError
from synapse_sdk.plugins import hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepResult

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dataset"


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_exports_coco_and_yolo(synapse_run: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = synapse_run("export-annotations", {"dataset": str(SAMPLE), "output_uri": str(out)})
    assert result == {"success": True, "steps_executed": 4, "steps_total": 4}
    coco = json.loads((out / "coco" / "annotations.json").read_text())
    assert [image["file_name"] for image in coco["images"]] == [
        "img1.png",
        "img2.png",
        "img3.png",
        "img4.png",
    ]
    assert coco["images"][2]["width"] == 48  # read from the image file itself
    assert coco["annotations"][1] == {
        "id": 2,
        "image_id": 2,
        "category_id": 2,
        "bbox": [30, 10, 24, 30],
        "area": 720,
        "iscrowd": 0,
    }
    assert (out / "yolo" / "labels" / "img2.txt").read_text().splitlines() == [
        "1 0.656250 0.520833 0.375000 0.625000",
        "0 0.109375 0.145833 0.156250 0.208333",
    ]
    assert (out / "yolo" / "labels" / "img4.txt").read_text() == ""
    assert (out / "yolo" / "classes.txt").read_text() == "cat\ndog\nbird\n"


def test_dataset_problems_are_listed_together(synapse_run: Any, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    shutil.copytree(SAMPLE, dataset)
    raw = json.loads((dataset / "annotations.json").read_text())
    raw["images"][0]["boxes"][0]["x"] = 60
    raw["images"][1]["boxes"][0]["category"] = "horse"
    raw["images"].append({"file": "missing.png", "boxes": []})
    (dataset / "annotations.json").write_text(json.dumps(raw))
    with pytest.raises(StepExecutionError) as caught:
        synapse_run(
            "export-annotations", {"dataset": str(dataset), "output_uri": str(tmp_path / "out")}
        )
    message = str(caught.value)
    assert "3 problem(s) in the dataset" in message
    assert "img1.png box 0: outside the 64x48 image" in message
    assert "img2.png box 0: unknown category 'horse'" in message
    assert "missing.png: image missing or unreadable" in message
    assert not (tmp_path / "out").exists()


def test_existing_output_is_not_overwritten(synapse_run: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "yolo").mkdir(parents=True)
    (out / "yolo" / "classes.txt").write_text("mine")
    with pytest.raises(StepExecutionError, match="already exists; pass overwrite=true"):
        synapse_run("export-annotations", {"dataset": str(SAMPLE), "output_uri": str(out)})
    assert files(out) == ["yolo/classes.txt"]
    assert (out / "yolo" / "classes.txt").read_text() == "mine"


class Boom(BaseStep[Any]):
    name = "boom"
    progress_weight = 0.0

    def execute(self, context: Any) -> StepResult:
        return StepResult(success=False, error="publishing failed")


class FailAfterCheck:
    @hookimpl
    def synapse_setup_steps(self, registry: Any) -> None:
        registry.insert_after("check", Boom())


def test_rollback_removes_partial_output_only(
    synapse_run: Any, synapse_host: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    synapse_host.register(FailAfterCheck(), "fail-after-check")
    with pytest.raises(StepExecutionError, match="publishing failed"):
        synapse_run("export-annotations", {"dataset": str(SAMPLE), "output_uri": str(out)})
    assert files(out) == ["notes.txt"]
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_the_real_command(tmp_path: Path) -> None:
    env = {**os.environ, "SYNAPSE_LOAD_PLUGINS": "", "SYNAPSE_HOME": str(tmp_path / "home")}
    params = json.dumps({"dataset": str(SAMPLE), "output_uri": "export", "formats": ["coco"]})
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("synapse")),
            "run",
            "export-annotations",
            "--params",
            params,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert files(tmp_path / "export") == ["coco/annotations.json"]
