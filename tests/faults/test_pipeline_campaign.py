"""A seeded random-signal campaign against ``synapse pipeline run`` and its recovery.

The real command runs the three-action chain of support/pipeline_actions.py (prepare ->
train -> publish over real files) in a work folder that already holds files: one the
last action replaces, two that nothing touches and, on odd trials, one that an earlier
action (train) replaces. Trials attack the pipeline's promise (see
support/pipeline_trials.py for the verdict):

* SIGKILL at a random moment, then ``synapse runs rollback PIPELINE_RUN`` from another
  folder: every file byte-identical to before, the pipeline and each of its action runs
  rolled_back; a pipeline that succeeded left every output.
* SIGINT and SIGTERM at a random moment: exit 130 (143) and the pipeline settles by itself,
  rolled_back with the files as before (or succeeded); with ``--keep-completed`` it is
  ``failed`` with the completed actions' outputs, and ``synapse runs resume`` finishes it.
* Two SIGINTs while a pipeline undoes its earlier actions leave it ``needs_rollback``;
  ``synapse runs rollback`` finishes it, each step undone exactly once.
* SIGKILL during ``synapse runs rollback`` of a pipeline; rolling back again finishes it.
* Two ``synapse runs resume`` started together: one proceeds, the other is refused, and
  the failed action runs again once.

Moments are drawn by time (within durations measured on this machine: start-up, the
actions, their end) or as the N-th journal write starts (the driver of
support/pipeline_trials.py), which lands inside the journal's transactions exactly. The
scripted trials (two Ctrl-C, killed rollback) use the folder without the file train
replaces, so that what they find is about their own moment; the resume race alternates.
Last, the moments a random draw may miss are pinned, each in a test of its own.

Replay: ``SYNAPSE_PIPELINE_CAMPAIGN_SEED`` (default below), ``SYNAPSE_PIPELINE_CAMPAIGN_TRIAL=N``
(only trial N of each signal), ``SYNAPSE_PIPELINE_CAMPAIGN_DELAY=S`` (that trial's exact
delay, for one drawn by time); ``SYNAPSE_PIPELINE_CAMPAIGN_TRIALS`` scales the trials per
signal. A trial drawn as journal write N replays exactly. Landing counts are printed and
written to ``SYNAPSE_PIPELINE_CAMPAIGN_REPORT`` (default: ``pipeline-campaign.json`` in
pytest's base temporary directory).
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from support.interrupts import Tree, snapshot, tail
from support.pipeline_trials import (
    DATA,
    PARAMS_FILE,
    PIPELINE_FILE,
    STAGES,
    Journalled,
    Moment,
    RunOutcome,
    RunTrial,
    command,
    files_problems,
    finish,
    finish_rollback,
    prepare_work,
    read_journal,
    run_trial,
    start,
    synapse,
    truth_problems,
    wait_until,
    with_outputs,
)

SEED = int(os.environ.get("SYNAPSE_PIPELINE_CAMPAIGN_SEED", "20261202"))
SCALE = float(os.environ.get("SYNAPSE_PIPELINE_CAMPAIGN_TRIALS", "1"))
ONLY = os.environ.get("SYNAPSE_PIPELINE_CAMPAIGN_TRIAL")
DELAY = os.environ.get("SYNAPSE_PIPELINE_CAMPAIGN_DELAY")
TRIALS = {signal.SIGKILL: 20, signal.SIGINT: 20, signal.SIGTERM: 15}
CONCURRENCY = 2
SLOW = 0.05  # publish waits this long between its two copies: a moment inside an action
UNDO_SECONDS = 1.0  # train's own rollback, where the two Ctrl-C land
SETUP_UNDO_SECONDS = 0.3  # train's own rollback when `runs rollback` is killed


def trials_of(sig: signal.Signals) -> int:
    return max(1, round(TRIALS[sig] * SCALE))


def in_parallel(work: list[RunTrial], root: Path) -> list[RunOutcome]:
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(lambda t: run_trial(t, root / f"trial{t.index}", SLOW), work))


@dataclass(frozen=True)
class Timing:
    """Typical moments on this machine (seconds) and the journal's writes."""

    run: float  # start-up to exit
    journalled: float  # start-up to the pipeline run journalled
    actions: float  # from then to the last action's end
    writes: int  # journal write statements of an uninterrupted run


