"""How a run reacts to SIGINT, SIGTERM and SIGHUP, and the sections no signal may split.

While :func:`cancellation_handlers` is active (``synapse run``, ``run_action``,
``synapse runs rollback``), the first of those signals raises an exception in the main
thread: ``KeyboardInterrupt`` for SIGINT, :class:`~synapse_sdk.errors.RunTerminated`
for SIGTERM (exit 143) and SIGHUP (exit 129). The running step is interrupted and the run
rolls back. A second signal in the same run raises
:class:`~synapse_sdk.errors.RunAbandoned`: the user wants out now, so the rollback
stops where it is, the run is left ``needs_rollback`` and ``synapse runs rollback`` finishes
it. On a Ray worker only the first stops the run (``once``): Ray may deliver one
cancellation twice, and the caller abandons a rollback by killing the task instead.

Some work must never be split by a signal: a journal transaction (an interrupt between
``BEGIN`` and ``COMMIT`` would leave it open), or handing an item to a worker and noting
that it was handed over (an item running that nobody knows of could not be rolled back).
Such work runs inside :func:`critical_section`: a signal that arrives meanwhile is held
and raised as soon as the outermost section ends. Sections must be short and must not
block on anything that could wait for long.

CPython discards an exception raised where nothing can receive it: in a weakref callback,
a ``__del__``, a garbage-collector callback ("Exception ignored in ..."). A signal handled
there would be lost, and the run would carry on as if never stopped. While run signals
are handled, ``sys.unraisablehook`` notes when the exception CPython drops is one a
handler raised (instead of printing its traceback), and :func:`raise_lost_interrupt`
raises it again: the orchestrator calls it before its first step and before it reports
success, the journalled run once its action returned, ``context.map`` each time it has
taken in finished items, and the caller of a run on Ray while it follows the run.
"""

from __future__ import annotations

import copy
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from synapse_sdk.errors import RunAbandoned, RunTerminated

__all__ = [
    "RUN_SIGNALS",
    "cancellation_handlers",
    "critical_section",
    "handle_run_signals",
    "ignore_run_signals",
    "raise_lost_interrupt",
    "raise_wrapped_interrupt",
    "received",
    "run_settled",
    "signals_unwrapped",
]

