"""The steps of ``export-annotations``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from synapse_sdk.plugins.actions.export import ExportContext
from synapse_sdk.plugins.steps import BaseStep, StepResult

from synapse_export_annotations.dataset import load_dataset
from synapse_export_annotations.formats import to_coco, to_yolo


def output_folder(output_uri: str) -> Path:
    """The absolute, normalised local folder that ``output_uri`` names.

    Every path this action records for rollback is built on it, so a rollback run from
    another folder (``synapse runs rollback``) removes the same files. ``output_uri`` is
    a local path or a ``file://`` URL (the params model refuses other protocols).
    """
    return Path(os.path.abspath(output_uri.removeprefix("file://")))


class WrittenFiles:
    """Writes files for a step, recording each (and each new folder) before writing it.

    Paths are recorded absolute: they come from :func:`output_folder`.
    """

    def __init__(self, context: ExportContext) -> None:
        self.context = context
        self.files: list[str] = []
        self.folders: list[str] = []

    def write(self, path: Path, text: str) -> None:
        if not path.is_absolute():
            raise ValueError(f"{path} is relative; build it on output_folder()")
        if path.exists() and not self.context.params.overwrite:
            raise FileExistsError(f"{path} already exists; pass overwrite=true to replace it")
        missing = [folder for folder in reversed(path.parents) if not folder.exists()]
        for folder in missing:
            self.folders.append(str(folder))
            self.context.record_rollback("folders", self.folders)
            folder.mkdir()
        self.files.append(str(path))
        self.context.record_rollback("files", self.files)
        path.write_text(text, encoding="utf-8")
        self.context.written.append(str(path))

    def rollback_data(self) -> dict[str, Any]:
        return {"files": self.files, "folders": self.folders}


def remove_written(result: StepResult) -> None:
    """Remove the files and (now empty) folders a step recorded."""
    for file in result.rollback_data.get("files", []):
        Path(file).unlink(missing_ok=True)
    for folder in reversed(result.rollback_data.get("folders", [])):
        path = Path(folder)
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


class Load(BaseStep[ExportContext]):
    name = "load"
    progress_weight = 0.2

    def execute(self, context: ExportContext) -> StepResult:
        dataset, problems = load_dataset(Path(context.params.dataset))
        if dataset is None:
            return StepResult(
                success=False,
                error=f"{len(problems)} problem(s) in the dataset:\n  " + "\n  ".join(problems),
            )
        context.items = [dataset]
        boxes = sum(len(image.boxes) for image in dataset.images)
        context.log("dataset_loaded", {"images": len(dataset.images), "boxes": boxes})
        return StepResult(success=True, data={"images": len(dataset.images), "boxes": boxes})


class WritingStep(BaseStep[ExportContext]):
    """A step whose rollback removes exactly the files it recorded."""

    def rollback(self, context: ExportContext, result: StepResult) -> None:
        remove_written(result)


class Coco(WritingStep):
    name = "coco"
    progress_weight = 0.3

    def execute(self, context: ExportContext) -> StepResult:
        if "coco" not in context.params.formats:
            return StepResult(success=True, data={"skipped": True})
        writer = WrittenFiles(context)
        document = to_coco(context.items[0])
        writer.write(
            output_folder(context.params.output_uri) / "coco" / "annotations.json",
            json.dumps(document, indent=2),
        )
        return StepResult(success=True, rollback_data=writer.rollback_data())


class Yolo(WritingStep):
    name = "yolo"
    progress_weight = 0.3

    def execute(self, context: ExportContext) -> StepResult:
        if "yolo" not in context.params.formats:
            return StepResult(success=True, data={"skipped": True})
        writer = WrittenFiles(context)
        dataset = context.items[0]
        folder = output_folder(context.params.output_uri) / "yolo"
        labels = to_yolo(dataset)
        for index, (name, text) in enumerate(labels.items(), start=1):
            writer.write(folder / "labels" / name, text)
            context.set_progress(index, len(labels) + 1)
        writer.write(folder / "classes.txt", "\n".join(dataset.categories) + "\n")
        return StepResult(success=True, rollback_data=writer.rollback_data())


class Check(BaseStep[ExportContext]):
    """Checks the output against its format: COCO through pycocotools, YOLO line by line."""

    name = "check"
    progress_weight = 0.2

    def execute(self, context: ExportContext) -> StepResult:
        dataset = context.items[0]
        out = output_folder(context.params.output_uri)
        problems: list[str] = []
        if "coco" in context.params.formats:
            problems += check_coco(out / "coco" / "annotations.json", dataset)
        if "yolo" in context.params.formats:
            problems += check_yolo(out / "yolo", len(dataset.categories))
        if problems:
            return StepResult(
                success=False, error="the export is not valid:\n  " + "\n  ".join(problems)
            )
        return StepResult(success=True, data={"checked": list(context.params.formats)})


def check_coco(path: Path, dataset: Any) -> list[str]:
    import contextlib
    import io

    from pycocotools.coco import COCO  # imported here: it prints while loading, and is slow

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    problems = []
    if len(coco.getImgIds()) != len(dataset.images):
        problems.append(f"COCO has {len(coco.getImgIds())} images, expected {len(dataset.images)}")
    expected_boxes = sum(len(image.boxes) for image in dataset.images)
    if len(coco.getAnnIds()) != expected_boxes:
        problems.append(f"COCO has {len(coco.getAnnIds())} annotations, expected {expected_boxes}")
    if [c["name"] for c in coco.loadCats(coco.getCatIds())] != list(dataset.categories):
        problems.append("COCO categories differ from the dataset's")
    return problems


def check_yolo(folder: Path, classes: int) -> list[str]:
    problems = []
    for label in sorted((folder / "labels").rglob("*.txt")):
        for number, line in enumerate(label.read_text().splitlines(), start=1):
            parts = line.split()
            try:
                values = [float(part) for part in parts[1:]]
                valid = (
                    len(parts) == 5
                    and 0 <= int(parts[0]) < classes
                    and all(0 <= v <= 1 for v in values)
                )
            except ValueError:
                valid = False
            if not valid:
                name = label.relative_to(folder / "labels")
                problems.append(f"{name} line {number}: not 'class cx cy w h' within 0..1")
    return problems
