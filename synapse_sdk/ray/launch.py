"""run_on_ray: run an action as a Ray task, with its events and journal records streamed back.

The caller validates params, then submits one task that builds the action on a worker
and runs it with a runtime context whose sinks and recorder forward everything through
a small channel actor. The caller pulls from the channel and replays each message into
its own runtime context: progress, log, metrics and step events reach the caller's sinks
while the run goes on, and the step records reach the caller's run journal. A journal
record is acknowledged only after the caller has applied it, so the worker's
``record_rollback`` returns once the record is on the caller's disk, as in a local run.

A worker that does not share the caller's undo area sends what a step keeps before a
replace to the caller too (:mod:`synapse_sdk.ray.undo_copies`).

Ctrl-C (or SIGTERM) on the caller cancels the task: Ray raises ``KeyboardInterrupt`` in
it, the orchestrator on the worker rolls back, and the caller keeps streaming until the
rollback has finished. A second interrupt stops waiting and kills the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synapse_sdk.errors import ExecutorError, RunAbandoned, describe_error
from synapse_sdk.fanout.ray_cluster import import_ray
from synapse_sdk.fanout.ray_tasks import RayTaskExecutor
from synapse_sdk.host.manager import PluginHost, PluginRecord, plugin_host
from synapse_sdk.interrupts import cancellation_handlers, raise_lost_interrupt
from synapse_sdk.ray.undo_copies import (
    copy_chunks,
    mark_caller_area,
    shares_caller_area,
    write_chunk,
)
from synapse_sdk.runtime.context import RuntimeContext, quiet_logger
from synapse_sdk.runtime.events import Event, LogEvent
from synapse_sdk.runtime.recorder import StepRecorder
from synapse_sdk.storage.undo_area import discard_undo_area

if TYPE_CHECKING:
    from synapse_sdk.actions.base import BaseAction

ray = import_ray()

__all__ = ["run_on_ray"]

_PULL_TIMEOUT = 0.1
_FINISH_TIMEOUT = 10.0


class _Channel:
    """An async actor holding numbered messages from the worker until the caller applies them.

    A message is dropped only once the caller acknowledges it, so a pull whose answer the
    caller never read (Ctrl-C landed while it waited) loses nothing: the next pull
    returns the same messages again.
    """

    def __init__(self) -> None:
        self._messages: list[tuple[int, Any]] = []
        self._acked = 0
        self._changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def push(self, seq: int, message: Any) -> None:
        changed = self._condition()
        async with changed:
            self._messages.append((seq, message))
            changed.notify_all()

    async def push_and_wait(self, seq: int, message: Any) -> None:
        """Push, then return only once the caller has applied this message."""
        await self.push(seq, message)
        changed = self._condition()
        async with changed:
            await changed.wait_for(lambda: self._acked >= seq)

    async def pull(self, acked: int, timeout: float) -> list[tuple[int, Any]]:
        """Acknowledge messages up to ``acked``; return the others (waiting up to ``timeout``)."""
        changed = self._condition()
        async with changed:
            if acked > self._acked:
                self._acked = acked
                changed.notify_all()
            self._messages = [item for item in self._messages if item[0] > self._acked]
            if not self._messages and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait_for(lambda: bool(self._messages)), timeout)
            return list(self._messages)


_RemoteChannel = ray.remote(num_cpus=0)(_Channel)


class _Sender:
    """The worker's end of the channel; numbers messages so the caller applies them in order."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel
        self._seq = 0
        self._lock = threading.Lock()

    def send(self, message: Any, *, wait: bool = False) -> None:
        with self._lock:
            method = self._channel.push_and_wait if wait else self._channel.push
            seq = self._seq + 1
            try:
                self._seq = seq
                ref = method.remote(seq, message)
            except KeyboardInterrupt:
                # Cancelled while submitting: a number taken but never sent would stall
                # the caller forever, so send it again (the caller drops a duplicate).
                if self._seq == seq:
                    self._channel.push.remote(seq, message)
                raise
        if wait:
            ray.get(ref)


class _ForwardingSink:
    def __init__(self, sender: _Sender) -> None:
        self._sender = sender

    def emit(self, event: Event) -> None:
        self._sender.send(("event", event))

    def close(self) -> None:
        pass


