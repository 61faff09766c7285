"""The run journal: every run and every step's state, durable in SQLite.

One database per user (``Settings.journal_path``: ``$SYNAPSE_HOME/runs.db``, default
``~/.synapse/runs.db``) in WAL mode with ``synchronous=FULL``: a record is on disk when the
call that wrote it returns, so a run killed with ``kill -9`` or a power loss can still be
rolled back from it.

Tables: ``runs`` (one row per run) and ``steps`` (one row per step of a run, keyed by the
step's name). ``rollback_data`` is stored as JSON; secrets never reach the journal because
params are stored in their redacted JSON form.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from synapse_sdk.errors import JournalError, ParamsTooLargeError, RunInUseError
from synapse_sdk.interrupts import critical_section
from synapse_sdk.runtime.events import StepStatus, utf8_safe
from synapse_sdk.runtime.settings import HOME_ENV

__all__ = [
    "MAX_PARAMS_BYTES",
    "JournalError",
    "RunKind",
    "RunRecord",
    "RunState",
    "RunJournal",
    "StepRecord",
    "LIVE_STATES",
]

MAX_PARAMS_BYTES = 1_000_000
"""The largest params document (as JSON) a run may journal: big data goes in files."""

BUSY_TIMEOUT = 60.0
"""Seconds a write waits for another process's write before the journal gives up."""

RunKind = Literal["action", "pipeline"]
"""A run of one action, or of a pipeline (whose actions are its child runs)."""

RunState = Literal[
    "running",
    "rolling_back",
    "succeeded",
    "failed",
    "rolled_back",
    "rollback_failed",
    "needs_rollback",
]
"""``running`` and ``rolling_back`` (by ``synapse runs rollback``) belong to a live process;
when that process is gone they read as ``needs_rollback``."""

LIVE_STATES: frozenset[str] = frozenset({"running", "rolling_back"})

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
    host        TEXT NOT NULL,
    cwd         TEXT,
    target      TEXT,
    parent      TEXT,
    kind        TEXT,
    result      TEXT,
    stage       TEXT
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
    traceback      TEXT,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS appended (
    run_id    TEXT NOT NULL,
    step      TEXT NOT NULL,
    key       TEXT NOT NULL,
    item      TEXT NOT NULL,
    position  INTEGER
);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at);
CREATE INDEX IF NOT EXISTS appended_run ON appended(run_id);
"""

_INDEXES = "CREATE INDEX IF NOT EXISTS runs_parent ON runs(parent);"
"""Indexes on added columns: created after the columns are (older journals lack them)."""

_ADDED_COLUMNS = (
    ("runs", "cwd", "TEXT"),
    ("runs", "target", "TEXT"),
    ("runs", "parent", "TEXT"),
    ("runs", "kind", "TEXT"),
    ("runs", "result", "TEXT"),
    ("runs", "stage", "TEXT"),
    ("steps", "traceback", "TEXT"),
    ("appended", "position", "INTEGER"),
)
"""Columns added since the first schema: ``(table, column, type)``, added to older journals."""


@dataclass
class StepRecord:
    position: int
    name: str
    state: StepStatus
    rollback_data: dict[str, Any]
    error: str | None
    started_at: float
    ended_at: float | None
    traceback: str | None = None
    """The traceback of the exception that failed the step, type and message last."""


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
    cwd: str | None = None
    target: str | None = None
    parent: str | None = None
    """The pipeline run this run is an action of (None: a run of its own)."""
    kind: RunKind = "action"
    result: dict[str, Any] | None = None
    """What the action handed on (its ``result_model``, secrets redacted), once succeeded."""
    stage: str | None = None
    """The id of this action in its pipeline (None: not part of a pipeline)."""
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
            "cwd": self.cwd,
            "target": self.target,
            "kind": self.kind,
            "parent": self.parent,
            "result": self.result,
            "stage": self.stage,
            "steps": [
                {
                    "position": step.position,
                    "name": step.name,
                    "state": step.state,
                    "rollback_data": step.rollback_data,
                    "error": step.error,
                    "traceback": step.traceback,
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
    except PermissionError:  # alive, but another user's
        return True
    return True


_text = utf8_safe
"""A text column's value as SQLite can store it: undecodable file names escaped."""


