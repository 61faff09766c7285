"""What flushing undo copies to disk costs: ``sync_file`` per copy, against not flushing.

Before a run replaces an object it keeps a copy in its undo area and flushes it
(``synapse_sdk.storage.undo_area.sync_file``) before the journal names it. This writes
``--copies`` fresh files of ``--size`` bytes under ``--folder`` (default: a temporary
folder in the home folder, on the disk an undo area would use) and times, alternating
rounds, writing them alone and writing them then flushing each; the difference is the
cost per replaced object. Prints one JSON document.

Run: ``.venv/bin/python benchmarks/bench_undo_copies.py [--copies 1000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from time import perf_counter

from _common import emit, machine

from synapse_sdk.storage.undo_area import sync_file


def write_copies(folder: Path, count: int, size: int, *, flush: bool) -> float:
    """Seconds to write ``count`` files of ``size`` bytes, each flushed if ``flush``."""
    data = os.urandom(size)
    start = perf_counter()
    for index in range(count):
        path = folder / f"copy-{index:06d}"
        path.write_bytes(data)
        if flush:
            sync_file(path)
    return perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1000)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path.home())
    args = parser.parse_args(argv)

    plain: list[float] = []
    flushed: list[float] = []
    for _ in range(args.rounds):
        for flush, times in ((False, plain), (True, flushed)):
            with tempfile.TemporaryDirectory(dir=args.folder) as folder:
                times.append(write_copies(Path(folder), args.copies, args.size, flush=flush))
    per_copy_ms = [(f - p) / args.copies * 1000 for f, p in zip(flushed, plain, strict=True)]
    emit(
        {
            "benchmark": "undo_copies_fsync",
            "description": "cost of flushing each undo copy: write+fsync vs write, per copy",
            "machine": machine(),
            "copies": args.copies,
            "size_bytes": args.size,
            "write_only_s": [round(t, 3) for t in plain],
            "write_and_flush_s": [round(t, 3) for t in flushed],
            "flush_ms_per_copy": [round(ms, 3) for ms in per_copy_ms],
            "flush_ms_per_copy_median": round(statistics.median(per_copy_ms), 3),
        }
    )


if __name__ == "__main__":
    main()
