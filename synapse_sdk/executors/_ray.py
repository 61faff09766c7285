"""Importing Ray, and joining or starting a cluster, with errors that say what to do."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from types import ModuleType

from synapse_sdk.exceptions import ExecutorError
from synapse_sdk.executors import RAY_INSTALL_HINT

__all__ = ["connect", "import_ray"]

_CONNECT_TIMEOUT = 5.0


def import_ray() -> ModuleType:
    """The ``ray`` module, or an :class:`ExecutorError` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError(
            f"the Ray executor needs Ray, which is not installed ({exc}). {RAY_INSTALL_HINT}"
        ) from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast with a clear message: Ray itself retries an unreachable address for minutes."""
    if "://" in address or address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(
            f"'{address}' is not a Ray address; give HOST:PORT of the head node "
            "(the address `ray start --head` printed), for example 127.0.0.1:6379"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        raise ExecutorError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}). Check the "
            "address, or start a cluster with `ray start --head`, or leave out "
            "--ray-address to run on a local Ray started for this run"
        ) from None


def connect(address: str | None, env: Mapping[str, str]) -> ModuleType:
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``), else start a local Ray.

    A process already connected to Ray keeps its connection. A local Ray started here
    listens on 127.0.0.1 only and lives until this process exits, so later runs in the
    same process reuse it.
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray
    address = address or env.get("RAY_ADDRESS") or None
    options: dict[str, object] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:
        try:
            ray.init(
                address="local", include_dashboard=False, _node_ip_address="127.0.0.1", **options
            )
        except Exception as exc:
            raise ExecutorError(
                f"could not start a local Ray ({type(exc).__name__}: {exc}); "
                "see `ray start --head` for a cluster to join instead"
            ) from None
        return ray
    _check_reachable(address)
    try:
        ray.init(address=address, **options)
    except Exception as exc:
        raise ExecutorError(
            f"cannot join the Ray cluster at {address} ({type(exc).__name__}: {exc})"
        ) from None
    return ray
