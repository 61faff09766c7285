"""The docs cannot drift: CLI reference, hook reference and every example are checked."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from synapse_sdk.host import hookspecs
from synapse_sdk.testing import crash_after_step

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))
HOOKS = sorted(
    name
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("synapse_")
)


def test_cli_reference_matches_the_commands() -> None:
    from synapse_sdk.cli.reference import render_reference

    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == render_reference(), (
        "docs/cli.md is stale: run `python -m synapse_sdk.cli.reference > docs/cli.md`"
    )


def test_there_are_hooks() -> None:
    assert len(HOOKS) >= 6


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_and_tested(hook: str) -> None:
    assert f"\n### {hook}\n" in (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    assert getattr(hookspecs, hook).__doc__
    tests = "".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("test_*.py")
    )
    assert f"def {hook}(" in tests, f"no test implements {hook}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(example: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(example)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_first_action_example_prints_the_result() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "examples" / "first_action.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        result.stdout.splitlines()[-1] == "{'success': True, 'steps_executed': 2, 'steps_total': 2}"
    )


def test_readme_first_action_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Your first action in 30 lines", 1)[1].split("```python\n", 1)[1]
    code = block.split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 40
    script = tmp_path / "first.py"
    script.write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.splitlines()[-1] == "{'success': True, 'steps_executed': 1, 'steps_total': 1}"
    )
    assert sorted(path.name for path in (tmp_path / "greetings").iterdir()) == [
        "greeting-1.txt",
        "greeting-2.txt",
    ]


def test_readme_first_action_is_undone_after_kill_9_by_runs_rollback(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Your first action in 30 lines", 1)[1].split("```python\n", 1)[1]
    module = block.split("```", 1)[0].split("\nprint(", 1)[0]  # the action, not the run
    (tmp_path / "first_action_readme.py").write_text(module, encoding="utf-8")
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    (elsewhere / "greetings").mkdir(parents=True)
    (elsewhere / "greetings" / "greeting-1.txt").write_text("someone else's")
    crashed = crash_after_step(
        "first_action_readme:Greet",
        {"names": ["Ada", "Alan"], "output_uri": "greetings"},
        "write",
        cwd=here,
        home=tmp_path / "home",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert sorted(path.name for path in (here / "greetings").iterdir()) == [
        "greeting-1.txt",
        "greeting-2.txt",
    ]
    recovered = crashed.roll_back(cwd=elsewhere)
    assert recovered.returncode == 0, recovered.stderr
    assert crashed.state() == "rolled_back"
    assert list(here.iterdir()) == []
    assert (elsewhere / "greetings" / "greeting-1.txt").read_text() == "someone else's"


def test_readme_commands_match_ci() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = (
        ". .venv/bin/activate && python -m pip install -r requirements-test.txt && python -m pytest"
    )
    assert f"```bash\n{test_command}\n```" in readme
    assert test_command in ci


RECORDS_ROLLBACK = re.compile(r"\b(?:record|append)_rollback\(|\brollback_key=")
# What a code example does when it writes files or objects itself.
WRITES_FILES = re.compile(r"upload|s3://|write_(?:text|bytes)|put_files?\(|\bopen\(", re.I)


def code_examples(page: Path) -> list[str]:
    """The fenced code blocks of ``page``, with snippet includes (``--8<--``) read in."""
    blocks = re.findall(r"^```\w*\n(.*?)^```", page.read_text(encoding="utf-8"), re.M | re.S)
    return [
        re.sub(
            r'^--8<-- "([^"]+)"$',
            lambda include: (ROOT / include.group(1)).read_text(encoding="utf-8"),
            block,
            flags=re.M,
        )
        for block in blocks
    ]


def pages_recording_rollback() -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [
        page
        for page in pages
        if any(RECORDS_ROLLBACK.search(block) for block in code_examples(page))
    ]


def test_the_pages_that_show_recorded_rollback_are_found() -> None:
    found = {page.name for page in pages_recording_rollback()}
    assert {"ray.md", "reliability.md", "step-orchestration.md", "storage.md"} <= found


@pytest.mark.parametrize(
    "page", pages_recording_rollback(), ids=lambda page: str(page.relative_to(ROOT))
)
def test_recorded_rollback_is_shown_for_other_resources_and_files_go_to_storage(
    page: Path,
) -> None:
    """One way to undo: files through ``context.storage`` (undone by the SDK);
    ``record_rollback`` / ``append_rollback`` / ``map(rollback_key=...)`` only for other
    resources (rows, jobs)."""
    names_storage = "context.storage" in page.read_text(encoding="utf-8")
    assert names_storage, f"{page.name} records rollback data but never names context.storage"
    for block in code_examples(page):
        if RECORDS_ROLLBACK.search(block):
            writes = WRITES_FILES.search(block)
            assert writes is None, (
                f"{page.name}: an example records rollback data for files "
                f"({writes.group(0)!r}); write them through context.storage"
            )


def test_step_input_error_is_taught_with_what_the_command_prints(tmp_path: Path) -> None:
    """The prose on StepInputError shows the real `synapse run` of the upload example
    with a missing source: exit 2, rolled back, the message, no traceback."""
    page = (ROOT / "docs" / "step-orchestration.md").read_text(encoding="utf-8")
    section = page.split("### Bad input: `StepInputError`\n", 1)[1].split("\n#", 1)[0]
    assert "raise StepInputError(" in section
    assert "**exit code 2**" in section
    assert "rolled back" in section
    shown = section.split("```text\n", 1)[1].split("\n```", 1)[0]
    source = "/data/no-such-folder"
    assert not Path(source).exists()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SYNAPSE_")}
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("synapse")),
            *("run", "upload-files", "--params"),
            json.dumps({"source": source, "target": str(tmp_path / "out")}),
        ],
        env={**env, "SYNAPSE_HOME": str(tmp_path / "home"), "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    printed = result.stderr.strip().splitlines()[-1]
    run_id = re.compile(r"\(run [0-9a-f]+\)$")
    assert run_id.sub("(run ID)", printed) == run_id.sub("(run ID)", shown)
    assert not (tmp_path / "out").exists()
