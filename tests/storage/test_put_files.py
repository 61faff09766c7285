"""``context.storage.put_files``: many copies, journalled as one, undone exactly.

Real folders in ``tmp_path``, fsspec's memory filesystem, and a real S3 (moto_server on
127.0.0.1) whose request log shows what the store was asked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from support.moto import MotoServer, bucket_listing

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost, run_action
from synapse_sdk.storage import STORAGE_KEY
from synapse_sdk.testing import crash_after_step, recording_context

ACTION = "support.storage_actions:OptionsStorageAction"
TESTS = str(Path(__file__).parents[1])
FILES = 40
BEFORE = {
    "data/existing.txt": b"was here before the run",
    "data/bulk/d1/f0001.bin": b"an older object the run replaces",
    "data/elsewhere.csv": b"a,b\n",
}


def make_source(folder: Path) -> Path:
    """``FILES`` files of random bytes in three subfolders (d0, d1, d2)."""
    for index in range(FILES):
        path = folder / f"d{index % 3}" / f"f{index:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(200 + index))
    return folder


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under ``root``."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        found[path.relative_to(root).as_posix()] = path.read_bytes() if path.is_file() else None
    return found


def run(params: dict[str, Any], journal: RunJournal) -> Any:
    ctx, sink = recording_context(job_id=None)
    try:
        run_action(ACTION, params, ctx=ctx, plugins=PluginHost(), journal=journal)
    finally:
        journal.close()
    return sink


def storage_entries(path: Path) -> list[dict[str, Any]]:
    journal = RunJournal(path)
    [record] = journal.list_runs()
    run_record = journal.get_run(record.run_id)
    journal.close()
    assert run_record is not None
    step = next(step for step in run_record.steps if step.name == "put_many")
    entries: list[dict[str, Any]] = step.rollback_data[STORAGE_KEY]
    return entries


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A local target already holding unrelated files, and one the run replaces."""
    root = tmp_path / "target"
    for key, body in BEFORE.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return root


def test_put_files_copies_every_file_and_journals_intents_before_writes(
    target: Path, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "source")
    run({"target": str(target / "data"), "bulk_source": str(source)}, RunJournal(tmp_path / "j"))

    for path in source.rglob("*.bin"):
        relative = path.relative_to(source).as_posix()
        assert (target / "data" / "bulk" / relative).read_bytes() == path.read_bytes()
    entries = storage_entries(tmp_path / "j")
    ops = [entry["op"] for entry in entries]
    # the new folders, then every copy's intent, then the finished copies
    assert ops[:2] == ["folder", "folder"]
    assert sorted(ops[2 : 2 + FILES]) == ["create"] * (FILES - 1) + ["replace"]
    assert ops[2 + FILES :] == ["written"] * FILES
    [replaced] = [entry for entry in entries if entry["op"] == "replace"]
    assert replaced["url"] == f"file://{target}/data/bulk/d1/f0001.bin"
    folders = [entry["url"] for entry in entries if entry["op"] == "folder"]
    assert folders == [f"file://{target}/data/bulk/d0", f"file://{target}/data/bulk/d2"]
    written = {entry["url"]: entry for entry in entries if entry["op"] == "written"}
    copied = target / "data" / "bulk" / "d1" / "f0001.bin"
    assert written[f"file://{copied}"]["size"] == copied.stat().st_size


def test_a_failed_run_puts_the_target_back_exactly(target: Path, tmp_path: Path) -> None:
    before = tree(target)
    source = make_source(tmp_path / "source")
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run(
            {"target": str(target / "data"), "bulk_source": str(source), "fail": True},
            RunJournal(tmp_path / "j"),
        )
    assert tree(target) == before  # created files and folders gone, the replaced one restored