RUN_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals that stop a run with a rollback."""


class _State:
    """What the handlers need to know; touched only from the main thread."""

    depth = 0  # critical sections open in the main thread
    held: list[int] = []  # noqa: RUF012 - signals that arrived inside a section
    first: int | None = None  # the signal that stopped the current run, if any
    repeats_abandon = True  # a later signal abandons the rollback (else it is ignored)
    settled = False  # the run's outcome is journalled: signals no longer matter
    runs = 0  # cancellation_handlers blocks open: more than one is a pipeline's action
    raised: BaseException | None = None  # the last exception a handler raised
    received = False  # `raised` reached the run, which is acting on it (see `received`)
    lost: BaseException | None = None  # that exception, if CPython dropped it
    hook_before: Any = staticmethod(sys.__unraisablehook__)  # the hook _note_dropped wraps


def _exception_for(signum: int) -> BaseException | None:
    """The exception a run signal raises now; None when it is to be ignored."""
    exc: BaseException
    if _State.first is not None:
        if not _State.repeats_abandon:
            return None
        exc = RunAbandoned(_State.first)
    else:
        _State.first = signum
        exc = KeyboardInterrupt() if signum == signal.SIGINT else RunTerminated(signum)
    _State.raised, _State.received = exc, False
    return exc


def raise_lost_interrupt() -> None:
    """Raise again the exception of a signal that CPython dropped ("Exception ignored").

    Only a dropped one: an exception that reached the run is being handled (a rollback may
    be under way, and may call this through ``context.map``). Called where the run would
    otherwise carry on or succeed.
    """
    lost = _State.lost
    if lost is not None and not _State.settled and _in_main_thread():
        _State.lost = None
        raise lost


def received(exc: BaseException) -> None:
    """Say that the run took in ``exc`` and acts on it (rolls back, or gives up).

    Called where a run catches whatever stopped it. If ``exc`` is the signal's exception (or
    was raised from it, as by a library that raises a new ``KeyboardInterrupt``), errors
    raised from now on while it is handled (a failing rollback, an observer hook) are
    those errors, not the signal in disguise: :func:`raise_wrapped_interrupt` leaves them be.

    An interrupt that reached the run another way stops it all the same: a signal that
    comes afterwards is a second one. On a Ray worker ``ray.cancel`` makes a blocking Ray
    call raise ``KeyboardInterrupt`` of its own, and its signal may follow during the
    rollback.
    """
    raised = _State.raised
    if raised is not None and any(link is raised for link in _chain(exc)):
        _State.received = True
    elif (
        _State.first is None
        and isinstance(exc, KeyboardInterrupt | RunTerminated)
        and _in_main_thread()
    ):
        _State.first = exc.signum if isinstance(exc, RunTerminated) else signal.SIGINT
        _State.raised, _State.received = exc, True


def raise_wrapped_interrupt(exc: BaseException) -> None:
    """Raise the run's signal exception if ``exc`` was raised from it, before it reached the run.

    Code that catches a signal's exception and raises another in its place would turn an
    interrupted run into a failed one. Python 3.11 does it itself: a ``KeyboardInterrupt``
    raised while a class is being created (in a ``__set_name__``, as dataclass and pydantic
    fields have) reaches the caller as a ``RuntimeError``. Called where a run takes in an
    ``Exception``, so that Ctrl-C still means "interrupted", whatever wrapped it. Once the
    run has :func:`received` the signal, this does nothing.
    """
    raised = _State.raised
    if raised is None or _State.received or not _in_main_thread():
        return
    if any(link is raised for link in _chain(exc)):
        # The same signal as a new object: raising ``raised`` itself from here would close
        # a loop of causes (it is already behind ``exc``), which some traceback formatters
        # follow forever.
        again = copy.copy(raised)
        _State.raised = again
        raise again from exc


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and the exceptions behind it, each one's cause or else its context.

    A chain of causes is short: at most 100 are followed, never a cycle forever.
    """
    for _link in range(100):
        if exc is None:
            return
        yield exc
        exc = exc.__cause__ or exc.__context__


@contextmanager
def signals_unwrapped() -> Iterator[None]:
    """Let no run signal out of the block disguised as another error.

    Whatever the block raises goes through :func:`raise_wrapped_interrupt` first.
    """
    try:
        yield
    except Exception as exc:
        raise_wrapped_interrupt(exc)
        raise


def _start_afresh() -> None:
    """Forget the signals of the run before: a new run starts, or the last one ended.

    A dropped signal that nothing raised again is reported in one line (where CPython
    would have printed its traceback): the user pressed Ctrl-C, and should know it did
    nothing.
    """
    if _State.lost is not None:
        sys.stderr.write(
            "note: a signal arrived inside a garbage-collection or weak-reference callback, "
            "where Python cannot raise it, and was not acted on\n"
        )
    _State.first, _State.settled, _State.received = None, False, False
    _State.raised = _State.lost = None
    _State.held.clear()


def _note_dropped(unraisable: Any) -> None:
    """``sys.unraisablehook`` while run signals are handled: note a dropped signal.

    A dropped signal of the run is not printed by CPython's own hook ("Exception ignored
    in ..." and a traceback): it is raised again, and the run reports how it ended. A hook
    someone installed before is still called with it.
    """
    ours = unraisable.exc_value is not None and unraisable.exc_value is _State.raised
    if ours:
        _State.lost = unraisable.exc_value
    if not ours or _State.hook_before is not sys.__unraisablehook__:
        _State.hook_before(unraisable)


