"""Shipping a run's code to a bare Ray cluster, and many small files uploaded there.

Starts a one-node cluster (``ray start --head`` on 127.0.0.1, 2 CPUs, its own temp dir)
of a venv that holds Ray and virtualenv and nothing else (``tests/support/bare_ray.py``:
built from the package index on first use, then cached in
``~/.cache/synapse-sdk-tests/``), so that every run there has to ship its code. Every
measured run is a real ``synapse run upload-files`` subprocess, started from an empty
folder with ``SYNAPSE_HOME`` in a temporary folder, timed from start to exit:

* ``ship``: the upload example's sample data (7 files) with ``--ray-address``, first on
  the fresh cluster (the SDK's and the example's packages uploaded as ``py_modules``, the
  requirements the workers lack installed with pip into a new virtualenv), then
  ``--repeats`` times again with unchanged code (Ray reuses both); beside them the same
  upload with the local executor (no Ray: the floor set by the CLI and the action), and
  what ``synapse plan --ray-address`` says a run ships. Where the time goes: when each
  run printed ``joining the Ray cluster``, ``shipping the run's code`` and its first and
  last step lines (stderr, read live), and, from the cluster's
  ``runtime_env_setup-*.log``, how long the first environment took to build (cloning the
  cluster's virtualenv, pip, the ``py_modules`` download) and whether a later run had to
  upload a package again (the code changed in between).
* ``upload``: ``--files`` files of ``--file-size`` bytes in nested folders, uploaded on
  the cluster against the same upload with the local executor (threads in the
  ``synapse`` process), alternately, ``--repeats`` times each, fresh targets; medians.

Other Ray processes distort the figures (and share the machine's CPUs): before starting
its cluster the script waits, up to ``--wait-quiet`` seconds, until none is left, and
reports how many there were at its start and end. Its cluster is stopped on exit, on
Ctrl-C and on SIGTERM or SIGHUP. Needs the ``ray`` extra, the upload example and pytest
(``pip install -r requirements-test.txt``), and the package index: to build the venv
once, and for the workers' pip on every fresh cluster (Ray's pip runs with
``--no-cache-dir``). ``--quick``: 200 files and 2 repeats, for a smoke run. Prints one
JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import emit, machine, summary

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # support.bare_ray

SYNAPSE = str(Path(sys.executable).with_name("synapse"))
SAMPLE_DATA = ROOT / "plugins_examples/upload-files/sample_data"

RAY_SETTINGS = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # loopback only
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "token",
}
"""The test suite's Ray settings, set in this process only (its cluster and runs inherit them)."""

RUN_TIMEOUT = 1800.0  # seconds: a first run installs the workers' requirements with pip

MARKS = ("joining", "shipping", "first_step", "last_step", "exit")
"""What a run's stderr shows, in order; a local run shows neither joining nor shipping."""

STEP_LINE = re.compile(r"^✓ \S+$")
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\s")


class Stopped(Exception):
    """SIGTERM or SIGHUP: unwind, so that the cluster is stopped."""


