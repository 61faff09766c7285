"""Shared fixtures of the pipeline tests: a three-action chain over real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.pipeline_actions import PrepareAction, PublishAction, TrainAction

from synapse_sdk.journal.store import RunJournal
from synapse_sdk.pipeline import Pipeline

MAPPINGS = {
    "train.data_uri": "prepare.output_uri",
    "publish.annotations_uri": "prepare.output_uri",
    "publish.model_uri": "train.model_uri",
}


def chain(tmp_path: Path, **overrides: dict[str, Any]) -> Pipeline:
    """prepare -> train -> publish under ``tmp_path``; ``overrides`` add params by id."""
    params: dict[str, dict[str, Any]] = {
        "prepare": {"out": str(tmp_path / "prep")},
        "train": {"model_uri": str(tmp_path / "models" / "m.txt")},
        "publish": {"target": str(tmp_path / "pub")},
    }
    for stage, extra in overrides.items():
        params[stage] = {**params[stage], **extra}
    return Pipeline(
        [PrepareAction, TrainAction, PublishAction],
        params=params,
        mappings=MAPPINGS,
        name="nightly",
    )


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (the journal's folder aside) with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "home" not in path.relative_to(root).parts
    }


@pytest.fixture
def journal(tmp_path: Path) -> Any:
    opened = RunJournal(tmp_path / "home" / "runs.db")
    yield opened
    opened.close()


@pytest.fixture
def existing(tmp_path: Path) -> dict[str, bytes]:
    """Files that were there before: one the publish step overwrites, one it never touches."""
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "data.txt").write_text("the previous release's data\n")
    (tmp_path / "pub" / "notes.txt").write_text("kept by the owner\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "old.txt").write_text("an older model\n")
    return snapshot(tmp_path)
