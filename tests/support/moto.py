"""A real S3 for the tests: ``moto_server`` in a subprocess on 127.0.0.1.

:func:`moto_server` starts it on a free loopback port with dummy credentials in its own
environment only, waits until it answers, yields a :class:`MotoServer` and stops it.
Its request log (werkzeug's, one line per request) goes to a file, so a test can count
what a client actually sent (``DeleteObjects`` is ``POST /bucket?delete``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.ports import free_port

__all__ = ["DUMMY_CREDENTIALS", "MotoServer", "bucket_listing", "moto_server"]

HOST = "127.0.0.1"
_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # werkzeug colours lines by status

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""moto accepts any credentials; these keep a client from looking for real ones."""


@dataclass(frozen=True)
class MotoServer:
    """A running ``moto_server``: where it answers and where it logs each request."""

    endpoint_url: str
    log: Path

    def requests(self) -> list[str]:
        """The request lines logged so far (``POST /bucket?delete HTTP/1.1``...)."""
        text = _COLOURS.sub("", self.log.read_text(encoding="utf-8", errors="replace"))
        return [line.split('"')[1] for line in text.splitlines() if line.count('"') >= 2]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP answer of any status: the server is up
    except OSError:
        return False


@contextmanager
def moto_server(log: Path, *, timeout: float = 30, attempts: int = 3) -> Iterator[MotoServer]:
    """Run ``moto_server`` on ``127.0.0.1`` (a free port) until the block ends.

    Raises:
        RuntimeError: it did not answer within ``timeout`` seconds (with its output).
    """
    executable = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    command = [executable] if executable else [sys.executable, "-m", "moto.server"]
    env = {**os.environ, **DUMMY_CREDENTIALS}
    for _ in range(attempts):  # another process may take the free port first
        port = free_port()
        endpoint = f"http://{HOST}:{port}"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [*command, "-H", HOST, "-p", str(port)],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        try:
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline:
                if _answers(f"{endpoint}/moto-api/"):
                    break
                time.sleep(0.05)
            if process.poll() is not None:
                continue  # it exited (the port was taken): try another
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"moto_server did not answer on {endpoint} within {timeout} s:\n"
                    + log.read_text(errors="replace")
                )
            yield MotoServer(endpoint, log)
            return
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    raise RuntimeError(f"moto_server did not start:\n{log.read_text(errors='replace')}")


def bucket_listing(client: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object of ``bucket`` under ``prefix`` with its bytes, as a boto3 client sees it."""
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in sorted(keys)}
