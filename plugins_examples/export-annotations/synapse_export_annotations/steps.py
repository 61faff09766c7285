"""The steps of ``export-annotations``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synapse_sdk.actions.export import ExportContext
from synapse_sdk.plugins.steps import BaseStep, StepResult
from synapse_sdk.storage import canonical_url

from synapse_export_annotations.dataset import load_dataset
from synapse_export_annotations.formats import to_coco, to_yolo


def output_root(context: ExportContext) -> str:
    """The canonical URL of the output folder (``file:///abs/out``, ``s3://bucket/out``)."""
    return canonical_url(context.params.output_uri, context.storage.options)


def write(context: ExportContext, url: str, text: str) -> None:
    """Write ``text`` to ``url`` through ``context.storage``, which undoes it on rollback.

    An existing file is replaced only with ``overwrite=true``; the SDK then keeps its
    previous content and puts it back if the run rolls back.
    """
    if not context.params.overwrite and context.storage.exists(url):
        raise FileExistsError(f"{url} already exists; pass overwrite=true to replace it")
    context.written.append(context.storage.write_text(url, text))


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
        context.set_result(images=len(dataset.images))
        return StepResult(success=True, data={"images": len(dataset.images), "boxes": boxes})


class Coco(BaseStep[ExportContext]):
    name = "coco"
    progress_weight = 0.3

    def execute(self, context: ExportContext) -> StepResult:
        if "coco" not in context.params.formats:
            return StepResult(success=True, data={"skipped": True})
        document = to_coco(context.items[0])
        write(
            context, f"{output_root(context)}/coco/annotations.json", json.dumps(document, indent=2)
        )
        return StepResult(success=True)


class Yolo(BaseStep[ExportContext]):
    name = "yolo"
    progress_weight = 0.3

    def execute(self, context: ExportContext) -> StepResult:
        if "yolo" not in context.params.formats:
            return StepResult(success=True, data={"skipped": True})
        dataset = context.items[0]
        folder = f"{output_root(context)}/yolo"
        labels = to_yolo(dataset)
        for index, (name, text) in enumerate(labels.items(), start=1):
            write(context, f"{folder}/labels/{name}", text)
            context.set_progress(index, len(labels) + 1)
        write(context, f"{folder}/classes.txt", "\n".join(dataset.categories) + "\n")
        return StepResult(success=True)


class Check(BaseStep[ExportContext]):
    """Checks the output against its format: COCO through pycocotools, YOLO line by line."""

    name = "check"
    progress_weight = 0.2

    def execute(self, context: ExportContext) -> StepResult:
        dataset = context.items[0]
        out = output_root(context)
        fs = context.storage.fs(out)
        problems: list[str] = []
        if "coco" in context.params.formats:
            problems += check_coco(fs, f"{out}/coco/annotations.json", dataset)
        if "yolo" in context.params.formats:
            problems += check_yolo(fs, f"{out}/yolo", len(dataset.categories))
        if problems:
            return StepResult(
                success=False, error="the export is not valid:\n  " + "\n  ".join(problems)
            )
        # Handed on only once the output is known to be valid: a pipeline reads it from here.
        context.set_result(output_uri=out, formats=list(context.params.formats))
        return StepResult(success=True, data={"checked": list(context.params.formats)})


def check_coco(fs: Any, url: str, dataset: Any) -> list[str]:
    import contextlib
    import io

    from pycocotools.coco import COCO  # imported here: it prints while loading, and is slow

    with fs.open(url, "rb") as file:
        document = json.load(file)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = document
        coco.createIndex()
    problems = []
    if len(coco.getImgIds()) != len(dataset.images):
        problems.append(f"COCO has {len(coco.getImgIds())} images, expected {len(dataset.images)}")
    expected_boxes = sum(len(image.boxes) for image in dataset.images)
    if len(coco.getAnnIds()) != expected_boxes:
        problems.append(f"COCO has {len(coco.getAnnIds())} annotations, expected {expected_boxes}")
    if [c["name"] for c in coco.loadCats(coco.getCatIds())] != list(dataset.categories):
        problems.append("COCO categories differ from the dataset's")
    return problems


def check_yolo(fs: Any, folder: str, classes: int) -> list[str]:
    problems = []
    labels = fs.unstrip_protocol(fs._strip_protocol(f"{folder}/labels"))
    for label in sorted(fs.find(f"{folder}/labels")):
        text = fs.cat_file(label).decode("utf-8")
        name = fs.unstrip_protocol(label).removeprefix(labels + "/")
        for number, line in enumerate(text.splitlines(), start=1):
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
                problems.append(f"{name} line {number}: not 'class cx cy w h' within 0..1")
    return problems
