"""A plugin that calls ``sys.exit()`` during a run fails that run (rolled back), no more.

Through the real command, with a real fake distribution whose hooks exit: an observer
hook that exits is logged and skipped; a step wrapper whose ``execute`` exits is a step
failure, rolled back, exit 1; a hook that shapes the plan and exits is a plugin error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import Synapse
from support.distributions import install_demo, make_distribution

EXITING_HOOKS = """
import os
import sys

from synapse_sdk.plugins import hookimpl
from synapse_sdk.plugins.steps import StepWrapper


class ExitingStep(StepWrapper):
    prefix = "exiting_"

    def execute(self, context):
        self.inner.execute(context)  # the step did its work: something to undo
        sys.exit(5)


@hookimpl
def synapse_before_run(action, context):
    if os.environ.get("EXIT_IN") == "before_run":
        sys.exit(4)


@hookimpl
def synapse_wrap_step(action, step):
    if os.environ.get("EXIT_IN") == "step" and step.name.endswith("copy"):
        return ExitingStep(step)
    return None


@hookimpl
def synapse_setup_steps(action, registry):
    if os.environ.get("EXIT_IN") == "setup_steps":
        sys.exit(6)
"""


@pytest.fixture
def synapse(tmp_path: Path) -> Synapse:
    site = install_demo(tmp_path / "site")
    make_distribution(
        site,
        "demo-exiting-hooks",
        "0.1.0",
        modules={"demo_exiting_hooks": EXITING_HOOKS},
        entry_points={"synapse_sdk.plugins": {"exiting_hooks": "demo_exiting_hooks"}},
    )
    cli = Synapse(site, tmp_path)
    cli.env["SYNAPSE_LOAD_PLUGINS"] = "exiting_hooks"
    return cli


def upload(synapse: Synapse, tmp_path: Path, exit_in: str) -> tuple[int, str, list[str]]:
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    for index in range(3):
        (source / f"file{index}.txt").write_text(f"content {index}")
    params = json.dumps({"source": str(source), "target": str(tmp_path / "target")})
    home = str(tmp_path / "home")
    result = synapse("run", "demo-upload", "--params", params, EXIT_IN=exit_in, SYNAPSE_HOME=home)
    listed = synapse("runs", "list", "--json", SYNAPSE_HOME=home)
    states = [run["state"] for run in json.loads(listed.stdout)]
    return result.returncode, result.stderr, states


def test_a_step_wrapper_that_exits_is_a_step_failure_rolled_back(
    synapse: Synapse, tmp_path: Path
) -> None:
    code, stderr, states = upload(synapse, tmp_path, "step")
    assert code == 1, stderr
    assert "sys.exit(5)" in stderr
    assert "rolled back" in stderr
    assert states == ["rolled_back"]
    assert not (tmp_path / "target").exists()
    assert "Traceback" not in stderr


def test_an_observer_hook_that_exits_is_skipped_and_the_run_goes_on(
    synapse: Synapse, tmp_path: Path
) -> None:
    code, stderr, states = upload(synapse, tmp_path, "before_run")
    assert code == 0, stderr
    assert states == ["succeeded"]
    assert sorted(path.name for path in (tmp_path / "target").iterdir()) == [
        "file0.txt",
        "file1.txt",
        "file2.txt",
    ]


def test_a_plan_hook_that_exits_is_a_plugin_error_before_anything_runs(
    synapse: Synapse, tmp_path: Path
) -> None:
    code, stderr, _ = upload(synapse, tmp_path, "setup_steps")
    assert code == 1, stderr
    assert "plugin 'exiting_hooks' failed in synapse_setup_steps: SystemExit: 6" in stderr
    assert not (tmp_path / "target").exists()
    assert "Traceback" not in stderr
