"""pytest fixtures for plugin authors (active wherever synapse-sdk is installed).

* ``synapse_recorder`` — a :class:`~synapse_sdk.testing.RecordingSink`.
* ``synapse_ctx`` — a ``RuntimeContext`` whose sink is ``synapse_recorder``.
* ``synapse_host`` — a fresh ``PluginHost`` with no plugins: register the ones under test.
* ``synapse_journal`` — a run journal in the test's temporary folder.
* ``synapse_run`` — ``synapse_run(action, params)`` runs an action in-process with the
  fixtures above and returns its result (pass ``plugins=...`` to use another host).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from synapse_sdk.testing import RecordingSink

if TYPE_CHECKING:
    from synapse_sdk.actions.base import BaseAction
    from synapse_sdk.host.manager import PluginHost
    from synapse_sdk.journal.store import RunJournal
    from synapse_sdk.runtime.context import RuntimeContext

ActionRunner = Callable[..., Any]


@pytest.fixture
def synapse_recorder() -> RecordingSink:
    """Records every progress, log, metrics and step event of the run."""
    return RecordingSink()


@pytest.fixture
def synapse_ctx(synapse_recorder: RecordingSink) -> RuntimeContext:
    """A runtime context that reports to ``synapse_recorder``."""
    from synapse_sdk.runtime.context import RuntimeContext

    return RuntimeContext(sinks=[synapse_recorder], job_id="pytest")


@pytest.fixture
def synapse_host() -> PluginHost:
    """A fresh plugin host: installed plugins are *not* loaded, so tests stay isolated."""
    from synapse_sdk.host.manager import PluginHost

    return PluginHost()


@pytest.fixture
def synapse_journal(tmp_path: Path) -> Iterator[RunJournal]:
    """A run journal in the test's temporary folder."""
    from synapse_sdk.journal.store import RunJournal

    journal = RunJournal(tmp_path / "synapse-runs.db")
    yield journal
    journal.close()


@pytest.fixture
def synapse_run(
    synapse_ctx: RuntimeContext, synapse_host: PluginHost, synapse_journal: RunJournal
) -> ActionRunner:
    """Run an action in-process: ``synapse_run(ActionClass_or_name, {...params})``.

    The run is journalled in ``synapse_journal``; its run id is ``synapse_ctx.job_id``.
    """
    from synapse_sdk.run.runner import run_action

    def run(
        action: str | type[BaseAction[Any]],
        params: Mapping[str, Any] | None = None,
        *,
        plugins: PluginHost | None = None,
    ) -> Any:
        synapse_ctx.job_id = None  # each run gets its own run id
        return run_action(
            action,
            params,
            ctx=synapse_ctx,
            plugins=plugins or synapse_host,
            journal=synapse_journal,
        )

    return run
