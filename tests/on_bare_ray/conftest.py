"""*Bare* Ray clusters: Ray alone, in a virtual environment of its own.

The workers of such a cluster have neither this SDK nor the example plugins nor their
requirements (pydantic, pluggy, structlog, fsspec, ...), as on a cluster someone else set
up. Whatever a test runs there has to ship its own code (a runtime environment's
``py_modules`` and ``pip``), so these tests prove the shipping, not the machine.

* ``bare_ray_python``: the interpreter of a venv made with ``python -m venv`` from the
  base interpreter of this one (same Python version, patch included: Ray refuses a driver
  whose Python differs from the cluster's), holding exactly ``ray==<this Ray's version>``
  (and what it requires) from the package index. Built once per machine and kept in
  ``~/.cache/synapse-sdk-tests/bare-ray-py<X.Y.Z>-ray<V>`` (``$XDG_CACHE_HOME`` is
  honoured), a symlink to the build folder. A build happens in a folder of its own and is
  published by atomically replacing that symlink once it is complete, so a crashed build
  is never reused (the next session deletes it); the folder is never moved, because a
  venv does not survive a move (its scripts name their interpreter by absolute path).
* ``pip_ray_python``: the same plus ``virtualenv`` (folder ``...-virtualenv``). Ray's
  ``pip`` (and ``uv``) runtime env field fails on a Python without it ("Please install
  virtualenv"); ``ray[default]`` brings it, a plain ``pip install ray`` does not.
* ``bare_ray_cluster`` / ``pip_ray_cluster``: a one-node cluster of that venv, started
  with the real ``ray start --head`` on 127.0.0.1 (a free port, its own ``--temp-dir``,
  no dashboard), in an environment holding nothing of this checkout (no ``PYTHONPATH``,
  no ``VIRTUAL_ENV``, started in its temp dir); the address ``HOST:PORT``. Teardown ends
  exactly the processes of that cluster (found by that temp dir), never another Ray on
  the machine.

Drive these clusters from a process whose current directory is not this checkout: Ray
puts the driver's current directory on the workers' ``sys.path``.

The tests skip (with the reason) only when the package index cannot be reached to build
a venv. The root conftest's Ray settings (loopback only, a session token) reach the
clusters through the ``RAY_*`` variables.

The venvs are built and checked, and the clusters started and stopped, by
``support/bare_ray.py`` (``benchmarks/bench_ship.py`` uses it too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.bare_ray import bare_venv, ray_head
from support.s3_fixtures import aws_env, bucket, moto, s3

__all__ = ["aws_env", "bucket", "moto", "s3"]


@pytest.fixture(scope="session")
def bare_ray_python() -> Path:
    """The Python of a venv with Ray (this Ray's version) and nothing else installed."""
    return bare_venv("bare") / "bin" / "python"


@pytest.fixture(scope="session")
def pip_ray_python() -> Path:
    """Like ``bare_ray_python``, plus ``virtualenv``: what Ray's ``pip`` runtime env needs."""
    return bare_venv("pip") / "bin" / "python"


@pytest.fixture(scope="session")
def bare_ray_cluster(bare_ray_python: Path) -> Iterator[str]:
    """A one-node cluster on 127.0.0.1 whose Python has Ray and nothing else."""
    with ray_head(bare_ray_python) as address:
        yield address


@pytest.fixture(scope="session")
def pip_ray_cluster(pip_ray_python: Path) -> Iterator[str]:
    """A one-node cluster on 127.0.0.1 whose Python has Ray and virtualenv, nothing else."""
    with ray_head(pip_ray_python) as address:
        yield address
