"""The run pipeline: settings read once and passed down, the host built from them, the
placement checked once before anything is journalled."""

from __future__ import annotations

from pathlib import Path

import pytest

from synapse_sdk.errors import ExecutorError
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import RuntimeContext, run_action
from synapse_sdk.run.runner import Placement
from synapse_sdk.runtime.settings import Settings


def _source(tmp_path: Path) -> Path:
    """A small folder to upload."""
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    (source / "a.txt").write_text("alpha\n")
    (source / "b.txt").write_text("beta\n")
    return source


def _steps_of_a_run(tmp_path: Path, env: dict[str, str], target: str) -> list[str]:
    ctx = RuntimeContext(env=env)
    journal = RunJournal(tmp_path / "runs.db")
    try:
        run_action(
            "upload-files",
            {"source": str(_source(tmp_path)), "target": str(tmp_path / target)},
            ctx=ctx,
            journal=journal,
        )
        assert ctx.job_id is not None
        run = journal.get_run(ctx.job_id)
    finally:
        journal.close()
    assert run is not None
    return [step.name for step in run.steps]


def test_a_later_runtime_context_gets_the_host_its_own_settings_ask_for(
    tmp_path: Path,
) -> None:
    env = {"SYNAPSE_HOME": str(tmp_path / "home"), "SYNAPSE_LOAD_PLUGINS": "integrity"}

    with_plugin = _steps_of_a_run(tmp_path, env, "first")
    without = _steps_of_a_run(tmp_path, {**env, "SYNAPSE_DISABLE_PLUGINS": "integrity"}, "second")

    assert "verify_upload" in with_plugin  # the integrity plugin's step
    assert without == [name for name in with_plugin if name != "verify_upload"]


def test_the_settings_follow_the_runtime_contexts_env(tmp_path: Path) -> None:
    ctx = RuntimeContext(
        env={"SYNAPSE_HOME": str(tmp_path), "SYNAPSE_TRACE_PLUGINS": "yes", "OTHER": "x"}
    )

    assert ctx.settings.journal_path == tmp_path / "runs.db"
    assert ctx.settings.undo_root == tmp_path / "undo"
    assert ctx.settings.trace is True
    assert ctx.settings.forwarded == (
        ("SYNAPSE_HOME", str(tmp_path)),
        ("SYNAPSE_TRACE_PLUGINS", "yes"),
    )
    given = Settings.from_env({})
    assert RuntimeContext(env={"SYNAPSE_HOME": "/elsewhere"}, settings=given).settings is given


@pytest.mark.parametrize(
    ("executor", "address", "message"),
    [
        ("slurm", None, "unknown executor 'slurm'; choose one of: local, ray"),
        ("local", "10.0.0.1:6379", "a Ray address was given for a local run"),
    ],
)
def test_a_bad_placement_is_refused_before_anything_is_journalled(
    tmp_path: Path, executor: str, address: str | None, message: str
) -> None:
    journal = RunJournal(tmp_path / "runs.db")
    with pytest.raises(ExecutorError, match=message):
        run_action(
            "upload-files",
            {"source": str(_source(tmp_path)), "target": str(tmp_path / "out")},
            ctx=RuntimeContext(env={"SYNAPSE_LOAD_PLUGINS": ""}),
            journal=journal,
            executor=executor,
            ray_address=address,
        )
    assert journal.list_runs() == []
    journal.close()
    assert not (tmp_path / "out").exists()


def test_an_address_alone_places_the_run_on_ray() -> None:
    assert Placement.of(None, "10.0.0.1:6379") == Placement("ray", "10.0.0.1:6379")
    assert Placement.of() == Placement("local", None)
