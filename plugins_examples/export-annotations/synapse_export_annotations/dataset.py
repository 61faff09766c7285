"""The source dataset: reading and validating ``annotations.json`` against the images.

Pillow is imported inside :func:`load_dataset`, the one function that opens images:
``synapse actions list`` and ``plan`` import this module, and must stay quick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Box:
    category: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class LabelledImage:
    file: str
    width: int
    height: int
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class Dataset:
    categories: tuple[str, ...]
    images: tuple[LabelledImage, ...]


def label_name(file: str) -> str:
    """The YOLO label file of an image: its relative path with the suffix ``.txt``."""
    return str(PurePosixPath(file).with_suffix(".txt"))


def name_problem(file: object) -> str | None:
    """Why an image name cannot be used, or None.

    Names become paths under ``images/`` (read) and ``labels/`` (written), so a name must
    stay inside those folders: relative, without ``..``, without backslashes or NUL.
    """
    if not isinstance(file, str) or not PurePosixPath(file).name:
        return "the image name must be a file name or a relative path to one"
    if "\\" in file or "\0" in file:
        return "the image name must not contain a backslash or a NUL character"
    path = PurePosixPath(file)
    if path.is_absolute() or ".." in path.parts:
        return "the image name must be a path inside images/ (not absolute, no '..')"
    return None


def load_dataset(folder: Path) -> tuple[Dataset | None, list[str]]:
    """The dataset, or None and every problem found (missing images, boxes outside...)."""
    from PIL import Image

    problems: list[str] = []
    manifest = folder / "annotations.json"
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return None, [f"{manifest}: {exc}"]
    categories = tuple(raw.get("categories", []))
    images: list[LabelledImage] = []
    labels: dict[str, str] = {}
    for entry in raw.get("images", []):
        name = entry.get("file", "?")
        problem = name_problem(name)
        if problem is not None:
            problems.append(f"{name!r}: {problem}")
            continue
        label = label_name(name)
        if label in labels:
            problems.append(f"{name}: its label file {label} is also that of {labels[label]}")
            continue
        labels[label] = name
        path = folder / "images" / name
        try:
            with Image.open(path) as image:
                width, height = image.size
        except OSError:
            problems.append(f"{name}: image missing or unreadable")
            continue
        boxes = []
        for index, box in enumerate(entry.get("boxes", [])):
            parsed = Box(box["category"], box["x"], box["y"], box["width"], box["height"])
            if parsed.category not in categories:
                problems.append(f"{name} box {index}: unknown category '{parsed.category}'")
            if parsed.width <= 0 or parsed.height <= 0:
                problems.append(f"{name} box {index}: width and height must be positive")
            if (
                parsed.x < 0
                or parsed.y < 0
                or parsed.x + parsed.width > width
                or parsed.y + parsed.height > height
            ):
                problems.append(f"{name} box {index}: outside the {width}x{height} image")
            boxes.append(parsed)
        images.append(LabelledImage(name, width, height, tuple(boxes)))
    if not images and not problems:
        problems.append(f"{manifest}: no images listed")
    return (None, problems) if problems else (Dataset(categories, tuple(images)), [])
