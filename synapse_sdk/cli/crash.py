"""How ``synapse run`` describes a crash: the exception's type, its text, and where it was.

A step that raises is shown in one line, ``ZeroDivisionError: division by zero (at
my_plugin/steps.py:14, in execute)``, and ``synapse run -v`` prints the whole traceback.

The place shown is the innermost traceback frame in *plugin code*, the code the plugin
author can change. A frame is recognised by its file:

* *not* plugin code when the file lies in synapse_sdk's package folder, in the standard
  library (``sysconfig``'s ``stdlib`` and ``platstdlib``), or in a ``site-packages`` or
  ``dist-packages`` folder (third-party libraries such as numpy or fsspec);
* except that a module of a plugin package is plugin code wherever it is installed: a
  package is a plugin package when an entry point of ``synapse_sdk.actions`` or
  ``synapse_sdk.plugins`` names a module in it;
* every other file is plugin code: an editable install, a module beside the user's
  script, a package on ``PYTHONPATH``.

When no frame qualifies (the error came from the SDK itself), no place is shown.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from functools import cache
from pathlib import Path
from types import TracebackType

import synapse_sdk
from synapse_sdk.errors import describe_error

__all__ = ["crash_location", "describe_crash", "format_traceback"]

_LIBRARY_FOLDERS = ("site-packages", "dist-packages")


@cache
def _library_roots() -> tuple[str, ...]:
    """Folders whose files are never plugin code (each ends with a separator)."""
    roots = {os.path.dirname(os.path.abspath(synapse_sdk.__file__ or ""))}
    for key in ("stdlib", "platstdlib"):
        roots.add(os.path.abspath(sysconfig.get_path(key)))
    return tuple(root.rstrip(os.sep) + os.sep for root in roots)


@cache
def _plugin_packages() -> frozenset[str]:
    """Top-level module names of every package that provides actions or hook plugins."""
    import importlib_metadata

    from synapse_sdk.host.manager import ACTIONS_GROUP, PLUGINS_GROUP

    names = set()
    for group in (ACTIONS_GROUP, PLUGINS_GROUP):
        for entry_point in importlib_metadata.entry_points(group=group):
            names.add(entry_point.value.split(":")[0].split(".")[0].strip())
    return frozenset(names)


def _is_plugin_code(filename: str, module: str) -> bool:
    """Whether a frame of ``module`` running ``filename`` is plugin code (see above)."""
    if module.split(".")[0] in _plugin_packages():
        return True
    path = os.path.abspath(filename)
    if path.startswith(_library_roots()):
        return False
    return not any(part in _LIBRARY_FOLDERS for part in Path(path).parts)


def _frames(tb: TracebackType | None) -> list[tuple[str, int, str, str]]:
    """``(file, line, function, module)`` of every frame of ``tb``, outermost first."""
    return [
        (
            frame.f_code.co_filename,
            line,
            frame.f_code.co_name,
            str(frame.f_globals.get("__name__", "")),
        )
        for frame, line in traceback.walk_tb(tb)
    ]


def _shown_path(filename: str) -> str:
    """``filename`` relative to the current folder when it lies below it, else absolute."""
    path = os.path.abspath(filename)
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if relative.startswith(os.pardir) else relative


def crash_location(exc: BaseException) -> str | None:
    """``file:line, in function`` of the innermost plugin frame of ``exc``'s traceback."""
    for filename, line, function, module in reversed(_frames(exc.__traceback__)):
        if _is_plugin_code(filename, module):
            return f"{_shown_path(filename)}:{line}, in {function}"
    return None


def describe_crash(exc: BaseException) -> str:
    """``Type: text (at file:line, in function)``; the text or the place only when known."""
    described = describe_error(exc)
    where = crash_location(exc)
    return f"{described} (at {where})" if where else described


def format_traceback(exc: BaseException) -> str:
    """The full traceback of ``exc`` with its chained causes, as Python prints it."""
    return "".join(traceback.format_exception(exc)).rstrip("\n")
