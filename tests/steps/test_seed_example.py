"""The Quick Example of the user's pipeline-patterns document runs verbatim.

The example is kept in ``data/workflow_example.py.txt`` (a ``.txt`` so that ruff leaves it
byte-for-byte as the user wrote it). When the user's document sits beside the clone, the
copy must equal the code block in it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
COPY = HERE / "data" / "workflow_example.py.txt"
SEED_DOC = HERE.parents[2] / "shared" / "seed" / "pipeline-patterns.md"
BLOCK = re.compile(r'```python title="workflow_example\.py"\n(.*?)```', re.DOTALL)


def test_copy_matches_the_seed_document() -> None:
    if not SEED_DOC.exists():
        pytest.skip(f"{SEED_DOC} is not beside this clone")
    match = BLOCK.search(SEED_DOC.read_text(encoding="utf-8"))
    assert match is not None, "the seed document lost its workflow_example.py block"
    assert COPY.read_text(encoding="utf-8") == match.group(1)


def test_quick_example_runs_verbatim_and_prints_the_documented_result(tmp_path: Path) -> None:
    script = tmp_path / "workflow_example.py"
    script.write_text(COPY.read_text(encoding="utf-8") + "print(result)\n", encoding="utf-8")

    completed = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "{'success': True, 'steps_executed': 3, 'steps_total': 3}\n"
