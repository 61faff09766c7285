"""The run journal: every run and every step's state, durable in SQLite.

One database per user (``$SYNAPSE_HOME/runs.db``, default ``~/.synapse/runs.db``) in WAL
mode with ``synchronous=FULL``: a record is on disk when the call that wrote it returns,
so a run killed with ``kill -9`` or a power loss can still be rolled back from it.

Tables: ``runs`` (one row per run) and ``steps`` (one row per step of a run, keyed by the
step's name). ``rollback_data`` is stored as JSON; secrets never reach the journal because
params are stored in their redacted JSON form.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from synapse_sdk.exceptions import SynapseError

__all__ = [
    "HOME_ENV",
    "JournalError",
    "RunRecord",
    "RunState",
    "RunJournal",
    "StepRecord",
    "StepState",
    "default_journal_path",
]

HOME_ENV = "SYNAPSE_HOME"

RunState = Literal[
    "running", "succeeded", "failed", "rolled_back", "rollback_failed", "needs_rollback"
]
StepState = Literal["started", "succeeded", "failed", "skipped", "rolled_back", "rollback_failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    action      TEXT NOT NULL,
    params      TEXT NOT NULL,
    state       TEXT NOT NULL,
    started_at  REAL NOT NULL,
    ended_at    REAL,
    error       TEXT,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    run_id         TEXT NOT NULL REFERENCES runs(run_id),
    position       INTEGER NOT NULL,
    name           TEXT NOT NULL,
    state          TEXT NOT NULL,
    rollback_data  TEXT NOT NULL DEFAULT '{}',
    error          TEXT,
    started_at     REAL NOT NULL,
    ended_at       REAL,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at);
"""


class JournalError(SynapseError):
    """The journal cannot be opened, read or written (corrupt, locked, unwritable)."""


def default_journal_path(env: Mapping[str, str] | None = None) -> Path:
    """``$SYNAPSE_HOME/runs.db``, or ``~/.synapse/runs.db``."""
    env = os.environ if env is None else env
    home = env.get(HOME_ENV)
    return (Path(home) if home else Path.home() / ".synapse") / "runs.db"


@dataclass
class StepRecord:
    position: int
    name: str
    state: StepState
    rollback_data: dict[str, Any]
    error: str | None
    started_at: float
    ended_at: float | None


