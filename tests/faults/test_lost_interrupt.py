"""A Ctrl-C whose exception CPython discards (a weakref callback) still stops the run.

The signal is real and lands inside a weakref callback, where CPython prints "Exception
ignored in ..." and drops the ``KeyboardInterrupt``. The run must still end as if the
exception had arrived: rolled back, exit 130, the journal saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.lost_interrupt import LostInterruptAction

from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost, run_action
from synapse_sdk.testing import recording_context

SYNAPSE = str(Path(sys.executable).with_name("synapse"))
TESTS = Path(__file__).resolve().parents[1]


def test_in_process_the_run_is_rolled_back_and_the_interrupt_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    discarded: list[type[BaseException] | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda raised: discarded.append(raised.exc_type))
    target = tmp_path / "target"
    target.mkdir()
    journal = RunJournal(tmp_path / "runs.db")
    ctx, _ = recording_context(job_id=None)

    with pytest.raises(KeyboardInterrupt):
        run_action(
            LostInterruptAction,
            {"target": str(target)},
            ctx=ctx,
            plugins=PluginHost(),
            journal=journal,
        )

    assert discarded == [KeyboardInterrupt]  # CPython did discard it
    assert list(target.iterdir()) == []  # the first step's write is undone
    [record] = journal.list_runs()
    assert record.state == "rolled_back"
    journal.close()


def test_the_command_exits_130_with_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "PYTHONPATH": str(TESTS),
        "SYNAPSE_HOME": str(home),
        "SYNAPSE_LOAD_PLUGINS": "",
    }
    done = subprocess.run(
        [
            SYNAPSE,
            "run",
            "support.lost_interrupt:LostInterruptAction",
            "--params",
            json.dumps({"target": str(target)}),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )

    assert "Exception ignored" in done.stderr
    assert done.returncode == 130, done.stderr
    assert list(target.iterdir()) == []
    listed = subprocess.run(
        [SYNAPSE, "runs", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert [run["state"] for run in json.loads(listed.stdout)] == ["rolled_back"]
