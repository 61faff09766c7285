"""Settings: every ``SYNAPSE_*`` variable (and ``RAY_ADDRESS``), read once, typed.

A :class:`~synapse_sdk.runtime.context.RuntimeContext` reads its settings from its ``env``
when it is made, and everything below the command line takes them from there (or from an
explicit ``Settings``): the journal's and the undo area's folder, which hook plugins load,
strict mode, hook tracing, the Ray cluster. Nothing else reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DISABLE_ENV",
    "FORWARDED_PREFIX",
    "HOME_ENV",
    "LOAD_ENV",
    "RAY_ADDRESS_ENV",
    "RAY_ENV",
    "STRICT_ENV",
    "TRACE_ENV",
    "Settings",
    "is_on",
]

HOME_ENV = "SYNAPSE_HOME"
DISABLE_ENV = "SYNAPSE_DISABLE_PLUGINS"
LOAD_ENV = "SYNAPSE_LOAD_PLUGINS"
STRICT_ENV = "SYNAPSE_STRICT_PLUGINS"
TRACE_ENV = "SYNAPSE_TRACE_PLUGINS"
RAY_ADDRESS_ENV = "RAY_ADDRESS"
FORWARDED_PREFIX = "SYNAPSE_"
"""Variables with this prefix are set on Ray workers for a run on Ray."""
RAY_ENV = "SYNAPSE_RAY_ENV"
"""Names of more variables to set on the Ray workers of a run (``NAME,NAME``)."""


def is_on(value: str | None) -> bool:
    """Whether a ``SYNAPSE_*`` switch is on: ``1``, ``true``, ``yes`` or ``on``, any case."""
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _names(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def _forwarded(env: Mapping[str, str], named: frozenset[str]) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted((k, v) for k, v in env.items() if k.startswith(FORWARDED_PREFIX) or k in named)
    )


@dataclass(frozen=True)
class Settings:
    """What the SDK's environment variables say, for one run or command.

    Attributes:
        home: ``$SYNAPSE_HOME`` (made absolute), default ``~/.synapse``: the run journal and
            undo areas.
        disabled: ``$SYNAPSE_DISABLE_PLUGINS``: hook plugins (entry-point names) never
            loaded, and ``DIST:NAME`` actions hidden.
        only: ``$SYNAPSE_LOAD_PLUGINS``: when set, the only hook plugins loaded (empty:
            none); None when unset.
        strict: ``$SYNAPSE_STRICT_PLUGINS``: a plugin that fails to load, or an action name
            two distributions claim, is an error instead of a warning.
        trace: ``$SYNAPSE_TRACE_PLUGINS``: print every hook call with each plugin's time.
        ray_address: ``$RAY_ADDRESS``: the Ray cluster a run on Ray joins by default.
        forwarded: the variables set on the workers of a run on Ray: every ``SYNAPSE_*``
            one, and those named by ``$SYNAPSE_RAY_ENV`` (``NAME,NAME``), and no other.
    """

    home: Path
    disabled: frozenset[str] = frozenset()
    only: frozenset[str] | None = None
    strict: bool = False
    trace: bool = False
    ray_address: str | None = None
    forwarded: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``env`` (default: ``os.environ``)."""
        from pathlib import Path  # deferred: the step API's import does without it

        env = os.environ if env is None else env
        home = env.get(HOME_ENV)
        only = env.get(LOAD_ENV)
        return cls(
            # Absolute: the undo copies' paths, journalled, are made from it.
            home=Path(home).expanduser().absolute() if home else Path.home() / ".synapse",
            disabled=_names(env.get(DISABLE_ENV, "")),
            only=None if only is None else _names(only),
            strict=is_on(env.get(STRICT_ENV)),
            trace=is_on(env.get(TRACE_ENV)),
            ray_address=env.get(RAY_ADDRESS_ENV) or None,
            forwarded=_forwarded(env, _names(env.get(RAY_ENV, ""))),
        )

    def forwarding(self, names: Iterable[str], env: Mapping[str, str]) -> Settings:
        """These settings, with the variables ``names`` (as ``env`` has them) forwarded too.

        Raises:
            KeyError: a name that ``env`` does not have.
        """
        extra = {name: env[name] for name in names}
        merged = dict(self.forwarded) | extra
        return replace(self, forwarded=tuple(sorted(merged.items())))

    @property
    def journal_path(self) -> Path:
        """``$SYNAPSE_HOME/runs.db``: the run journal."""
        return self.home / "runs.db"

    @property
    def undo_root(self) -> Path:
        """``$SYNAPSE_HOME/undo``: where replaced content waits for each run's end."""
        return self.home / "undo"

    def blocks_plugin(self, name: str) -> bool:
        """Whether the hook plugin ``name`` is disabled, or left out of the plugins to load."""
        return name in self.disabled or (self.only is not None and name not in self.only)
