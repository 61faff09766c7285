"""The docs site builds in strict mode, with an API reference rendered from the docstrings.

A broken link or anchor, a missing snippet, a page left out of the nav or a docstring
mkdocstrings cannot render fails `mkdocs build --strict`, so it fails here too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_site_builds_strictly_with_the_api_reference(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,  # the snippet includes are read from paths relative to the clone
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert (site / "index.html").is_file()
    assert (site / "search" / "search_index.json").is_file()
    # Each API page holds the objects mkdocstrings rendered from the module's docstrings.
    # The steps face loads Orchestrator and StepTimeout on first use; they are documented
    # all the same.
    reference = {
        "plugins": ["synapse_sdk.plugins.BaseAction"],
        "steps": [
            "synapse_sdk.plugins.steps.BaseStep",
            "synapse_sdk.plugins.steps.Orchestrator",
            "synapse_sdk.plugins.steps.StepTimeout",
        ],
        "exceptions": ["synapse_sdk.errors.StepInputError"],
        "testing": ["synapse_sdk.testing.crash_after_step"],
    }
    for page, anchors in reference.items():
        html = (site / "api" / page / "index.html").read_text(encoding="utf-8")
        for anchor in anchors:
            assert f'id="{anchor}"' in html, (page, anchor)