def _watch_dropped() -> None:
    if sys.unraisablehook is not _note_dropped:
        _State.hook_before = sys.unraisablehook
        sys.unraisablehook = _note_dropped


def _unwatch_dropped() -> None:
    if sys.unraisablehook is _note_dropped:
        sys.unraisablehook = _State.hook_before


def _handler(signum: int, frame: FrameType | None) -> None:
    if _State.settled:
        return
    if _State.depth:
        _State.held.append(signum)
        return
    exc = _exception_for(signum)
    if exc is not None:
        raise exc


def _in_main_thread() -> bool:
    import threading  # only when handlers are installed: not part of the step API's import

    return threading.current_thread() is threading.main_thread()


@contextmanager
def cancellation_handlers(*, once: bool = False) -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into exceptions in the main thread while inside.

    With ``once`` only the first signal stops the run; later ones are ignored, and never
    abandon its rollback. So it is on a Ray worker: ``ray.cancel`` interrupts the task as
    SIGINT does, and Ray retries a cancel that reached the task before it ran, so one
    cancel can arrive twice; the caller gives up on a rollback by killing the task.

    The previous handlers are restored on exit. Signals can only be handled in the main
    thread; elsewhere this does nothing. Nested use keeps the outer run's state.
    """
    if not _in_main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    outermost = all(signal.getsignal(signum) is not _handler for signum in RUN_SIGNALS)
    if outermost:
        _start_afresh()
        _watch_dropped()
        _State.repeats_abandon = not once
    _State.runs += 1
    try:
        for signum in RUN_SIGNALS:
            previous[signum] = signal.signal(signum, _handler)
        yield
    finally:
        _State.runs -= 1
        for restored, handler in previous.items():
            signal.signal(restored, handler)
        if outermost:
            _start_afresh()
            _unwatch_dropped()
            _State.repeats_abandon = True


def _hold(signum: int, frame: FrameType | None) -> None:
    _State.held.append(signum)


@contextmanager
def critical_section() -> Iterator[None]:
    """Hold run signals until the block ends, then raise the first one that arrived.

    Inside a run (:func:`cancellation_handlers`) SIGINT, SIGTERM and SIGHUP are held.
    Outside one, Python's own Ctrl-C (``KeyboardInterrupt``) is held the same way; other
    handlers are left alone. In a thread other than the main one this does nothing:
    signals are handled in the main thread only.
    """
    if not _in_main_thread():
        yield
        return
    outside_run = (
        _State.depth == 0 and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if outside_run:
        signal.signal(signal.SIGINT, _hold)
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
        if outside_run:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if not _State.depth and _State.held:
            signum = _State.held[0]
            _State.held.clear()
            if outside_run:
                raise KeyboardInterrupt
            exc = None if _State.settled else _exception_for(signum)
            if exc is not None:
                raise exc


def handle_run_signals() -> None:
    """Turn run signals into exceptions for the rest of the process (the ``synapse`` command).

    Unlike :func:`cancellation_handlers` nothing is restored: the command installs this
    first thing and keeps it until :func:`ignore_run_signals` at its very end.
    """
    _start_afresh()
    _watch_dropped()
    for signum in RUN_SIGNALS:
        signal.signal(signum, _handler)


def ignore_run_signals() -> None:
    """Ignore run signals from now on: the process's outcome is decided, it only exits."""
    for signum in RUN_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def run_settled() -> None:
    """Say that the run's outcome is journalled: from now on its signals are ignored.

    Call it inside the :func:`critical_section` that journals the outcome, so that a signal
    arriving meanwhile cannot turn a run journalled as finished into an interrupted one.
    The next run (the next outermost :func:`cancellation_handlers`) starts afresh.

    Inside a run that is itself part of a larger one (an action of a pipeline: nested
    :func:`cancellation_handlers`), this does nothing: a signal after the action settled
    still stops the pipeline, which then undoes that action too.
    """
    if _in_main_thread() and _State.runs <= 1:
        _State.settled = True
