"""Sixteen ``synapse run`` at once on one journal, against the same sixteen on sixteen.

Each run is the real command uploading ``--files`` small files with the upload example
(``pip install -e plugins_examples/upload-files``). In the *shared* round all runs write
to one ``SYNAPSE_HOME`` (one SQLite journal: they wait for each other's commits); in the
*separate* round (the baseline) each has its own. The rounds alternate, ``--rounds``
times. Prints one JSON document: wall time of each round, per-run durations, and every
run that failed (there should be none: lock contention must never fail a run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, machine, summary

SYNAPSE = str(Path(sys.executable).with_name("synapse"))


def start(source: Path, target: Path, home: Path) -> tuple[subprocess.Popen[str], float]:
    params = json.dumps({"source": str(source), "target": str(target)})
    env = {**os.environ, "SYNAPSE_HOME": str(home), "SYNAPSE_LOAD_PLUGINS": ""}
    process = subprocess.Popen(
        [SYNAPSE, "run", "upload-files", "--json", "--params", params],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    return process, time.perf_counter()


def round_of(runs: int, source: Path, work: Path, shared: bool) -> dict[str, Any]:
    started = time.perf_counter()
    processes = [
        start(source, work / f"out{n}", work / ("home" if shared else f"home{n}"))
        for n in range(runs)
    ]
    durations, failures = [], []
    for process, began in processes:
        _, stderr = process.communicate(timeout=600)
        durations.append(time.perf_counter() - began)
        if process.returncode != 0:
            failures.append({"exit_code": process.returncode, "stderr": stderr[-300:]})
    return {
        "wall_s": round(time.perf_counter() - started, 3),
        "run_s": summary(durations),
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {"shared_journal": [], "separate_journals": []}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "source"
        source.mkdir()
        for index in range(args.files):
            (source / f"file{index}.bin").write_bytes(os.urandom(1024))
        for number in range(args.rounds):
            order = [True, False] if number % 2 == 0 else [False, True]
            for shared in order:
                work = root / f"round{number}-{'shared' if shared else 'separate'}"
                work.mkdir()
                key = "shared_journal" if shared else "separate_journals"
                results[key].append(round_of(args.runs, source, work, shared))
    failures = sum(len(r["failures"]) for rounds in results.values() for r in rounds)
    emit(
        {
            "benchmark": "concurrent_runs",
            "machine": machine(),
            "runs_per_round": args.runs,
            "files_per_run": args.files,
            "rounds": args.rounds,
            "shared_journal_wall_s": summary([r["wall_s"] for r in results["shared_journal"]]),
            "separate_journals_wall_s": summary(
                [r["wall_s"] for r in results["separate_journals"]]
            ),
            "failed_runs": failures,
            "target_met": failures == 0,
            "detail": results,
        }
    )


if __name__ == "__main__":
    main()
