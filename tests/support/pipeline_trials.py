"""Trials of the pipeline campaign: the real ``synapse pipeline run``, a real signal, a verdict.

A trial lays out a work folder holding the pipeline file (prepare -> train -> publish of
support/pipeline_actions.py, relative paths) and files that were there before: one that
``publish`` replaces (``pub/data.txt``), two that nothing touches (``pub/notes.txt``,
``models/old.txt``) and, in variant 1, one that ``train``, an earlier action, replaces
(``models/m.txt``). It starts the real command there as a subprocess, sends a signal at
a chosen moment, reads the journal, finishes the run as a user would (``synapse runs
rollback`` after SIGKILL, ``synapse runs resume`` of a pipeline kept ``failed``), and
checks the promise: every file byte-identical to before, or holding exactly the outputs
of the actions the journal says completed; every action run's state the truth; the
documented exit code; no traceback. Every broken promise is one line of ``problems``.

Run as a script, this module is the campaign's driver:
``python pipeline_trials.py N[:PREFIX] SIGNAL LOG -- ARGS...`` runs the ``synapse``
command line with ARGS in this process and sends itself SIGNAL as the journal starts its
N-th write statement (BEGIN, INSERT, UPDATE, DELETE, COMMIT or ROLLBACK; with PREFIX, its
N-th write beginning with PREFIX, such as ``INSERT INTO steps``), writing that statement
to LOG first. With N = 0 it sends nothing and writes every write statement to LOG, one a
line, to count them.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.cli import SYNAPSE
from support.interrupts import (
    Tree,
    describe_difference,
    snapshot,
    stopped_before_our_code,
    synapse_env,
    tail,
)
from support.pipeline_actions import NIGHTLY_TOML
from synapse_sdk.console import main as synapse_main
from synapse_sdk.journal.store import RunJournal, RunRecord

TESTS = Path(__file__).resolve().parents[1]
PIPELINE_FILE = "nightly.toml"
PARAMS_FILE = "params.json"
STAGES = ("prepare", "train", "publish")
HANG_SECONDS = 30  # a command still alive this long (after its signal) is hung: killed
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
WRITES = ("BEGIN", "INSERT", "UPDATE", "DELETE", "COMMIT", "ROLLBACK")

DATA = b"row 0\nrow 1\nrow 2\n"
MODEL = b"model of 3 rows\n"
OUTPUTS: dict[str, Tree] = {
    "prepare": {"prep": None, "prep/data.txt": DATA},
    "train": {"models/m.txt": MODEL},
    "publish": {"pub/data.txt": DATA, "pub/model.txt": MODEL},
}
"""What each action leaves in the work folder once it completed."""


def prepare_work(work: Path, variant: int, params: dict[str, Any]) -> Tree:
    """Lay out a trial's work folder (``params``: the params file, by action id).

    Returns its snapshot: what "as before" means for this trial.
    """
    (work / "pub").mkdir(parents=True)
    (work / "models").mkdir()
    (work / PIPELINE_FILE).write_text(NIGHTLY_TOML)
    (work / PARAMS_FILE).write_text(json.dumps(params))
    (work / "pub" / "data.txt").write_bytes(b"the previous release's data\n")
    (work / "pub" / "notes.txt").write_bytes(b"kept by the owner\n")
    (work / "models" / "old.txt").write_bytes(b"an older model\n")
    if variant == 1:
        (work / "models" / "m.txt").write_bytes(b"last week's model\n")
    return snapshot(work)


def with_outputs(before: Tree, stages: Iterable[str]) -> Tree:
    """``before`` with the outputs of ``stages`` laid over it."""
    tree = dict(before)
    for stage in stages:
        tree.update(OUTPUTS[stage])
    return tree


def environment(home: Path) -> dict[str, str]:
    """No hook plugins, the journal in ``home``, the tests folder importable (the actions)."""
    env = synapse_env(home)
    env.update(PYTHONPATH=str(TESTS), COLUMNS="120")
    return env


def command(
    args: Sequence[str], *, at: str | None = None, sig: str = "SIGKILL", log: Path | None = None
) -> list[str]:
    """``synapse ARGS``; with ``at`` (``N[:PREFIX]``), through the driver (module docstring)."""
    if at is None:
        return [SYNAPSE, *args]
    assert log is not None, "the driver notes where it landed in a log"
    return [sys.executable, __file__, at, sig, str(log), "--", *args]


def start(argv: list[str], cwd: Path, home: Path, logs: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in ``cwd``; its output goes to files (a full pipe would stall it)."""
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "stdout").open("ab") as out, (logs / "stderr").open("ab") as err:
        return subprocess.Popen(
            argv, cwd=cwd, env=environment(home), stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )


