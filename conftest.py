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
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse_sdk.journal.store import RunJournal

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


@pytest.fixture(autouse=True)
def _isolated_synapse_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "synapse-home"
    monkeypatch.setenv("SYNAPSE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _test_journals_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close, after each test, the run journals the test's own code opened.

    Python 3.13 warns about a SQLite connection left to the garbage collector, and the
    suite turns warnings into errors (in whichever later test the collector runs). Only
    journals opened by test code are closed here: one the SDK opens and leaks still
    warns, as it should.
    """
    opened: list[RunJournal] = []
    original = RunJournal.__init__

    def tracking(self: RunJournal, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        caller = sys._getframe(1).f_code.co_filename
        if f"{os.sep}synapse_sdk{os.sep}" not in caller:
            opened.append(self)

    monkeypatch.setattr(RunJournal, "__init__", tracking)
    yield
    for journal in opened:
        journal.close()