@dataclass
class RunRecord:
    run_id: str
    action: str
    params: dict[str, Any]
    state: RunState
    started_at: float
    ended_at: float | None
    error: str | None
    pid: int
    host: str
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def needs_rollback(self) -> bool:
        return self.state == "needs_rollback"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "action": self.action,
            "state": self.state,
            "params": self.params,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "error": self.error,
            "pid": self.pid,
            "host": self.host,
            "steps": [
                {
                    "position": step.position,
                    "name": step.name,
                    "state": step.state,
                    "rollback_data": step.rollback_data,
                    "error": step.error,
                    "started_at": step.started_at,
                    "ended_at": step.ended_at,
                }
                for step in self.steps
            ],
        }


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def encode_rollback_data(step: str, data: Mapping[str, Any]) -> str:
    """JSON for ``rollback_data``; a clear :class:`JournalError` if it is not serialisable."""
    try:
        return json.dumps(dict(data), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise JournalError(
            f"rollback_data of step '{step}' cannot be journalled: {exc}. Use only JSON "
            "values (str, int, float, bool, None, lists and dicts of them)"
        ) from exc


class RunJournal:
    """The journal database. Each method is one short transaction.

    Opening creates the file and its folder if needed. A file that is not a journal, or a
    database locked for longer than ``timeout`` seconds, raises :class:`JournalError`.
    """

    def __init__(self, path: Path | str, *, timeout: float = 5.0) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(self._describe(exc)) from exc

    def _describe(self, exc: Exception) -> str:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return (
                f"the run journal {self.path} is locked by another process; "
                "try again when it finishes"
            )
        if "not a database" in text or "malformed" in text:
            return (
                f"the run journal {self.path} is corrupted ({text}); move it aside "
                f"(or set {HOME_ENV} to another folder) to start a new one"
            )
        return f"cannot use the run journal {self.path}: {text}"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise JournalError(self._describe(exc)) from exc

    def close(self) -> None:
        self._db.close()

    def connection_mode(self) -> tuple[str, int]:
        """``(journal_mode, synchronous)`` of the connection: ``('wal', 2)`` means WAL, FULL."""
        mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = self._db.execute("PRAGMA synchronous").fetchone()[0]
        return str(mode), int(synchronous)

    # -- runs -----------------------------------------------------------------------------

    def start_run(
        self, action: str, params: Mapping[str, Any], *, run_id: str | None = None
    ) -> str:
        run_id = run_id or uuid.uuid4().hex[:12]
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs (run_id, action, params, state, started_at, pid, host) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?)",
                (
                    run_id,
                    action,
                    json.dumps(dict(params)),
                    time.time(),
                    os.getpid(),
                    socket.gethostname(),
                ),
            )
        return run_id

    def end_run(self, run_id: str, state: RunState, error: str | None = None) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET state = ?, ended_at = ?, error = ? WHERE run_id = ?",
                (state, time.time(), error, run_id),
            )

    def claim_run(self, run_id: str) -> None:
        """Mark the run as running in this process (used while recovering it)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET state = 'running', pid = ?, host = ? WHERE run_id = ?",
                (os.getpid(), socket.gethostname(), run_id),
            )

    # -- steps ----------------------------------------------------------------------------

    def step_started(self, run_id: str, position: int, name: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO steps (run_id, position, name, state, started_at) "
                "VALUES (?, ?, ?, 'started', ?) ON CONFLICT (run_id, name) "
                "DO UPDATE SET state = 'started', position = excluded.position",
                (run_id, position, name, time.time()),
            )

    def record(self, run_id: str, name: str, key: str, value: Any) -> None:
        """Add ``key: value`` to a running step's recorded rollback data (durable on return)."""
        encoded = encode_rollback_data(name, {key: value})
        with self._transaction() as db:
            row = db.execute(
                "SELECT rollback_data FROM steps WHERE run_id = ? AND name = ?", (run_id, name)
            ).fetchone()
            current = json.loads(row[0]) if row else {}
            current.update(json.loads(encoded))
            db.execute(
                "UPDATE steps SET rollback_data = ? WHERE run_id = ? AND name = ?",
                (json.dumps(current, sort_keys=True), run_id, name),
            )

    def step_finished(
        self,
        run_id: str,
        name: str,
        state: StepState,
        *,
        rollback_data: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Set a step's final state; ``rollback_data`` is merged over what was recorded."""
        encoded = encode_rollback_data(name, rollback_data) if rollback_data else None
        with self._transaction() as db:
            if encoded is not None:
                row = db.execute(
                    "SELECT rollback_data FROM steps WHERE run_id = ? AND name = ?", (run_id, name)
                ).fetchone()
                merged = json.loads(row[0]) if row else {}
                merged.update(json.loads(encoded))
                db.execute(
                    "UPDATE steps SET rollback_data = ? WHERE run_id = ? AND name = ?",
                    (json.dumps(merged, sort_keys=True), run_id, name),
                )
            db.execute(
                "UPDATE steps SET state = ?, error = ?, ended_at = ? WHERE run_id = ? AND name = ?",
                (state, error, time.time(), run_id, name),
            )

    # -- reading --------------------------------------------------------------------------

    def _run_from_row(self, row: tuple[Any, ...]) -> RunRecord:
        run = RunRecord(
            run_id=row[0],
            action=row[1],
            params=json.loads(row[2]),
            state=row[3],
            started_at=row[4],
            ended_at=row[5],
            error=row[6],
            pid=row[7],
            host=row[8],
        )
        if (
            run.state == "running"
            and run.host == socket.gethostname()
            and not _process_alive(run.pid)
        ):
            run.state = "needs_rollback"  # its process died without finishing: a crash
        return run

    _RUN_COLUMNS = "run_id, action, params, state, started_at, ended_at, error, pid, host"

    def list_runs(self, limit: int = 50) -> list[RunRecord]:
        try:
            rows = self._db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs ORDER BY started_at DESC LIMIT ?", (limit,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(self._describe(exc)) from exc
        return [self._run_from_row(row) for row in rows]

    def get_run(self, run_id: str) -> RunRecord | None:
        try:
            row = self._db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                return None
            run = self._run_from_row(row)
            steps = self._db.execute(
                "SELECT position, name, state, rollback_data, error, started_at, ended_at "
                "FROM steps WHERE run_id = ? ORDER BY position",
                (run_id,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(self._describe(exc)) from exc
        run.steps = [
            StepRecord(position, name, state, json.loads(data), error, started, ended)
            for position, name, state, data, error, started, ended in steps
        ]
        return run
