"""Run the real ``synapse`` command with a real signal sent at a chosen moment.

``python signal_driver.py WHERE N SIGNAL -- synapse arguments...`` runs the command line
(``synapse_sdk.cli.main``) in this process and sends ``SIGNAL`` to it the ``N``-th time
the program reaches ``WHERE``:

* ``submit`` — the fan-out hands an item to the thread pool (``ThreadPoolExecutor.submit``);
* ``sql:TEXT`` — the journal's connection starts a statement beginning with ``TEXT``
  (for example ``sql:UPDATE steps`` lands between ``BEGIN IMMEDIATE`` and ``COMMIT``);
* ``hang`` — plugin discovery (``importlib_metadata.entry_points``) hangs for 30 s, as a
  plugin that hangs at start-up would; the caller sends the signal (N and SIGNAL unused).

The signal is a real one (``os.kill`` of this process), handled by whatever handler the
SDK has installed at that moment.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import importlib_metadata


def main() -> None:
    where, nth, name = sys.argv[1:4]
    args = sys.argv[sys.argv.index("--") + 1 :]
    signum = getattr(signal, name)
    remaining = int(nth)

    def reached() -> bool:
        nonlocal remaining
        remaining -= 1
        if remaining == 0:
            os.kill(os.getpid(), signum)
            return True
        return False

    if where == "submit":
        submit = ThreadPoolExecutor.submit

        def counted_submit(self: Any, fn: Any, /, *a: Any, **kw: Any) -> Any:
            reached()
            return submit(self, fn, *a, **kw)

        ThreadPoolExecutor.submit = counted_submit  # type: ignore[method-assign]
    elif where.startswith("sql:"):
        prefix = where[4:]
        connect = sqlite3.connect

        def traced_connect(*a: Any, **kw: Any) -> sqlite3.Connection:
            db = connect(*a, **kw)
            db.set_trace_callback(lambda sql: sql.startswith(prefix) and reached())
            return db

        sqlite3.connect = traced_connect  # type: ignore[assignment]
    elif where == "hang":
        entry_points = importlib_metadata.entry_points

        def hanging_entry_points(*a: Any, **kw: Any) -> Any:
            time.sleep(30)
            return entry_points(*a, **kw)

        importlib_metadata.entry_points = hanging_entry_points  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown place {where!r}")

    from synapse_sdk.cli import main as synapse_main

    sys.argv = ["synapse", *args]
    synapse_main()


if __name__ == "__main__":
    main()
