"""Bare Ray venvs and one-node clusters of them, for tests and benchmarks.

A *bare* venv holds Ray (this Ray's version) and nothing of this SDK, its plugins or their
requirements, as on a cluster someone else set up; the flavour ``"pip"`` adds
``virtualenv``, which Ray's ``pip`` runtime environment field needs.

* :func:`bare_venv`: the cached venv of a flavour, built first if missing or unusable
  (from the package index), kept under :func:`cache_root` as :func:`venv_key`;
  :func:`check_bare` says why a venv is not usable.
* :func:`ray_head`: a one-node cluster of such a venv on 127.0.0.1 (``ray start --head``,
  its own ``--temp-dir``), stopped on exit by :func:`stop_cluster`, which ends exactly
  that cluster's processes and never another Ray on the machine.
* :func:`bare_environment`: an environment with nothing of this checkout, for anything
  run in such a venv.

``tests/on_bare_ray/conftest.py`` turns these into fixtures (its docstring tells the
story of the cache); ``benchmarks/bench_ship.py`` uses them directly. Building a venv
needs the package index: when it is unreachable, :func:`bare_venv` skips (``pytest.skip``).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.ports import free_port

__all__ = [
    "ABSENT",
    "FLAVOURS",
    "PRESENT",
    "PYTHON_VERSION",
    "RAY_VERSION",
    "bare_environment",
    "bare_venv",
    "cache_root",
    "check_bare",
    "ray_head",
    "stop_cluster",
    "venv_key",
]

RAY_VERSION = importlib.metadata.version("ray")
PYTHON_VERSION = ".".join(map(str, sys.version_info[:3]))

# What a venv holds besides Ray, by flavour. Ray's `pip` (and `uv`) runtime environment
# field needs the `virtualenv` package in the cluster's Python (`ray[default]` has it, a
# plain `pip install ray` does not), so the flavour "pip" adds it, and nothing else.
FLAVOURS: dict[str, tuple[str, ...]] = {"bare": (), "pip": ("virtualenv",)}


def venv_key(flavour: str) -> str:
    """The cache folder's name for a flavour: Python (patch included) and Ray versions."""
    key = f"bare-ray-py{PYTHON_VERSION}-ray{RAY_VERSION}"
    return key if not FLAVOURS[flavour] else f"{key}-{'-'.join(FLAVOURS[flavour])}"


# What every such venv must lack (the point of it) and what it must have.
ABSENT = ("synapse_sdk", "pydantic", "pluggy", "structlog", "fsspec")
PRESENT = ("ray",)

# Of this process's environment, only what is about the machine, the package index
# (pip's settings and proxies: the workers' runtime environments install with pip too)
# and Ray's own settings reaches the bare venv and its cluster.
_KEPT = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
_KEPT_PREFIXES = ("PIP_", "RAY_")
_PROXIES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
_CERTS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")

_PIP_TIMEOUT = 1800  # seconds for the one-off `pip install ray`
_RAY_TIMEOUT = 180  # seconds for `ray start`


def cache_root() -> Path:
    """Where the bare venvs are kept between test sessions."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "synapse-sdk-tests"


def bare_environment(venv: Path | None = None) -> dict[str, str]:
    """An environment with nothing of this checkout or its venv; ``venv``'s bin/ first."""
    env = {name: os.environ[name] for name in _KEPT if name in os.environ}
    for name, value in os.environ.items():
        if name.startswith(_KEPT_PREFIXES) or name.lower() in _PROXIES or name in _CERTS:
            env[name] = value
    env.pop("RAY_ADDRESS", None)
    path = ["/usr/local/bin", "/usr/bin", "/bin"]
    if venv is not None:
        path.insert(0, str(venv / "bin"))
    env["PATH"] = os.pathsep.join(path)
    return env


def _base_python() -> str:
    """The interpreter this venv was made from (``python -m venv`` needs a real one)."""
    base = getattr(sys, "_base_executable", None)
    if base and Path(base).exists():
        return str(base)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return str(Path(sys.base_prefix) / "bin" / version)


_CHECK = """
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        found[name] = None
    else:
        found[name] = getattr(module, "__version__", "?")
print(json.dumps({"python": ".".join(map(str, sys.version_info[:3])), "modules": found}))
"""


