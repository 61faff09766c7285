"""Ray is optional: the SDK never imports it unless a run asks for it, and says how to get it.

"Ray is not installed" is made real for a subprocess by putting first on its path a
``ray`` package whose import fails the way a missing one does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.cli import Synapse


@pytest.fixture
def no_ray(tmp_path: Path, synapse: Synapse) -> Synapse:
    shadow = tmp_path / "no-ray"
    (shadow / "ray").mkdir(parents=True)
    (shadow / "ray" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'ray'\", name='ray')\n"
    )
    synapse.env["PYTHONPATH"] = f"{shadow}:{synapse.env['PYTHONPATH']}"
    return synapse


def test_the_ray_executor_without_ray_says_how_to_install_it(
    no_ray: Synapse, tmp_path: Path
) -> None:
    params = json.dumps({"target": str(tmp_path)})
    result = no_ray("run", "demo-fanout", "--executor", "ray", "--params", params)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: the Ray executor needs Ray, which is not installed (No module named 'ray'). "
        "Install it with: pip install 'ray>=2.40' (or reinstall this SDK from its clone with "
        "its ray extra: pip install -e '/path/to/synapse-sdk[ray]')"
    )
    assert not (tmp_path / "home" / "runs.db").exists()
    assert not (tmp_path / "prepared.txt").exists()


def test_local_runs_and_fan_out_work_without_ray(no_ray: Synapse, tmp_path: Path) -> None:
    params = json.dumps({"target": str(tmp_path), "items": 5})
    result = no_ray("run", "demo-fanout", "--json", "--params", params)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in tmp_path.glob("item-*.txt")) == [
        f"item-{n}.txt" for n in range(5)
    ]


def test_importing_and_running_locally_never_imports_ray(tmp_path: Path) -> None:
    sample = Path(__file__).parents[2] / "plugins_examples/upload-files/sample_data"
    script = textwrap.dedent(
        f"""
        import sys
        import synapse_sdk, synapse_sdk.cli, synapse_sdk.fanout
        from synapse_sdk.plugins import PluginHost, RuntimeContext, run_action
        from synapse_sdk.plugins.steps import BaseStepContext

        context = BaseStepContext(runtime_ctx=RuntimeContext())
        context.current_step = "work"
        assert context.map(abs, [-1, -2]) == [1, 2]
        run_action(
            "upload-files",
            {{"source": {str(sample)!r}, "target": {str(tmp_path / "out")!r}}},
            plugins=PluginHost(),
        )
        print(sorted(name for name in sys.modules if name == "ray" or name.startswith("ray.")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"SYNAPSE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "out" / "manifest.json").exists()
