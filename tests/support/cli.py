"""Run the real ``synapse`` console script in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
        # Only the demo plugins: hook plugins installed in the test environment (the
        # examples) must not change what these tests see.
        self.env["SYNAPSE_LOAD_PLUGINS"] = "announce,stamp,exploding,sentinel"
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