def check_bare(venv: Path, flavour: str = "bare") -> str | None:
    """Why ``venv`` is not a usable venv of that flavour, or None when it is."""
    python = venv / "bin" / "python"
    if not python.exists():
        return f"{python} does not exist"
    checked = subprocess.run(
        [str(python), "-c", _CHECK, *PRESENT, *FLAVOURS[flavour], *ABSENT],
        env=bare_environment(venv),
        cwd=venv,  # not this checkout: the current directory is on sys.path for -c
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if checked.returncode != 0:
        return f"its Python fails: {checked.stderr.strip()[-2000:]}"
    report = json.loads(checked.stdout)
    if report["python"] != PYTHON_VERSION:
        return f"its Python is {report['python']}, not {PYTHON_VERSION}"
    if report["modules"]["ray"] != RAY_VERSION:
        return f"its ray is {report['modules']['ray']}, not {RAY_VERSION}"
    missing = [name for name in FLAVOURS[flavour] if report["modules"][name] is None]
    if missing:
        return f"it cannot import {', '.join(missing)}"
    present = [name for name in ABSENT if report["modules"][name] is not None]
    if present:
        return f"it can import {', '.join(present)}, which a bare cluster must lack"
    return None


def _index_unreachable(python: Path) -> str | None:
    """The package index's error when pip cannot reach it at all, else None."""
    probe = subprocess.run(
        [str(python), "-m", "pip", "index", "versions", "ray", "--retries", "1"],
        env=bare_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if probe.returncode == 0:
        return None
    lines = [line for line in (probe.stdout + probe.stderr).splitlines() if "ERROR" in line]
    return " ".join(lines[-2:]) or f"pip index exited {probe.returncode}"


def _build(root: Path, flavour: str) -> Path:
    """Make a venv of that flavour in a new folder under ``root``; its path, once complete."""
    staging = Path(tempfile.mkdtemp(prefix=f".{venv_key(flavour)}.build-", dir=root))
    env = bare_environment()
    made = subprocess.run(
        [_base_python(), "-m", "venv", str(staging)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    python = staging / "bin" / "python"
    requirements = [f"ray=={RAY_VERSION}", *FLAVOURS[flavour]]
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--retries", "2", *requirements],
        env=env,
        capture_output=True,
        text=True,
        timeout=_PIP_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if installed.returncode != 0:
        unreachable = _index_unreachable(python)
        shutil.rmtree(staging, ignore_errors=True)
        if unreachable is not None:
            pytest.skip(f"the package index is unreachable, no bare Ray venv: {unreachable}")
        pytest.fail(
            f"pip install {' '.join(requirements)} failed:\n{installed.stdout}{installed.stderr}"
        )
    return staging


def _publish(root: Path, key: str, built: Path) -> None:
    """Point ``root/key`` at ``built``, atomically (a symlink replaced in one step)."""
    published = root / key
    if published.exists() and not published.is_symlink():  # a folder someone made by hand
        shutil.rmtree(published)
    link = root / f".{key}.link-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(built.name)
    link.replace(published)


def bare_venv(flavour: str = "bare") -> Path:
    """The cached venv of that flavour (built first if missing or unusable); its real path."""
    key = venv_key(flavour)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    published = root / key
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; others wait, then reuse it
        current = published.resolve() if published.is_symlink() else None
        # Under the lock no other build runs, so every build folder but the published
        # one is a crashed build: never reused, deleted.
        for stale in root.glob(f".{key}.build-*"):
            if stale != current:
                shutil.rmtree(stale, ignore_errors=True)
        if current is not None and current.is_dir() and check_bare(current, flavour) is None:
            return current
        built = _build(root, flavour)
        problem = check_bare(built, flavour)
        if problem is not None:
            shutil.rmtree(built, ignore_errors=True)
            pytest.fail(f"the bare Ray venv just built is not bare Ray: {problem}")
        _publish(root, key, built)
        if current is not None and current != built:
            shutil.rmtree(current, ignore_errors=True)
        return built


def _cluster_processes(marker: str) -> dict[int, str]:
    """The processes of the cluster whose temp dir is ``marker``: pid -> start time.

    Ray renames many of its processes (``ray::IDLE``, ``ray::RuntimeEnvAgent``), so a
    process is the cluster's if its command line names the temp dir, or it runs in it
    (``ray start`` is started there), or it descends from one that does.
    """
    parents: dict[int, int] = {}
    started: dict[int, str] = {}
    ours = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
        except OSError:  # gone, or a zombie
            continue
        parents[pid], started[pid] = int(fields[1]), fields[19]
        if (
            marker.encode() in command
            or cwd == marker
            or cwd.startswith((f"{marker}/", f"{marker} "))
        ):
            ours.add(pid)
    grown = True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= children
        grown = bool(children)
    return {pid: started[pid] for pid in ours}


def _alive(pid: int, start: str) -> bool:
    """Whether process ``pid`` started at ``start`` still runs (not a zombie, not reused)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and fields[19] == start


def stop_cluster(temp_dir: Path, grace: float = 2.0) -> None:
    """End every process of the cluster started with ``--temp-dir=temp_dir``, and only them.

    SIGTERM, then SIGKILL what is left after ``grace`` seconds (Ray's agents outlive a
    SIGTERM once their raylet is gone).
    """
    marker = str(temp_dir)
    targets = _cluster_processes(marker)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        targets.update(_cluster_processes(marker))
        running = {pid: start for pid, start in targets.items() if _alive(pid, start)}
        if not running:
            return
        for pid in running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(_alive(*item) for item in running.items()):
            time.sleep(0.1)


@contextlib.contextmanager
def ray_head(python: Path) -> Iterator[str]:
    """A one-node cluster of ``python``'s venv, on 127.0.0.1; its address ``HOST:PORT``."""
    venv = python.parent.parent
    port = free_port()
    # Short and in /tmp: Ray's socket paths under it must fit in 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-bare-", dir="/tmp"))
    command = [
        str(venv / "bin" / "ray"),
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]
    try:
        started = subprocess.run(
            command,
            env=bare_environment(venv),
            cwd=temp_dir,  # not this checkout; and it marks the cluster's processes
            capture_output=True,
            text=True,
            timeout=_RAY_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"127.0.0.1:{port}"
    finally:
        stop_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
