"""Importing Ray, and joining or starting a cluster, with errors that say what to do."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

from synapse_sdk.errors import ExecutorError, describe_error
from synapse_sdk.fanout import RAY_INSTALL_HINT

__all__ = ["connect", "import_ray"]

# A live head node accepts the connection and answers the probe in milliseconds. These
# limits keep a join that cannot work (nothing answers, or something that is not Ray)
# under 5 s for the whole command, Python's start-up and importing Ray included.
_CONNECT_TIMEOUT = 2.0
"""Seconds the TCP connection to the head node may take."""
_PROBE_TIMEOUT = 2.5
"""Seconds the cluster has to answer the authentication probe."""

# A line of Ray's C++ log ("[2026-01-01 10:00:00,000 W 123 123] gcs_client.cc:210: ...").
_RAY_NATIVE_LOG_LINE = re.compile(rb"^\[[^\]]*\] [\w.]+\.(?:cc|h):\d+: ")

_TOKEN_HINT = (
    "Give this command the cluster's token: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN=<token> "
    "(or RAY_AUTH_TOKEN_PATH=<a file holding the token>; without either, Ray reads "
    "~/.ray/auth_token). `ray get-auth-token` prints the token where the cluster was started"
)


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


@contextlib.contextmanager
def _native_log_held_back() -> Iterator[None]:
    """Keep Ray's C++ warnings off the terminal while probing; anything else is passed on.

    Ray's C++ client writes straight to file descriptor 2, so ``sys.stderr`` cannot catch
    it: the descriptor itself points at a temporary file for the (millisecond) probe.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            other = [line for line in held.readlines() if not _RAY_NATIVE_LOG_LINE.match(line)]
            if other:
                os.write(2, b"".join(other))


def _token_mode(ray: ModuleType) -> bool:
    """Whether this process sends a token (``RAY_AUTH_MODE=token``), as Ray decides it."""
    raylet = ray._raylet
    return bool(raylet.get_authentication_mode() == raylet.AuthenticationMode.TOKEN)


def _missing_token(ray: ModuleType, auth_error: type[BaseException]) -> str | None:
    """Why this process, in token mode, has no token to send (None if it has one)."""
    try:
        found = ray._raylet.AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True)
    except auth_error as exc:  # e.g. RAY_AUTH_TOKEN_PATH names a missing or empty file
        return str(getattr(exc, "message", exc))
    return None if found else "RAY_AUTH_MODE=token is set here but no token was found"


def _auth_failure(ray: ModuleType, address: str) -> ExecutorError:
    """The error for a cluster that refused this process's token (or its lack of one)."""
    if _token_mode(ray):
        why = "it refused the token given here (not the cluster's token)"
    else:
        why = "RAY_AUTH_MODE is not 'token' here, so no token was sent"
    return ExecutorError(
        f"the Ray cluster at {address} requires token authentication and {why}. {_TOKEN_HINT}"
    )


def _check_authenticated(ray: ModuleType, address: str) -> None:
    """Fail fast on a cluster that refuses our token: ``ray.init`` retries it for 20 s.

    One cheap call to the cluster's GCS with the token Ray itself would send (from
    ``RAY_AUTH_MODE`` and ``RAY_AUTH_TOKEN``/``RAY_AUTH_TOKEN_PATH``/``~/.ray/auth_token``):
    an authentication failure answers in milliseconds. Any other failure is left to
    ``ray.init``, which reports it as before.
    """
    if "://" in address or address == "auto":
        return
    auth_error = getattr(ray.exceptions, "AuthenticationError", None)
    if auth_error is None:  # a Ray without token authentication
        return
    if _token_mode(ray):
        # Ray's client aborts the whole process when asked to send a token it lacks.
        missing = _missing_token(ray, auth_error)
        if missing is not None:
            raise ExecutorError(
                f"cannot join the Ray cluster at {address}: {missing}. {_TOKEN_HINT}"
            )
    outcome: list[str] = []

    def probe() -> None:
        try:
            ray._raylet.GcsClient(address=address)
        except auth_error:
            outcome.append("refused")
        except Exception:
            outcome.append("other")
        else:
            outcome.append("joined")

    with _native_log_held_back():
        # In a thread: something that is not Ray's GCS can keep the probe waiting, and
        # a command must not hang on it.
        prober = threading.Thread(target=probe, name="synapse-ray-probe", daemon=True)
        prober.start()
        prober.join(_PROBE_TIMEOUT)
    if not outcome:
        raise ExecutorError(
            f"no Ray cluster answered at {address} within {_PROBE_TIMEOUT:g} s; check that "
            "it is the head node's address (`ray start --head` prints it)"
        )
    if outcome[0] == "refused":
        raise _auth_failure(ray, address)


_joined: dict[str, Any] = {}
"""The runtime environment this process joined its cluster with (``env``), if any."""


def connect(address: str | None, runtime_env: Mapping[str, Any] | None = None) -> ModuleType:
    """Join the cluster at ``address`` (``HOST:PORT`` or ``ray://...``), else start a local Ray.

    A process already connected to Ray keeps its connection, unless this function made
    it and ``runtime_env`` (the job's environment: the code shipped to the workers; None:
    whichever it has) differs from the one it joined with: it then joins again with this
    one, as Ray takes local code only when a job joins. A connection the application
    made itself is never replaced: its own ``runtime_env`` (or what the cluster has
    installed) holds.
    A local Ray started here listens on 127.0.0.1 only and lives until this process
    exits, so later runs in the same process reuse it.
    """
    ray = import_ray()
    env = dict(runtime_env or {})
    if ray.is_initialized():
        # A connection the application made itself is its own: it is never replaced.
        ours = "env" in _joined
        if address is None or runtime_env is None or not ours or _joined["env"] == env:
            return ray
        ray.shutdown()
    options: dict[str, object] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:
        try:
            ray.init(
                address="local", include_dashboard=False, _node_ip_address="127.0.0.1", **options
            )
        except Exception as exc:
            raise ExecutorError(
                f"could not start a local Ray ({describe_error(exc)}); "
                "see `ray start --head` for a cluster to join instead"
            ) from None
        return ray
    _check_reachable(address)
    _check_authenticated(ray, address)
    if env:
        options["runtime_env"] = env
    _joined.clear()
    try:
        ray.init(address=address, **options)
        _joined["env"] = env
    except Exception as exc:
        auth_error = getattr(ray.exceptions, "AuthenticationError", None)
        if auth_error is not None and isinstance(exc, auth_error):
            raise _auth_failure(ray, address) from None
        raise ExecutorError(
            f"cannot join the Ray cluster at {address} ({describe_error(exc)})"
        ) from None
    return ray
