"""Fixtures for a real S3 (moto_server on 127.0.0.1), started once per session.

A conftest that needs them imports them (``from support.s3_fixtures import moto, ...``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.moto import DUMMY_CREDENTIALS, MotoServer, moto_server


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """The running server (its endpoint URL and request log), for the whole session."""
    pytest.importorskip("moto.server")
    with moto_server(tmp_path_factory.mktemp("moto") / "requests.log") as server:
        yield server


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Dummy credentials in this test's environment (and its subprocesses') only.

    No profile and no ~/.aws files: nothing real is ever read or used.
    """
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    env = {
        **DUMMY_CREDENTIALS,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3(moto: MotoServer, aws_env: dict[str, str]) -> Any:
    """A boto3 S3 client on the server: the view from outside the SDK."""
    import boto3  # type: ignore[import-untyped]

    return boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    """A new, empty bucket of this test's own."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
