"""One trial of the interrupt campaign: the real upload example, a real signal, a verdict.

A trial lays out a target area that already holds unrelated files and folders, starts
``synapse run upload-files`` as a real subprocess, sends it a signal after a delay,
finishes a killed run with ``synapse runs rollback`` and then checks what the SDK promises:
the area is byte-identical to before (or holds exactly the upload, if the run succeeded),
the journal's state is the truth, the exit code is the documented one and no traceback
reached stderr. Every broken promise becomes one line in ``Outcome.problems``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.cli import SYNAPSE

ACTION = "upload-files"
STEPS = ["discover", "validate", "upload", "manifest", "summary"]
MANIFEST = "manifest.json"
UPLOAD_INTO = "target/new/deeper"  # inside the area; `new` may not exist yet
HANG_SECONDS = 30  # a run still alive this long after the signal is hung: kill it

# What `synapse run` must exit with after each catchable signal (docs/reliability.md).
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}

# A path of the snapshot maps to the file's bytes, or to None for a folder.
Tree = dict[str, bytes | None]

OUR_FRAME = re.compile(r'File "[^"]*/(synapse_sdk|synapse_upload_files)/')
# What CPython prints (and exits 1 with) when a signal lands while it imports ``site``.
SITE_INTERRUPTED = "Fatal Python error: init_import_site"


def stopped_before_our_code(sig: int | None, code: int, stderr: str) -> bool:
    """Did a catchable signal stop the interpreter before any code of the SDK ran?

    It then dies of the signal (``-sig``), or exits 1 if it was still importing ``site``;
    either way its traceback shows no frame of ours. Callers also check that nothing was
    journalled or written: only then is such an ending acceptable.
    """
    if sig is None or sig == signal.SIGKILL or OUR_FRAME.search(stderr):
        return False
    return code == -sig or (code == 1 and SITE_INTERRUPTED in stderr)


def make_source(folder: Path, count: int = 600) -> Path:
    """``count`` small files in nested folders: enough for the upload to take a while."""
    for index in range(count):
        sub = folder / f"d{index % 8}" / f"e{index % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{index:03d}.bin").write_bytes(bytes([index % 251]) * (64 + 37 * index))
    return folder


def snapshot(root: Path) -> Tree:
    """Every file and folder under ``root`` (empty folders included), with file bytes."""
    tree: Tree = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        tree[relative] = None if path.is_dir() and not path.is_symlink() else path.read_bytes()
    return tree


def describe_difference(expected: Tree, actual: Tree, limit: int = 6) -> str:
    def some(paths: list[str]) -> str:
        more = f" ... (+{len(paths) - limit})" if len(paths) > limit else ""
        return ", ".join(paths[:limit]) + more

    extra = sorted(set(actual) - set(expected))
    missing = sorted(set(expected) - set(actual))
    changed = sorted(p for p in set(actual) & set(expected) if actual[p] != expected[p])
    parts = [
        f"{label} {len(paths)}: {some(paths)}"
        for label, paths in (("left behind", extra), ("missing", missing), ("changed", changed))
        if paths
    ]
    return "; ".join(parts)


def prepare_area(area: Path, variant: int) -> None:
    """Unrelated content in the target, in a subfolder, in an empty folder and a sibling.

    ``variant`` 0: ``target/new`` does not exist (the upload creates two ancestors);
    1: it exists and is empty; 2: it exists and holds a file. Neither may be touched.
    """
    (area / "target" / "old").mkdir(parents=True)
    (area / "target" / "empty").mkdir()
    (area / "sibling" / "inner").mkdir(parents=True)
    (area / "target" / "existing.txt").write_text("was here before the run")
    (area / "target" / "old" / "old.bin").write_bytes(b"\x00\x01 an older upload")
    (area / "sibling" / "note.txt").write_text("next door, not ours")
    (area / "sibling" / "inner" / "deep.txt").write_text("deeper next door")
    if variant >= 1:
        (area / "target" / "new").mkdir()
    if variant == 2:
        (area / "target" / "new" / "keep.txt").write_text("already in new/")


def expected_after_success(before: Tree, source: Path) -> Tree:
    """The area after a successful run: before, plus the uploaded tree and the manifest."""
    tree = dict(before)
    parts = UPLOAD_INTO.split("/")
    for depth in range(1, len(parts) + 1):
        tree["/".join(parts[:depth])] = None
    for path in sorted(source.rglob("*")):
        relative = f"{UPLOAD_INTO}/{path.relative_to(source).as_posix()}"
        tree[relative] = None if path.is_dir() else path.read_bytes()
    tree[f"{UPLOAD_INTO}/{MANIFEST}"] = b"(checked separately)"
    return tree


def success_tree_problems(actual: Tree, expected: Tree, source: Path) -> list[str]:
    """After a success: exactly ``expected``, and a manifest listing every uploaded file."""
    manifest = f"{UPLOAD_INTO}/{MANIFEST}"
    written = actual.get(manifest)
    problems = []
    if {**actual, manifest: expected[manifest]} != expected:
        problems.append(
            f"run succeeded but the area is wrong: {describe_difference(expected, actual)}"
        )
    uploaded = {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()}
    try:
        listed = {entry["path"] for entry in json.loads(written or b"")["objects"]}
    except (ValueError, KeyError, TypeError) as exc:
        return [*problems, f"the manifest is missing or not valid: {exc!r}"]
    if listed != uploaded:
        problems.append(f"the manifest lists {len(listed)} objects, {len(uploaded)} were uploaded")
    return problems


def synapse_env(home: Path) -> dict[str, str]:
    """A clean environment: our journal, no hook plugins, nothing inherited from SYNAPSE_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPSE_")}
    env.update(SYNAPSE_HOME=str(home), SYNAPSE_LOAD_PLUGINS="", COLUMNS="80")
    return env


