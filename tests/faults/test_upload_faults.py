"""Fault injection against the real upload example, through the real ``synapse`` command.

For every step of ``upload-files`` and every fault (the step fails, raises, is interrupted,
gets SIGTERM, the process is killed with SIGKILL mid-step and ``synapse runs rollback``
finishes the job, or a rollback itself raises), the target directory must hold exactly
what it held before the run, the journal's final state must be right and so must the
exit code. The faults come from the ``faults`` hook plugin in tests/support/demo_src.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import Synapse

ACTION = "upload-files"


def upload_steps() -> list[str]:
    """The example's own step names, in order (read from its plan)."""
    from synapse_sdk.actions.catalog import resolve_action
    from synapse_sdk.plugins import PluginHost

    action_class, name = resolve_action(ACTION)
    return action_class.for_planning(plugins=PluginHost(), name=name).plan().names


STEPS = upload_steps()

# fault -> (exit code of `synapse run`, journal state after it)
FAULTS: dict[str, tuple[int, str]] = {
    "fail": (1, "rolled_back"),
    "raise": (1, "rolled_back"),
    "interrupt": (130, "rolled_back"),
    "sigterm": (143, "rolled_back"),
    "sigkill": (-9, "needs_rollback"),
}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    for index in range(6):
        sub = folder / f"part{index % 2}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file{index}.txt").write_text(f"payload {index}\n" * (index + 1))
    return folder


@pytest.fixture
def target(tmp_path: Path) -> Path:
    folder = tmp_path / "target"
    (folder / "part0").mkdir(parents=True)
    (folder / "existing.txt").write_text("was here before the run")
    (folder / "part0" / "old.bin").write_bytes(b"\x00\x01 older upload")
    return folder


def run(synapse: Synapse, home: Path, source: Path, target: Path, fault: str) -> Any:
    params = json.dumps({"source": str(source), "target": str(target)})
    return synapse(
        "run",
        ACTION,
        "--json",
        "--params",
        params,
        SYNAPSE_FAULT=fault,
        SYNAPSE_LOAD_PLUGINS="faults",
        SYNAPSE_HOME=str(home),
    )


def only_run(synapse: Synapse, home: Path) -> dict[str, Any]:
    listed = synapse(
        "runs", "list", "--json", SYNAPSE_HOME=str(home), SYNAPSE_LOAD_PLUGINS="faults"
    )
    [record] = json.loads(listed.stdout)
    return dict(record)


def test_the_suite_covers_the_whole_pipeline() -> None:
    assert len(STEPS) >= 4
    assert "upload" in STEPS


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("step", STEPS)
def test_fault_leaves_the_target_as_it_was(
    synapse: Synapse, tmp_path: Path, source: Path, target: Path, step: str, fault: str
) -> None:
    home = tmp_path / "home"
    before = snapshot(target)
    result = run(synapse, home, source, target, f"{step}:{fault}")
    exit_code, state = FAULTS[fault]
    assert result.returncode == exit_code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    record = only_run(synapse, home)
    assert record["state"] == state
    if fault == "sigkill":
        if step in ("upload", "manifest", "summary"):
            assert snapshot(target) != before  # killed mid-way: it left objects behind
        # Recovery runs with the same plugins as the run (the fault wrapper included).
        recovered = synapse(
            "runs",
            "rollback",
            record["run_id"],
            SYNAPSE_HOME=str(home),
            SYNAPSE_LOAD_PLUGINS="faults",
            SYNAPSE_FAULT=f"{step}:{fault}",
        )
        assert recovered.returncode == 0, recovered.stderr
        assert only_run(synapse, home)["state"] == "rolled_back"
    assert snapshot(target) == before


@pytest.mark.parametrize("step", STEPS[:-1])
def test_a_rollback_that_raises_is_reported_and_the_rest_still_run(
    synapse: Synapse, tmp_path: Path, source: Path, target: Path, step: str
) -> None:
    home = tmp_path / "home"
    before = snapshot(target)
    # The last step fails; the rollback of `step` raises after undoing its work.
    last = STEPS[-1]
    params = json.dumps({"source": str(source), "target": str(target)})
    result = synapse(
        "run",
        ACTION,
        "--json",
        "--params",
        params,
        SYNAPSE_FAULT=f"{step}:rollback_raises",
        SYNAPSE_LOAD_PLUGINS="faults",
        SYNAPSE_HOME=str(home),
        SYNAPSE_FAULT_ALSO=f"{last}:fail",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert only_run(synapse, home)["state"] == "rollback_failed"
    events = [json.loads(line) for line in result.stdout.splitlines()]
    failed_rollbacks = [
        e["step"] for e in events if e["event"] == "step" and e["status"] == "rollback_failed"
    ]
    assert len(failed_rollbacks) == 1
    assert snapshot(target) == before


def test_a_second_ctrl_c_during_rollback_leaves_the_run_resumable(
    synapse: Synapse, tmp_path: Path, source: Path, target: Path
) -> None:
    home = tmp_path / "home"
    before = snapshot(target)
    env = {
        "SYNAPSE_FAULT": "upload:rollback_interrupt",
        "SYNAPSE_FAULT_ALSO": f"{STEPS[-1]}:fail",
        "SYNAPSE_FAULT_ONCE": str(tmp_path / "fired"),
        "SYNAPSE_LOAD_PLUGINS": "faults",
        "SYNAPSE_HOME": str(home),
    }
    params = json.dumps({"source": str(source), "target": str(target)})
    result = synapse("run", ACTION, "--params", params, **env)
    assert result.returncode == 130
    record = only_run(synapse, home)
    assert record["state"] == "needs_rollback"
    expected = (
        f"the rollback did not finish. Finish it with: synapse runs rollback {record['run_id']}"
    )
    assert expected in result.stderr
    assert snapshot(target) != before  # the uploaded objects are still there
    finished = synapse("runs", "rollback", record["run_id"], **env)
    assert finished.returncode == 0, finished.stderr
    assert only_run(synapse, home)["state"] == "rolled_back"
    assert snapshot(target) == before
