"""StepRecorder: what the orchestrator tells a run journal, as the run happens.

The orchestrator calls these methods when ``runtime_ctx.recorder`` is set (``run_action``
and ``synapse run`` set it to the SQLite run journal). Each call must be durable when it
returns: ``step_started`` before the step's ``execute`` begins, ``step_succeeded`` (with
the step's ``rollback_data``) before the next step begins, ``record`` before
``context.record_rollback`` returns, ``append`` before ``context.append_rollback``
returns. A recorder that raises in ``step_started``, ``step_succeeded``, ``record`` or
``append`` fails the step (and the run rolls back); failures while recording a rollback
are logged and the rollback goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["StepRecorder"]


class StepRecorder(Protocol):
    def step_started(self, position: int, name: str) -> None:
        """Step ``name`` (0-based ``position`` in the run) is about to execute."""

    def record(self, name: str, key: str, value: Any) -> None:
        """Step ``name`` recorded ``key: value`` for its rollback (``context.record_rollback``)."""

    def append(self, name: str, key: str, items: Sequence[Any], positions: Sequence[int]) -> None:
        """Step ``name`` appended ``items`` to its list under ``key`` (``append_rollback``).

        ``positions`` (one per item) order the list when it is read back; all the items
        are durable together (one commit) when this returns.
        """

    def kept(self, path: str) -> None:
        """A step kept, at ``path`` in the run's undo area, what it is about to replace.

        When this returns, the copy must also be where ``synapse runs rollback`` (which
        runs beside the journal) looks: the undo area of the journal's machine, under the
        same file name. A run journalled in this process has nothing to do.
        """

    def step_succeeded(self, name: str, rollback_data: Mapping[str, Any]) -> None:
        """Step ``name`` succeeded; its ``rollback_data`` must be journalled."""

    def step_skipped(self, name: str) -> None:
        """Step ``name`` was skipped (its ``can_skip`` returned True)."""

    def step_failed(self, name: str, error: str, traceback: str | None = None) -> None:
        """Step ``name`` failed or was interrupted; its rollback comes next.

        ``traceback`` is the formatted exception (type and message last) when one failed
        the step, for ``synapse runs show``.
        """

    def step_rolled_back(self, name: str) -> None:
        """Step ``name``'s rollback finished."""

    def rollback_failed(self, name: str, error: str) -> None:
        """Step ``name``'s rollback raised ``error``."""