def test_an_object_rewritten_by_someone_else_is_left_and_reported(
    target: Path, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "source")
    params = {
        "target": str(target / "data"),
        "bulk_source": str(source),
        "tamper_bulk": True,
        "fail": True,
    }
    ctx, sink = recording_context(job_id=None)
    with pytest.raises(StepExecutionError):
        run_action(
            ACTION, params, ctx=ctx, plugins=PluginHost(), journal=RunJournal(tmp_path / "j")
        )
    first = target / "data" / "bulk" / "d0" / "f0000.bin"
    assert first.read_bytes() == bytes(b ^ 0xFF for b in (source / "d0/f0000.bin").read_bytes())
    assert sorted(path.name for path in (target / "data" / "bulk").rglob("*.bin")) == [
        "f0000.bin",
        "f0001.bin",  # the replaced object, restored
    ]
    undone = [log for log in sink.logs if log.message == "storage_undone"]
    assert [log.data["changed_since"] for log in undone if log.step == "put_many"] == [
        [f"file://{first}"]
    ]


def test_a_memory_filesystem_target(tmp_path: Path) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    memory.pipe("/put-files-test/keep.txt", b"keep")
    source = make_source(tmp_path / "source")
    with pytest.raises(StepExecutionError):
        run(
            {"target": "memory://put-files-test/out", "bulk_source": str(source), "fail": True},
            RunJournal(tmp_path / "j"),
        )
    assert memory.find("/put-files-test") == ["/put-files-test/keep.txt"]
    assert not memory.exists("/put-files-test/out")


def test_two_pairs_with_one_target_are_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    from synapse_sdk.plugins import RuntimeContext
    from synapse_sdk.plugins.steps import BaseStepContext

    context = BaseStepContext(runtime_ctx=RuntimeContext())
    context.current_step = "upload"
    (tmp_path / "a").write_text("a")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="written twice"):
        context.storage.put_files([(tmp_path / "a", str(out / "x")), (tmp_path / "a", f"{out}/x")])
    assert not out.exists()


# -- on S3 ------------------------------------------------------------------------------


@pytest.fixture
def seeded(s3: Any, bucket: str) -> str:
    for key, body in BEFORE.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket


