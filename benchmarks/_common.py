"""Helpers shared by the benchmark scripts: machine description, statistics, output.

Every ``bench_*.py`` script prints exactly one JSON document to stdout and nothing else,
so its output can be piped into ``jq`` or saved as a record.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def machine() -> dict[str, Any]:
    """Where and when the figures were taken."""
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "executable": sys.executable,
    }


def summary(values: Sequence[float], digits: int = 3) -> dict[str, float]:
    """Min, median and max of ``values``, rounded."""
    return {
        "min": round(min(values), digits),
        "median": round(statistics.median(values), digits),
        "max": round(max(values), digits),
    }


def emit(document: dict[str, Any]) -> None:
    """Print ``document`` as the script's single JSON output."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""Dummy credentials for moto_server, set in the benchmark's own process only."""


def s3_unavailable() -> str | None:
    """Why the S3 figures cannot be taken here (a missing package), or None."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError as missing:
        return f"needs moto[server], s3fs and boto3: {missing}"
    return None
