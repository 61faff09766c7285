from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import Synapse
from support.distributions import install_demo


@pytest.fixture
def synapse(tmp_path: Path) -> Synapse:
    return Synapse(install_demo(tmp_path / "site"), tmp_path)


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for index in range(5):
        (source / f"file{index}.txt").write_text(f"content {index}")
    return source


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def parse_lines() -> Callable[[str], list[dict[str, Any]]]:
    return json_lines
