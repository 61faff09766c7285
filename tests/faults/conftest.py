from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import Synapse
from support.distributions import install_demo
from support.s3_fixtures import aws_env, bucket, moto, s3

__all__ = ["aws_env", "bucket", "moto", "s3", "synapse"]


@pytest.fixture
def synapse(tmp_path: Path) -> Synapse:
    """The real command, with the fault-injection plugin installed next to the examples."""
    return Synapse(install_demo(tmp_path / "site"), tmp_path)
