"""The export-annotations example: COCO and YOLO from a real dataset, checked and rolled back."""

from __future__ import annotations

import json
import os
import shutil
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

from synapse_export_annotations.action import ExportAnnotationsResult

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dataset"
SYNAPSE = str(Path(sys.executable).with_name("synapse"))


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_exports_coco_and_yolo(synapse_run: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = synapse_run("export-annotations", {"dataset": str(SAMPLE), "output_uri": str(out)})
    result.pop("result")  # what it hands on: see test_hands_on_the_export_folder
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


def test_hands_on_the_export_folder(
    synapse_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result names the folder by its canonical URL, which a later action can read."""
    monkeypatch.chdir(tmp_path)
    result = synapse_run(
        "export-annotations",
        {"dataset": str(SAMPLE), "output_uri": "x/../export", "formats": ["yolo"]},
    )
    assert result["result"] == ExportAnnotationsResult(
        output_uri=f"file://{tmp_path}/export", formats=["yolo"], images=4
    )
    fs, folder = fsspec.core.url_to_fs(result["result"].output_uri)
    assert fs.cat_file(f"{folder}/yolo/classes.txt") == b"cat\ndog\nbird\n"


def test_hands_on_a_remote_folder_with_its_protocol(synapse_run: Any) -> None:
    result = synapse_run(
        "export-annotations", {"dataset": str(SAMPLE), "output_uri": "memory://handed/on"}
    )
    assert result["result"].output_uri == "memory:///handed/on"
    assert result["result"].formats == ["coco", "yolo"]
    memory = fsspec.filesystem("memory")
    assert memory.exists("/handed/on/coco/annotations.json")
    memory.rm("/handed", recursive=True)


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


def test_journalled_paths_are_absolute(
    synapse_run: Any,
    synapse_host: Any,
    synapse_journal: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    synapse_host.register(FailAfterCheck(), "fail-after-check")
    with pytest.raises(StepExecutionError, match="publishing failed"):
        synapse_run("export-annotations", {"dataset": str(SAMPLE), "output_uri": "x/../export"})
    run = synapse_journal.get_run(synapse_journal.list_runs()[0].run_id)
    data = {step.name: step.rollback_data[STORAGE_KEY] for step in run.steps if step.rollback_data}
    export = f"file://{tmp_path}/export"
    assert [(entry["op"], entry["url"]) for entry in data["coco"]] == [
        ("folder", export),
        ("folder", f"{export}/coco"),
        ("create", f"{export}/coco/annotations.json"),
        ("written", f"{export}/coco/annotations.json"),
    ]
    yolo = {(entry["op"], entry["url"]) for entry in data["yolo"]}
    assert ("folder", f"{export}/yolo/labels") in yolo
    assert ("create", f"{export}/yolo/labels/img1.txt") in yolo
    assert all(url.startswith(f"{export}/yolo") for _, url in yolo)
    assert not (tmp_path / "export").exists()


def test_a_crashed_run_is_undone_from_another_folder(tmp_path: Path) -> None:
    """Killed mid-run in one folder, rolled back from another that has its own 'export'."""
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    for name in ("coco/annotations.json", "yolo/classes.txt", "yolo/labels/img1.txt"):
        (elsewhere / "export" / name).parent.mkdir(parents=True, exist_ok=True)
        (elsewhere / "export" / name).write_text("someone else's")
    before = files(elsewhere)
    crashed = crash_after_step(
        "export-annotations",
        {"dataset": str(SAMPLE), "output_uri": "export"},
        "yolo",
        cwd=here,
        home=tmp_path / "home",
    )
    assert crashed.state() == "needs_rollback"
    assert "yolo/labels/img1.txt" in files(here / "export")
    recovered = crashed.roll_back(cwd=elsewhere)
    assert recovered.returncode == 0, recovered.stderr
    assert crashed.state() == "rolled_back"
    assert list(here.iterdir()) == []
    assert files(elsewhere) == before
    assert all(p.read_text() == "someone else's" for p in (elsewhere / "export").rglob("*.txt"))


@pytest.fixture
def nested_dataset(tmp_path: Path) -> Path:
    """A copy of the sample four folders below ``tmp_path``."""
    dataset = tmp_path / "a" / "b" / "dataset"
    shutil.copytree(SAMPLE, dataset)
    return dataset


@pytest.mark.parametrize("name", ["../../../../evil.png", "ABSOLUTE"])
def test_image_names_that_leave_their_folder_are_refused(
    synapse_run: Any, tmp_path: Path, nested_dataset: Path, name: str
) -> None:
    """An image the name reaches exists, so only the name check stops the export."""
    shutil.copy(SAMPLE / "images" / "img1.png", tmp_path / "evil.png")
    name = str(tmp_path / "evil.png") if name == "ABSOLUTE" else name
    raw = json.loads((nested_dataset / "annotations.json").read_text())
    raw["images"].append({"file": name, "boxes": []})
    (nested_dataset / "annotations.json").write_text(json.dumps(raw))
    out = tmp_path / "x" / "out"  # labels/../../../../evil.txt would be tmp_path/evil.txt
    with pytest.raises(StepExecutionError, match="1 problem"):
        synapse_run("export-annotations", {"dataset": str(nested_dataset), "output_uri": str(out)})
    assert not (tmp_path / "x").exists()
    assert not list(tmp_path.rglob("evil.txt"))


def test_images_sharing_a_label_file_are_refused(
    synapse_run: Any, tmp_path: Path, nested_dataset: Path
) -> None:
    shutil.copy(nested_dataset / "images" / "img1.png", nested_dataset / "images" / "img1.jpg")
    raw = json.loads((nested_dataset / "annotations.json").read_text())
    raw["images"].append({"file": "img1.jpg", "boxes": []})
    (nested_dataset / "annotations.json").write_text(json.dumps(raw))
    with pytest.raises(StepExecutionError, match=r"img1\.jpg: its label file img1\.txt is also"):
        synapse_run(
            "export-annotations",
            {"dataset": str(nested_dataset), "output_uri": str(tmp_path / "o")},
        )
    assert not (tmp_path / "o").exists()


def test_labels_in_subfolders_stay_in_labels(
    synapse_run: Any, tmp_path: Path, nested_dataset: Path
) -> None:
    (nested_dataset / "images" / "sub").mkdir()
    shutil.copy(nested_dataset / "images" / "img1.png", nested_dataset / "images" / "sub" / "x.png")
    raw = json.loads((nested_dataset / "annotations.json").read_text())
    raw["images"].append({"file": "./sub//x.png", "boxes": []})
    (nested_dataset / "annotations.json").write_text(json.dumps(raw))
    out = tmp_path / "out"
    synapse_run("export-annotations", {"dataset": str(nested_dataset), "output_uri": str(out)})
    assert "yolo/labels/sub/x.txt" in files(out)


def test_an_fsspec_output_is_written_and_undone_there(
    synapse_run: Any, synapse_host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    memory = fsspec.filesystem("memory")
    memory.pipe("/shared/other.txt", b"not the run's")
    synapse_run("export-annotations", {"dataset": str(SAMPLE), "output_uri": "memory://shared/ok"})
    assert "/shared/ok/coco/annotations.json" in memory.find("/shared/ok")
    synapse_host.register(FailAfterCheck(), "fail-after-check")
    with pytest.raises(StepExecutionError, match="publishing failed"):
        synapse_run(
            "export-annotations", {"dataset": str(SAMPLE), "output_uri": "memory://shared/x"}
        )
    assert not memory.exists("/shared/x")
    assert memory.cat("/shared/other.txt") == b"not the run's"
    local = [path.name for path in tmp_path.iterdir() if not path.name.startswith("synapse-")]
    assert local == []  # nothing written locally (no './memory:/...')


def test_an_overwrite_is_restored_on_rollback(
    synapse_run: Any, synapse_host: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    synapse_run("export-annotations", {"dataset": str(SAMPLE), "output_uri": str(out)})
    (out / "coco" / "annotations.json").write_text("an earlier export")
    before = {name: (out / name).read_bytes() for name in files(out)}
    synapse_host.register(FailAfterCheck(), "fail-after-check")
    with pytest.raises(StepExecutionError, match="publishing failed"):
        synapse_run(
            "export-annotations",
            {"dataset": str(SAMPLE), "output_uri": str(out), "overwrite": True},
        )
    assert {name: (out / name).read_bytes() for name in files(out)} == before


def test_a_file_url_is_a_local_folder(synapse_run: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    synapse_run("export-annotations", {"dataset": str(SAMPLE), "output_uri": f"file://{out}"})
    assert "coco/annotations.json" in files(out)
