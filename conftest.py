"""Repository-wide test setup.

Runs are journalled in a per-test folder, never in ~/.synapse. Every Ray process the
tests start (a cluster, a local Ray started on demand, in this process or in a
``synapse`` subprocess, which inherits this environment) listens and connects on
127.0.0.1 only and authenticates with a token made for this test session, so nothing
is read from or written to ~/.ray.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


@pytest.fixture(autouse=True)
def _isolated_synapse_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "synapse-home"
    monkeypatch.setenv("SYNAPSE_HOME", str(home))
    return home
