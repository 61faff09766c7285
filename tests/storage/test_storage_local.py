"""context.storage on real folders: every write undone exactly, in-process and after kill -9."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import fsspec
import pytest
from support.interrupts import snapshot as tree

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost, run_action
from synapse_sdk.storage import STORAGE_KEY
from synapse_sdk.testing import crash_after_step, recording_context

ACTION = "support.storage_actions:StorageAction"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    folder = tmp_path / "target"
    (folder / "kept").mkdir(parents=True)
    (folder / "existing.txt").write_text("was here before the run")
    (folder / "kept" / "old.bin").write_bytes(b"\x01older")
    return folder


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    path = tmp_path / "local.bin"
    path.write_bytes(os.urandom(3000))
    return path


def run(target: Path, journal: RunJournal, **params: Any) -> Any:
    ctx, sink = recording_context(job_id=None)
    result = run_action(
        ACTION, {"target": str(target), **params}, ctx=ctx, plugins=PluginHost(), journal=journal
    )
    return result, sink


def test_a_successful_run_leaves_what_it_wrote(
    target: Path, local_file: Path, tmp_path: Path
) -> None:
    run(target, RunJournal(tmp_path / "runs.db"), local_file=str(local_file))
    assert (target / "new" / "deeper" / "created.bin").read_bytes() == b"\x00created by the run"
    assert (target / "existing.txt").read_text() == "replaced by the run"
    assert (target / "new" / "copied.bin").read_bytes() == local_file.read_bytes()
    assert (target / "streamed.bin").read_bytes() == b"chunk 0\nchunk 1\nchunk 2\n"
    assert (target / "empty" / "made").is_dir()


def test_a_failed_run_undoes_every_write_exactly(
    target: Path, local_file: Path, tmp_path: Path
) -> None:
    before = tree(target)
    with pytest.raises(StepExecutionError, match="asked to fail"):
        run(target, RunJournal(tmp_path / "runs.db"), local_file=str(local_file), fail=True)
    assert tree(target) == before  # created removed, replaced restored, folders gone


def test_the_journal_has_each_write_before_and_after_it_happened(
    target: Path, tmp_path: Path
) -> None:
    journal = RunJournal(tmp_path / "runs.db")
    with pytest.raises(StepExecutionError):
        run(target, journal, fail=True)
    [record] = journal.list_runs()
    run_record = journal.get_run(record.run_id)
    assert run_record is not None
    entries = run_record.steps[0].rollback_data[STORAGE_KEY]
    created = f"file://{target}/new/deeper/created.bin"
    ops = [(entry["op"], entry["url"]) for entry in entries]
    assert ops[:4] == [  # every folder the call creates, parent first, before the object
        ("folder", f"file://{target}/new"),
        ("folder", f"file://{target}/new/deeper"),
        ("create", created),
        ("written", created),
    ]
    written = next(e for e in entries if e["op"] == "written" and e["url"] == created)
    assert written["size"] == len(b"\x00created by the run")
    replaced = next(e for e in entries if e["op"] == "replace")
    assert replaced["url"] == f"file://{target}/existing.txt"
    assert run_record.state == "rolled_back"
    assert not Path(replaced["backup"]).exists()  # the run is settled: its undo area is gone


def test_an_object_changed_since_is_left_in_place_and_reported(
    target: Path, tmp_path: Path
) -> None:
    ctx, sink = recording_context(job_id=None)
    with pytest.raises(StepExecutionError):
        run_action(
            ACTION,
            {"target": str(target), "tamper": True, "fail": True},
            ctx=ctx,
            plugins=PluginHost(),
            journal=RunJournal(tmp_path / "runs.db"),
        )
    assert (target / "streamed.bin").read_bytes() == b"changed by someone else"
    assert not (target / "new").exists()
    assert (target / "existing.txt").read_text() == "was here before the run"
    [undone] = [log for log in sink.logs if log.message == "storage_undone"]
    assert undone.level == "warning"
    assert undone.data["changed_since"] == [f"file://{target}/streamed.bin"]


def test_relative_urls_are_journalled_absolute(target: Path, tmp_path: Path) -> None:
    journal = RunJournal(tmp_path / "runs.db")
    os.chdir(target.parent)
    try:
        with pytest.raises(StepExecutionError):
            run(Path("target"), journal, fail=True)
    finally:
        os.chdir(tmp_path)
    entries = journal.get_run(journal.list_runs()[0].run_id).steps[0].rollback_data[STORAGE_KEY]  # type: ignore[union-attr]
    assert all(entry["url"].startswith(f"file://{target}/") for entry in entries)


def test_a_memory_filesystem_is_undone_too(tmp_path: Path) -> None:
    memory = fsspec.filesystem("memory")
    memory.pipe("/bucket/existing.txt", b"was here before the run")
    with pytest.raises(StepExecutionError):
        run("memory://bucket", RunJournal(tmp_path / "runs.db"), fail=True)  # type: ignore[arg-type]
    assert memory.find("/bucket") == ["/bucket/existing.txt"]
    assert memory.cat("/bucket/existing.txt") == b"was here before the run"


def test_kill_9_then_runs_rollback_from_another_folder_undoes_every_write(
    target: Path, local_file: Path, tmp_path: Path
) -> None:
    before = tree(target)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "target").mkdir(parents=True)
    (elsewhere / "target" / "existing.txt").write_text("someone else's")
    tests = str(Path(__file__).parents[1])
    crashed = crash_after_step(
        ACTION,
        {"target": "target", "local_file": str(local_file)},
        "write",
        cwd=tmp_path,
        home=tmp_path / "home",
        env={"PYTHONPATH": tests},
    )
    assert tree(target) != before
    recovered = crashed.roll_back(cwd=elsewhere)
    assert recovered.returncode == 0, recovered.stderr
    assert crashed.state() == "rolled_back"
    assert tree(target) == before
    assert (elsewhere / "target" / "existing.txt").read_text() == "someone else's"
    assert not (tmp_path / "home" / "undo" / crashed.run_id).exists()


def test_a_folder_where_a_file_is_written_is_refused_before_anything_is_journalled(
    target: Path, tmp_path: Path
) -> None:
    from synapse_sdk.errors import StepInputError

    (target / "streamed.bin").mkdir()  # the step writes a file there, after others
    (target / "streamed.bin" / "inside.txt").write_text("someone's folder")
    before = tree(target)
    journal = RunJournal(tmp_path / "runs.db")

    with pytest.raises(StepExecutionError) as caught:
        run(target, journal)

    assert isinstance(caught.value.__cause__, StepInputError)
    assert "a folder is there" in str(caught.value.__cause__)
    assert tree(target) == before  # the writes before it were undone, the folder kept
    [record] = journal.list_runs()
    assert record.state == "rolled_back"  # not rollback_failed: nothing was left half-done
    run_record = journal.get_run(record.run_id)
    assert run_record is not None
    urls = [entry["url"] for entry in run_record.steps[0].rollback_data[STORAGE_KEY]]
    assert not any(url.endswith("streamed.bin") for url in urls)
    journal.close()


def test_a_folder_someone_else_creates_first_is_left_to_them(
    target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race between the run's "is it there?" and its mkdir: the folder is not the run's."""
    from fsspec.implementations.local import LocalFileSystem

    contested = target / "new"  # the step writes new/deeper/created.bin; neither exists
    real_mkdir = LocalFileSystem.mkdir

    def someone_else_first(fs: LocalFileSystem, path: str, *args: Any, **kwargs: Any) -> None:
        if path == str(contested) and not contested.exists():
            os.mkdir(path)  # another process wins the race, between the check and the mkdir
        real_mkdir(fs, path, *args, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "mkdir", someone_else_first)
    before = tree(target)
    journal = RunJournal(tmp_path / "runs.db")

    with pytest.raises(StepExecutionError, match="asked to fail"):
        run(target, journal, fail=True)

    assert tree(target) == {**before, "new": None}  # theirs stays, empty; the run's is gone
    [record] = journal.list_runs()
    assert record.state == "rolled_back"
    run_record = journal.get_run(record.run_id)
    assert run_record is not None
    ops = {(entry["op"], entry["url"]) for entry in run_record.steps[0].rollback_data[STORAGE_KEY]}
    assert ("folder_not_ours", contested.as_uri()) in ops
    journal.close()


