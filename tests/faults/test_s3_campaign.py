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
from pathlib import Path
from typing import Any

import pytest
from support.moto import MotoServer
from support.s3_trials import run_s3_campaign

SEED = int(os.environ.get("SYNAPSE_S3_CAMPAIGN_SEED", "20261201"))
TRIALS = int(os.environ.get("SYNAPSE_S3_CAMPAIGN_TRIALS", "5"))
ACTIONS = ["upload-files", "export-annotations", "train-classifier"]


@pytest.mark.parametrize("action", ACTIONS)
def test_interrupted_runs_leave_the_bucket_exactly_as_before(
    action: str, moto: MotoServer, s3: Any, bucket: str, tmp_path: Path
) -> None:
    run_s3_campaign(action, f"{SEED}-{action}", TRIALS, tmp_path, s3, bucket, moto.endpoint_url)