def test_on_s3_the_store_is_listed_once_per_folder_not_per_file(
    moto: MotoServer, seeded: str, s3: Any, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "source")
    params = {
        "target": f"s3://{seeded}/data",
        "bulk_source": str(source),
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    logged = len(moto.requests())
    run(params, RunJournal(tmp_path / "j"))
    requests = [line for line in moto.requests()[logged:] if "data/bulk" in line]
    lists = [line for line in requests if line.startswith("GET") and "list-type" in line]
    # per target folder (d0, d1, d2), never per file: s3fs lists a prefix that holds
    # nothing a second time, one level up, to tell "empty" from "missing"
    assert len(lists) <= 2 * 3, lists
    puts = [line for line in requests if line.startswith("PUT")]
    assert len(puts) >= FILES
    for path in source.rglob("*.bin"):
        key = f"data/bulk/{path.relative_to(source).as_posix()}"
        assert s3.get_object(Bucket=seeded, Key=key)["Body"].read() == path.read_bytes()


def test_on_s3_a_failed_run_leaves_the_bucket_as_before_without_reading_objects_back(
    moto: MotoServer, seeded: str, s3: Any, tmp_path: Path
) -> None:
    before = bucket_listing(s3, seeded)
    source = make_source(tmp_path / "source")
    params = {
        "target": f"s3://{seeded}/data",
        "bulk_source": str(source),
        "fail": True,
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    logged = len(moto.requests())
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run(params, RunJournal(tmp_path / "j"))
    requests = [line for line in moto.requests()[logged:] if f"/{seeded}/data/bulk/" in line]
    assert bucket_listing(s3, seeded) == before
    reads = [line for line in requests if line.startswith("GET") and "list-type" not in line]
    # the replaced object is read once, to keep it; nothing is read back to check it
    assert reads == [f"GET /{seeded}/data/bulk/d1/f0001.bin HTTP/1.1"]
    deletes = [line for line in requests if line.startswith("DELETE")]
    assert deletes == []  # created objects go in one bulk DeleteObjects


def test_on_s3_an_object_changed_since_is_found_by_its_etag_and_left(
    moto: MotoServer, seeded: str, s3: Any, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "source")
    params = {
        "target": f"s3://{seeded}/data",
        "bulk_source": str(source),
        "tamper_bulk": True,
        "fail": True,
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    with pytest.raises(StepExecutionError):
        run(params, RunJournal(tmp_path / "j"))
    after = bucket_listing(s3, seeded)
    tampered = bytes(b ^ 0xFF for b in (source / "d0/f0000.bin").read_bytes())
    assert after == {**BEFORE, "data/bulk/d0/f0000.bin": tampered}


def test_on_s3_kill_9_mid_run_then_runs_rollback_leaves_the_bucket_as_before(
    moto: MotoServer, seeded: str, s3: Any, aws_env: dict[str, str], tmp_path: Path
) -> None:
    before = bucket_listing(s3, seeded)
    source = make_source(tmp_path / "source")
    crashed = crash_after_step(
        ACTION,
        {
            "target": f"s3://{seeded}/data",
            "bulk_source": str(source),
            "storage_options": {"endpoint_url": moto.endpoint_url},
        },
        "put_many",
        cwd=tmp_path / "run",
        home=tmp_path / "home",
        env={"PYTHONPATH": TESTS, **aws_env},
    )
    assert bucket_listing(s3, seeded) != before
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    recovered = crashed.roll_back(cwd=elsewhere)
    assert recovered.returncode == 0, recovered.stderr
    assert crashed.state() == "rolled_back"
    assert bucket_listing(s3, seeded) == before


def test_the_upload_example_with_the_integrity_plugin_on_s3(
    moto: MotoServer, seeded: str, s3: Any, tmp_path: Path
) -> None:
    """The integrity plugin re-reads the upload with the action's storage options too."""
    from synapse_integrity import plugin as integrity

    host = PluginHost()
    host.register(integrity, "integrity")
    source = make_source(tmp_path / "source")
    params = {
        "source": str(source),
        "target": f"s3://{seeded}/data/up",
        "storage_options": {"endpoint_url": moto.endpoint_url},
    }
    ctx, _ = recording_context(job_id=None)
    result = run_action(
        "upload-files", params, ctx=ctx, plugins=host, journal=RunJournal(tmp_path / "j")
    )
    assert result["success"] is True
    after = bucket_listing(s3, seeded)
    assert len(after) == len(BEFORE) + FILES + 1  # the files and the manifest


def test_progress_moves_while_put_files_lists_and_keeps_backups(tmp_path: Path) -> None:
    """The preparation (a listing per folder, a backup per replaced object) shows progress.

    At each progress event the test counts the targets that already hold their source's
    bytes: the events seen before the first copy are the preparation's.
    """
    from synapse_sdk.runtime import CallbackSink, RuntimeContext
    from synapse_sdk.runtime.events import ProgressEvent

    source, target = tmp_path / "source", tmp_path / "target"
    pairs: dict[Path, Path] = {}
    for index in range(60):  # 30 folders of 2 files; a third of the targets exist already
        file = source / f"d{index // 2:02d}" / f"f{index}.bin"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(os.urandom(100 + index))
        pairs[file] = target / "bulk" / file.relative_to(source)
        if index % 3 == 0:
            pairs[file].parent.mkdir(parents=True, exist_ok=True)
            pairs[file].write_bytes(b"older")

    seen: list[tuple[int, int]] = []  # (percent, copies done when it was shown)

    def observe(event: Any) -> None:
        if isinstance(event, ProgressEvent):
            done = sum(
                1 for s, t in pairs.items() if t.exists() and t.read_bytes() == s.read_bytes()
            )
            seen.append((event.percent, done))

    ctx = RuntimeContext(sinks=[CallbackSink(observe)])
    params = {"target": str(target), "bulk_source": str(source)}
    run_action("support.storage_actions:BulkOnlyAction", params, ctx=ctx, plugins=PluginHost())

    before_copies = [percent for percent, done in seen if done == 0]
    assert len(set(before_copies)) >= 5  # listings, then backups, each moved the bar
    assert max(before_copies) <= 10  # within the preparation's share of the band
    assert [percent for percent, _ in seen] == sorted(percent for percent, _ in seen)
    assert seen[-1][0] == 100
