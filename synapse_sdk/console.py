"""The ``synapse`` console script: signal handling first, then the command line.

The command line (:mod:`synapse_sdk.cli`) imports click, pydantic and its commands, which
takes a while; a Ctrl-C that lands meanwhile must already be exit 130, not a traceback.
So this module imports nothing of the SDK at module level: :func:`main` first makes the
run signals exit quietly (nothing has been written yet), then loads the SDK's own
handlers (:mod:`synapse_sdk.interrupts`) and the command line. Those imports sit inside
:func:`main` on purpose: they must come after the first handlers.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C module: ``signal`` imports enum, slow
import sys
from types import FrameType

_RUN_SIGNALS: tuple[int, ...] = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
_EXIT_INTERRUPTED: int = 128 + _signal.SIGINT

__all__ = ["main"]


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    sys.exit(128 + signum)  # 130, 143, 129: as the shell reports the signal


def _signal_exit_code(exc: BaseException) -> int | None:
    """The exit code of the signal behind ``exc``, if a signal raised it (at any depth).

    Python wraps an exception raised while a class is being created (``__set_name__``) in
    a ``RuntimeError``, so a signal landing there arrives as that error's cause.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return _EXIT_INTERRUPTED
        if isinstance(seen, SystemExit) and isinstance(seen.code, int):
            return seen.code
        seen = seen.__cause__ or seen.__context__
    return None


def main() -> None:
    """Console-script entry point (``synapse``)."""
    for signum in _RUN_SIGNALS:
        _signal.signal(signum, _exit_quietly)
    try:
        from synapse_sdk.interrupts import handle_run_signals

        handle_run_signals()
        from synapse_sdk.cli import main as command_line
    except BaseException as exc:  # while the SDK loaded: nothing has run or been written
        code = _signal_exit_code(exc)
        if code is None:
            raise
        sys.exit(code)
    command_line()