def synapse(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYNAPSE, *args],
        env=synapse_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def journal_record(home: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The only run in the journal with its steps (``runs list`` then ``runs show``)."""
    listed = synapse(home, "runs", "list", "--json")
    if listed.returncode != 0:
        return None, [f"`runs list` exited {listed.returncode}: {tail(listed.stderr)}"]
    runs = json.loads(listed.stdout)
    if not runs:
        return None, []
    problems = [f"{len(runs)} runs journalled for one `synapse run`"] if len(runs) > 1 else []
    shown = synapse(home, "runs", "show", runs[0]["run_id"], "--json")
    if shown.returncode != 0:
        return runs[0], [*problems, f"`runs show` exited {shown.returncode}: {tail(shown.stderr)}"]
    return json.loads(shown.stdout), problems


def tail(text: str, size: int = 400) -> str:
    return " | ".join(text[-size:].strip().splitlines())


@dataclass(frozen=True)
class Trial:
    """What to do: send ``sig`` (None: no signal) ``delay`` seconds after start-up."""

    index: int
    sig: signal.Signals | None
    delay: float
    kind: str  # how the delay was drawn: "whole", "upload", "after_end", "calibration"
    variant: int  # see prepare_area
    json_mode: bool  # `synapse run --json`, or the terminal progress bar


@dataclass
class Outcome:
    trial: Trial
    returncode: int
    sent: bool  # False: the process had already exited when the delay was over
    landing: str
    state: str | None  # journal state right after the process ended
    final_state: str | None  # after `runs rollback`, if it was needed
    duration: float
    started_wall: float
    record: dict[str, Any] | None
    stderr: str
    problems: list[str] = field(default_factory=list)


def landing_of(record: dict[str, Any] | None, sent: bool) -> str:
    """Where the signal landed, as the journal shows it."""
    if not sent:
        return "after_exit"
    if record is None:
        return "before_journal"
    if record["state"] == "succeeded":
        return "after_success"
    started = [step["name"] for step in record.get("steps", [])]
    return f"in_{started[-1]}" if started else "before_steps"


def run_trial(trial: Trial, workdir: Path, source: Path) -> Outcome:
    area, home = workdir / "area", workdir / "home"
    prepare_area(area, trial.variant)
    before = snapshot(area)
    params = json.dumps({"source": str(source), "target": str(area / UPLOAD_INTO)})
    args = [SYNAPSE, "run", ACTION, "--params", params] + (["--json"] if trial.json_mode else [])
    # Files, not pipes: a full pipe would stall the run and distort the timing.
    with (workdir / "stdout").open("w") as out, (workdir / "stderr").open("w") as err:
        started_wall, started = time.time(), time.monotonic()
        process = subprocess.Popen(
            args, env=synapse_env(home), stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        sent = False
        if trial.sig is not None:
            time.sleep(max(0.0, started + trial.delay - time.monotonic()))
            if process.poll() is None:
                process.send_signal(trial.sig)
                sent = True
        try:
            returncode = process.wait(timeout=trial.delay + HANG_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
    duration = time.monotonic() - started
    stderr = (workdir / "stderr").read_text(errors="replace")
    record, problems = journal_record(home)
    outcome = Outcome(
        trial=trial,
        returncode=returncode,
        sent=sent,
        landing=landing_of(record, sent),
        state=record["state"] if record else None,
        final_state=record["state"] if record else None,
        duration=duration,
        started_wall=started_wall,
        record=record,
        stderr=stderr,
        problems=problems,
    )
    if duration >= trial.delay + HANG_SECONDS:
        outcome.problems.append(f"still running {HANG_SECONDS} s after the signal (killed)")
    judge(outcome, home, area, before, source)
    return outcome


def judge(outcome: Outcome, home: Path, area: Path, before: Tree, source: Path) -> None:
    """Append every broken promise to ``outcome.problems``."""
    sig, code, problems = outcome.trial.sig, outcome.returncode, outcome.problems
    if outcome.state == "needs_rollback":
        if sig is not signal.SIGKILL:
            problems.append("the run was left needs_rollback (its own rollback did not finish)")
        finish_rollback(outcome, home)
    state = outcome.final_state
    tree = snapshot(area)
    if state == "succeeded":
        problems += success_tree_problems(tree, expected_after_success(before, source), source)
    elif tree != before:
        problems.append(f"the area is not as before: {describe_difference(before, tree)}")
    # A catchable signal that lands before any code of ours runs kills the interpreter:
    # acceptable only if nothing was journalled or written and no frame of ours is shown.
    killed_early = (
        stopped_before_our_code(sig, code, outcome.stderr)
        and outcome.state is None
        and tree == before
    )
    if sig is None:
        allowed = {0}
    elif sig is signal.SIGKILL:
        allowed = {0, -signal.SIGKILL}
    else:
        allowed = {0, EXIT_CODES[sig]}
    if code not in allowed and not killed_early:
        problems.append(f"exit code {code}, expected one of {sorted(allowed)}")
    if sig in EXIT_CODES and "Traceback" in outcome.stderr and not killed_early:
        problems.append("a traceback on stderr")
    killed_after_success = sig is signal.SIGKILL and code == -sig and outcome.state == "succeeded"
    if (code == 0) != (state == "succeeded") and not killed_after_success:
        problems.append(f"exit code {code} but the journal says {state}")
    if code != 0 and state not in (None, "rolled_back", "succeeded"):
        problems.append(f"the journal's final state is {state}")
    problems += step_problems(outcome.record, state)


def finish_rollback(outcome: Outcome, home: Path) -> None:
    """``synapse runs rollback RUN_ID`` for a run its process left unfinished."""
    assert outcome.record is not None
    finished = synapse(home, "runs", "rollback", outcome.record["run_id"])
    if finished.returncode != 0 or "Traceback" in finished.stderr:
        outcome.problems.append(
            f"`runs rollback` exited {finished.returncode}: {tail(finished.stderr)}"
        )
    record, problems = journal_record(home)
    outcome.problems += problems
    outcome.record = record
    outcome.final_state = record["state"] if record else None
    if outcome.final_state != "rolled_back":
        outcome.problems.append(f"after `runs rollback` the journal says {outcome.final_state}")


def step_problems(record: dict[str, Any] | None, state: str | None) -> list[str]:
    """A rolled-back run has every step that ran rolled back; a succeeded one all steps."""
    if record is None:
        return []
    steps = {step["name"]: step["state"] for step in record.get("steps", [])}
    if state == "succeeded" and steps != dict.fromkeys(STEPS, "succeeded"):
        return [f"the run is succeeded but its steps are {steps}"]
    if state == "rolled_back" and any(s != "rolled_back" for s in steps.values()):
        return [f"the run is rolled_back but its steps are {steps}"]
    return []
