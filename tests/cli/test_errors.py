"""How ``synapse run`` reports a step that crashed or rejected its input: the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import Synapse
from support.crashy import CRASH_LINE, install_crashy

from synapse_sdk.cli.crash import _is_plugin_code


@pytest.fixture
def crashy(synapse: Synapse, tmp_path: Path) -> Path:
    return install_crashy(tmp_path / "site")


def run_crashy(synapse: Synapse, tmp_path: Path, mode: str, *options: str) -> tuple[int, str, str]:
    params = json.dumps({"output_uri": str(tmp_path / "out"), "mode": mode})
    result = synapse(
        "run", "crashy", *options, "--params", params, SYNAPSE_HOME=str(tmp_path / "home")
    )
    return result.returncode, result.stdout, result.stderr


def test_a_crash_names_the_exception_type_and_the_plugin_line(
    synapse: Synapse, crashy: Path, tmp_path: Path
) -> None:
    code, stdout, stderr = run_crashy(synapse, tmp_path, "crash")
    assert code == 1
    assert stdout == ""
    assert (
        "error: step 'prepare' failed: ZeroDivisionError: division by zero "
        f"(at {crashy}:{CRASH_LINE}, in ratio); the steps that ran were rolled back" in stderr
    )
    assert "(run it again with -v to see the traceback)" in stderr
    assert "Traceback" not in stderr


def test_verbose_prints_the_full_traceback(synapse: Synapse, crashy: Path, tmp_path: Path) -> None:
    code, _, stderr = run_crashy(synapse, tmp_path, "crash", "-v")
    assert code == 1
    assert "Traceback (most recent call last):" in stderr
    assert f'File "{crashy}", line {CRASH_LINE}, in ratio' in stderr
    assert "ZeroDivisionError: division by zero\n" in stderr
    assert stderr.index("Traceback") < stderr.index("error: step 'prepare' failed")
    assert "with -v to see the traceback" not in stderr


def test_json_mode_reports_the_crash_in_its_result_line(
    synapse: Synapse, crashy: Path, tmp_path: Path
) -> None:
    code, stdout, stderr = run_crashy(synapse, tmp_path, "crash", "--json")
    assert code == 1
    result = json.loads(stdout.splitlines()[-1])
    assert result["exit_code"] == 1
    assert f"ZeroDivisionError: division by zero (at {crashy}:{CRASH_LINE}" in result["error"]
    assert "Traceback" not in stderr


@pytest.mark.parametrize("options", [(), ("--json",)])
def test_step_input_error_is_bad_input_rolled_back_exit_2(
    synapse: Synapse, crashy: Path, tmp_path: Path, options: tuple[str, ...]
) -> None:
    code, stdout, stderr = run_crashy(synapse, tmp_path, "input", *options)
    assert code == 2
    message = (
        "step 'prepare' rejected its input: rows.csv has no header row; add one; "
        "the steps that ran were rolled back"
    )
    assert f"error: {message}" in stderr
    assert "Traceback" not in stderr
    assert "-v to see the traceback" not in stderr
    if options:
        result = json.loads(stdout.splitlines()[-1])
        assert (result["exit_code"], result["success"]) == (2, False)
        assert message in result["error"]
    runs = synapse("runs", "list", "--json", SYNAPSE_HOME=str(tmp_path / "home"))
    assert json.loads(runs.stdout)[0]["state"] == "rolled_back"


def test_plugin_code_is_recognised_by_its_file() -> None:
    import json as stdlib_module

    import click

    import synapse_sdk.cli.run as sdk_module

    assert not _is_plugin_code(sdk_module.__file__, sdk_module.__name__)
    assert not _is_plugin_code(stdlib_module.__file__, stdlib_module.__name__)
    assert not _is_plugin_code(click.__file__ or "", click.__name__)  # site-packages
    assert _is_plugin_code("/home/me/my_plugin/steps.py", "my_plugin.steps")
    # An installed plugin lives in site-packages too: its entry point makes it plugin code.
    assert _is_plugin_code(
        "/venv/site-packages/synapse_upload_files/steps.py", "synapse_upload_files.steps"
    )


def test_help_lists_every_exit_code_from_the_one_table(synapse: Synapse) -> None:
    from synapse_sdk.cli.common import RUN_EXIT_CODES

    help_text = synapse("run", "--help").stdout
    for code, meaning in RUN_EXIT_CODES.items():
        assert f"  {code:<4} {meaning}" in help_text
    assert {129, 130, 143} <= set(RUN_EXIT_CODES)
    reference = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    for code, meaning in RUN_EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in reference


def test_runs_show_keeps_the_exception_type_and_traceback_of_a_failed_step(
    synapse: Synapse, crashy: Path, tmp_path: Path
) -> None:
    code, _, _ = run_crashy(synapse, tmp_path, "crash")
    assert code == 1
    home = str(tmp_path / "home")
    [run] = json.loads(synapse("runs", "list", "--json", SYNAPSE_HOME=home).stdout)
    shown = synapse("runs", "show", run["run_id"], SYNAPSE_HOME=home)
    assert shown.returncode == 0, shown.stderr
    assert "prepare failed with ZeroDivisionError: division by zero" in shown.stdout
    assert "Traceback" not in shown.stdout
    full = synapse("runs", "show", run["run_id"], "--full", SYNAPSE_HOME=home)
    assert "Traceback (most recent call last):" in full.stdout
    assert f'File "{crashy}", line {CRASH_LINE}, in ratio' in full.stdout
    record = json.loads(synapse("runs", "show", run["run_id"], "--json", SYNAPSE_HOME=home).stdout)
    [failed] = [
        step for step in record["steps"] if step["state"] != "rolled_back" or step["traceback"]
    ]
    assert failed["traceback"].rstrip().endswith("ZeroDivisionError: division by zero")
