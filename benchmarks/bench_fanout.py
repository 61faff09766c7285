"""The upload example on threads versus Ray, and the fan-out overhead per item.

Part 1, ``upload``: a tree of ``--files`` small files (``--file-size`` bytes each, in 10
folders) is uploaded to a local folder by the ``upload-files`` example, through
``run_action`` with a run journal, once with ``executor='local'`` (``context.map`` on a
thread pool) and once with ``executor='ray'`` (the action as a Ray task, the copies as
Ray tasks), alternately for ``--rounds`` rounds in one process. The local Ray is started
once, before the rounds, and its start-up time is reported on its own.

Part 2, ``overhead``: ``context.map`` over ``--items`` items of a function that returns
its argument, through the thread executor (one item per task, the default, and 16) and
through Ray tasks (default chunking, and one item per task), against a plain list
comprehension calling the same function. The difference divided by the number of items
is the fan-out's cost per item.

Needs the ``ray`` extra and the upload example installed (``pip install -r
requirements-test.txt``). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, machine, summary

from synapse_sdk.fanout.mapper import fan_out
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost, RuntimeContext
from synapse_sdk.plugins.steps import BaseStepContext
from synapse_sdk.run.runner import run_action
from synapse_sdk.runtime.context import quiet_logger

THREAD_CHUNK = 16


def identity(item: Any) -> Any:
    return item


def make_tree(root: Path, files: int, size: int) -> None:
    payload = os.urandom(size)
    for index in range(files):
        folder = root / f"part{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{index:05d}.bin").write_bytes(payload)


def upload_once(source: Path, target: Path, journal: RunJournal, executor: str) -> float:
    ctx = RuntimeContext(logger=quiet_logger())
    params = {"source": str(source), "target": str(target)}
    started = time.perf_counter()
    run_action(
        "upload-files", params, ctx=ctx, plugins=PluginHost(), journal=journal, executor=executor
    )
    elapsed = time.perf_counter() - started
    copied = sum(1 for path in target.rglob("*.bin"))
    expected = sum(1 for path in source.rglob("*.bin"))
    if copied != expected:
        raise SystemExit(f"{executor} run copied {copied} of {expected} files")
    return elapsed


def map_once(items: list[int], executor: Any, chunk_size: int | None) -> float:
    ctx = RuntimeContext(logger=quiet_logger())
    ctx.executor = executor
    context = BaseStepContext(runtime_ctx=ctx, current_step="bench")
    started = time.perf_counter()
    results = fan_out(context, identity, items, chunk_size=chunk_size)
    elapsed = time.perf_counter() - started
    if results != items:
        raise SystemExit("fan-out returned wrong results")
    return elapsed


def loop_once(items: list[int]) -> float:
    started = time.perf_counter()
    results = [identity(item) for item in items]
    elapsed = time.perf_counter() - started
    if results != items:
        raise SystemExit("loop returned wrong results")
    return elapsed


def per_item_us(times: list[float], baseline: list[float], count: int) -> dict[str, float]:
    """Overhead per item, from the min and the median of rounds, in microseconds."""
    ordered, base = sorted(times), sorted(baseline)
    return {
        "min_of_rounds": round((ordered[0] - base[0]) * 1e6 / count, 2),
        "median_of_rounds": round(
            (ordered[len(ordered) // 2] - base[len(base) // 2]) * 1e6 / count, 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--file-size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument(
        "--single-items", type=int, default=1_000, help="items for the one-item-per-Ray-task case"
    )
    args = parser.parse_args()

    from synapse_sdk.fanout.ray_cluster import connect
    from synapse_sdk.fanout.threads import ThreadExecutor

    started = time.perf_counter()
    ray = connect(None)
    ray_start = time.perf_counter() - started
    from synapse_sdk.fanout.ray_tasks import RayTaskExecutor

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "source"
        make_tree(source, args.files, args.file_size)
        journal = RunJournal(root / "runs.db")
        upload: dict[str, list[float]] = {"local": [], "ray": []}
        for executor in ("local", "ray"):  # warm-up: imports, Ray workers
            upload_once(source, root / f"warm-{executor}", journal, executor)
        for round_ in range(args.rounds):
            order = ("local", "ray") if round_ % 2 == 0 else ("ray", "local")
            for executor in order:
                target = root / f"target-{executor}-{round_}"
                upload[executor].append(upload_once(source, target, journal, executor))
        journal.close()

    items = list(range(args.items))
    single = list(range(args.single_items))
    threads, ray_tasks = ThreadExecutor(), RayTaskExecutor()
    map_once(items, threads, None)  # warm up
    map_once(items, ray_tasks, None)
    loop, loop_single, on_threads, on_ray, on_ray_single = [], [], [], [], []
    on_threads_chunked = []
    for _ in range(args.rounds):
        loop.append(loop_once(items))
        on_threads.append(map_once(items, threads, None))
        on_threads_chunked.append(map_once(items, threads, THREAD_CHUNK))
        on_ray.append(map_once(items, ray_tasks, None))
        loop_single.append(loop_once(single))
        on_ray_single.append(map_once(single, ray_tasks, 1))
    ray_chunk = ray_tasks.chunk_size(args.items)
    ray_cpus = ray.cluster_resources().get("CPU")
    ray.shutdown()

    emit(
        {
            "benchmark": "fan_out",
            "description": "upload example on threads vs Ray; context.map cost per item",
            "machine": machine(),
            "ray_version": ray.__version__,
            "ray_cluster_cpus": ray_cpus,
            "rounds": args.rounds,
            "ray_local_start_s": round(ray_start, 2),
            "upload": {
                "files": args.files,
                "file_size_bytes": args.file_size,
                "local_threads_s": summary(upload["local"], 2),
                "ray_s": summary(upload["ray"], 2),
                "files_per_s_local_median": round(
                    args.files / sorted(upload["local"])[args.rounds // 2]
                ),
                "files_per_s_ray_median": round(
                    args.files / sorted(upload["ray"])[args.rounds // 2]
                ),
            },
            "overhead": {
                "items": args.items,
                "plain_loop_s": summary(loop, 4),
                "threads_s": summary(on_threads, 3),
                "ray_s": summary(on_ray, 3),
                "ray_chunk_size": ray_chunk,
                "threads_us_per_item": per_item_us(on_threads, loop, args.items),
                f"threads_chunk_size_{THREAD_CHUNK}_us_per_item": per_item_us(
                    on_threads_chunked, loop, args.items
                ),
                "ray_us_per_item": per_item_us(on_ray, loop, args.items),
                "ray_one_item_per_task": {
                    "items": args.single_items,
                    "ray_s": summary(on_ray_single, 3),
                    "us_per_item": per_item_us(on_ray_single, loop_single, args.single_items),
                },
            },
        }
    )


if __name__ == "__main__":
    main()
