"""context.storage on a real S3 (moto_server on 127.0.0.1): every write undone exactly.

The SDK is pointed at the server through the params' ``storage_options`` (``endpoint_url``)
and a boto3 client looks at the bucket from outside. Each test has a bucket of its own
whose ``data/`` prefix already holds objects the run has nothing to do with.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support.moto import MotoServer, bucket_listing

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost, run_action
from synapse_sdk.runtime.events import REDACTED
from synapse_sdk.storage import STORAGE_KEY
from synapse_sdk.testing import crash_after_step, recording_context

ACTION = "support.storage_actions:OptionsStorageAction"
TESTS = str(Path(__file__).parents[1])
CREATED_IN_BULK = 300

BEFORE = {
    "data/existing.txt": b"was here before the run",
    "data/kept/old.bin": b"\x01older",
    "data/newer.csv": b"a,b\n1,2\n",
    "elsewhere/readme.md": b"# not under the prefix",
}


@pytest.fixture
def seeded(s3: Any, bucket: str) -> str:
    """``bucket`` with unrelated objects under ``data/`` and elsewhere."""
    for key, body in BEFORE.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    path = tmp_path / "local.bin"
    path.write_bytes(os.urandom(3000))
    return path


def run(journal: RunJournal, params: dict[str, Any]) -> Any:
    ctx, sink = recording_context(job_id=None)
    try:
        run_action(ACTION, params, ctx=ctx, plugins=PluginHost(), journal=journal)
    finally:
        journal.close()
    return sink


def journal_bytes(folder: Path) -> bytes:
    """The raw bytes of every file of the journal (database, WAL, shared memory)."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("runs.db*")))


