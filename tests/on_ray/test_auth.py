"""Joining a real token-authenticated cluster with the real ``synapse`` command: without
the token (or with the wrong one) it is a quick, clear usage error; with it, the run works.

The cluster is this module's own ``ray start --head --block`` on 127.0.0.1, stopped by
signalling that one process (which stops what it started), so other Ray instances on the
machine are left alone.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import Synapse
from support.ports import free_port

from synapse_sdk.journal.store import RunJournal

from .conftest import RAY, TESTS

READY = "This command will now block forever"
TOKEN_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
# The requirement for the whole command, Python's start-up and importing Ray included.
# Measured 0.6-1.0 s for a refused token and about 3 s for an address that never answers
# (the SDK's 2.5 s probe), on a 2-core machine busy with another job.
FAIL_WITHIN = 5.0


@pytest.fixture(scope="module")
def token_cluster(ray_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A one-node cluster on 127.0.0.1 that accepts only the session's token."""
    assert os.environ["RAY_AUTH_MODE"] == "token"  # set by the root conftest
    assert os.environ["RAY_AUTH_TOKEN"]
    port = free_port()
    log = tmp_path_factory.mktemp("token-cluster") / "ray-start.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ray_site), str(TESTS)])}
    command = [
        RAY,
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=1",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    with log.open("w") as out:
        head = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + 180
        while READY not in log.read_text():
            assert head.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)  # it stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()


@pytest.fixture
def no_token(synapse: Synapse, tmp_path: Path) -> Synapse:
    """The command with none of Ray's token settings (and no ~/.ray/auth_token to find)."""
    for name in TOKEN_VARIABLES:
        synapse.env.pop(name, None)
    synapse.env["HOME"] = str(tmp_path / "empty-home")
    return synapse


def params(folder: Path) -> str:
    return json.dumps({"target": str(folder)})


def join(
    synapse: Synapse, address: str, folder: Path, **env: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """``synapse run demo-fanout --ray-address ADDRESS``, and how long it took."""
    started = time.monotonic()
    result = synapse(
        "run", "demo-fanout", "--ray-address", address, "--params", params(folder), **env
    )
    return time.monotonic() - started, result


def assert_quick_clean_refusal(elapsed: float, result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, result.stderr
    assert elapsed < FAIL_WITHIN, f"took {elapsed:.1f} s"
    assert "Traceback" not in result.stderr
    # Only our two lines: "joining ..." and the error; none of Ray's retry warnings.
    assert len(result.stderr.splitlines()) == 2, result.stderr
    assert "gcs_client" not in result.stderr
    for how in ("RAY_AUTH_MODE=token", "RAY_AUTH_TOKEN=<token>", "~/.ray/auth_token"):
        assert how in result.stderr


def test_joining_without_the_token_fails_fast_and_says_how_to_pass_it(
    no_token: Synapse, token_cluster: str, tmp_path: Path
) -> None:
    elapsed, result = join(no_token, token_cluster, tmp_path)
    assert_quick_clean_refusal(elapsed, result)
    assert (
        f"error: the Ray cluster at {token_cluster} requires token authentication and "
        "RAY_AUTH_MODE is not 'token' here, so no token was sent."
    ) in result.stderr
    assert not (tmp_path / "home" / "runs.db").exists()


def test_a_wrong_token_is_refused_as_fast(
    no_token: Synapse, token_cluster: str, tmp_path: Path
) -> None:
    elapsed, result = join(
        no_token,
        token_cluster,
        tmp_path,
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(32),
    )
    assert_quick_clean_refusal(elapsed, result)
    assert "requires token authentication and it refused the token given here" in result.stderr
    assert not (tmp_path / "home" / "runs.db").exists()


def test_token_mode_without_any_token_is_refused_before_ray_aborts(
    no_token: Synapse, token_cluster: str, tmp_path: Path
) -> None:
    elapsed, result = join(no_token, token_cluster, tmp_path, RAY_AUTH_MODE="token")
    assert_quick_clean_refusal(elapsed, result)
    assert (
        f"cannot join the Ray cluster at {token_cluster}: RAY_AUTH_MODE=token is set here "
        "but no token was found."
    ) in result.stderr


@pytest.mark.parametrize("where", ["RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"])
def test_with_the_token_the_same_command_runs_on_the_cluster(
    no_token: Synapse, token_cluster: str, tmp_path: Path, where: str
) -> None:
    token = os.environ["RAY_AUTH_TOKEN"]
    if where == "RAY_AUTH_TOKEN_PATH":
        token_file = tmp_path / "token"
        token_file.write_text(token)
        given = {"RAY_AUTH_TOKEN_PATH": str(token_file)}
    else:
        given = {"RAY_AUTH_TOKEN": token}
    target = tmp_path / "out"
    target.mkdir()
    _, result = join(no_token, token_cluster, target, RAY_AUTH_MODE="token", **given)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    journal = RunJournal(tmp_path / "home" / "runs.db")
    try:
        [run] = journal.list_runs()
        assert run.state == "succeeded"
    finally:
        journal.close()


def test_an_address_where_something_else_listens_fails_within_seconds(
    synapse: Synapse, tmp_path: Path
) -> None:
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never speaks Ray
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    server = threading.Thread(target=accept, daemon=True)
    server.start()
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    try:
        elapsed, result = join(synapse, address, tmp_path)
    finally:
        stop.set()
        server.join()
        for connection in accepted:
            connection.close()
        listener.close()
    assert result.returncode == 2, result.stderr
    assert elapsed < FAIL_WITHIN, f"took {elapsed:.1f} s"
    assert f"no Ray cluster answered at {address} within 2.5 s" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home" / "runs.db").exists()


def test_an_address_that_never_accepts_fails_within_seconds(
    synapse: Synapse, tmp_path: Path
) -> None:
    """A head node behind a firewall that drops packets: the connection never completes."""
    import socket

    # A listener with no room in its queue, filled by one connection that is never
    # accepted: the kernel answers no further connection attempt.
    listener = socket.socket()
    filler = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        elapsed, result = join(synapse, address, tmp_path)
    finally:
        filler.close()
        listener.close()
    assert result.returncode == 2, result.stderr
    assert elapsed < FAIL_WITHIN, f"took {elapsed:.1f} s"
    assert f"error: cannot reach the Ray cluster at {address} (timed out)." in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home" / "runs.db").exists()
