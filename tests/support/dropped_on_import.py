"""A module whose import drops a Ctrl-C: CPython discards it inside a weakref callback.

``synapse plan support.dropped_on_import:LostInterruptAction`` then plans the action as
if no Ctrl-C had come, unless the command looks for a dropped one before it exits.
"""

from __future__ import annotations

from support.lost_interrupt import LostInterruptAction, ctrl_c_in_a_weakref_callback

__all__ = ["LostInterruptAction"]

ctrl_c_in_a_weakref_callback()
