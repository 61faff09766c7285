"""Repository-wide test setup: runs are journalled in a per-test folder, never in ~/.synapse."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_synapse_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "synapse-home"
    monkeypatch.setenv("SYNAPSE_HOME", str(home))
    return home
