"""Crash a real run with ``kill -9`` after a chosen step, then roll it back from the journal.

The test a plugin author most needs and least often writes: does my rollback work from
the journal alone, in a process that never saw the run, started from another folder?

>>> crashed = crash_after_step("train-classifier", {"model_uri": "model.pkl"}, "save_model",
...                            cwd=tmp_path / "here", home=tmp_path / "home")  # doctest: +SKIP
>>> crashed.roll_back(cwd=tmp_path / "elsewhere").returncode  # doctest: +SKIP
0
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synapse_sdk.journal.store import RunJournal
from synapse_sdk.runtime.settings import HOME_ENV, LOAD_ENV

__all__ = ["CrashedRun", "crash_after_step"]

_CHILD = """
import json, os, signal, sys
from synapse_sdk.host.hookspecs import hookimpl
from synapse_sdk.host.manager import PluginHost
from synapse_sdk.run.runner import run_action
from synapse_sdk.engine.utility import StepWrapper

action, params, step_name = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]

class KillAfter(StepWrapper):
    prefix = ""  # the same name: recovery rebuilds the plan without this plugin
    def execute(self, context):
        self.inner.execute(context)
        os.kill(os.getpid(), signal.SIGKILL)

class Crash:
    @hookimpl
    def synapse_wrap_step(self, step):
        return KillAfter(step) if step.name == step_name else None

host = PluginHost()
host.register(Crash(), "crash")
run_action(action, params, plugins=host)
"""


@dataclass(frozen=True)
class CrashedRun:
    """A run killed mid-way: ``needs_rollback`` in the journal under ``home``."""

    run_id: str
    home: Path
    env: Mapping[str, str]

    def roll_back(
        self, *, cwd: Path, params_file: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the real ``synapse runs rollback RUN_ID`` in ``cwd``; return its outcome."""
        extra = ["--params-file", str(params_file)] if params_file is not None else []
        return subprocess.run(
            [sys.executable, "-m", "synapse_sdk", "runs", "rollback", self.run_id, *extra],
            cwd=cwd,
            env=dict(self.env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def state(self) -> str:
        """The run's state in the journal now."""
        journal = RunJournal(self.home / "runs.db")
        try:
            run = journal.get_run(self.run_id)
        finally:
            journal.close()
        assert run is not None
        return run.state


def crash_after_step(
    action: str,
    params: Mapping[str, Any],
    step: str,
    *,
    cwd: Path,
    home: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> CrashedRun:
    """Run ``action`` in a child process started in ``cwd``; ``kill -9`` it after ``step``.

    The step (matched by its registered name) does its work, then the process dies
    before anything else is journalled. Installed hook plugins are not loaded, in the
    run or in :meth:`CrashedRun.roll_back` (``SYNAPSE_LOAD_PLUGINS`` is empty), so both
    see the action's own plan. The journal lives in ``home`` (``SYNAPSE_HOME``).

    Raises:
        AssertionError: the child was not killed (the step never ran, or it failed),
            with its stderr.
    """
    cwd.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, **(env or {}), HOME_ENV: str(home), LOAD_ENV: ""}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, action, json.dumps(dict(params)), step],
        cwd=cwd,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert child.returncode == -9, f"the run was not killed after '{step}':\n{child.stderr}"
    journal = RunJournal(home / "runs.db")
    try:
        [run] = journal.list_runs(limit=1)
    finally:
        journal.close()
    return CrashedRun(run.run_id, home, child_env)