def finish(process: subprocess.Popen[bytes], problems: list[str], what: str) -> int:
    """Wait for ``process``; kill it (and say so) if it hangs."""
    try:
        return process.wait(timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        problems.append(f"{what} was still running after {HANG_SECONDS} s (killed)")
        return process.wait()


def synapse(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYNAPSE, *args],
        cwd=cwd,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def pipeline_journalled(home: Path) -> bool:
    """Whether the journal in ``home`` holds a pipeline run yet (read-only, never waits)."""
    path = home / "runs.db"
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)
        try:
            return db.execute("SELECT 1 FROM runs WHERE kind = 'pipeline'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:  # not created yet, or being created
        return False


def wait_until(
    condition: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = 30
) -> bool:
    """Poll ``condition`` while ``process`` runs; whether it came true before it ended."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# -- the journal ------------------------------------------------------------------------


@dataclass
class Journalled:
    """What the journal says: the top-level runs (newest first), the pipeline's action runs."""

    runs: list[RunRecord]
    children: list[RunRecord]

    @property
    def pipeline(self) -> RunRecord | None:
        return self.runs[0] if self.runs else None

    @property
    def state(self) -> str | None:
        return self.runs[0].state if self.runs else None

    @property
    def run_id(self) -> str:
        assert self.runs, "no run journalled"
        return self.runs[0].run_id

    def latest(self) -> dict[str, RunRecord]:
        """The last action run of each action (a resumed action ran again)."""
        return {child.stage or "?": child for child in self.children}

    def completed(self) -> list[str]:
        """The actions whose last run succeeded, in pipeline order."""
        latest = self.latest()
        return [s for s in STAGES if s in latest and latest[s].state == "succeeded"]

    def summary(self) -> str:
        if not self.runs:
            return "no run"
        actions = ", ".join(
            f"{c.stage}={c.state}[{','.join(s.state for s in c.steps)}]" for c in self.children
        )
        return f"pipeline {self.state}: {actions or 'no action run'}"


def read_journal(home: Path) -> Journalled:
    """The journal in ``home`` as the SDK reads it (a dead owner's live run: needs_rollback)."""
    path = home / "runs.db"
    if not path.exists():
        return Journalled([], [])
    journal = RunJournal(path)
    try:
        runs = journal.list_runs(10, top_level=True)
        children = journal.children(runs[0].run_id) if runs else []
    finally:
        journal.close()
    return Journalled(runs, children)


def _completed_run(child: RunRecord) -> bool:
    """Whether an action run had completed: it succeeded, or the pipeline undid it after."""
    if child.state == "succeeded" or child.result is not None:
        return True
    return child.state in ("rolled_back", "rollback_failed") and child.error is None


def landing_of(seen: Journalled, sent: bool) -> str:
    """Where a signal landed, as the journal shows it right after the command ended."""
    if not sent:
        return "after_exit"
    pipeline = seen.pipeline
    if pipeline is None:
        return "before_journal"
    if pipeline.state == "succeeded":
        return "after_success"
    if not seen.children:
        return "before_actions"
    last = seen.children[-1]
    if _completed_run(last):
        return f"after_{last.stage}"
    return f"in_{last.stage}" if last.steps else f"start_{last.stage}"


def truth_problems(seen: Journalled) -> list[str]:
    """Whether the pipeline's state is the truth about its action runs and their steps."""
    if not seen.runs:
        return []
    problems = []
    if len(seen.runs) > 1:
        problems.append(f"{len(seen.runs)} top-level runs for one pipeline")
    pipeline = seen.pipeline
    assert pipeline is not None
    if pipeline.kind != "pipeline":
        problems.append(f"the run is of kind {pipeline.kind}, not pipeline")
    state, latest = pipeline.state, seen.latest()
    if any(child.stage not in STAGES for child in seen.children):
        problems.append(f"an action run of no action of the pipeline: {seen.summary()}")
    for child in seen.children:
        steps = {step.state for step in child.steps}
        if child.state == "succeeded" and steps != {"succeeded"}:
            problems.append(f"action run {child.stage} is succeeded but its steps are {steps}")
        if child.state == "rolled_back" and not steps <= {"rolled_back"}:
            problems.append(f"action run {child.stage} is rolled_back but its steps are {steps}")
    superseded = [child for child in seen.children if latest.get(child.stage or "") is not child]
    if any(child.state != "rolled_back" for child in superseded):
        problems.append(f"an earlier attempt of a rerun is not rolled back: {seen.summary()}")
    if state == "succeeded":
        if [s for s in STAGES if latest.get(s) and latest[s].state == "succeeded"] != list(STAGES):
            problems.append(f"the pipeline is succeeded but: {seen.summary()}")
    elif state == "rolled_back":
        if any(child.state != "rolled_back" for child in seen.children):
            problems.append(f"the pipeline is rolled_back but: {seen.summary()}")
    elif state == "failed":
        if any(child.state not in ("succeeded", "rolled_back") for child in seen.children):
            problems.append(f"the pipeline is failed (kept) but: {seen.summary()}")
        if not seen.completed():
            problems.append(f"the pipeline is failed but keeps no action: {seen.summary()}")
    elif state != "needs_rollback":  # a crash's state, or an abandoned rollback's
        problems.append(f"the pipeline is {state}: {seen.summary()}")
    return problems


def files_problems(before: Tree, work: Path, seen: Journalled) -> list[str]:
    """Whether the work folder holds exactly what the journal says: before plus what is kept."""
    state = seen.state
    if state == "needs_rollback":
        return []  # not settled yet: `runs rollback` or `runs resume` is still to come
    if state == "succeeded":
        expected, meaning = with_outputs(before, STAGES), "every output"
    elif state == "failed":
        kept = seen.completed()
        expected, meaning = with_outputs(before, kept), f"the outputs of {', '.join(kept)}"
    else:  # nothing ran, rolled back (or a rollback failed: the promise is the same)
        expected, meaning = before, "as before"
    actual = snapshot(work)
    if actual == expected:
        return []
    return [
        f"the journal says {state or 'nothing ran'} (files {meaning}) but the work folder "
        f"differs: {describe_difference(expected, actual)}"
    ]


def finish_rollback(home: Path, cwd: Path, run_id: str, problems: list[str]) -> Journalled:
    """``synapse runs rollback RUN_ID`` (from ``cwd``): it must end the pipeline rolled_back."""
    done = synapse(home, cwd, "runs", "rollback", run_id)
    if done.returncode != 0 or "Traceback" in done.stderr:
        problems.append(f"`runs rollback` exited {done.returncode}: {tail(done.stderr)}")
    elif f"run {run_id} (nightly): rolled_back" not in done.stdout:
        problems.append(f"`runs rollback` printed {tail(done.stdout)}")
    seen = read_journal(home)
    if seen.state != "rolled_back":
        problems.append(f"after `runs rollback` the journal says {seen.summary()}")
    return seen


def finish_resume(home: Path, cwd: Path, seen: Journalled, problems: list[str]) -> Journalled:
    """``synapse runs resume RUN_ID`` of a kept pipeline: succeeded, the kept actions not rerun."""
    kept = {stage: seen.latest()[stage].run_id for stage in seen.completed()}
    done = synapse(home, cwd, "runs", "resume", seen.run_id)
    if done.returncode != 0 or "Traceback" in done.stderr:
        problems.append(f"`runs resume` exited {done.returncode}: {tail(done.stderr)}")
    after = read_journal(home)
    if after.state != "succeeded":
        problems.append(f"after `runs resume` the journal says {after.summary()}")
    rerun = [s for s, run_id in kept.items() if after.latest()[s].run_id != run_id]
    if rerun:
        problems.append(f"`runs resume` ran the completed {', '.join(rerun)} again")
    return after


# -- one trial of `synapse pipeline run` ------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """When the signal goes: ``delay`` s after start-up (``anchored``: after the pipeline run
    is journalled, which start-up's jitter does not move), or as journal write ``write``
    starts (-1: by time; 0: through the driver without a signal, counting the writes).

    ``kind`` says how it was drawn (the campaign's schedule).
    """

    kind: str
    delay: float = 0.0
    anchored: bool = False
    write: int = -1

    def __str__(self) -> str:
        if self.write >= 0:
            return f"{self.kind} at journal write {self.write}"
        since = "the pipeline run was journalled" if self.anchored else "start-up"
        return f"{self.kind} at {self.delay:.3f}s after {since}"


@dataclass(frozen=True)
class RunTrial:
    index: int
    sig: signal.Signals | None  # None: run to the end (calibration)
    moment: Moment
    variant: int  # 1: an earlier action (train) also replaces a file that was there
    keep_completed: bool = False


@dataclass
class RunOutcome:
    trial: RunTrial
    returncode: int
    sent: bool  # False: the command had ended when the moment came
    landing: str
    seen: Journalled  # the journal right after the command ended
    final: Journalled  # after `runs rollback` / `runs resume`, when one was needed
    duration: float
    started_wall: float
    stderr: str
    statement: str = ""  # the journal write the driver landed on
    writes: int = 0  # with write 0: how many journal writes the run made
    problems: list[str] = field(default_factory=list)


def run_trial(trial: RunTrial, root: Path, slow: float) -> RunOutcome:
    """``synapse pipeline run`` in ``root/work``; ``slow``: publish's wait between copies."""
    work, home, elsewhere, logs = root / "work", root / "home", root / "elsewhere", root / "logs"
    elsewhere.mkdir(parents=True)
    before = prepare_work(work, trial.variant, {"publish": {"slow": slow}})
    args = ["pipeline", "run", PIPELINE_FILE, "--params-file", PARAMS_FILE]
    if trial.keep_completed:
        args.append("--keep-completed")
    moment, written = trial.moment, logs / "writes"
    signame = trial.sig.name if trial.sig is not None else "SIGKILL"
    at = str(moment.write) if moment.write >= 0 else None
    argv = command(args, at=at, sig=signame, log=written)
    problems: list[str] = []
    started_wall, started = time.time(), time.monotonic()
    process = start(argv, work, home, logs)
    sent = moment.write > 0
    if trial.sig is not None and moment.write < 0:
        anchor = started
        if moment.anchored and wait_until(lambda: pipeline_journalled(home), process):
            anchor = time.monotonic()
        time.sleep(max(0.0, anchor + moment.delay - time.monotonic()))
        if process.poll() is None:
            process.send_signal(trial.sig)
            sent = True
    returncode = finish(process, problems, "`pipeline run`")
    duration = time.monotonic() - started
    lines = written.read_text().splitlines() if written.exists() else []
    if moment.write > 0:
        sent = bool(lines)
    seen = read_journal(home)
    outcome = RunOutcome(
        trial=trial,
        returncode=returncode,
        sent=sent,
        landing=landing_of(seen, sent),
        seen=seen,
        final=seen,
        duration=duration,
        started_wall=started_wall,
        stderr=(logs / "stderr").read_text(errors="replace"),
        statement=lines[0] if moment.write > 0 and lines else "",
        writes=len(lines) if moment.write == 0 else 0,
        problems=problems,
    )
    judge_run(outcome, before, work, home, elsewhere)
    return outcome


def judge_run(outcome: RunOutcome, before: Tree, work: Path, home: Path, elsewhere: Path) -> None:
    """Append every broken promise of a `pipeline run` trial to ``outcome.problems``."""
    trial, code, seen, problems = outcome.trial, outcome.returncode, outcome.seen, outcome.problems
    sig, state = trial.sig, seen.state
    problems += truth_problems(seen)
    # A catchable signal that lands before the command's first handler (interpreter
    # start-up) kills it: acceptable only if nothing was journalled or written.
    killed_early = (
        stopped_before_our_code(sig, code, outcome.stderr)
        and state is None
        and snapshot(work) == before
    )
    if sig is None:
        allowed = {0}
    elif sig is signal.SIGKILL:
        allowed = {0, -signal.SIGKILL}
    else:
        allowed = {0, EXIT_CODES[sig]}
    if code not in allowed and not killed_early:
        problems.append(f"exit code {code}, expected one of {sorted(allowed)}")
    if sig is not signal.SIGKILL and "Traceback" in outcome.stderr and not killed_early:
        problems.append("a traceback on stderr")
    killed_after_success = sig is signal.SIGKILL and code == -signal.SIGKILL
    if (code == 0) != (state == "succeeded") and not killed_after_success:
        problems.append(f"exit code {code} but the journal says {seen.summary()}")
    if sig is signal.SIGKILL:
        if state not in (None, "succeeded", "needs_rollback"):
            problems.append(f"a killed pipeline is journalled {state}: {seen.summary()}")
    else:
        settled = {None, "succeeded", "rolled_back", *(["failed"] if trial.keep_completed else [])}
        if state not in settled:
            problems.append(f"the pipeline did not settle by itself: {seen.summary()}")
        if state == "failed" and not trial.keep_completed:
            problems.append("the pipeline is failed (outputs kept) without --keep-completed")
        undone = [c.stage for c in seen.children if c.state != "succeeded" and _completed_run(c)]
        if trial.keep_completed and state != "succeeded" and undone:
            problems.append(f"--keep-completed, yet the completed {undone} were undone")
    problems += files_problems(before, work, seen)
    final = seen
    if state == "needs_rollback":
        final = finish_rollback(home, elsewhere, seen.run_id, problems)
    elif state == "failed":
        final = finish_resume(home, elsewhere, seen, problems)
    if final is not seen:
        problems += truth_problems(final)
        problems += files_problems(before, work, final)
    outcome.final = final


# -- the driver -------------------------------------------------------------------------


def drive() -> None:
    """Run the command line, sending a signal at the N-th journal write (see the docstring)."""
    where, name, log = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    args = sys.argv[sys.argv.index("--") + 1 :]
    number, _, prefix = where.partition(":")
    nth, signum = int(number), getattr(signal, name)
    count = 0

    def traced(statement: str) -> None:
        nonlocal count
        if not statement.startswith(WRITES) or not statement.startswith(prefix):
            return
        count += 1
        if nth == 0 or count == nth:
            with log.open("a") as file:
                file.write(f"{count} {' '.join(statement.split())[:60]}\n")
        if count == nth:
            os.kill(os.getpid(), signum)

    connect = sqlite3.connect

    def traced_connect(*a: Any, **kw: Any) -> sqlite3.Connection:
        db = connect(*a, **kw)
        db.set_trace_callback(traced)
        return db

    sqlite3.connect = traced_connect  # type: ignore[assignment]
    sys.argv = ["synapse", *args]
    synapse_main()


if __name__ == "__main__":
    drive()
