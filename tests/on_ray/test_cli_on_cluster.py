"""``synapse run --executor ray``: the real command, a real Ray cluster joined by address."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from support.cli import Synapse
from support.ports import free_port

from synapse_sdk.journal.store import RunJournal
from synapse_sdk.storage import STORAGE_KEY

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "plugins_examples/upload-files/sample_data"


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def only_run(home: Path) -> Any:
    journal = RunJournal(home / "runs.db")
    try:
        [run] = journal.list_runs()
        return journal.get_run(run.run_id)
    finally:
        journal.close()


def stop(process: subprocess.Popen[str]) -> None:
    """Make sure the command is gone and its pipes are closed."""
    process.kill()
    process.communicate()


def fanout_params(target: Path, **extra: Any) -> str:
    return json.dumps({"target": str(target), **extra})


def test_an_upload_runs_on_the_cluster_and_streams_its_events_back(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    target = tmp_path / "uploaded"
    params = json.dumps({"source": str(SAMPLE_DATA), "target": str(target)})
    result = synapse(
        "run", "upload-files", "--ray-address", ray_cluster, "--json", "--params", params
    )
    assert result.returncode == 0, result.stderr
    events = lines(result.stdout)
    assert events[-1]["success"] is True
    assert events[-1]["result"] == {"success": True, "steps_executed": 5, "steps_total": 5}
    kinds = {event["event"] for event in events}
    assert {"progress", "log", "step", "result"} <= kinds
    assert [e["percent"] for e in events if e["event"] == "progress"][-1] == 100
    uploaded = files(target)
    manifest = json.loads(uploaded.pop("manifest.json"))
    assert uploaded == files(SAMPLE_DATA)
    assert len(manifest["objects"]) == len(uploaded)
    run = only_run(tmp_path / "home")
    assert run.state == "succeeded"
    assert [step.state for step in run.steps] == ["succeeded"] * 5
    entries = run.steps[2].rollback_data[STORAGE_KEY]
    written = [entry["url"] for entry in entries if entry["op"] == "written"]
    assert sorted(Path(url).name for url in written) == sorted(Path(name).name for name in uploaded)


def test_progress_arrives_while_the_remote_run_is_still_going(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    process = synapse.popen(
        "run",
        "demo-fanout",
        "--ray-address",
        ray_cluster,
        "--json",
        "--params",
        fanout_params(target, hold=4, items=4),
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            event = json.loads(line)
            if event["event"] == "progress" and event["step"] == "prepare":
                still_running = process.poll() is None
                break
        else:
            pytest.fail("no progress event before the output ended")
        assert still_running
        assert 0 < event["percent"] < 20
        rest = process.stdout.read()
        assert process.wait(timeout=60) == 0
        assert lines(rest)[-1]["success"] is True
    finally:
        stop(process)


def test_a_failing_step_rolls_back_on_the_cluster_with_the_local_exit_code(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "existing.txt").write_text("was here before")
    before = files(target)
    params = json.dumps({"source": str(SAMPLE_DATA), "target": str(target)})
    result = synapse(
        "run",
        "upload-files",
        "--ray-address",
        ray_cluster,
        "--json",
        "--params",
        params,
        SYNAPSE_LOAD_PLUGINS="faults",
        SYNAPSE_FAULT="manifest:raise",
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    final = lines(result.stdout)[-1]
    assert final["error"].startswith("step 'manifest' failed: RuntimeError: injected error")
    assert "were rolled back" in final["error"]
    rolled = [e["step"] for e in lines(result.stdout) if e.get("status") == "rolled_back"]
    assert rolled == ["manifest", "upload", "validate", "discover"]
    assert files(target) == before
    assert only_run(tmp_path / "home").state == "rolled_back"


def test_a_failing_item_of_a_fan_out_fails_the_run_and_every_success_is_undone(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    result = synapse(
        "run",
        "demo-fanout",
        "--ray-address",
        ray_cluster,
        "--json",
        "--params",
        fanout_params(target, items=40, fail_items=[3, 31]),
    )
    assert result.returncode == 1, result.stderr
    error = lines(result.stdout)[-1]["error"]
    assert "step 'fan_out' failed: FanOutError: 2 of 40 items failed: item 3" in error
    assert "item 31 (" in error
    assert "): ValueError: item 31 refused" in error
    removed = [e for e in lines(result.stdout) if e.get("message") == "fan_out_rolled_back"]
    assert removed[0]["data"] == {"removed": 38}
    assert list(target.iterdir()) == []
    run = only_run(tmp_path / "home")
    assert run.state == "rolled_back"
    assert len(run.steps[1].rollback_data["written"]) == 38


def test_fan_out_items_run_as_ray_tasks_outside_the_actions_process(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    result = synapse(
        "run",
        "demo-fanout",
        "--ray-address",
        ray_cluster,
        "--json",
        "--params",
        fanout_params(target, items=64, delay=0.01),
    )
    assert result.returncode == 0, result.stderr
    action_pid = (target / "prepared.txt").read_text()
    item_pids = {(target / f"item-{n}.txt").read_text() for n in range(64)}
    assert action_pid not in item_pids
    progress = [e for e in lines(result.stdout) if e["event"] == "progress" and e["current"]]
    assert len(progress) > 1  # items report as they finish, not once at the end


def test_ctrl_c_cancels_the_remote_run_and_waits_for_its_rollback(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    process = synapse.popen(
        "run",
        "demo-fanout",
        "--ray-address",
        ray_cluster,
        "--json",
        "--params",
        fanout_params(target, hold=60),
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            event = json.loads(line)
            if event["event"] == "progress" and event["step"] == "prepare":
                break
        assert (target / "prepared.txt").exists()
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        rest = lines(process.stdout.read())
        assert process.wait(timeout=60) == 130
        assert time.monotonic() - started < 30  # cancelled, not left to finish its 60 s
    finally:
        stop(process)
    assert any(event.get("message") == "prepare_rolled_back" for event in rest)
    assert rest[-1]["error"].startswith("interrupted; the steps that ran were rolled back")
    assert list(target.iterdir()) == []
    assert only_run(tmp_path / "home").state == "rolled_back"


def test_params_are_checked_before_the_cluster_is_contacted(
    synapse: Synapse, tmp_path: Path
) -> None:
    result = synapse(
        "run",
        "demo-fanout",
        "--ray-address",
        "127.0.0.1:9",
        "--params",
        json.dumps({"target": str(tmp_path), "items": "many"}),
    )
    assert result.returncode == 2
    assert "invalid params for action 'demo-fanout'" in result.stderr
    assert "items" in result.stderr


def test_an_unreachable_cluster_is_a_clear_error_and_no_run_is_recorded(
    synapse: Synapse, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{free_port()}"
    result = synapse(
        "run", "demo-fanout", "--ray-address", address, "--params", fanout_params(tmp_path)
    )
    assert result.returncode == 2
    assert f"error: cannot reach the Ray cluster at {address}" in result.stderr
    assert "ray start --head" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home" / "runs.db").exists()


def test_a_ray_address_with_the_local_executor_is_a_usage_error(
    synapse: Synapse, tmp_path: Path
) -> None:
    result = synapse(
        "run",
        "demo-fanout",
        "--executor",
        "local",
        "--ray-address",
        "127.0.0.1:6379",
        "--params",
        fanout_params(tmp_path),
    )
    assert result.returncode == 2
    assert "--ray-address is for --executor ray" in result.stderr


def test_ray_address_from_the_environment_is_used_when_ray_is_asked_for(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    synapse.env["RAY_ADDRESS"] = ray_cluster
    result = synapse("run", "demo-fanout", "--executor", "ray", "--params", fanout_params(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"joining the Ray cluster at {ray_cluster}..." in result.stderr
    assert only_run(tmp_path / "home").state == "succeeded"


def test_ray_address_in_the_environment_never_moves_a_run_onto_ray(
    synapse: Synapse, tmp_path: Path
) -> None:
    synapse.env["RAY_ADDRESS"] = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = synapse("run", "demo-fanout", "--params", fanout_params(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Ray" not in result.stderr
    assert only_run(tmp_path / "home").state == "succeeded"


def test_no_ship_runs_on_a_cluster_that_has_the_code_installed(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    # This cluster's workers have the SDK and the demo plugins on their path: nothing
    # needs to travel, and --no-ship sends nothing (plan shows no shipment either).
    target = tmp_path / "uploaded"
    params = json.dumps({"source": str(SAMPLE_DATA), "target": str(target)})

    done = synapse(
        "run", "upload-files", "--ray-address", ray_cluster, "--no-ship", "--params", params
    )
    planned = synapse("plan", "upload-files", "--ray-address", ray_cluster, "--no-ship", "--json")

    assert done.returncode == 0, done.stderr
    assert "shipping the run's code" not in done.stderr
    assert files(target).keys() - {"manifest.json"} == files(SAMPLE_DATA).keys()
    assert json.loads(planned.stdout)["shipment"] is None


def test_no_ship_and_env_are_refused_for_a_local_run(synapse: Synapse, tmp_path: Path) -> None:
    refused = synapse("run", "upload-files", "--no-ship", "--params", "{}")

    assert refused.returncode == 2
    assert "--no-ship and --env are for a run on Ray (--executor ray)" in refused.stderr


def test_hook_tracing_on_the_workers_reaches_the_callers_terminal(
    synapse: Synapse, ray_cluster: str, tmp_path: Path
) -> None:
    params = json.dumps({"source": str(SAMPLE_DATA), "target": str(tmp_path / "up")})

    done = synapse(
        "run", "upload-files", "--ray-address", ray_cluster, "--params", params,
        SYNAPSE_TRACE_PLUGINS="1",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    # The run hooks are called on the worker only: these lines came back through the run.
    traced = [line for line in done.stderr.splitlines() if line.startswith("synapse trace: ")]
    hooks = {line.split()[2] for line in traced}
    assert {"synapse_setup_steps", "synapse_before_run", "synapse_after_run"} <= hooks
