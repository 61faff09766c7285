"""Cost of one journalled write as a step's list of writes grows from 1k to 20k items.

Two ways to journal "one more thing this step wrote", side by side on the same journal
(SQLite, WAL, ``synchronous=FULL``, in a temporary folder):

* ``record``: ``record_rollback(key, whole_list)``, which rewrites the whole list each
  time (what a step that keeps its own list does);
* ``append``: ``append_rollback(key, item)``, one appended row (what ``context.storage``
  does for each write).

For each size N the journal first holds N items (written directly, untimed), then the
next write is timed ``--repeat`` times. Prints one JSON document (milliseconds per write).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from _common import emit, machine, summary

from synapse_sdk.journal.store import RunJournal

SIZES = (1_000, 5_000, 10_000, 20_000)


def _item(index: int) -> dict[str, object]:
    return {"op": "written", "url": f"file:///data/out/part-{index:06d}.bin", "size": 1024}


def _timed(call: object, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(folder: Path, size: int, repeat: int) -> dict[str, object]:
    journal = RunJournal(folder / f"runs-{size}.db")
    recorded = journal.start_run("bench", {})
    appended = journal.start_run("bench", {})
    for run_id in (recorded, appended):
        journal.step_started(run_id, 0, "write")
    items = [_item(index) for index in range(size)]
    journal.record(recorded, "write", "written", items)
    db = sqlite3.connect(journal.path)  # prefill the appended rows in one transaction
    db.executemany(
        "INSERT INTO appended (run_id, step, key, item) VALUES (?, 'write', 'written', ?)",
        [(appended, json.dumps(item)) for item in items],
    )
    db.commit()
    db.close()

    def record_one_more() -> None:
        items.append(_item(len(items)))
        journal.record(recorded, "write", "written", items)

    def append_one_more() -> None:
        journal.append(appended, "write", "written", _item(size))

    record_ms = _timed(record_one_more, repeat)
    append_ms = _timed(append_one_more, repeat)
    journal.close()
    return {"items_before": size, "record_ms": summary(record_ms), "append_ms": summary(append_ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(Path(folder), size, args.repeat) for size in SIZES]
    first, last = rows[0], rows[-1]
    growth = last["append_ms"]["median"] / first["append_ms"]["median"]  # type: ignore[index]
    emit(
        {
            "benchmark": "journal_growth",
            "machine": machine(),
            "repeat": args.repeat,
            "sizes": rows,
            "append_growth_1k_to_20k": round(growth, 2),
            "target_met": growth < 2.0,  # flat: within noise, not 20x
        }
    )


if __name__ == "__main__":
    main()
