"""A seeded random-interrupt campaign against the real upload example and ``synapse`` CLI.

For SIGINT, SIGTERM, SIGHUP and SIGKILL (then ``synapse runs rollback``), trials send the
signal at random moments, from interpreter start-up to slightly after a typical run ends,
with part of the trials concentrated on the upload's fan-out. Each trial checks the
promise of docs/reliability.md (see support/interrupts.py for the verdict): the target
area is byte-identical to before, or holds exactly the upload if the run succeeded; the
journal tells the truth; the exit code is the documented one; no traceback.

Replay: ``SYNAPSE_CAMPAIGN_SEED`` (default below) and ``SYNAPSE_CAMPAIGN_TRIAL=N`` (run
only trial N of each signal); ``SYNAPSE_CAMPAIGN_TRIALS`` sets the trials per signal.
Delays are drawn within durations measured on this machine before each signal's trials,
so a replay lands near (not exactly at) the same moment; ``SYNAPSE_CAMPAIGN_DELAY=S``
replays the exact delay a failure printed. Per-signal counts of where the signals landed
are printed and written to ``SYNAPSE_CAMPAIGN_REPORT`` (default: ``interrupt-campaign.json``
in pytest's base temporary directory).
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from support.interrupts import Outcome, Trial, make_source, run_trial, tail

SEED = int(os.environ.get("SYNAPSE_CAMPAIGN_SEED", "20261128"))
TRIALS = int(os.environ.get("SYNAPSE_CAMPAIGN_TRIALS", "40"))
ONLY = os.environ.get("SYNAPSE_CAMPAIGN_TRIAL")
DELAY = os.environ.get("SYNAPSE_CAMPAIGN_DELAY")  # seconds: replay a trial's exact delay
CONCURRENCY = 2
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]


@dataclass(frozen=True)
class Timing:
    """Typical durations on this machine, in seconds from process start (under the same load)."""

    run: float  # start-up to exit
    upload_start: float
    upload_end: float


def in_parallel(work: list[Trial], root: Path, source: Path) -> list[Outcome]:
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(lambda t: run_trial(t, root / f"trial{t.index}", source), work))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("campaign-source"))


@pytest.fixture
def timing(source: Path, tmp_path: Path) -> Timing:
    """Measure uninterrupted runs, two at a time like the trials (the first two warm up).

    Measured again for every signal: the machine's load, and so the timing, changes.
    """
    root = tmp_path / "calibration"
    runs = [Trial(i, None, 0.0, "calibration", i % 3, i % 2 == 0) for i in range(6)]
    outcomes = in_parallel(runs, root, source)
    for outcome in outcomes:
        assert not outcome.problems, (outcome.problems, tail(outcome.stderr))
    outcomes = outcomes[2:]

    def upload(outcome: Outcome, end: str) -> float:
        assert outcome.record is not None
        [step] = [s for s in outcome.record["steps"] if s["name"] == "upload"]
        return float(step[end]) - outcome.started_wall

    return Timing(
        run=statistics.median(o.duration for o in outcomes),
        upload_start=statistics.median(upload(o, "started_at") for o in outcomes),
        upload_end=statistics.median(upload(o, "ended_at") for o in outcomes),
    )


def schedule(sig: signal.Signals, timing: Timing) -> list[Trial]:
    """60% uniform over [0, T], 30% within the upload step, 10% in [T, 1.25 T]."""
    trials = []
    for index in range(TRIALS):
        rng = random.Random(f"{SEED}/{sig.name}/{index}")
        share = index / TRIALS
        if share < 0.6:
            kind, low, high = "whole", 0.0, timing.run
        elif share < 0.9:
            kind, low, high = "upload", timing.upload_start, timing.upload_end
        else:
            kind, low, high = "after_end", timing.run, 1.25 * timing.run
        delay = rng.uniform(low, high)
        trials.append(Trial(index, sig, delay, kind, index % 3, index % 2 == 0))
    if ONLY is not None:
        trials = [trial for trial in trials if trial.index == int(ONLY)]
    if DELAY is not None:
        trials = [replace(trial, delay=float(DELAY), kind="replay") for trial in trials]
    return trials


def describe(outcome: Outcome, timing: Timing) -> str:
    trial = outcome.trial
    problems = "\n    - ".join(outcome.problems)
    return (
        f"{trial.sig and trial.sig.name} trial {trial.index} "
        f"(replay: SYNAPSE_CAMPAIGN_SEED={SEED} SYNAPSE_CAMPAIGN_TRIAL={trial.index} "
        f"SYNAPSE_CAMPAIGN_DELAY={trial.delay:.3f} -k {trial.sig and trial.sig.name}): "
        f"delay {trial.delay:.3f}s [{trial.kind}; T={timing.run:.3f}s, upload "
        f"{timing.upload_start:.3f}-{timing.upload_end:.3f}s], "
        f"{'--json' if trial.json_mode else 'terminal'}, area variant {trial.variant}; "
        f"exit {outcome.returncode}, landed {outcome.landing}, journal {outcome.state}"
        f" -> {outcome.final_state}\n    - {problems}\n    stderr: {tail(outcome.stderr)}"
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    summary: dict[str, Any] = {"seed": SEED, "trials_per_signal": TRIALS, "signals": {}}
    yield summary
    default = tmp_path_factory.getbasetemp() / "interrupt-campaign.json"
    path = Path(os.environ.get("SYNAPSE_CAMPAIGN_REPORT", default))
    path.write_text(json.dumps(summary, indent=2))


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda sig: sig.name)
def test_an_interrupt_at_any_moment_leaves_nothing_behind_and_the_journal_true(
    sig: signal.Signals,
    source: Path,
    timing: Timing,
    report: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcomes = in_parallel(schedule(sig, timing), tmp_path / "trials", source)
    failed = [outcome for outcome in outcomes if outcome.problems]
    landings = Counter(outcome.landing for outcome in outcomes)
    exits = Counter(outcome.returncode for outcome in outcomes)
    report["signals"][sig.name] = {
        "timing": vars(timing),
        "landed": dict(landings),
        "exit_codes": {str(code): count for code, count in exits.items()},
        "failed": len(failed),
        "trials": [
            {
                "trial": o.trial.index,
                "delay": round(o.trial.delay, 4),
                "kind": o.trial.kind,
                "exit": o.returncode,
                "landed": o.landing,
                "journal": [o.state, o.final_state],
                "problems": o.problems,
            }
            for o in outcomes
        ],
        "failures": [describe(outcome, timing) for outcome in failed],
    }
    with capsys.disabled():
        print(
            f"\ncampaign {sig.name} seed={SEED}: {len(outcomes)} trials, "
            f"T={timing.run:.3f}s; landed {dict(sorted(landings.items()))}; "
            f"exit codes {dict(sorted(exits.items()))}; {len(failed)} failed"
        )
    assert not failed, f"{len(failed)} of {len(outcomes)} trials broke a promise:\n" + (
        "\n".join(describe(outcome, timing) for outcome in failed)
    )