def test_a_kept_copy_is_on_disk_before_the_journal_names_it(
    target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The journal commits with synchronous=FULL to survive a power loss; a record naming
    # an undo copy still in the page cache would survive it while the copy did not. Power
    # loss cannot be staged here, so the real os.fsync is watched: which paths it flushed,
    # and whether the (real SQLite) journal already named them at that moment.
    db = tmp_path / "runs.db"
    real_fsync = os.fsync
    flushed: list[tuple[str, bool]] = []

    def watched_fsync(descriptor: int) -> None:
        path = os.readlink(f"/proc/self/fd/{descriptor}")
        named = path in db.read_bytes().decode(errors="replace") or any(
            path in wal.read_bytes().decode(errors="replace")
            for wal in tmp_path.glob("runs.db-wal")
        )
        flushed.append((path, named))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    with closing(RunJournal(db)) as journal, pytest.raises(StepExecutionError):
        run(target, journal, fail=True)
    monkeypatch.undo()

    with closing(RunJournal(db)) as journal:
        [record] = journal.list_runs()
        run_record = journal.get_run(record.run_id)
    assert run_record is not None
    entries = run_record.steps[0].rollback_data[STORAGE_KEY]
    backup = next(entry["backup"] for entry in entries if entry["op"] == "replace")
    copy_flushed = flushed.index((backup, False))  # the copy, before any record named it
    # ...and then its name in the undo area's folder, still before the record
    assert (str(Path(backup).parent), False) in flushed[copy_flushed + 1 :]
    assert (target / "existing.txt").read_text() == "was here before the run"


def test_a_folder_that_cannot_be_flushed_does_not_fail_the_run(
    target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some filesystems (network, FUSE) refuse fsync on a folder; SQLite carries on there,
    # and so must the copies. A file that cannot be flushed is still an error.
    real_fsync = os.fsync

    def refusing_folders(descriptor: int) -> None:
        if os.path.isdir(os.readlink(f"/proc/self/fd/{descriptor}")):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", refusing_folders)
    before = tree(target)
    with (
        closing(RunJournal(tmp_path / "runs.db")) as journal,
        pytest.raises(StepExecutionError, match="asked to fail"),
    ):
        run(target, journal, fail=True)
    assert tree(target) == before


def crashed_in_write(target: Path, local_file: Path, tmp_path: Path) -> tuple[Any, list[Any]]:
    """A run killed after its `write` step (which replaced existing.txt); its entries.

    Also makes ``tmp_path/elsewhere``, the folder to run `runs rollback` from.
    """
    (tmp_path / "elsewhere").mkdir()  # where `runs rollback` is run from
    crashed = crash_after_step(
        ACTION,
        {"target": str(target), "local_file": str(local_file)},
        "write",
        cwd=tmp_path,
        home=tmp_path / "home",
        env={"PYTHONPATH": str(Path(__file__).parents[1])},
    )
    with closing(RunJournal(tmp_path / "home" / "runs.db")) as journal:
        run_record = journal.get_run(crashed.run_id)
    assert run_record is not None
    [write] = [step for step in run_record.steps if step.name == "write"]
    return crashed, write.rollback_data[STORAGE_KEY]


def assert_rolled_back_from_elsewhere(
    crashed: Any, tmp_path: Path, target: Path, before: dict[str, bytes | None]
) -> None:
    """`synapse runs rollback` from another folder ends the run rolled_back, target as before."""
    recovered = crashed.roll_back(cwd=tmp_path / "elsewhere")
    assert recovered.returncode == 0, recovered.stderr
    assert crashed.state() == "rolled_back"
    assert tree(target) == before


def test_a_restore_stopped_midway_is_finished_when_the_rollback_is_run_again(
    target: Path, local_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Half of the previous content written back, then a Ctrl-C: the object now holds
    # neither what the run wrote nor what was there, yet it is the rollback's to finish,
    # not "changed by someone since".
    from fsspec.implementations.local import LocalFileSystem

    from synapse_sdk.storage import undo_writes

    before = tree(target)
    crashed, entries = crashed_in_write(target, local_file, tmp_path)

    def half_then_interrupted(self: Any, source: str, destination: str, **kwargs: Any) -> None:
        data = Path(source).read_bytes()
        Path(destination).write_bytes(data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalFileSystem, "put_file", half_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        undo_writes(entries, kept_in=tmp_path / "home" / "undo" / crashed.run_id)
    monkeypatch.undo()
    previous = "was here before the run"
    assert (target / "existing.txt").read_text() == previous[: len(previous) // 2]

    assert_rolled_back_from_elsewhere(crashed, tmp_path, target, before)


def test_an_object_someone_rewrote_after_a_stopped_restore_is_left_to_them(
    target: Path, local_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fsspec.implementations.local import LocalFileSystem

    from synapse_sdk.storage import undo_writes

    crashed, entries = crashed_in_write(target, local_file, tmp_path)
    area = tmp_path / "home" / "undo" / crashed.run_id

    def interrupted(self: Any, source: str, destination: str, **kwargs: Any) -> None:
        Path(destination).write_bytes(b"was")
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalFileSystem, "put_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        undo_writes(entries, kept_in=area)
    monkeypatch.undo()
    (target / "existing.txt").write_text("someone's own content, written since")

    again = undo_writes(entries, kept_in=area)

    assert again.changed_since == [f"file://{target}/existing.txt"]
    assert (target / "existing.txt").read_text() == "someone's own content, written since"


def test_a_restore_keeps_the_object_s_file_its_owner_and_its_permissions(
    target: Path, local_file: Path, tmp_path: Path
) -> None:
    existing = target / "existing.txt"
    os.chown(existing, 1000, 1000)  # tests run as root: someone else's file
    existing.chmod(0o640)
    inode = existing.stat().st_ino
    crashed, _ = crashed_in_write(target, local_file, tmp_path)

    recovered = crashed.roll_back(cwd=tmp_path / "elsewhere")

    assert recovered.returncode == 0, recovered.stderr
    restored = existing.stat()
    assert existing.read_text() == "was here before the run"
    assert (restored.st_ino, restored.st_uid, restored.st_gid) == (inode, 1000, 1000)
    assert restored.st_mode & 0o7777 == 0o640


def test_a_restore_done_before_the_journal_heard_of_it_counts_as_restored(
    target: Path, local_file: Path, tmp_path: Path
) -> None:
    from synapse_sdk.storage import undo_writes

    before = tree(target)
    crashed, entries = crashed_in_write(target, local_file, tmp_path)
    area = tmp_path / "home" / "undo" / crashed.run_id
    undo_writes(entries, kept_in=area)  # as if `runs rollback` was killed right after

    again = undo_writes(entries, kept_in=area)

    existing = f"file://{target}/existing.txt"
    assert (again.restored, again.changed_since) == ([existing], [])
    assert_rolled_back_from_elsewhere(crashed, tmp_path, target, before)


def test_a_restore_that_fails_keeps_the_previous_content_until_the_run_is_pruned(
    target: Path, local_file: Path, tmp_path: Path
) -> None:
    # The copy in the undo area is then the only place the user's previous content is.
    crashed, _ = crashed_in_write(target, local_file, tmp_path)
    existing = target / "existing.txt"
    try:  # immutable: even root cannot replace it, so the restore fails for real
        subprocess.run(["chattr", "+i", str(existing)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs chattr +i (root on ext4): {exc}")
    try:
        recovered = crashed.roll_back(cwd=tmp_path / "elsewhere")
    finally:
        subprocess.run(["chattr", "-i", str(existing)], check=True)

    assert recovered.returncode == 1, recovered.stderr
    assert crashed.state() == "rollback_failed"
    area = tmp_path / "home" / "undo" / crashed.run_id
    [copy] = [path for path in area.iterdir() if not path.name.startswith(".")]
    assert copy.read_text() == "was here before the run"
    assert f"kept in {area}" in recovered.stdout
    assert existing.read_text() == "replaced by the run"
    assert sorted(p.name for p in target.iterdir() if p.name.startswith(".")) == []

    pruned = subprocess.run(
        [sys.executable, "-m", "synapse_sdk", "runs", "prune", "--older-than", "0s"],
        env=dict(crashed.env),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "removed 1 run(s)" in pruned.stdout
    assert not area.exists()


def test_an_object_replaced_through_a_symbolic_link_is_restored_through_it(
    target: Path, tmp_path: Path
) -> None:
    # The run wrote through the link, so the file it points to is what changed; the link
    # must stay a link, and the file get its content back.
    pointed_to = tmp_path / "elsewhere" / "real.txt"
    pointed_to.parent.mkdir()
    pointed_to.write_text("was here before the run")
    (target / "existing.txt").unlink()
    (target / "existing.txt").symlink_to(pointed_to)

    with (
        closing(RunJournal(tmp_path / "runs.db")) as journal,
        pytest.raises(StepExecutionError, match="asked to fail"),
    ):
        run(target, journal, fail=True)

    assert (target / "existing.txt").is_symlink()
    assert pointed_to.read_text() == "was here before the run"
    assert sorted(p.name for p in pointed_to.parent.iterdir()) == ["real.txt"]


def test_deletions_are_on_disk_before_the_journal_says_rolled_back(
    target: Path, local_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "runs.db"
    real_fsync = os.fsync
    flushed: list[tuple[str, str | None]] = []

    def watched_fsync(descriptor: int) -> None:
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = reader.execute("SELECT state FROM runs").fetchone()
        finally:
            reader.close()
        flushed.append((os.readlink(f"/proc/self/fd/{descriptor}"), row and row[0]))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    with (
        closing(RunJournal(db)) as journal,
        pytest.raises(StepExecutionError, match="asked to fail"),
    ):
        run(target, journal, local_file=str(local_file), fail=True)
    monkeypatch.undo()

    # target/new/deeper/created.bin deleted, then new/deeper and new removed: the folder
    # left holding them (target) is flushed while the run is still rolling back.
    states = [state for path, state in flushed if path == str(target)]
    assert states
    assert "rolled_back" not in states
    with closing(RunJournal(db)) as journal:
        assert journal.list_runs()[0].state == "rolled_back"


def test_a_run_whose_restore_fails_keeps_its_undo_area(target: Path, tmp_path: Path) -> None:
    # In-process, as `synapse run` settles it: rollback_failed, and the previous content
    # of the object that could not be restored is still in the undo area.
    try:
        subprocess.run(["chattr", "-i", str(target / "existing.txt")], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs chattr (root on ext4): {exc}")
    with closing(RunJournal(tmp_path / "runs.db")) as journal:
        try:
            with pytest.raises(StepExecutionError, match="asked to fail"):
                run(target, journal, freeze=True, fail=True)
        finally:
            subprocess.run(["chattr", "-i", str(target / "existing.txt")], check=True)
        [record] = journal.list_runs()
    assert record.state == "rollback_failed"
    area = tmp_path / "synapse-home" / "undo" / record.run_id
    copies = [path.read_text() for path in area.iterdir() if not path.name.startswith(".")]
    assert copies == ["was here before the run"]
    assert (target / "new").exists() is False  # the rest was undone


def test_a_relative_synapse_home_still_journals_absolute_copy_paths(
    target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The copies' paths are made from $SYNAPSE_HOME; a relative one would be read against
    # whatever folder a later `runs rollback` starts in.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNAPSE_HOME", "relative-home")
    db = tmp_path / "runs.db"
    with closing(RunJournal(db)) as journal, pytest.raises(StepExecutionError):
        run(target, journal, fail=True)

    with closing(RunJournal(db)) as journal:
        [record] = journal.list_runs()
        run_record = journal.get_run(record.run_id)
    assert run_record is not None
    entries = run_record.steps[0].rollback_data[STORAGE_KEY]
    backup = Path(next(entry["backup"] for entry in entries if entry["op"] == "replace"))
    assert backup.is_absolute()
    assert backup.parent.parent == tmp_path / "relative-home" / "undo"
    assert (target / "existing.txt").read_text() == "was here before the run"
