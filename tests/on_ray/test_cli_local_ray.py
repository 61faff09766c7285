"""``synapse run --executor ray`` with no address starts a local Ray for the run."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import Synapse


def test_without_an_address_a_local_ray_is_started_for_the_run(
    synapse: Synapse, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    params = json.dumps({"target": str(out), "items": 12})
    result = synapse("run", "demo-fanout", "--executor", "ray", "--params", params)
    assert result.returncode == 0, result.stderr
    assert "starting a local Ray..." in result.stderr
    assert "✓ demo-fanout finished" in result.stderr
    assert json.loads(result.stdout) == {"success": True, "steps_executed": 3, "steps_total": 3}
    assert len(list(out.glob("item-*.txt"))) == 12
    action_pid = (out / "prepared.txt").read_text()
    assert action_pid not in {path.read_text() for path in out.glob("item-*.txt")}
