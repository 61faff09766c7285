"""Ray for the executor tests: a real cluster (``ray start --head`` on 127.0.0.1) joined by
address, and the demo plugins installed where the cluster's workers import them.

The root conftest keeps Ray on the loopback interface with a session token.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import Synapse
from support.distributions import install_demo
from support.ports import free_port
from support.s3_fixtures import aws_env, bucket, moto, s3

__all__ = [
    "aws_env",
    "bucket",
    "moto",
    "ray_cluster",
    "ray_cluster_home",
    "ray_site",
    "s3",
    "synapse",
]

RAY = str(Path(sys.executable).with_name("ray"))
TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo distributions, shared by the cluster's workers and the commands under test."""
    return install_demo(tmp_path_factory.mktemp("ray-site"))


@pytest.fixture(scope="session")
def ray_cluster_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``HOME`` of the cluster's processes: a worker without ``SYNAPSE_HOME`` keeps its
    undo area under it, as a worker on another machine would under its own home."""
    return tmp_path_factory.mktemp("cluster-home")


@pytest.fixture(scope="session")
def ray_cluster(ray_site: Path, ray_cluster_home: Path) -> Iterator[str]:
    """A one-node Ray cluster on 127.0.0.1, started with the real ``ray start --head``."""
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(ray_cluster_home),
        "PYTHONPATH": os.pathsep.join([str(ray_site), str(TESTS)]),
    }
    command = [
        RAY,
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    started = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL
    )
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(
            [RAY, "stop", "--force"],
            env=env,
            capture_output=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture
def synapse(ray_site: Path, tmp_path: Path) -> Synapse:
    """The real command: demo actions, no hook plugins, RAY_ADDRESS unset."""
    command = Synapse(ray_site, tmp_path)
    command.env["SYNAPSE_LOAD_PLUGINS"] = ""
    command.env.pop("RAY_ADDRESS", None)
    command.env["SYNAPSE_HOME"] = str(tmp_path / "home")
    return command
