"""Replaced content reaches the caller's undo area when the run's worker keeps its own.

The caller has no ``SYNAPSE_HOME`` and its own ``HOME``; the cluster's processes have
another ``HOME`` (``ray_cluster_home``). So the worker that runs the action keeps what it
replaces in an undo area the caller does not share, as a worker on another machine would.
Killed with ``kill -9``, the run must still be undone by ``synapse runs rollback`` on the
caller's side after the worker's area is gone (the other machine unreachable).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SYNAPSE = str(Path(sys.executable).with_name("synapse"))
TESTS = Path(__file__).resolve().parents[1]
ACTION = "support.remote_undo:ReplaceThenWait"
BEFORE = "was here before the run"


def caller_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SYNAPSE_")}
    home = tmp_path / "caller-home"
    home.mkdir()
    env.update(HOME=str(home), PYTHONPATH=str(TESTS), SYNAPSE_LOAD_PLUGINS="", COLUMNS="80")
    return env


def synapse(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYNAPSE, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def target_folder(tmp_path: Path) -> Path:
    target = tmp_path / "target"
    target.mkdir()
    (target / "existing.txt").write_text(BEFORE)
    return target


def only_run(env: dict[str, str], cwd: Path) -> dict[str, str]:
    listed = synapse(env, cwd, "runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    return dict(run)


def test_kill_9_then_runs_rollback_restores_from_the_callers_copy(
    ray_cluster: str, ray_cluster_home: Path, tmp_path: Path
) -> None:
    env, target = caller_env(tmp_path), target_folder(tmp_path)
    params = json.dumps({"target": str(target), "hang": 120})
    process = subprocess.Popen(
        [SYNAPSE, "run", ACTION, "--ray-address", ray_cluster, "--params", params],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while (target / "existing.txt").read_text() == BEFORE:  # replaced: the copy is sent
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the run never replaced the file"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)

    run_id = only_run(env, tmp_path)["run_id"]
    worker_area = ray_cluster_home / ".synapse" / "undo" / run_id
    caller_area = tmp_path / "caller-home" / ".synapse" / "undo" / run_id
    assert caller_area.is_dir()
    assert [p.name for p in caller_area.iterdir() if not p.name.startswith(".")] != []
    shutil.rmtree(worker_area, ignore_errors=True)  # the worker's machine is out of reach

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rolled = synapse(env, elsewhere, "runs", "rollback", run_id)

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert (target / "existing.txt").read_text() == BEFORE
    assert only_run(env, tmp_path)["state"] == "rolled_back"
    assert not caller_area.exists()


def test_a_run_elsewhere_leaves_no_undo_area_on_either_side(
    ray_cluster: str, ray_cluster_home: Path, tmp_path: Path
) -> None:
    env = caller_env(tmp_path)
    succeeded_target, failed_target = target_folder(tmp_path), tmp_path / "failed"
    failed_target.mkdir()
    (failed_target / "existing.txt").write_text(BEFORE)

    for target, params, code in ((succeeded_target, {}, 0), (failed_target, {"fail": True}, 1)):
        params = json.dumps({"target": str(target), **params})
        done = synapse(
            env, tmp_path, "run", ACTION, "--ray-address", ray_cluster, "--params", params
        )
        assert done.returncode == code, done.stderr

    assert (succeeded_target / "existing.txt").read_text() == "replaced by the run"
    assert (failed_target / "existing.txt").read_text() == BEFORE  # the worker's own copy
    listed = json.loads(synapse(env, tmp_path, "runs", "list", "--json").stdout)
    assert sorted(run["state"] for run in listed) == ["rolled_back", "succeeded"]
    for run in listed:
        assert not (ray_cluster_home / ".synapse" / "undo" / run["run_id"]).exists()
        assert not (tmp_path / "caller-home" / ".synapse" / "undo" / run["run_id"]).exists()