def test_a_successful_run_leaves_what_it_wrote(
    moto: MotoServer, seeded: str, s3: Any, local_file: Path, tmp_path: Path
) -> None:
    params = {
        "target": f"s3://{seeded}/data",
        "local_file": str(local_file),
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    run(RunJournal(tmp_path / "runs.db"), params)
    after = bucket_listing(s3, seeded)
    assert after == {
        **BEFORE,
        "data/existing.txt": b"replaced by the run",
        "data/new/deeper/created.bin": b"\x00created by the run",
        "data/new/copied.bin": local_file.read_bytes(),
        "data/streamed.bin": b"chunk 0\nchunk 1\nchunk 2\n",
    }  # no folder markers: makedirs on S3 writes nothing


def test_a_failed_run_leaves_the_bucket_exactly_as_before(
    moto: MotoServer, seeded: str, s3: Any, local_file: Path, tmp_path: Path
) -> None:
    before = bucket_listing(s3, seeded)
    journal = RunJournal(tmp_path / "runs.db")
    params = {
        "target": f"s3://{seeded}/data/",
        "local_file": str(local_file),
        "many": 5,
        "fail": True,
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run(journal, params)
    assert (
        bucket_listing(s3, seeded) == before
    )  # created deleted, replaced restored, rest untouched
    journal = RunJournal(tmp_path / "runs.db")
    [record] = journal.list_runs()
    run_record = journal.get_run(record.run_id)
    journal.close()
    assert run_record is not None
    assert run_record.state == "rolled_back"
    entries = run_record.steps[0].rollback_data[STORAGE_KEY]
    assert {entry["op"] for entry in entries} == {"create", "replace", "written"}
    assert all(entry["url"].startswith(f"s3://{seeded}/data/") for entry in entries)


def test_an_object_changed_since_is_left_in_place_and_reported(
    moto: MotoServer, seeded: str, s3: Any, tmp_path: Path
) -> None:
    params = {
        "target": f"s3://{seeded}/data",
        "tamper": True,
        "fail": True,
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    ctx, sink = recording_context(job_id=None)
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run_action(
            ACTION, params, ctx=ctx, plugins=PluginHost(), journal=RunJournal(tmp_path / "r.db")
        )
    assert bucket_listing(s3, seeded) == {**BEFORE, "data/streamed.bin": b"changed by someone else"}
    [undone] = [log for log in sink.logs if log.message == "storage_undone"]
    assert undone.level == "warning"
    assert undone.data["changed_since"] == [f"s3://{seeded}/data/streamed.bin"]


def test_a_stale_listings_cache_cannot_fool_the_rollback(
    moto: MotoServer, seeded: str, s3: Any, tmp_path: Path
) -> None:
    """The run's own filesystem has listed the prefix; boto3 then changes it behind its back.

    ``created.bin`` is deleted from outside and ``streamed.bin`` replaced. The cached
    filesystem still lists the deleted object (checked below, after the rollback): an
    undo that trusted it would try to read or delete an object that is gone, and would
    compare ``streamed.bin`` by the cached size.
    """
    import fsspec

    options = {"endpoint_url": moto.endpoint_url}
    params = {"target": f"s3://{seeded}/data", "outside": True, "fail": True}
    ctx, sink = recording_context(job_id=None)
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run_action(
            ACTION,
            {**params, "storage_options": options},
            ctx=ctx,
            plugins=PluginHost(),
            journal=RunJournal(tmp_path / "r.db"),
        )
    [undone] = [log for log in sink.logs if log.message == "storage_undone"]
    assert undone.data == {
        "deleted": 0,  # created.bin was already gone: nothing deleted, nothing failed
        "restored": 1,  # existing.txt
        "folders_removed": 0,
        "changed_since": [f"s3://{seeded}/data/streamed.bin"],
    }
    assert bucket_listing(s3, seeded) == {**BEFORE, "data/streamed.bin": b"changed outside"}
    cached = fsspec.filesystem("s3", **options)  # the instance the run's steps used
    assert cached.exists(f"{seeded}/data/new/deeper/created.bin")  # stale: gone for real


def test_an_object_created_by_someone_else_after_a_listing_is_restored_not_deleted(
    moto: MotoServer, seeded: str, s3: Any, tmp_path: Path
) -> None:
    params = {
        "target": f"s3://{seeded}/data",
        "late": True,
        "fail": True,
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run(RunJournal(tmp_path / "runs.db"), params)
    assert bucket_listing(s3, seeded) == {**BEFORE, "data/late.txt": b"someone else's"}


def test_credentials_from_the_environment_are_never_journalled(
    moto: MotoServer,
    seeded: str,
    s3: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_id, secret = "AKIAENVONLY7Q2W3E4R5", "env-secret-Zx8Cv7Bn6Mm5"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token-Lk9Jh8Gf7")
    before = bucket_listing(s3, seeded)
    params = {
        "target": f"s3://{seeded}/data",
        "fail": True,
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run(RunJournal(tmp_path / "journal" / "runs.db"), params)
    assert bucket_listing(s3, seeded) == before
    raw = journal_bytes(tmp_path / "journal")
    assert raw  # the journal is there, with the run's entries
    assert f"s3://{seeded}/data/existing.txt".encode() in raw
    for value in (key_id, secret, "env-token-Lk9Jh8Gf7"):
        assert value.encode() not in raw, value


def test_secret_storage_options_are_redacted_in_the_journal_and_events(
    moto: MotoServer, seeded: str, s3: Any, tmp_path: Path
) -> None:
    secrets = {"key": "AKIAOPTION1Z2X3C4V5", "secret": "opt-secret-Qw1Er2Ty3"}
    client_kwargs = {"region_name": "us-east-1", "aws_session_token": "opt-token-Ui4Op5"}
    options = {"endpoint_url": moto.endpoint_url, **secrets, "client_kwargs": client_kwargs}
    params = {"target": f"s3://{seeded}/data", "fail": True, "storage_options": options}
    journal_folder = tmp_path / "journal"
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run(RunJournal(journal_folder / "runs.db"), params)
    assert bucket_listing(s3, seeded) == dict(BEFORE)  # the options reached fsspec, secrets too
    journal = RunJournal(journal_folder / "runs.db")
    [record] = journal.list_runs()
    run_record = journal.get_run(record.run_id)
    journal.close()
    assert run_record is not None
    assert run_record.params["storage_options"] == {
        "endpoint_url": moto.endpoint_url,
        "key": REDACTED,
        "secret": REDACTED,
        "client_kwargs": {"region_name": "us-east-1", "aws_session_token": REDACTED},
    }
    raw = journal_bytes(journal_folder)
    for value in (*secrets.values(), client_kwargs["aws_session_token"]):
        assert value.encode() not in raw, value


def test_kill_9_then_runs_rollback_restores_the_bucket_exactly(
    moto: MotoServer,
    seeded: str,
    s3: Any,
    aws_env: dict[str, str],
    local_file: Path,
    tmp_path: Path,
) -> None:
    before = bucket_listing(s3, seeded)
    secrets = {"key": "AKIACRASH9Z8X7C6V5B", "secret": "crash-secret-Mn4Bv3Cx2"}
    crashed = crash_after_step(
        ACTION,
        {
            "target": f"s3://{seeded}/data",
            "local_file": str(local_file),
            "storage_options": {"endpoint_url": moto.endpoint_url, **secrets},
        },
        "write",
        cwd=tmp_path / "run",
        home=tmp_path / "home",
        env={"PYTHONPATH": TESTS, **aws_env},
    )
    assert bucket_listing(s3, seeded) != before
    raw = journal_bytes(tmp_path / "home")
    for value in secrets.values():
        assert value.encode() not in raw, value

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = crashed.roll_back(cwd=elsewhere)
    assert refused.returncode != 0
    assert "storage_options.key" in refused.stderr
    assert "storage_options.secret" in refused.stderr
    assert crashed.state() == "needs_rollback"

    params_file = tmp_path / "secrets.json"
    params_file.write_text(json.dumps({"storage_options": secrets}))
    recovered = crashed.roll_back(cwd=elsewhere, params_file=params_file)
    assert recovered.returncode == 0, recovered.stderr
    assert crashed.state() == "rolled_back"
    assert bucket_listing(s3, seeded) == before
    assert not (tmp_path / "home" / "undo" / crashed.run_id).exists()


def test_a_rollback_deletes_what_the_run_created_in_bulk(
    moto: MotoServer, seeded: str, s3: Any, tmp_path: Path
) -> None:
    """Created objects go in one DeleteObjects call (``POST /bucket?delete``) per step."""
    before = bucket_listing(s3, seeded)
    params = {
        "target": f"s3://{seeded}/data",
        "many": CREATED_IN_BULK,
        "fail": True,
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    logged = len(moto.requests())
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run(RunJournal(tmp_path / "runs.db"), params)
    assert bucket_listing(s3, seeded) == before
    requests = [line for line in moto.requests()[logged:] if f"/{seeded}" in line]
    bulk = [line for line in requests if line.startswith("POST") and "?delete" in line]
    single = [line for line in requests if line.startswith("DELETE")]
    assert single == []
    # one call per rolled-back step that created objects: write (2), write_many (the rest)
    assert len(bulk) == 2, f"{len(bulk)} DeleteObjects calls for {CREATED_IN_BULK + 2} objects"


def test_undoing_objects_created_in_two_buckets(moto: MotoServer, bucket: str, s3: Any) -> None:
    import hashlib

    from synapse_sdk.storage import undo_writes

    other = f"{bucket}-b"
    s3.create_bucket(Bucket=other)
    entries: list[dict[str, Any]] = []
    for name in (bucket, other):
        s3.put_object(Bucket=name, Key="run/made.bin", Body=b"made")
        url = f"s3://{name}/run/made.bin"
        digest = hashlib.sha256(b"made").hexdigest()
        entries += [{"op": "create", "url": url}, {"op": "written", "url": url, "sha256": digest}]
    report = undo_writes(entries, {"endpoint_url": moto.endpoint_url})
    assert sorted(report.deleted) == sorted(entry["url"] for entry in entries[::2])
    assert bucket_listing(s3, bucket) == {}
    assert bucket_listing(s3, other) == {}