class _ForwardingRecorder:
    """A StepRecorder whose calls return once the caller's journal has them.

    ``sends_copies``: this worker does not share the caller's undo area, so what a step
    keeps before replacing an object is sent to the caller too (:mod:`.undo_copies`).
    """

    def __init__(self, sender: _Sender, *, sends_copies: bool) -> None:
        self._sender = sender
        self._sends_copies = sends_copies

    def _forward(self, transition: Callable[[StepRecorder], None]) -> None:
        """Send ``transition`` (a typed call on the caller's recorder); wait until applied."""
        self._sender.send(("record", transition), wait=True)

    def step_started(self, position: int, name: str) -> None:
        self._forward(lambda recorder: recorder.step_started(position, name))

    def record(self, name: str, key: str, value: Any) -> None:
        self._forward(lambda recorder: recorder.record(name, key, value))

    def append(self, name: str, key: str, items: Sequence[Any], positions: Sequence[int]) -> None:
        items, positions = list(items), list(positions)
        self._forward(lambda recorder: recorder.append(name, key, items, positions))

    def kept(self, path: str) -> None:
        if not self._sends_copies:
            return
        name = os.path.basename(path)
        for offset, data, last in copy_chunks(path):  # each piece applied before the next
            self._sender.send(("kept", name, offset, data, last), wait=True)

    def step_succeeded(self, name: str, rollback_data: Mapping[str, Any]) -> None:
        self._forward(lambda recorder: recorder.step_succeeded(name, rollback_data))

    def step_skipped(self, name: str) -> None:
        self._forward(lambda recorder: recorder.step_skipped(name))

    def step_failed(self, name: str, error: str, traceback: str | None = None) -> None:
        self._forward(lambda recorder: recorder.step_failed(name, error, traceback))

    def step_rolled_back(self, name: str) -> None:
        self._forward(lambda recorder: recorder.step_rolled_back(name))

    def rollback_failed(self, name: str, error: str) -> None:
        self._forward(lambda recorder: recorder.rollback_failed(name, error))


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else an ExecutorError carrying its text."""
    try:
        ray.cloudpickle.loads(ray.cloudpickle.dumps(exc))
    except Exception:
        return ExecutorError(describe_error(exc))
    return exc


def _run_on_worker(
    action_class: type[BaseAction[Any]],
    name: str,
    params: Any,
    plugins: list[tuple[object, PluginRecord]],
    job_id: str | None,
    caller_mark: str | None,
    channel: Any,
    trace: bool = False,
) -> None:
    """The Ray task: build the action from validated params and run it; report the outcome.

    ``caller_mark`` is set when the caller journals the run: the token of its undo area
    (:func:`~synapse_sdk.ray.undo_copies.mark_caller_area`).
    """
    sender = _Sender(channel)
    runtime = RuntimeContext(
        logger=quiet_logger(),
        sinks=[_ForwardingSink(sender)],
        job_id=job_id,
    )
    runtime.executor = RayTaskExecutor()
    elsewhere = False  # this worker's undo area is not the caller's: it is ours to delete
    if caller_mark is not None and job_id is not None:
        elsewhere = not shares_caller_area(runtime.settings, job_id, caller_mark)
        runtime.recorder = _ForwardingRecorder(sender, sends_copies=elsewhere)
    # ray.cancel stops the task twice over: a blocking Ray call raises KeyboardInterrupt,
    # and the task is interrupted as by SIGINT, possibly later, during the rollback. Only
    # the first stops the run; what follows cannot cut its rollback short.
    with cancellation_handlers(once=True):
        try:
            # The caller's plugins, not the worker's; their trace lines go back to it.
            host = PluginHost.with_plugins(
                plugins, trace=trace, trace_to=lambda line: sender.send(("trace", line))
            )
            result = action_class(params, runtime, plugins=host, name=name).run()
        except BaseException as exc:
            sender.send(("failed", _portable(exc)), wait=True)
        else:
            sender.send(("succeeded", result), wait=True)
        finally:
            if elsewhere and job_id is not None:  # the caller holds every copy that matters
                discard_undo_area(runtime.settings, job_id)


_remote_run = ray.remote(num_cpus=0, max_retries=0)(_run_on_worker)


class _Relay:
    """The caller's end: applies the worker's messages, in order, to the caller's context."""

    def __init__(self, runtime: RuntimeContext, channel: Any, task: Any) -> None:
        self.runtime = runtime
        self.channel = channel
        self.task = task
        self.applied = 0
        self.waiting: dict[int, Any] = {}
        self.outcome: tuple[str, Any] | None = None
        self.copy_error: OSError | None = None  # a kept copy this side could not write

    def _apply(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "event":
            event = message[1]
            if isinstance(event, LogEvent):
                self.runtime.log(event.message, event.data, step=event.step, level=event.level)
            else:
                self.runtime.emit(event)
        elif kind == "record":
            transition = message[1]
            if self.runtime.recorder is not None:
                transition(self.runtime.recorder)
        elif kind == "kept":  # a piece of a copy kept by a worker elsewhere
            if self.runtime.job_id is not None and self.copy_error is None:
                try:
                    write_chunk(self.runtime.settings, self.runtime.job_id, *message[1:])
                except OSError as exc:  # the worker must not replace what we cannot keep
                    self.copy_error = exc
                    ray.cancel(self.task, recursive=False)
        elif kind == "trace":  # SYNAPSE_TRACE_PLUGINS on the worker: printed here
            print(message[1], file=sys.stderr, flush=True)
        else:
            self.outcome = (kind, message[1])

    def _pull(self, timeout: float) -> None:
        batch = ray.get(self.channel.pull.remote(self.applied, timeout))
        for seq, message in batch:
            if seq > self.applied:
                self.waiting.setdefault(seq, message)
        while self.applied + 1 in self.waiting:
            # Counted as applied only once applied: a message whose application was
            # interrupted is applied again (journal writes are idempotent).
            self._apply(self.waiting[self.applied + 1])
            del self.waiting[self.applied + 1]
            self.applied += 1

    def follow(self) -> tuple[str, Any]:
        """Apply messages until the worker reports its outcome; fail if the task died."""
        while self.outcome is None:
            self._pull(_PULL_TIMEOUT)
            raise_lost_interrupt()  # a Ctrl-C that CPython dropped on this side
            if self.outcome is None and ray.wait([self.task], timeout=0)[0]:
                self._pull(0)
                if self.outcome is None:
                    self._lost()
        self._pull(0)  # acknowledge the outcome, which lets the task end
        ray.wait([self.task], timeout=_FINISH_TIMEOUT)
        if self.copy_error is not None:  # the run was cancelled for it, and rolled back
            raise ExecutorError(
                "could not keep the previous content of a replaced object beside the "
                f"journal ({describe_error(self.copy_error)}); the run was stopped and rolled "
                "back: free space under $SYNAPSE_HOME, then run it again"
            ) from self.copy_error
        return self.outcome

    def _lost(self) -> None:
        try:
            ray.get(self.task)
        except ray.exceptions.RayError as exc:
            raise ExecutorError(
                f"the run on Ray ended without reporting an outcome ({type(exc).__name__}); "
                "its rollback may not have run"
            ) from exc
        raise ExecutorError("the run on Ray ended without reporting an outcome")


def _plugins_of(action: BaseAction[Any]) -> list[tuple[object, PluginRecord]]:
    """The action's hook plugins, checked to be sendable to the workers."""
    host = action.plugins if action.plugins is not None else plugin_host(action.ctx.settings)
    plugins = host.registered()
    for plugin, record in plugins:
        try:
            ray.cloudpickle.dumps(plugin)
        except Exception as exc:
            raise ExecutorError(
                f"plugin '{record.name}' cannot be sent to the Ray workers "
                f"({describe_error(exc)}); disable it with "
                f"SYNAPSE_DISABLE_PLUGINS={record.name} or run locally"
            ) from None
    return plugins


def run_on_ray(action: BaseAction[Any], runtime_env: Mapping[str, Any]) -> Any:
    """Run ``action`` (params already validated) on Ray; return or raise as a local run would.

    The caller has joined the cluster (:func:`synapse_sdk.run.runner.place`).
    Progress, logs, metrics and step events go to ``action.ctx``'s sinks as they happen,
    and step records to ``action.ctx.recorder``. The action class must be importable on
    the cluster's workers: ``runtime_env`` (from :func:`~synapse_sdk.run.runner.ship`)
    carries the code there, with the variables to set on the workers. The run uses the
    caller's hook plugins (``action.plugins``, else the installed ones), sent to the
    workers, so a run on Ray has the same steps and wrappers as a local one.

    Raises:
        ExecutorError: Ray is missing or the cluster unreachable, or the remote run died.
        StepExecutionError: a step failed; the run was rolled back on the cluster.
        KeyboardInterrupt, RunTerminated: the caller was interrupted; the run was
            cancelled and rolled back on the cluster.
    """
    runtime = action.ctx
    if not ray.is_initialized():
        raise ExecutorError("not connected to Ray: place the run first (runner.place)")
    plugins = _plugins_of(action)
    # The run's code and the caller's forwarded variables (SYNAPSE_* and those named) hold
    # on the workers, for the run, its channel and the fan-out tasks it starts.
    options = {"runtime_env": dict(runtime_env)} if runtime_env else {}
    caller_mark = None
    if runtime.recorder is not None and runtime.job_id is not None:
        caller_mark = mark_caller_area(runtime.settings, runtime.job_id)
    channel = _RemoteChannel.options(**options).remote()
    try:
        task = _remote_run.options(**options).remote(
            type(action),
            action.name,
            action.params,
            plugins,
            runtime.job_id,
            caller_mark,
            channel,
            runtime.settings.trace,
        )
        relay = _Relay(runtime, channel, task)
        try:
            kind, value = relay.follow()
        except (KeyboardInterrupt, SystemExit):
            ray.cancel(task, recursive=False)
            runtime.log("remote_run_cancelled", {"waiting_for": "rollback"}, level="warning")
            try:
                stopped, how = relay.follow()
                error = describe_error(how) if stopped == "failed" else None
                runtime.log("remote_run_stopped", {"outcome": stopped, "error": error})
            except RunAbandoned:  # a second signal: the rollback is left for later
                ray.cancel(task, force=True)
                raise
            except BaseException as lost:  # the rollback's outcome is unknown
                runtime.log(
                    "remote_rollback_not_followed",
                    {"error": describe_error(lost)},
                    level="warning",
                )
                ray.cancel(task, force=True)
            raise
    finally:
        ray.kill(channel)
    if kind == "failed":
        raise value
    return value