def _optional_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def encode_rollback_data(step: str, data: Mapping[str, Any]) -> str:
    """JSON for ``rollback_data``; a clear :class:`JournalError` if it is not serialisable.

    The JSON is ASCII: strings holding undecodable file names (surrogate escapes) are
    written as ``\\udcXX`` escapes and read back exactly as they were.
    """
    try:
        return json.dumps(dict(data), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise JournalError(
            f"rollback_data of step '{step}' cannot be journalled: {exc}. Use only JSON "
            "values (str, int, float, bool, None, lists and dicts of them)"
        ) from exc


def _private_file(path: Path) -> None:
    """Create ``path`` (and its folder) readable by its owner only; tighten an old one."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for sibling in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if sibling.exists() and sibling.stat().st_mode & 0o077:
            sibling.chmod(0o600)


class RunJournal:
    """The journal database. Each method is one short transaction.

    Opening creates the file and its folder if needed, readable by their owner only
    (folder 0700, files 0600): params and rollback data name the user's data. A file that
    is not a journal, or a database locked for longer than ``timeout`` seconds, raises
    :class:`JournalError`.

    Every write is a transaction that no run signal can split (see
    :func:`~synapse_sdk.interrupts.critical_section`); one connection serves all threads
    of the process, one transaction at a time.
    """

    def __init__(self, path: Path | str, *, timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self._timeout = timeout
        self._lock = threading.Lock()
        db: sqlite3.Connection | None = None
        try:
            _private_file(self.path)
            db = self._db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            self._migrate()
            db.executescript(_INDEXES)
        except (sqlite3.Error, OSError) as exc:
            if db is not None:  # a journal that cannot be used is not left open
                db.close()
            raise JournalError(self._describe(exc)) from exc

    def _migrate(self) -> None:
        """Bring a journal written by an older version up to the current schema."""
        for table, column, kind in _ADDED_COLUMNS:
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                with self._transaction() as db:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def _describe(self, exc: Exception) -> str:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return (
                f"the run journal {self.path} is locked by another process (waited "
                f"{self._timeout:g} s); try again when it finishes"
            )
        if "not a database" in text or "malformed" in text:
            return (
                f"the run journal {self.path} is corrupted ({text}); move it aside "
                f"(or set {HOME_ENV} to another folder) to start a new one"
            )
        if "full" in text:
            return (
                f"the run journal {self.path} cannot be written: the disk is full; free some "
                f"space there (or set {HOME_ENV} to a folder on another disk)"
            )
        if "I/O error" in text:
            return (
                f"the run journal {self.path} cannot be written ({text}); check the disk that "
                f"holds it, its free space and file-size limits (or set {HOME_ENV} to another "
                "folder)"
            )
        if "readonly" in text or "permission" in text.lower():
            return (
                f"the run journal {self.path} cannot be written ({text}); check the "
                f"permissions of {self.path.parent} (or set {HOME_ENV} to another folder)"
            )
        return f"cannot use the run journal {self.path}: {text}"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole, or rolled back whole.

        No run signal is handled between ``BEGIN`` and the end (it is held and raised
        after), so an interrupt never leaves a transaction open on the connection.
        """
        with critical_section(), self._lock:
            try:
                if self._db.in_transaction:  # left open by an error that escaped a rollback
                    self._db.execute("ROLLBACK")
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
        self,
        action: str,
        params: Mapping[str, Any],
        *,
        run_id: str | None = None,
        cwd: str | None = None,
        target: str | None = None,
        parent: str | None = None,
        stage: str | None = None,
        kind: RunKind = "action",
    ) -> str:
        """Journal a new run of ``action`` by this process; return its id.

        ``cwd`` is the folder the run's relative paths are taken from (default: the current
        one); recovery runs there, wherever ``synapse runs rollback`` was started.
        ``target`` is where the action's class can be imported from (``module:Class``),
        so that recovery finds the same class even when it is not installed by name.
        ``parent`` is the pipeline run this run is an action of, ``stage`` that action's id
        in the pipeline; ``kind`` says whether this run is an action's or a pipeline's.

        Raises:
            ParamsTooLargeError: ``params`` as JSON exceed :data:`MAX_PARAMS_BYTES`.
        """
        run_id = run_id or uuid.uuid4().hex[:12]
        encoded = json.dumps(dict(params))
        if len(encoded) > MAX_PARAMS_BYTES:
            raise ParamsTooLargeError(action, len(encoded), MAX_PARAMS_BYTES)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs (run_id, action, params, state, started_at, pid, host, cwd, "
                "target, parent, stage, kind) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    _text(action),
                    encoded,
                    time.time(),
                    os.getpid(),
                    socket.gethostname(),
                    _text(cwd if cwd is not None else os.getcwd()),
                    _optional_text(target),
                    parent,
                    _optional_text(stage),
                    kind,
                ),
            )
        return run_id

    def end_run(
        self,
        run_id: str,
        state: RunState,
        error: str | None = None,
        *,
        result: Mapping[str, Any] | None = None,
    ) -> None:
        """Set a run's final state; ``result`` is what it handed on (JSON, secrets redacted)."""
        encoded = None if result is None else encode_rollback_data("result", result)
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET state = ?, ended_at = ?, error = ?, result = coalesce(?, result) "
                "WHERE run_id = ?",
                (state, time.time(), _optional_text(error), encoded, run_id),
            )

    def take_over(self, run_id: str, state: RunState) -> None:
        """Put ``run_id`` in ``state`` as owned by this process (its pid and host).

        For the owner of a pipeline run acting on its child runs, which no one else claims:
        a child being undone is ``rolling_back`` under this process, so that a crash now
        leaves it ``needs_rollback``.
        """
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET state = ?, pid = ?, host = ?, ended_at = NULL WHERE run_id = ?",
                (state, os.getpid(), socket.gethostname(), run_id),
            )

    def claim_run(
        self,
        run_id: str,
        *,
        claimable: frozenset[str] = frozenset({"needs_rollback"}),
        as_state: RunState = "rolling_back",
    ) -> RunState | None:
        """Take over an unfinished run for this process, atomically.

        The check and the claim are one transaction: of two processes claiming the same
        run at once, exactly one succeeds. A run in one of the ``claimable`` states
        (default: ``needs_rollback``, to roll it back) is put in ``as_state`` under this
        process. Returns the run's state before the call: one of ``claimable`` when this
        process now owns the run; any other state means nothing was claimed (None: no
        such run).

        Raises:
            RunInUseError: a live process owns the run (or one on another machine says so).
        """
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                return None
            run = self._run_from_row(row)
            if run.state in LIVE_STATES:
                raise RunInUseError(run_id, run.state, run.pid, run.host)
            if run.state in claimable:
                db.execute(
                    "UPDATE runs SET state = ?, pid = ?, host = ?, ended_at = NULL "
                    "WHERE run_id = ?",
                    (as_state, os.getpid(), socket.gethostname(), run_id),
                )
            return run.state

    # -- steps ----------------------------------------------------------------------------

    def step_started(self, run_id: str, position: int, name: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO steps (run_id, position, name, state, started_at) "
                "VALUES (?, ?, ?, 'started', ?) ON CONFLICT (run_id, name) "
                "DO UPDATE SET state = 'started', position = excluded.position",
                (run_id, position, _text(name), time.time()),
            )

    def record(self, run_id: str, name: str, key: str, value: Any) -> None:
        """Add ``key: value`` to a running step's recorded rollback data (durable on return)."""
        encoded = encode_rollback_data(name, {key: value})
        name = _text(name)
        with self._transaction() as db:
            row = db.execute(
                "SELECT rollback_data FROM steps WHERE run_id = ? AND name = ?", (run_id, name)
            ).fetchone()
            current = self._decode(run_id, row[0]) if row else {}
            current.update(json.loads(encoded))
            db.execute(
                "UPDATE steps SET rollback_data = ? WHERE run_id = ? AND name = ?",
                (json.dumps(current, sort_keys=True), run_id, name),
            )

    def append(
        self,
        run_id: str,
        name: str,
        key: str,
        items: Sequence[Any],
        positions: Sequence[int] | None = None,
    ) -> None:
        """Append ``items`` to step ``name``'s list under ``key``, in one commit.

        One row per item, so each call costs the same however long the list is; reading
        the run puts the items under ``key`` in the step's ``rollback_data``, ordered by
        ``positions`` (one per item) when given, else in the order they were appended.
        Durable on return.
        """
        if positions is not None and len(positions) != len(items):
            raise ValueError(f"{len(items)} items but {len(positions)} positions")
        encoded = json.loads(encode_rollback_data(name, {key: list(items)}))[key]
        places: Sequence[int | None] = positions if positions is not None else [None] * len(items)
        rows = [
            (run_id, _text(name), _text(key), json.dumps(item), place)
            for item, place in zip(encoded, places, strict=True)
        ]
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO appended (run_id, step, key, item, position) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def step_finished(
        self,
        run_id: str,
        name: str,
        state: StepStatus,
        *,
        rollback_data: Mapping[str, Any] | None = None,
        error: str | None = None,
        traceback: str | None = None,
    ) -> None:
        """Set a step's final state; ``rollback_data`` is merged over what was recorded.

        ``traceback`` (a failed step's) is kept as given; other states leave it as it was.
        """
        encoded = encode_rollback_data(name, rollback_data) if rollback_data else None
        name = _text(name)
        with self._transaction() as db:
            if encoded is not None:
                row = db.execute(
                    "SELECT rollback_data FROM steps WHERE run_id = ? AND name = ?", (run_id, name)
                ).fetchone()
                merged = self._decode(run_id, row[0]) if row else {}
                merged.update(json.loads(encoded))
                db.execute(
                    "UPDATE steps SET rollback_data = ? WHERE run_id = ? AND name = ?",
                    (json.dumps(merged, sort_keys=True), run_id, name),
                )
            db.execute(
                "UPDATE steps SET state = ?, error = ?, ended_at = ? WHERE run_id = ? AND name = ?",
                (state, _optional_text(error), time.time(), run_id, name),
            )
            if traceback is not None:
                db.execute(
                    "UPDATE steps SET traceback = ? WHERE run_id = ? AND name = ?",
                    (_text(traceback), run_id, name),
                )

    # -- reading --------------------------------------------------------------------------

    def _decode(self, run_id: str, text: str) -> dict[str, Any]:
        """A JSON object stored for ``run_id``; :class:`JournalError` naming it if damaged."""
        try:
            value = json.loads(text)
        except (ValueError, RecursionError, TypeError) as exc:
            raise self._damaged(run_id) from exc
        if not isinstance(value, dict):
            raise self._damaged(run_id)
        return value

    def _damaged(self, run_id: str) -> JournalError:
        return JournalError(
            f"run {run_id} in the run journal {self.path} is damaged (its stored JSON cannot "
            "be read); nothing of it can be trusted: move the journal aside "
            f"(or set {HOME_ENV} to another folder) to start a new one"
        )

    def _run_from_row(self, row: tuple[Any, ...]) -> RunRecord:
        run = RunRecord(
            run_id=row[0],
            action=row[1],
            params=self._decode(row[0], row[2]),
            state=row[3],
            started_at=row[4],
            ended_at=row[5],
            error=row[6],
            pid=row[7],
            host=row[8],
            cwd=row[9],
            target=row[10],
            parent=row[11],
            kind=row[12] or "action",
            result=None if row[13] is None else self._decode(row[0], row[13]),
            stage=row[14],
        )
        if (
            run.state in LIVE_STATES
            and run.host == socket.gethostname()
            and not _process_alive(run.pid)
        ):
            run.state = "needs_rollback"  # its process died without finishing: a crash
        return run

    _RUN_COLUMNS = (
        "run_id, action, params, state, started_at, ended_at, error, pid, host, cwd, target, "
        "parent, kind, result, stage"
    )

    def list_runs(self, limit: int = 50, *, top_level: bool = False) -> list[RunRecord]:
        """The most recent runs, newest first; ``top_level``: not the actions of pipelines."""
        where = "WHERE parent IS NULL " if top_level else ""
        try:
            rows = self._db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs {where}ORDER BY started_at DESC LIMIT ?",
                (limit,),
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
                "SELECT position, name, state, rollback_data, error, started_at, ended_at, "
                "traceback FROM steps WHERE run_id = ? ORDER BY position",
                (run_id,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(self._describe(exc)) from exc
        run.steps = [
            StepRecord(
                position, name, state, self._decode(run_id, data), error, started, ended, trace
            )
            for position, name, state, data, error, started, ended, trace in steps
        ]
        self._add_appended(run)
        return run

    def children(self, run_id: str) -> list[RunRecord]:
        """The action runs of pipeline run ``run_id``, with their steps, oldest first."""
        try:
            ids = self._db.execute(
                "SELECT run_id FROM runs WHERE parent = ? ORDER BY started_at, rowid", (run_id,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(self._describe(exc)) from exc
        found = [self.get_run(child) for (child,) in ids]
        return [run for run in found if run is not None]

    def _add_appended(self, run: RunRecord) -> None:
        """Put the items appended for each step of ``run`` under their keys, in order."""
        try:
            rows = self._db.execute(
                "SELECT step, key, item FROM appended WHERE run_id = ? ORDER BY position, rowid",
                (run.run_id,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(self._describe(exc)) from exc
        by_name = {step.name: step for step in run.steps}
        # A key the step returned (or recorded) in its rollback_data wins over appended
        # items, as in the orchestrator's own merge.
        returned = {(step.name, key) for step in run.steps for key in step.rollback_data}
        for name, key, item in rows:
            step = by_name.get(name)
            if step is None or (name, key) in returned:
                continue
            try:
                value = json.loads(item)
            except (ValueError, RecursionError) as exc:
                raise self._damaged(run.run_id) from exc
            step.rollback_data.setdefault(key, []).append(value)

    # -- pruning --------------------------------------------------------------------------

    def prune(self, older_than: float, states: set[str] | None = None) -> list[RunRecord]:
        """Delete finished runs that started more than ``older_than`` seconds ago.

        A pipeline's action runs go with the pipeline run, never on their own.

        Runs that are ``running``, ``rolling_back`` or ``needs_rollback`` are never
        deleted: they are still someone's to finish. ``states`` limits the deletion to
        runs in those states. Returns the deleted runs (without their steps), each
        pipeline run followed by its action runs. The file
        shrinks when no other process is using the journal (``VACUUM``); otherwise the
        space is reused.
        """
        cutoff = time.time() - older_than
        unsettled = {*LIVE_STATES, "needs_rollback"}
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs "
                "WHERE started_at < ? AND parent IS NULL ORDER BY started_at",
                (cutoff,),
            ).fetchall()
            parents = [
                run
                for run in map(self._run_from_row, rows)
                if run.state not in unsettled and (states is None or run.state in states)
            ]
            doomed: list[RunRecord] = []
            for run in parents:
                children = db.execute(
                    f"SELECT {self._RUN_COLUMNS} FROM runs WHERE parent = ? ORDER BY started_at",
                    (run.run_id,),
                ).fetchall()
                doomed += [run, *map(self._run_from_row, children)]
            for run in doomed:
                db.execute("DELETE FROM appended WHERE run_id = ?", (run.run_id,))
                db.execute("DELETE FROM steps WHERE run_id = ?", (run.run_id,))
                db.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
        if doomed:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("VACUUM")
        return doomed