@contextmanager
def signals_unwind() -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ray_processes() -> list[str]:
    """Command lines of this machine's Ray processes (``raylet``, ``gcs_server``, ``ray::``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        if command.startswith("ray::") or re.search(r"/(raylet|gcs_server) ", command):
            found.append(command)
    return found


def wait_quiet(limit: float) -> tuple[float, int]:
    """Wait (up to ``limit`` s, polling every 30 s) until no Ray runs here; (waited, left)."""
    started = time.monotonic()
    while (others := ray_processes()) and time.monotonic() - started < limit:
        sys.stderr.write(f"bench_ship: {len(others)} Ray processes of others; waiting\n")
        time.sleep(min(30.0, max(0.0, limit - (time.monotonic() - started))))
    return round(time.monotonic() - started, 1), len(ray_processes())


def make_tree(root: Path, files: int, size: int) -> Path:
    """``files`` files of ``size`` random bytes, 20 a folder, two levels deep."""
    for index in range(files):
        folder = root / f"d{index // 200:02d}" / f"e{index // 20 % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:05d}.bin").write_bytes(os.urandom(size))
    return root


def count_files(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file() and path.name != "manifest.json")


@dataclass
class Run:
    """One ``synapse run``: its wall time and when its stderr showed each of ``MARKS``."""

    seconds: float
    marks: dict[str, float] = field(default_factory=dict)


class Synapse:
    """``synapse`` subprocesses from an empty folder, journalled in a temporary home."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.work = scratch / "work"
        self.work.mkdir()
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RAY_ADDRESS")}
        self.env["SYNAPSE_HOME"] = str(scratch / "home")
        self.targets = 0

    def upload(self, source: Path, address: str | None) -> Run:
        """One ``synapse run upload-files`` of ``source`` to a new folder, checked, timed."""
        self.targets += 1
        target = self.scratch / f"target-{self.targets:03d}"
        params = json.dumps({"source": str(source), "target": str(target)})
        where = ["--ray-address", address] if address else []
        marks: dict[str, float] = {}
        lines = []
        started = time.perf_counter()
        with subprocess.Popen(
            [SYNAPSE, "run", "upload-files", *where, "--params", params],
            cwd=self.work,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stderr is not None
            assert process.stdout is not None
            try:
                for line in process.stderr:  # the result alone goes to stdout: never full
                    now = time.perf_counter() - started
                    lines.append(line)
                    if line.startswith("joining the Ray cluster"):
                        marks["joining"] = now
                    elif line.startswith("shipping the run's code"):
                        marks["shipping"] = now
                    elif STEP_LINE.match(line.strip()):
                        marks.setdefault("first_step", now)
                        marks["last_step"] = now
                process.stdout.read()
                code = process.wait(timeout=RUN_TIMEOUT)
            except BaseException:  # interrupted: the run must not outlive its cluster
                process.kill()
                raise
        elapsed = time.perf_counter() - started
        marks["exit"] = elapsed
        if code != 0:
            raise SystemExit(f"synapse run {' '.join(where)} exited {code}:\n{''.join(lines)}")
        copied, expected = count_files(target), count_files(source)
        if copied != expected:
            raise SystemExit(f"the run copied {copied} of {expected} files")
        shutil.rmtree(target)
        return Run(elapsed, {name: round(at, 2) for name, at in marks.items()})

    def plan(self, address: str) -> tuple[float, dict[str, Any]]:
        """``synapse plan --ray-address --json`` of the sample upload: seconds, document."""
        params = json.dumps({"source": str(SAMPLE_DATA), "target": str(self.scratch / "plan")})
        started = time.perf_counter()
        command = [SYNAPSE, "plan", "upload-files", "--ray-address", address, "--json"]
        done = subprocess.run(
            [*command, "--params", params],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise SystemExit(f"synapse plan exited {done.returncode}:\n{done.stderr}")
        return time.perf_counter() - started, json.loads(done.stdout)


def median_marks(runs: list[Run]) -> dict[str, float]:
    return {
        name: round(statistics.median(run.marks[name] for run in runs), 2)
        for name in MARKS
        if all(name in run.marks for run in runs)
    }


def cluster_temp_dir(address: str) -> Path:
    """The ``--temp-dir`` of the cluster at ``address`` (Ray writes the address there)."""
    for folder in Path("/tmp").glob("ray-bare-*"):
        current = folder / "ray_current_cluster"
        if current.is_file() and current.read_text().strip() == address:
            return folder
    raise SystemExit(f"no /tmp/ray-bare-*/ray_current_cluster names {address}")


def setup_logs(temp_dir: Path) -> list[list[tuple[datetime, str]]]:
    """The runtime environment set-up logs of the cluster (one a job), in job order."""
    logs = []
    for session in sorted(temp_dir.glob("session_2*")):  # not the session_latest link
        for path in sorted((session / "logs").glob("runtime_env_setup-*.log")):
            lines = []
            for line in path.read_text(errors="replace").splitlines():
                match = LOG_TIME.match(line)
                if match is not None:
                    at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
                    lines.append((at, line))
            logs.append(lines)
    return logs


def first_setup(logs: list[list[tuple[datetime, str]]]) -> dict[str, float]:
    """Seconds the cluster spent building the first run's environment, by part."""
    for lines in logs:
        marks: dict[str, datetime] = {}
        for at, line in lines:
            if "Cloning virtualenv" in line:
                marks.setdefault("clone", at)
            elif "Installing python requirements" in line:
                marks.setdefault("pip", at)
            elif "Added URI pip://" in line:
                marks.setdefault("pip_done", at)
            elif "Added URI gcs://" in line:
                marks["modules_done"] = at
        if {"clone", "pip", "pip_done", "modules_done"} <= marks.keys():
            return {
                "clone_virtualenv_and_check_ray_s": (marks["pip"] - marks["clone"]).total_seconds(),
                "pip_install_and_check_ray_s": (marks["pip_done"] - marks["pip"]).total_seconds(),
                "py_modules_download_s": (
                    marks["modules_done"] - marks["pip_done"]
                ).total_seconds(),
                "total_s": (marks["modules_done"] - marks["clone"]).total_seconds(),
            }
    return {}


def package_downloads(logs: list[list[tuple[datetime, str]]]) -> list[int]:
    """How many packages (pip environments and ``py_modules``) each job had to fetch."""
    counts = [sum("Added URI" in line for _, line in lines) for lines in logs]
    return [count for count in counts if count]


def git_state() -> dict[str, Any]:
    """The commit measured, and whether the shipped code had uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    changed = git("status", "--porcelain", "synapse_sdk", "plugins_examples/upload-files")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_files": len(changed.splitlines()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--file-size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--wait-quiet", type=float, default=900.0, help="seconds, at most")
    parser.add_argument("--quick", action="store_true", help="200 files, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.files, args.repeats = min(args.files, 200), min(args.repeats, 2)
    for name, value in RAY_SETTINGS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))

    import pytest
    from support.bare_ray import RAY_VERSION, bare_venv, ray_head

    document: dict[str, Any] = {
        "benchmark": "ship",
        "description": "synapse run on a bare Ray cluster: shipping the code; many small files",
        "machine": machine(),
        "ray_version": RAY_VERSION,
        "command": " ".join(["python", "benchmarks/bench_ship.py", *sys.argv[1:]]),
        "code_at_start": git_state(),
    }
    with signals_unwind():
        started = time.perf_counter()
        try:
            python = bare_venv("pip") / "bin" / "python"
        except pytest.skip.Exception as exc:  # the package index is unreachable
            emit({**document, "skipped": str(exc)})
            return
        venv_s = time.perf_counter() - started
        waited, others_at_start = wait_quiet(args.wait_quiet)
        with tempfile.TemporaryDirectory(prefix="bench-ship-") as folder:
            scratch = Path(folder)
            synapse = Synapse(scratch)
            source = make_tree(scratch / "source", args.files, args.file_size)
            started = time.perf_counter()
            with ray_head(python) as address:
                cluster_s = time.perf_counter() - started
                first = synapse.upload(SAMPLE_DATA, address)
                repeat = [synapse.upload(SAMPLE_DATA, address) for _ in range(args.repeats)]
                local_sample = [synapse.upload(SAMPLE_DATA, None) for _ in range(args.repeats)]
                plan_s, plan = synapse.plan(address)
                upload: dict[str, list[Run]] = {"ray": [], "local": []}
                for round_ in range(args.repeats):
                    order = ("ray", "local") if round_ % 2 == 0 else ("local", "ray")
                    for executor in order:
                        where = address if executor == "ray" else None
                        upload[executor].append(synapse.upload(source, where))
                logs = setup_logs(cluster_temp_dir(address))
            others_at_end = len(ray_processes())  # this cluster is stopped: others' only
    shipment = plan["shipment"]
    seconds = {name: [run.seconds for run in runs] for name, runs in upload.items()}
    document.update(
        {
            "code_at_end": git_state(),
            "bare_venv": {"path": str(python.parent.parent), "ready_s": round(venv_s, 1)},
            "cluster": {"cpus": 2, "start_s": round(cluster_s, 1)},
            "other_ray_processes": {
                "waited_s": waited,
                "at_start": others_at_start,
                "at_end": others_at_end,
            },
            "ship": {
                "sample_files": count_files(SAMPLE_DATA),
                "first_run_s": round(first.seconds, 2),
                "repeat_runs_s": summary([run.seconds for run in repeat], 2),
                "local_executor_s": summary([run.seconds for run in local_sample], 2),
                "first_run_marks_s": first.marks,
                "repeat_run_marks_median_s": median_marks(repeat),
                "local_run_marks_median_s": median_marks(local_sample),
                "first_environment_on_cluster": {
                    name: round(value, 2) for name, value in first_setup(logs).items()
                },
                "packages_fetched_by_cluster_per_job": package_downloads(logs),
                "plan_s": round(plan_s, 2),
                "shipped_packages_bytes": {
                    package["name"]: package["size"] for package in shipment["packages"]
                },
                "requirements": len(shipment["requirements"]),
                "installed_on_workers_with_pip": shipment["missing"],
            },
            "upload": {
                "files": args.files,
                "file_size_bytes": args.file_size,
                "repeats": args.repeats,
                "ray_s": summary(seconds["ray"], 2),
                "local_s": summary(seconds["local"], 2),
                "ray_marks_median_s": median_marks(upload["ray"]),
                "local_marks_median_s": median_marks(upload["local"]),
                "ratio_ray_to_local_median": round(
                    statistics.median(seconds["ray"]) / statistics.median(seconds["local"]), 2
                ),
                "files_per_s_median": {
                    name: round(args.files / statistics.median(values))
                    for name, values in seconds.items()
                },
            },
        }
    )
    emit(document)


if __name__ == "__main__":
    main()
