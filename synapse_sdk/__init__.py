"""synapse-sdk: a plugin SDK for ML data work.

The public API lives in :mod:`synapse_sdk.plugins` (actions, hooks, runtime context)
and :mod:`synapse_sdk.plugins.steps` (the step engine). Importing this package is cheap:
nothing heavy is loaded until it is used.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("synapse-sdk")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0.0.0+unknown"
    raise AttributeError(f"module 'synapse_sdk' has no attribute {name!r}")
