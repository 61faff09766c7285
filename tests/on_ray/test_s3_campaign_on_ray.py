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
from pathlib import Path
from typing import Any

import pytest
from support.moto import DUMMY_CREDENTIALS, MotoServer
from support.s3_trials import run_s3_campaign

SEED = int(os.environ.get("SYNAPSE_S3_CAMPAIGN_SEED", "20261201"))
TRIALS = int(os.environ.get("SYNAPSE_S3_RAY_TRIALS", "3"))
ACTIONS = ["upload-files", "export-annotations", "train-classifier"]


@pytest.mark.parametrize("action", ACTIONS)
def test_interrupted_runs_on_ray_leave_the_bucket_exactly_as_before(
    action: str, moto: MotoServer, s3: Any, bucket: str, ray_cluster: str, tmp_path: Path
) -> None:
    on_ray: tuple[str, ...] = ("--ray-address", ray_cluster)
    for name in DUMMY_CREDENTIALS:  # the workers get the credentials from the caller
        on_ray += ("--env", name)
    run_s3_campaign(
        action,
        f"{SEED}-ray-{action}",
        TRIALS,
        tmp_path,
        s3,
        bucket,
        moto.endpoint_url,
        extra_args=on_ray,
        from_run_start=True,
    )
