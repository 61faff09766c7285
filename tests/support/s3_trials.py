"""One trial of the S3 interrupt campaign: a real example action writing to moto's S3.

A trial starts ``synapse run ACTION`` as a real subprocess, writing under a fresh prefix of
a bucket that already holds unrelated objects (under that prefix and beside it), sends a
signal after a delay, finishes a killed run with ``synapse runs rollback`` started from
another folder, and checks the promise: the bucket lists byte-identical to before, or,
if the run succeeded, exactly as before plus what the action wrote. Every broken promise
becomes one line of the returned list.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.cli import SYNAPSE
from support.interrupts import make_source, synapse_env, tail
from support.moto import bucket_listing

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins_examples"
HANG_SECONDS = 60
CAMPAIGN_SIGNALS = (signal.SIGINT, signal.SIGKILL)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129, signal.SIGKILL: -9}

UNRELATED = {
    "out/existing.txt": b"under the run's prefix, not the run's",
    "out/older/run.bin": b"\x00\x01 an older run",
    "beside.txt": b"next to the run's prefix",
}


def action_params(action: str, prefix: str, source: Path, endpoint: str) -> dict[str, Any]:
    """Params that make ``action`` write under ``prefix`` (``s3://bucket/key``)."""
    options = {"endpoint_url": endpoint}
    if action == "upload-files":
        return {"source": str(source), "target": f"{prefix}/out/new", "storage_options": options}
    if action == "export-annotations":
        dataset = EXAMPLES / "export-annotations" / "sample_dataset"
        return {
            "dataset": str(dataset),
            "output_uri": f"{prefix}/out/export",
            "storage_options": options,
        }
    if action == "train-classifier":
        return {"epochs": 3, "model_uri": f"{prefix}/out/model.pkl", "storage_options": options}
    raise ValueError(action)


@dataclass(frozen=True)
class S3Trial:
    action: str
    sig: signal.Signals | None  # None: run to the end (calibration)
    delay: float
    extra_args: tuple[str, ...] = ()  # e.g. ("--ray-address", ADDRESS)
    from_run_start: bool = False  # count ``delay`` from when the journal has the run


@dataclass
class S3Outcome:
    trial: S3Trial
    returncode: int
    duration: float
    state: str | None
    final_state: str | None
    problems: list[str]
    run_duration: float | None = None  # from the journal's first record to the exit


def run_s3_trial(
    trial: S3Trial, workdir: Path, client: Any, bucket: str, endpoint: str, source: Path
) -> S3Outcome:
    """Run one trial in ``workdir`` against a fresh prefix of ``bucket``."""
    key_prefix = f"trial-{uuid.uuid4().hex[:10]}"
    for key, body in UNRELATED.items():
        client.put_object(Bucket=bucket, Key=f"{key_prefix}/{key}", Body=body)
    before = bucket_listing(client, bucket, key_prefix)
    home, cwd, elsewhere = workdir / "home", workdir / "cwd", workdir / "elsewhere"
    for folder in (cwd, elsewhere):
        folder.mkdir(parents=True)
    params = action_params(trial.action, f"s3://{bucket}/{key_prefix}", source, endpoint)
    command = [SYNAPSE, "run", trial.action, "--json", "--params", json.dumps(params)]
    started = time.monotonic()
    process = subprocess.Popen(
        [*command, *trial.extra_args],
        cwd=cwd,
        env=synapse_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    problems: list[str] = []
    run_started = _journalled_run_started(home, process) if trial.from_run_start else None
    if trial.sig is not None:
        counted_from = run_started if run_started is not None else started
        try:
            process.wait(timeout=max(0.0, trial.delay - (time.monotonic() - counted_from)))
        except subprocess.TimeoutExpired:
            process.send_signal(trial.sig)
    try:
        stdout, stderr = process.communicate(timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        problems.append(f"still running {HANG_SECONDS} s after the signal")
    (workdir / "events.jsonl").write_text(stdout)  # the run's events and logs, to diagnose
    duration = time.monotonic() - started
    run_duration = None if run_started is None else time.monotonic() - run_started
    code = process.returncode
    allowed = {0} if trial.sig is None else {0, EXIT_CODES[trial.sig]}
    if code not in allowed:
        problems.append(f"exit code {code}, expected one of {sorted(allowed)}: {tail(stderr)}")
    if "Traceback" in stderr:
        problems.append(f"a traceback reached stderr: {tail(stderr)}")
    state, run_id = _journal_state(home)
    final_state = state
    if state in ("needs_rollback", "running"):  # a killed run: finish it from elsewhere
        if trial.sig is not None and trial.sig != signal.SIGKILL:
            problems.append(f"the run's own rollback left it {state}: {tail(stderr)}")
        finished = _synapse(home, elsewhere, "runs", "rollback", str(run_id))
        if finished.returncode != 0:
            problems.append(
                f"`runs rollback` exited {finished.returncode}: {tail(finished.stderr)}"
            )
        final_state, _ = _journal_state(home)
    after = bucket_listing(client, bucket, key_prefix)
    if final_state == "succeeded":
        kept = {key: after.get(key) for key in before}
        if kept != before:
            problems.append("the run succeeded but changed objects it did not write")
        if len(after) <= len(before):
            problems.append("the run succeeded but wrote nothing")
    else:
        if after != before:
            extra = sorted(set(after) - set(before))[:5]
            missing = sorted(set(before) - set(after))[:5]
            problems.append(
                f"journal says {final_state} but the bucket changed: "
                f"left {extra}, missing {missing}"
            )
        if final_state not in (None, "rolled_back"):
            problems.append(f"the journal ends {final_state}, not rolled_back")
    return S3Outcome(trial, code, duration, state, final_state, problems, run_duration)


def _journalled_run_started(home: Path, process: subprocess.Popen[str]) -> float | None:
    """When the run's first journal record appeared (None: the command ended first).

    Reads the real SQLite journal directly (read-only), every 20 ms.
    """
    journal = home / "runs.db"
    deadline = time.monotonic() + HANG_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        if journal.exists():
            try:
                with contextlib.closing(
                    sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1)
                ) as db:
                    if db.execute("SELECT count(*) FROM runs").fetchone()[0]:
                        return time.monotonic()
            except sqlite3.Error:
                pass  # created but not yet set up
        time.sleep(0.02)
    return None


def _synapse(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYNAPSE, *args],
        cwd=cwd,
        env=synapse_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _journal_state(home: Path) -> tuple[str | None, str | None]:
    if not (home / "runs.db").exists():
        return None, None
    listed = _synapse(home, home, "runs", "list", "--json")
    runs = json.loads(listed.stdout or "[]")
    if not runs:
        return None, None
    return runs[0]["state"], runs[0]["run_id"]


def run_s3_campaign(
    action: str,
    label: str,
    trials: int,
    workdir: Path,
    client: Any,
    bucket: str,
    endpoint: str,
    *,
    extra_args: tuple[str, ...] = (),
    from_run_start: bool = False,
) -> None:
    """A calibration run, then ``trials`` per signal at moments drawn from seed ``label``.

    The moments fall within the calibration's duration: from the command's start, or
    with ``from_run_start`` from the run's first journal record. Asserts that no trial
    broke the promise, and prints what the trials met.
    """
    source = make_source(workdir / "source", count=300)
    calibration = run_s3_trial(
        S3Trial(action, None, 0.0, extra_args, from_run_start),
        workdir / "calibration",
        client,
        bucket,
        endpoint,
        source,
    )
    assert not calibration.problems, calibration.problems
    assert calibration.final_state == "succeeded"
    span = calibration.run_duration if from_run_start else calibration.duration
    assert span is not None
    earliest = 0.0 if from_run_start else 0.2  # the command's own start-up is not the run
    rng = random.Random(label)
    failures: list[str] = []
    states: Counter[str] = Counter()
    for sig in CAMPAIGN_SIGNALS:
        for index in range(trials):
            delay = rng.uniform(earliest, span * 0.9)
            trial = S3Trial(action, sig, delay, extra_args, from_run_start)
            outcome = run_s3_trial(
                trial, workdir / f"{sig.name}-{index}", client, bucket, endpoint, source
            )
            states[f"{sig.name}:{outcome.state}->{outcome.final_state}"] += 1
            failures += [f"{sig.name} at {delay:.3f}s: {problem}" for problem in outcome.problems]
    print(f"s3 campaign {label}: {dict(states)}; {len(failures)} failed")
    assert failures == [], "\n".join(failures)