def check_calibration(outcomes: list[RunOutcome]) -> None:
    for outcome in outcomes:
        assert not outcome.problems, (outcome.problems, tail(outcome.stderr))
        assert outcome.final.state == "succeeded"


@pytest.fixture(scope="module")
def writes(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The journal writes of an uninterrupted run, counted by the driver (one per variant)."""
    root = tmp_path_factory.mktemp("pipeline-writes")
    counted = in_parallel([RunTrial(i, None, Moment("count", write=0), i) for i in (0, 1)], root)
    check_calibration(counted)
    assert counted[0].writes == counted[1].writes > 0  # the variants write alike
    return counted[0].writes


@pytest.fixture
def timing(writes: int, tmp_path: Path) -> Timing:
    """Two uninterrupted runs side by side, as the trials run: measured again for each
    signal, since the machine's load (and so the timing) changes."""
    timed = in_parallel(
        [RunTrial(i, None, Moment("calibration"), i) for i in (0, 1)], tmp_path / "timing"
    )
    check_calibration(timed)

    def since_start(outcome: RunOutcome) -> tuple[float, float]:
        """When the pipeline run was journalled, and when its last action ended."""
        pipeline, last = outcome.seen.pipeline, outcome.seen.children[-1]
        assert pipeline is not None
        assert last.ended_at is not None
        started = outcome.started_wall
        return pipeline.started_at - started, last.ended_at - started

    journalled, ended = (statistics.median(m) for m in zip(*map(since_start, timed), strict=True))
    return Timing(
        run=statistics.median(o.duration for o in timed),
        journalled=journalled,
        actions=ended - journalled,
        writes=writes,
    )


def schedule(sig: signal.Signals, timing: Timing) -> list[RunTrial]:
    """15% over the whole run (start-up included); 25% within the actions and 10% from
    their end to after the exit, these counted from the moment the pipeline run is
    journalled; half at journal writes, one drawn in each equal stretch of them, so that
    every action's start, steps, writes and end get their share however short they are.

    Odd trials add a file that train replaces; with SIGINT and SIGTERM every other pair of
    trials runs with ``--keep-completed``.
    """
    count = trials_of(sig)
    first_write = round(0.5 * count)
    stretch = timing.writes / max(1, count - first_write)
    after = timing.run - timing.journalled
    trials = []
    for index in range(count):
        rng = random.Random(f"{SEED}/{sig.name}/{index}")
        share = index / count
        if index >= first_write:
            low = int((index - first_write) * stretch) + 1
            high = max(low, int((index - first_write + 1) * stretch))
            moment = Moment("writes", write=rng.randint(low, min(high, timing.writes)))
        elif share < 0.15:
            moment = Moment("whole", delay=rng.uniform(0.0, timing.run))
        elif share < 0.4:
            moment = Moment("actions", rng.uniform(0.0, timing.actions), anchored=True)
        else:
            moment = Moment("end", rng.uniform(timing.actions, 1.15 * after), anchored=True)
        keep = sig is not signal.SIGKILL and (index // 2) % 2 == 1
        trials.append(RunTrial(index, sig, moment, index % 2, keep))
    if ONLY is not None:
        trials = [trial for trial in trials if trial.index == int(ONLY)]
    if DELAY is not None:
        trials = [replace(t, moment=replace(t.moment, delay=float(DELAY))) for t in trials]
    return trials


def describe(outcome: RunOutcome, timing: Timing) -> str:
    trial = outcome.trial
    name = trial.sig.name if trial.sig is not None else "no signal"
    prefix = "SYNAPSE_PIPELINE_CAMPAIGN"
    replay = f"{prefix}_SEED={SEED} {prefix}_TRIAL={trial.index}"
    if trial.moment.write < 0:
        replay += f" {prefix}_DELAY={trial.moment.delay:.3f}"
    where = f" ({outcome.statement})" if outcome.statement else ""
    problems = "\n    - ".join(outcome.problems)
    return (
        f"{name} trial {trial.index} (replay: {replay} -k 'signal_at_any and {name}'): "
        f"{trial.moment}{where} "
        f"[T={timing.run:.3f}s, journalled at {timing.journalled:.3f}s, actions "
        f"{timing.actions:.3f}s, {timing.writes} writes], variant {trial.variant}"
        f"{', --keep-completed' if trial.keep_completed else ''}; exit {outcome.returncode}, "
        f"landed {outcome.landing}; journal {outcome.seen.summary()} -> {outcome.final.state}"
        f"\n    - {problems}\n    stderr: {tail(outcome.stderr)}"
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    summary: dict[str, Any] = {"seed": SEED, "campaigns": {}}
    yield summary
    default = tmp_path_factory.getbasetemp() / "pipeline-campaign.json"
    path = Path(os.environ.get("SYNAPSE_PIPELINE_CAMPAIGN_REPORT", default))
    path.write_text(json.dumps(summary, indent=2))


def print_campaign(
    capsys: pytest.CaptureFixture[str], name: str, landings: Counter[str], extra: str, failed: int
) -> None:
    with capsys.disabled():
        print(
            f"\ncampaign pipeline {name} seed={SEED}: {sum(landings.values())} trials{extra}; "
            f"landed {dict(sorted(landings.items()))}; {failed} failed"
        )


@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=lambda sig: sig.name
)
def test_a_signal_at_any_moment_of_a_pipeline_leaves_the_files_as_the_journal_says(
    sig: signal.Signals,
    timing: Timing,
    report: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcomes = in_parallel(schedule(sig, timing), tmp_path)
    failed = [outcome for outcome in outcomes if outcome.problems]
    landings = Counter(outcome.landing for outcome in outcomes)
    exits = Counter(outcome.returncode for outcome in outcomes)
    report["campaigns"][sig.name] = {
        "timing": vars(timing),
        "landed": dict(landings),
        "exit_codes": {str(code): count for code, count in exits.items()},
        "trials": [
            {
                "trial": o.trial.index,
                "moment": str(o.trial.moment),
                "statement": o.statement,
                "variant": o.trial.variant,
                "keep_completed": o.trial.keep_completed,
                "exit": o.returncode,
                "landed": o.landing,
                "journal": [o.seen.state, o.final.state],
                "problems": o.problems,
            }
            for o in outcomes
        ],
    }
    extra = (
        f", T={timing.run:.3f}s, {timing.writes} journal writes; "
        f"exit codes {dict(sorted(exits.items()))}"
    )
    print_campaign(capsys, sig.name, landings, extra, len(failed))
    assert not failed, f"{len(failed)} of {len(outcomes)} trials broke a promise:\n" + (
        "\n".join(describe(outcome, timing) for outcome in failed)
    )


# -- two Ctrl-C while the pipeline undoes its earlier actions ---------------------------


@dataclass
class Verdict:
    """How one scripted trial went: where its signals landed and what broke."""

    index: int
    landing: str
    problems: list[str]


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def double_interrupt(index: int, root: Path) -> Verdict:
    """Even trials: publish fails and two Ctrl-C come while train is being undone. Odd
    trials: Ctrl-C while publish waits between its copies, the second while train is
    being undone. Train's own rollback takes ``UNDO_SECONDS``; the signals land within it.
    """
    rng = random.Random(f"{SEED}/double/{index}")
    interrupted_publish = index % 2 == 1
    work, home, elsewhere, logs = root / "work", root / "home", root / "elsewhere", root / "logs"
    elsewhere.mkdir(parents=True)
    undo_log = root / "fit-rollback.log"
    params = {
        "train": {"slow_rollback": UNDO_SECONDS, "rollback_log": str(undo_log)},
        "publish": {"slow": 60} if interrupted_publish else {"fail_at": "publish"},
    }
    before = prepare_work(work, 0, params)
    argv = command(["pipeline", "run", PIPELINE_FILE, "--params-file", PARAMS_FILE])
    process = start(argv, work, home, logs)
    problems: list[str] = []
    if interrupted_publish:
        published = work / "pub" / "data.txt"
        if not wait_until(lambda: published.read_bytes() == DATA, process):
            problems.append("publish never copied its first file")
        process.send_signal(signal.SIGINT)
    if not wait_until(lambda: "start" in lines(undo_log), process):
        problems.append("the pipeline never started to undo train")
    first = rng.uniform(0.0, 0.4 * UNDO_SECONDS)
    time.sleep(first)
    process.send_signal(signal.SIGINT)
    second = rng.uniform(0.0, 0.2)
    if not interrupted_publish:
        time.sleep(second)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    landing = "in_publish_then_in_undo" if interrupted_publish else "failed_then_two_in_undo"
    code = finish(process, problems, "`pipeline run`")
    stderr = (logs / "stderr").read_text(errors="replace")
    if code != 130 or "Traceback" in stderr:
        problems.append(f"`pipeline run` exited {code}: {tail(stderr)}")
    seen = read_journal(home)
    problems += truth_problems(seen)
    if seen.state != "needs_rollback":
        problems.append(f"after two Ctrl-C the journal says {seen.summary()}")
    if lines(undo_log) != ["start"]:
        problems.append(f"train's rollback ran {lines(undo_log)} before `runs rollback`")
    if seen.runs:
        final = finish_rollback(home, elsewhere, seen.run_id, problems)
        problems += truth_problems(final) + files_problems(before, work, final)
        if lines(undo_log).count("end") != 1:
            problems.append(f"train's rollback ran to its end {lines(undo_log).count('end')}x")
        again = synapse(home, elsewhere, "runs", "rollback", seen.run_id)
        if again.returncode != 2:
            problems.append(f"a second `runs rollback` exited {again.returncode}")
        if snapshot(work) != before or lines(undo_log).count("end") != 1:
            problems.append("a second `runs rollback` undid something again")
    return Verdict(index, landing, [f"(first Ctrl-C +{first:.3f}s) {p}" for p in problems])


def test_two_ctrl_c_while_earlier_actions_are_undone_leave_the_rest_to_runs_rollback(
    tmp_path: Path, report: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    count = max(2, round(4 * SCALE))
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        verdicts = list(pool.map(lambda i: double_interrupt(i, tmp_path / f"t{i}"), range(count)))
    scripted_report(report, "double_sigint", verdicts, capsys)


def scripted_report(
    report: dict[str, Any],
    name: str,
    verdicts: list[Verdict],
    capsys: pytest.CaptureFixture[str],
) -> None:
    landings = Counter(verdict.landing for verdict in verdicts)
    failed = [verdict for verdict in verdicts if verdict.problems]
    report["campaigns"][name] = {
        "landed": dict(landings),
        "trials": [vars(verdict) for verdict in verdicts],
    }
    print_campaign(capsys, name, landings, "", len(failed))
    assert not failed, f"{len(failed)} of {len(verdicts)} trials broke a promise:\n" + "\n".join(
        f"trial {v.index} (seed {SEED}), landed {v.landing}:\n    - " + "\n    - ".join(v.problems)
        for v in failed
    )


# -- kill -9 during `synapse runs rollback` of a pipeline -------------------------------


def crashed_pipeline(root: Path) -> tuple[Path, Path, Path, Tree, str]:
    """A pipeline killed while publish waits between its copies: every action to undo."""
    work, home, elsewhere = root / "work", root / "home", root / "elsewhere"
    elsewhere.mkdir(parents=True)
    params = {"train": {"slow_rollback": SETUP_UNDO_SECONDS}, "publish": {"slow": 60}}
    before = prepare_work(work, 0, params)
    argv = command(["pipeline", "run", PIPELINE_FILE, "--params-file", PARAMS_FILE])
    process = start(argv, work, home, root / "run-logs")
    published = work / "pub" / "data.txt"
    assert wait_until(lambda: published.read_bytes() == DATA, process), "publish never copied"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    seen = read_journal(home)
    assert seen.state == "needs_rollback", seen.summary()
    return work, home, elsewhere, before, seen.run_id


def rollback_landing(seen: Journalled, rollback_pid: int, sent: bool) -> str:
    """Where a kill of ``runs rollback`` landed: the action being undone, or its ends."""
    if not sent:
        return "after_exit"
    pipeline = seen.pipeline
    assert pipeline is not None
    if pipeline.state == "rolled_back":
        return "after_end"
    if pipeline.pid != rollback_pid:
        return "before_claim"
    for child in reversed(seen.children):  # the order they are undone in
        if any(step.state != "rolled_back" for step in child.steps):
            return f"undoing_{child.stage}"
    return "settling"


@dataclass(frozen=True)
class RollbackTiming:
    run: float
    writes: int


@pytest.fixture(scope="module")
def rollback_timing(tmp_path_factory: pytest.TempPathFactory) -> RollbackTiming:
    """One rollback counting its journal writes, one timed, each of a freshly crashed run."""
    root = tmp_path_factory.mktemp("rollback-calibration")
    took = 0.0
    for name, at in (("counted", "0"), ("timed", None)):
        work, home, elsewhere, before, run_id = crashed_pipeline(root / name)
        started = time.monotonic()
        argv = command(["runs", "rollback", run_id], at=at, log=root / name / "writes")
        process = start(argv, elsewhere, home, root / name / "logs")
        assert process.wait(timeout=60) == 0
        took = time.monotonic() - started
        assert read_journal(home).state == "rolled_back"
        assert snapshot(work) == before
    counted = len((root / "counted" / "writes").read_text().splitlines())
    return RollbackTiming(run=took, writes=counted)


def killed_rollback(index: int, root: Path, timing: RollbackTiming, count: int) -> Verdict:
    """Kill ``runs rollback`` at a random moment (even trials: by time; odd: a journal
    write, one per equal stretch of them), then roll back again."""
    rng = random.Random(f"{SEED}/killed-rollback/{index}")
    work, home, elsewhere, before, run_id = crashed_pipeline(root)
    logs, log = root / "logs", root / "writes"
    problems: list[str] = []
    if index % 2:
        stretch = timing.writes / max(1, count // 2)
        low = int((index // 2) * stretch) + 1
        write = rng.randint(low, max(low, min(timing.writes, int((index // 2 + 1) * stretch))))
        argv = command(["runs", "rollback", run_id], at=str(write), log=log)
        moment = f"journal write {write}"
        process = start(argv, elsewhere, home, logs)
    else:
        delay = rng.uniform(0.35 * timing.run, timing.run)  # mostly past the start-up
        moment = f"{delay:.3f}s"
        process = start(command(["runs", "rollback", run_id]), elsewhere, home, logs)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            log.write_text("sent\n")
    code = finish(process, problems, "`runs rollback`")
    sent = bool(lines(log))
    seen = read_journal(home)
    landing = rollback_landing(seen, process.pid, sent)
    if sent and code != -signal.SIGKILL:
        problems.append(f"the killed `runs rollback` exited {code}")
    problems += truth_problems(seen)
    if seen.state == "needs_rollback":
        final = finish_rollback(home, elsewhere, run_id, problems)
    else:  # the kill came after the rollback had settled the pipeline
        final = seen
        again = synapse(home, elsewhere, "runs", "rollback", run_id)
        if again.returncode != 2:
            problems.append(f"`runs rollback` of a finished rollback exited {again.returncode}")
        if final.state != "rolled_back":
            problems.append(f"the killed rollback left {final.summary()}")
    problems += truth_problems(final) + files_problems(before, work, final)
    return Verdict(index, landing, [f"(kill at {moment}) {p}" for p in problems])


def test_kill_9_during_runs_rollback_of_a_pipeline_then_rollback_again_restores_every_file(
    tmp_path: Path,
    rollback_timing: RollbackTiming,
    report: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    count = max(2, round(6 * SCALE))
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        verdicts = list(
            pool.map(
                lambda i: killed_rollback(i, tmp_path / f"t{i}", rollback_timing, count),
                range(count),
            )
        )
    scripted_report(report, "killed_rollback", verdicts, capsys)


# -- two `synapse runs resume` at once ---------------------------------------------------


def racing_resumes(index: int, root: Path) -> Verdict:
    """Two ``runs resume`` of one failed pipeline, started within 20 ms of each other."""
    rng = random.Random(f"{SEED}/resume/{index}")
    work, home, elsewhere, logs = root / "work", root / "home", root / "elsewhere", root / "logs"
    elsewhere.mkdir(parents=True)
    before = prepare_work(work, index % 2, {"publish": {"fail_at": "publish"}})
    failed = synapse(
        home, work, "pipeline", "run", PIPELINE_FILE, "--params-file", PARAMS_FILE,
        "--keep-completed",
    )  # fmt: skip
    seen = read_journal(home)
    assert failed.returncode == 1, failed.stderr
    assert seen.state == "failed", seen.summary()
    resume_params = root / "resume.json"
    resume_params.write_text(json.dumps({"publish": {"fail_at": None, "slow": 1.0}}))
    argv = command(["runs", "resume", seen.run_id, "--params-file", str(resume_params)])
    offset = rng.uniform(0.0, 0.02)
    first = start(argv, elsewhere, home, logs / "first")
    time.sleep(offset)
    second = start(argv, elsewhere, home, logs / "second")
    problems: list[str] = []
    codes = [finish(first, problems, "a resume"), finish(second, problems, "a resume")]
    errors = [(logs / name / "stderr").read_text(errors="replace") for name in ("first", "second")]
    if sorted(codes) != [0, 2]:
        problems.append(f"the two resumes exited {codes}: {[tail(e) for e in errors]}")
    else:
        winner = (first, second)[codes.index(0)]
        refused = errors[codes.index(2)]
        if f"is running by pid {winner.pid}" not in refused or "Traceback" in refused:
            problems.append(f"the refused resume said: {tail(refused)}")
    final = read_journal(home)
    problems += truth_problems(final) + files_problems(before, work, final)
    ran = [(child.stage, child.state) for child in final.children]
    expected = [*((stage, "succeeded") for stage in STAGES[:2]), ("publish", "rolled_back")]
    if ran != [*expected, ("publish", "succeeded")]:
        problems.append(f"the action runs are {ran}: not one new run of publish")
    if snapshot(work) != with_outputs(before, STAGES):
        problems.append("the resumed pipeline did not leave every output")
    return Verdict(index, f"second_after_{offset * 1000:.0f}ms", problems)


def test_two_resumes_at_once_one_proceeds_and_the_failed_action_runs_again_once(
    tmp_path: Path, report: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    count = max(1, round(3 * SCALE))
    verdicts = [racing_resumes(index, tmp_path / f"t{index}") for index in range(count)]
    scripted_report(report, "racing_resumes", verdicts, capsys)


# -- moments a random draw may miss, pinned ----------------------------------------------


def test_a_file_an_earlier_action_replaced_comes_back_when_a_later_action_fails(
    tmp_path: Path,
) -> None:
    """train replaces models/m.txt, then publish fails: the pipeline undoes train too."""
    work, home = tmp_path / "work", tmp_path / "home"
    before = prepare_work(work, 1, {"publish": {"fail_at": "publish"}})

    failed = synapse(home, work, "pipeline", "run", PIPELINE_FILE, "--params-file", PARAMS_FILE)

    assert failed.returncode == 1, failed.stderr
    seen = read_journal(home)
    assert files_problems(before, work, seen) == []
    assert seen.state == "rolled_back", seen.summary()


def killed_at(tmp_path: Path, at: str, variant: int = 1) -> tuple[Path, Path, Journalled, Tree]:
    """``pipeline run`` killed as the journal starts write ``at`` (``N:PREFIX``)."""
    work, home, logs = tmp_path / "work", tmp_path / "home", tmp_path / "logs"
    before = prepare_work(work, variant, {})
    argv = command(["pipeline", "run", PIPELINE_FILE], at=at, log=logs / "writes")
    process = start(argv, work, home, logs)
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert (logs / "writes").read_text().split()[1:3] == at.split(":")[1].split()[:2]
    return work, home, read_journal(home), before


def test_kill_9_as_the_pipeline_journals_its_success_then_rollback_restores_every_file(
    tmp_path: Path,
) -> None:
    """Killed in the pipeline's last journal write: every action succeeded, and each of
    the two files that were there is restored from what its action kept."""
    work, home, seen, before = killed_at(tmp_path, "4:UPDATE runs")  # prepare, train, publish
    assert seen.state == "needs_rollback"
    assert [child.state for child in seen.children] == ["succeeded"] * 3, seen.summary()
    problems: list[str] = []

    final = finish_rollback(home, tmp_path, seen.run_id, problems)

    assert problems == []
    assert files_problems(before, work, final) == []
    assert truth_problems(final) == []


@pytest.mark.parametrize("nth", [1, 2, 3], ids=STAGES)
def test_kill_9_before_an_actions_first_step_then_rollback_settles_every_action_run(
    tmp_path: Path, nth: int
) -> None:
    """Killed as the action's first step is journalled: its run is journalled, no step is."""
    work, home, seen, before = killed_at(tmp_path, f"{nth}:INSERT INTO steps")
    assert (seen.children[-1].stage, seen.children[-1].steps) == (STAGES[nth - 1], [])
    problems: list[str] = []

    final = finish_rollback(home, tmp_path, seen.run_id, problems)

    assert problems == []
    assert files_problems(before, work, final) == []
    assert [child.state for child in final.children] == ["rolled_back"] * nth, final.summary()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda sig: sig.name)
def test_a_signal_as_the_pipeline_run_is_journalled_settles_it(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The signal lands inside the pipeline run's first journal write (its INSERT)."""
    work, home, logs = tmp_path / "work", tmp_path / "home", tmp_path / "logs"
    before = prepare_work(work, 0, {})
    args = ["pipeline", "run", PIPELINE_FILE]
    argv = command(args, at="1:INSERT INTO runs", sig=sig.name, log=logs / "writes")
    process = start(argv, work, home, logs)

    code = process.wait(timeout=60)

    assert code == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig]
    seen = read_journal(home)
    assert seen.state == "rolled_back", seen.summary()
    assert snapshot(work) == before


def test_the_verdict_sees_a_broken_promise(tmp_path: Path) -> None:
    """The verdict is not blind: a file left behind, or a journal that lies, is reported."""
    work, home = tmp_path / "work", tmp_path / "home"
    before = prepare_work(work, 0, {})
    done = synapse(home, work, "pipeline", "run", PIPELINE_FILE)
    assert done.returncode == 0, done.stderr
    seen = read_journal(home)
    assert files_problems(before, work, seen) == []
    assert truth_problems(seen) == []
    (work / "pub" / "model.txt").unlink()
    assert files_problems(before, work, seen) != []  # succeeded, an output missing
    seen.runs[0].state = "rolled_back"
    assert truth_problems(seen) != []  # rolled_back, its action runs succeeded
    assert files_problems(before, work, seen) != []  # rolled_back, outputs remain
