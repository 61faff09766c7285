"""``synapse run`` never says a run was rolled back when a rollback failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SYNAPSE = str(Path(sys.executable).with_name("synapse"))
TESTS = Path(__file__).resolve().parents[1]


def test_a_failed_rollback_is_reported_as_such_not_as_rolled_back(tmp_path: Path) -> None:
    done = subprocess.run(
        [SYNAPSE, "run", "support.broken_rollback:BrokenRollbackAction"],
        env={
            **os.environ,
            "PYTHONPATH": str(TESTS),
            "SYNAPSE_HOME": str(tmp_path / "home"),
            "SYNAPSE_LOAD_PLUGINS": "",
        },
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 1
    assert "some rollbacks failed, so not everything was undone" in done.stderr
    assert "were rolled back" not in done.stderr
