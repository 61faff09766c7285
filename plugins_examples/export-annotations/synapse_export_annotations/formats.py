"""COCO and YOLO renderings of a dataset."""

from __future__ import annotations

from typing import Any

from synapse_export_annotations.dataset import Dataset, label_name


def to_coco(dataset: Dataset) -> dict[str, Any]:
    """A COCO detection document (ids start at 1, bbox is [x, y, width, height])."""
    category_ids = {name: index for index, name in enumerate(dataset.categories, start=1)}
    images, annotations = [], []
    for image_id, image in enumerate(dataset.images, start=1):
        images.append(
            {"id": image_id, "file_name": image.file, "width": image.width, "height": image.height}
        )
        for box in image.boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_ids[box.category],
                    "bbox": [box.x, box.y, box.width, box.height],
                    "area": box.width * box.height,
                    "iscrowd": 0,
                }
            )
    categories = [
        {"id": i, "name": name, "supercategory": "object"} for name, i in category_ids.items()
    ]
    return {"images": images, "annotations": annotations, "categories": categories}


def to_yolo(dataset: Dataset) -> dict[str, str]:
    """``{label file name: text}``: one ``class cx cy w h`` line per box, normalised to 0..1."""
    labels = {}
    for image in dataset.images:
        lines = []
        for box in image.boxes:
            cx = (box.x + box.width / 2) / image.width
            cy = (box.y + box.height / 2) / image.height
            lines.append(
                f"{dataset.categories.index(box.category)} {cx:.6f} {cy:.6f} "
                f"{box.width / image.width:.6f} {box.height / image.height:.6f}"
            )
        labels[label_name(image.file)] = "\n".join(lines) + ("\n" if lines else "")
    return labels
