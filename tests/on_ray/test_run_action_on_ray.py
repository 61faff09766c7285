"""``run_action(..., executor='ray')`` in this process, on a local Ray it starts on demand."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse_sdk.errors import (
    ExecutorError,
    InvalidParamsError,
    RunTerminated,
    StepExecutionError,
)
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost, RuntimeContext, run_action
from synapse_sdk.runtime.events import ProgressEvent
from synapse_sdk.testing import RecordingSink

from .conftest import TESTS

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "plugins_examples/upload-files/sample_data"


@pytest.fixture(scope="module")
def demo_fanout(ray_site: Path) -> Iterator[type[Any]]:
    """The demo-fanout action class, importable here and on the Ray workers started later."""
    import ray

    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ray_site), str(TESTS)])  # for the workers
    sys.path.insert(0, str(ray_site))
    try:
        from demo_fanout import DemoFanOut

        yield DemoFanOut
    finally:
        ray.shutdown()
        sys.path.remove(str(ray_site))
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


def journal_run(journal: RunJournal, ctx: RuntimeContext) -> Any:
    assert ctx.job_id is not None
    return journal.get_run(ctx.job_id)


def test_a_run_on_ray_matches_the_same_run_done_locally(
    demo_fanout: type[Any], tmp_path: Path
) -> None:
    import ray

    results = {}
    for executor in ("local", "ray"):
        target = tmp_path / executor
        params = {"source": str(SAMPLE_DATA), "target": str(target)}
        results[executor] = run_action(
            "upload-files", params, plugins=PluginHost(), executor=executor
        )
    assert (
        results["ray"]
        == results["local"]
        == {
            "success": True,
            "steps_executed": 5,
            "steps_total": 5,
        }
    )
    assert sorted(p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray").rglob("*")) == sorted(
        p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*")
    )
    assert (tmp_path / "ray/manifest.json").read_text() == (
        tmp_path / "local/manifest.json"
    ).read_text().replace(str(tmp_path / "local"), str(tmp_path / "ray"))
    assert ray.is_initialized()
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}


def test_events_stream_back_while_the_run_goes_on(demo_fanout: type[Any], tmp_path: Path) -> None:
    arrivals: list[tuple[float, Any]] = []

    class Clock(RecordingSink):
        def emit(self, event: Any) -> None:
            arrivals.append((time.monotonic(), event))

    ctx = RuntimeContext(sinks=[Clock()])
    run_action(
        demo_fanout,
        {"target": str(tmp_path), "hold": 3, "items": 4},
        ctx=ctx,
        plugins=PluginHost(),
        executor="ray",
    )
    finished = time.monotonic()
    first_progress = next(at for at, event in arrivals if isinstance(event, ProgressEvent))
    assert finished - first_progress > 1.5  # seen well before the end, not replayed at it
    percents = [event.percent for _, event in arrivals if isinstance(event, ProgressEvent)]
    assert percents == sorted(percents)
    assert percents[-1] == 100


def test_a_failure_rolls_back_on_the_cluster_and_raises_the_local_error(
    demo_fanout: type[Any], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    ctx = RuntimeContext()
    journal = RunJournal(tmp_path / "runs.db")
    with pytest.raises(StepExecutionError) as caught:
        run_action(
            demo_fanout,
            {"target": str(out), "fail_after": True},
            ctx=ctx,
            plugins=PluginHost(),
            journal=journal,
            executor="ray",
        )
    assert type(caught.value) is StepExecutionError
    assert caught.value.step == "finish"
    assert caught.value.error == "asked to fail after the fan-out"
    assert caught.value.rollback_errors == []
    assert list(out.iterdir()) == []
    run = journal_run(journal, ctx)
    assert run.state == "rolled_back"
    assert [step.state for step in run.steps] == ["rolled_back"] * 3
    journal.close()


def test_a_failing_fan_out_item_names_the_item_and_the_rest_is_undone(
    demo_fanout: type[Any], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(StepExecutionError, match=r"1 of 10 items failed: item 4 \(") as caught:
        run_action(
            demo_fanout,
            {"target": str(out), "items": 10, "fail_items": [4]},
            plugins=PluginHost(),
            executor="ray",
        )
    assert "ValueError: item 4 refused" in str(caught.value)
    assert list(out.iterdir()) == []


def test_sigterm_cancels_the_remote_run_and_waits_for_its_rollback(
    demo_fanout: type[Any], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    ctx = RuntimeContext()
    journal = RunJournal(tmp_path / "runs.db")
    prepared = out / "prepared.txt"

    def terminate_once_prepared() -> None:
        deadline = time.monotonic() + 60
        while not prepared.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_prepared, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(RunTerminated):
        run_action(
            demo_fanout,
            {"target": str(out), "hold": 60},
            ctx=ctx,
            plugins=PluginHost(),
            journal=journal,
            executor="ray",
        )
    assert time.monotonic() - started < 45
    assert list(out.iterdir()) == []
    assert journal_run(journal, ctx).state == "rolled_back"
    journal.close()


def test_params_are_validated_before_any_cluster_is_contacted(demo_fanout: type[Any]) -> None:
    with pytest.raises(InvalidParamsError, match="items"):
        run_action(
            demo_fanout,
            {"target": "x", "items": "many"},
            plugins=PluginHost(),
            executor="ray",
            ray_address="127.0.0.1:9",
        )


def test_an_unknown_executor_or_a_stray_address_is_refused(demo_fanout: type[Any]) -> None:
    with pytest.raises(ExecutorError, match="unknown executor 'dask'; choose one of: local, ray"):
        run_action(demo_fanout, {"target": "x"}, plugins=PluginHost(), executor="dask")
    with pytest.raises(ExecutorError, match="a Ray address was given for a local run"):
        run_action(demo_fanout, {"target": "x"}, plugins=PluginHost(), ray_address="h:1")


def test_a_cancel_that_reaches_the_worker_twice_does_not_stop_its_rollback(
    demo_fanout: type[Any], tmp_path: Path
) -> None:
    """A cancelled task gets KeyboardInterrupt, then a late SIGINT: only the first stops it."""
    from support.repeated_cancel import RepeatedCancelAction

    out = tmp_path / "out"
    out.mkdir()
    ctx = RuntimeContext()
    journal = RunJournal(tmp_path / "runs.db")
    with pytest.raises(KeyboardInterrupt):
        run_action(
            RepeatedCancelAction,
            {"target": str(out), "notes": str(tmp_path / "notes.txt")},
            ctx=ctx,
            plugins=PluginHost(),
            journal=journal,
            executor="ray",
        )
    assert list(out.iterdir()) == []
    run = journal_run(journal, ctx)
    assert (run.state, [step.state for step in run.steps]) == ("rolled_back", ["rolled_back"])
    # the late interruption did reach the rollback: its handler is the one the worker set
    notes = (tmp_path / "notes.txt").read_text()
    assert notes == "main thread: True; handler: synapse_sdk.interrupts"
    journal.close()
