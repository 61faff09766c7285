"""The S3 interrupt campaign again, with every run on a local Ray cluster.

Same trials as tests/faults/test_s3_campaign.py (support/s3_trials.py): the real
``synapse run ACTION --ray-address ADDRESS`` writes under a fresh prefix of a moto bucket
that already holds unrelated objects, and gets SIGINT or SIGKILL at a seeded random moment;
a killed run is finished by ``synapse runs rollback`` from another folder. The moment
is counted from the run's first journal record (joining the cluster comes first and
takes longer than the run). Here the
action runs as a Ray task and its copies as Ray tasks too, so the signal reaches the
driver while the cluster is writing: after each trial the bucket must still list exactly
as before, and the journal must say so. The credentials reach the workers with ``--env``.

Replay: ``SYNAPSE_S3_CAMPAIGN_SEED``; ``SYNAPSE_S3_RAY_TRIALS`` sets the trials per
action and signal.
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
from support.moto import DUMMY_CREDENTIALS, MotoServer
from support.s3_trials import S3Trial, run_s3_trial

SEED = int(os.environ.get("SYNAPSE_S3_CAMPAIGN_SEED", "20261201"))
TRIALS = int(os.environ.get("SYNAPSE_S3_RAY_TRIALS", "3"))
ACTIONS = ["upload-files", "export-annotations", "train-classifier"]
SIGNALS = [signal.SIGINT, signal.SIGKILL]


@pytest.mark.parametrize("action", ACTIONS)
def test_interrupted_runs_on_ray_leave_the_bucket_exactly_as_before(
    action: str, moto: MotoServer, s3: Any, bucket: str, ray_cluster: str, tmp_path: Path
) -> None:
    on_ray = ("--ray-address", ray_cluster)
    for name in DUMMY_CREDENTIALS:
        on_ray += ("--env", name)
    source = make_source(tmp_path / "source", count=300)
    calibration = run_s3_trial(
        S3Trial(action, None, 0.0, on_ray, from_run_start=True),
        tmp_path / "calibration",
        s3,
        bucket,
        moto.endpoint_url,
        source,
    )
    assert not calibration.problems, calibration.problems
    assert calibration.final_state == "succeeded"
    assert calibration.run_duration is not None
    rng = random.Random(f"{SEED}-ray-{action}")
    failures: list[str] = []
    states: Counter[str] = Counter()
    for sig in SIGNALS:
        for index in range(TRIALS):
            delay = rng.uniform(0.0, calibration.run_duration * 0.9)
            trial = S3Trial(action, sig, delay, on_ray, from_run_start=True)
            workdir = tmp_path / f"{sig.name}-{index}"
            outcome = run_s3_trial(trial, workdir, s3, bucket, moto.endpoint_url, source)
            states[f"{sig.name}:{outcome.state}->{outcome.final_state}"] += 1
            failures += [f"{sig.name} at {delay:.3f}s: {problem}" for problem in outcome.problems]
    print(f"s3 campaign on Ray {action} seed={SEED}: {dict(states)}; {len(failures)} failed")
    assert failures == []
