"""``synapse run`` end to end: results, progress, rollback, exit codes, bad input."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import Synapse

Lines = Callable[[str], list[dict[str, Any]]]


def params(source: Path, target: Path, **extra: Any) -> str:
    return json.dumps({"source": str(source), "target": str(target), **extra})


def test_run_json_streams_events_and_ends_with_the_result(
    synapse: Synapse, source_dir: Path, tmp_path: Path, parse_lines: Lines
) -> None:
    target = tmp_path / "target"
    result = synapse("run", "demo-upload", "--json", "--params", params(source_dir, target))
    assert result.returncode == 0, result.stderr
    events = parse_lines(result.stdout)
    assert all("event" in event for event in events)
    run_id = events[-1].pop("run_id")
    assert events[-1] == {
        "event": "result",
        "success": True,
        "exit_code": 0,
        "result": {"success": True, "steps_executed": 4, "steps_total": 4},
        "error": None,
    }
    assert len(run_id) == 12
    progress = [event for event in events if event["event"] == "progress"]
    percents = [event["percent"] for event in progress]
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert all(
        0 <= value <= 100 and event["step"] for value, event in zip(percents, progress, strict=True)
    )
    assert any(event["step"] == "copy" and 10 < event["percent"] < 90 for event in progress)
    logs = [event for event in events if event["event"] == "log"]
    assert {"level", "message"} <= set(logs[0])
    assert "announcing" in [event["message"] for event in logs]
    assert sorted(path.name for path in target.iterdir()) == sorted(
        path.name for path in source_dir.iterdir()
    )


def test_run_failure_rolls_back_and_exits_1(
    synapse: Synapse, source_dir: Path, tmp_path: Path, parse_lines: Lines
) -> None:
    target = tmp_path / "target"
    result = synapse(
        "run", "demo-upload", "--json", "--params", params(source_dir, target, fail_at="finish")
    )
    assert result.returncode == 1
    assert not target.exists()
    events = parse_lines(result.stdout)
    steps = [(event["step"], event["status"]) for event in events if event["event"] == "step"]
    assert steps[-5:] == [
        ("finish", "failed"),
        ("finish", "rolled_back"),
        ("copy", "rolled_back"),
        ("announce", "rolled_back"),
        ("list_files", "rolled_back"),
    ]
    assert events[-1]["success"] is False
    assert events[-1]["exit_code"] == 1
    assert "step 'finish' failed: asked to fail" in events[-1]["error"]
    assert "rolled back" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_failure_on_a_terminal_mode_shows_rollback(
    synapse: Synapse, source_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    result = synapse("run", "demo-upload", "--params", params(source_dir, target, fail_at="copy"))
    assert result.returncode == 1
    assert not target.exists()
    assert "copy_rolled_back" in result.stderr
    assert "error: step 'copy' failed: OSError: disk full (simulated) (at " in result.stderr
    assert "demo_actions.py:" in result.stderr
    assert "in execute); the steps that ran were rolled back" in result.stderr
    assert result.stdout == ""


def test_run_terminal_mode_prints_result_on_stdout(
    synapse: Synapse, source_dir: Path, tmp_path: Path
) -> None:
    result = synapse("run", "demo-upload", "--params", params(source_dir, tmp_path / "t"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"success": True, "steps_executed": 4, "steps_total": 4}
    assert "✓ demo-upload finished" in result.stderr


def test_run_simple_mode_action_and_params_file(synapse: Synapse, tmp_path: Path) -> None:
    params_file = tmp_path / "params.json"
    params_file.write_text('{"word": "quiet"}')
    result = synapse("run", "demo-simple", "--params-file", str(params_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"shout": "QUIET"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params", "{not json"], "--params is not valid JSON (Expecting property name"),
        (["--params", "[1, 2]"], "--params must be a JSON object, got list"),
        (["--params-file", "/no/such/file.json"], "cannot read params file /no/such/file.json"),
        (["--params", "{}", "--params-file", "x.json"], "give either --params or --params-file"),
        (["--params", '{"source": 5, "colour": 1}'], "invalid params for action 'demo-upload'"),
    ],
)
def test_bad_input_exits_2_with_a_short_message(
    synapse: Synapse, args: list[str], message: str
) -> None:
    result = synapse("run", "demo-upload", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 8


def test_invalid_params_lists_each_field(synapse: Synapse) -> None:
    result = synapse(
        "run",
        "demo-upload",
        "--json",
        "--params",
        '{"source": 5, "colour": 1, "token": "s3cr3t-x"}',
    )
    assert result.returncode == 2
    assert "  - source: Input should be a valid string" in result.stderr
    assert "  - target: required, but missing" in result.stderr
    assert "  - colour: unknown field" in result.stderr
    assert "s3cr3t-x" not in result.stderr + result.stdout
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["event"] == "result"
    assert last["exit_code"] == 2


def test_unknown_action_exits_2(synapse: Synapse) -> None:
    result = synapse("run", "nope", "--params", "{}")
    assert result.returncode == 2
    assert (
        "unknown action 'nope'; installed actions: "
        "demo-broken, demo-fanout, demo-simple, demo-upload" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_unknown_option_is_bad_usage(synapse: Synapse) -> None:
    result = synapse("run", "demo-upload", "--frobnicate")
    assert result.returncode == 2
    assert "No such option '--frobnicate'" in result.stderr


def test_broken_plugin_next_to_working_one_warns_and_runs(
    synapse: Synapse, source_dir: Path, tmp_path: Path, parse_lines: Lines
) -> None:
    result = synapse("run", "demo-upload", "--json", "--params", params(source_dir, tmp_path / "t"))
    assert result.returncode == 0
    assert (
        "warning: plugin 'exploding' (demo-broken-plugin) failed to load: ImportError"
        in result.stderr
    )
    steps = {event["step"] for event in parse_lines(result.stdout) if event["event"] == "step"}
    assert "announce" in steps


def test_secret_params_never_printed(synapse: Synapse, source_dir: Path, tmp_path: Path) -> None:
    secret = "tok-abcdef-123456"
    result = synapse(
        "run",
        "demo-upload",
        "--json",
        "--params",
        params(source_dir, tmp_path / "t", token=secret, fail_at="copy"),
    )
    assert result.returncode == 1
    assert secret not in result.stdout + result.stderr
    assert '"token": "**********"' in result.stdout


def test_ctrl_c_rolls_back_and_exits_130(
    synapse: Synapse, source_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    process = synapse.popen(
        "run", "demo-upload", "--json", "--params", params(source_dir, target, hang_in_copy=2.0)
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:  # wait until the copy step has written its first file
        event = json.loads(line)
        if event["event"] == "progress" and event["step"] == "copy":
            break
        assert time.monotonic() < deadline
    assert any(target.iterdir())
    process.send_signal(signal.SIGINT)
    remaining, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert not target.exists()
    assert "interrupted; the steps that ran were rolled back" in stderr
    assert json.loads(remaining.splitlines()[-1])["exit_code"] == 130
