"""A seeded random-interrupt campaign on a real S3 API: upload, export and train.

moto_server on 127.0.0.1 plays S3; each trial writes under a fresh prefix of one bucket
that already holds unrelated objects, through the real ``synapse`` command, and gets
SIGINT or SIGKILL (then ``synapse runs rollback`` from another folder) at a random moment
between start-up and the end of a typical run. After each trial the bucket
must list exactly as before (or as before plus the action's outputs, if it succeeded),
and the journal must say so. See support/s3_trials.py for the verdict.

Replay: ``SYNAPSE_S3_CAMPAIGN_SEED`` (default below); ``SYNAPSE_S3_CAMPAIGN_TRIALS``
sets the trials per action and signal.
"""

from __future__ import annotations

import os
import random
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.interrupts import make_source
from support.moto import MotoServer
from support.s3_trials import S3Trial, run_s3_trial

SEED = int(os.environ.get("SYNAPSE_S3_CAMPAIGN_SEED", "20261201"))
TRIALS = int(os.environ.get("SYNAPSE_S3_CAMPAIGN_TRIALS", "5"))
ACTIONS = ["upload-files", "export-annotations", "train-classifier"]
SIGNALS = [signal.SIGINT, signal.SIGKILL]


@pytest.mark.parametrize("action", ACTIONS)
def test_interrupted_runs_leave_the_bucket_exactly_as_before(
    action: str, moto: MotoServer, s3: Any, bucket: str, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "source", count=300)
    calibration = run_s3_trial(
        S3Trial(action, None, 0.0), tmp_path / "calibration", s3, bucket, moto.endpoint_url, source
    )
    assert not calibration.problems, calibration.problems
    assert calibration.final_state == "succeeded"
    rng = random.Random(f"{SEED}-{action}")
    failures: list[str] = []
    states: Counter[str] = Counter()
    for sig in SIGNALS:
        for index in range(TRIALS):
            delay = rng.uniform(0.2, calibration.duration * 0.9)
            trial = S3Trial(action, sig, delay)
            workdir = tmp_path / f"{sig.name}-{index}"
            outcome = run_s3_trial(trial, workdir, s3, bucket, moto.endpoint_url, source)
            states[f"{sig.name}:{outcome.state}->{outcome.final_state}"] += 1
            failures += [f"{sig.name} at {delay:.3f}s: {problem}" for problem in outcome.problems]
    print(f"s3 campaign {action} seed={SEED}: {dict(states)}; {len(failures)} failed")
    assert failures == []
