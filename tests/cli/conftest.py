from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.distributions import install_demo

SYNAPSE = str(Path(sys.executable).with_name("synapse"))


class Synapse:
    """Runs the real ``synapse`` console script in a subprocess with the demo plugins installed."""

    def __init__(self, site: Path, tmp_path: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(site),
            "DEMO_SENTINEL_FILE": str(tmp_path / "sentinel-imported"),
            "COLUMNS": "40",
        }
        self.env.pop("SYNAPSE_STRICT_PLUGINS", None)
        self.env.pop("SYNAPSE_DISABLE_PLUGINS", None)

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SYNAPSE, *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [SYNAPSE, *args],
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )


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
