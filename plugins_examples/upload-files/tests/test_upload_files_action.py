"""The upload-files example: real directories, fsspec memory://, the real command."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import pytest
from synapse_sdk.errors import InvalidParamsError, StepExecutionError, StepInputError
from synapse_sdk.plugins import hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepResult
from synapse_sdk.storage import STORAGE_KEY

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
SYNAPSE = str(Path(sys.executable).with_name("synapse"))


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def everything(folder: Path) -> dict[bytes, bytes | None]:
    """Every folder (None) and file (its bytes) under ``folder``, names as raw bytes."""
    found: dict[bytes, bytes | None] = {}
    for where, folders, names in os.walk(os.fsencode(folder)):
        for name in folders:
            found[os.path.relpath(os.path.join(where, name), os.fsencode(folder))] = None
        for name in names:
            path = os.path.join(where, name)
            found[os.path.relpath(path, os.fsencode(folder))] = Path(os.fsdecode(path)).read_bytes()
    return found


def journalled_urls(journal: Any) -> list[str]:
    """Every URL the steps of the newest run journalled through context.storage, in order."""
    run = journal.get_run(journal.list_runs()[0].run_id)  # newest first, with its steps
    urls: list[str] = []
    for step in run.steps:
        urls += [entry["url"] for entry in step.rollback_data.get(STORAGE_KEY, [])]
    return urls


def test_uploads_the_tree_with_a_manifest(
    synapse_run: Any, synapse_recorder: Any, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    result = synapse_run("upload-files", {"source": str(SAMPLE), "target": str(target)})
    assert result == {"success": True, "steps_executed": 5, "steps_total": 5}
    copied = tree(target)
    manifest = json.loads(copied.pop("manifest.json"))
    assert copied == tree(SAMPLE)
    assert {entry["path"]: entry["sha256"] for entry in manifest["objects"]} == {
        name: hashlib.sha256(data).hexdigest() for name, data in tree(SAMPLE).items()
    }
    upload_progress = [
        e.percent
        for e in synapse_recorder.events
        if getattr(e, "step", None) == "upload" and e.kind == "progress"
    ]
    assert len(upload_progress) >= 3  # per-file progress inside the step
    assert synapse_recorder.percents == sorted(synapse_recorder.percents)


def test_memory_filesystem_target(synapse_run: Any) -> None:
    url = "memory://upload-test/run1"
    synapse_run("upload-files", {"source": str(SAMPLE), "target": url})
    fs = fsspec.filesystem("memory")
    assert fs.cat(f"{url}/labels/train.csv") == (SAMPLE / "labels" / "train.csv").read_bytes()
    assert fs.exists(f"{url}/manifest.json")
    fs.rm("/upload-test", recursive=True)


def test_validation_lists_every_problem_and_writes_nothing(
    synapse_run: Any, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "ok.csv").write_text("a,b\n")
    (source / "big.csv").write_text("x" * 2000)
    (source / "script.exe").write_text("nope")
    target = tmp_path / "out"
    with pytest.raises(StepExecutionError) as caught:
        synapse_run(
            "upload-files",
            {
                "source": str(source),
                "target": str(target),
                "extensions": ["csv"],
                "max_file_size": 1000,
            },
        )
    message = str(caught.value)
    assert "2 problem(s), nothing was uploaded" in message
    assert "big.csv: 2000 bytes is over the limit of 1000" in message
    assert "script.exe: extension '.exe' is not allowed" in message
    assert not target.exists()


def test_existing_objects_are_never_overwritten(synapse_run: Any, tmp_path: Path) -> None:
    target = tmp_path / "out"
    (target / "labels").mkdir(parents=True)
    (target / "labels" / "train.csv").write_text("mine")
    with pytest.raises(
        StepExecutionError, match=r"labels/train\.csv: already exists at the target"
    ):
        synapse_run("upload-files", {"source": str(SAMPLE), "target": str(target)})
    assert tree(target) == {"labels/train.csv": b"mine"}


class FailAtTheEnd:
    @hookimpl
    def synapse_setup_steps(self, registry: Any) -> None:
        registry.register(Boom())


class Boom(BaseStep[Any]):
    name = "boom"
    progress_weight = 0.0

    def execute(self, context: Any) -> StepResult:
        return StepResult(success=False, error="later failure")


def test_rollback_removes_only_what_this_run_wrote(
    synapse_run: Any, synapse_host: Any, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    (target / "images").mkdir(parents=True)
    (target / "images" / "older.png").write_bytes(b"older")
    (target / "notes.txt").write_text("keep me")
    before = tree(target)
    synapse_host.register(FailAtTheEnd(), "fail-at-the-end")
    with pytest.raises(StepExecutionError, match="later failure"):
        synapse_run("upload-files", {"source": str(SAMPLE), "target": str(target)})
    assert tree(target) == before
    assert sorted(p.name for p in target.iterdir()) == ["images", "notes.txt"]  # new folders gone


def test_the_real_command_with_the_sample(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"source": str(SAMPLE), "target": "upload-output"}))
    env = {**os.environ, "SYNAPSE_LOAD_PLUGINS": "", "SYNAPSE_HOME": str(tmp_path / "home")}
    synapse = str(Path(sys.executable).with_name("synapse"))
    first = subprocess.run(
        [synapse, "run", "upload-files", "--params-file", str(params)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"success": True, "steps_executed": 5, "steps_total": 5}
    again = subprocess.run(
        [synapse, "run", "upload-files", "--params-file", str(params)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 1
    assert "already exists at the target" in again.stderr
    assert "Traceback" not in again.stderr
    assert len(tree(tmp_path / "upload-output")) == 8


@pytest.mark.parametrize(
    ("is_file", "problem"), [(False, "does not exist"), (True, "is not a directory")]
)
def test_a_missing_or_file_source_is_bad_input(
    synapse_run: Any, tmp_path: Path, is_file: bool, problem: str
) -> None:
    source = tmp_path / "source"
    if is_file:
        source.write_text("a file, not a folder")
    with pytest.raises(StepExecutionError) as caught:
        synapse_run("upload-files", {"source": str(source), "target": str(tmp_path / "out")})
    assert isinstance(caught.value.__cause__, StepInputError)
    assert f"source {source} {problem}; give the folder to upload" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_the_command_exits_2_for_a_missing_source(tmp_path: Path) -> None:
    params = {"source": str(tmp_path / "nowhere"), "target": "out"}
    result = subprocess.run(
        [SYNAPSE, "run", "upload-files", "--params", json.dumps(params)],
        cwd=tmp_path,
        env={**os.environ, "SYNAPSE_LOAD_PLUGINS": "", "SYNAPSE_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"source {tmp_path / 'nowhere'} does not exist; give the folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_unreadable_files_are_listed_and_nothing_is_written(tmp_path: Path) -> None:
    """Run without the capabilities that let root read any file, so permissions apply."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "ok.csv").write_text("a\n")
    for name in ("locked1.csv", "locked2.csv"):
        (source / name).write_text("secret\n")
        (source / name).chmod(0)
    target = tmp_path / "out"
    params = json.dumps({"source": str(source), "target": str(target)})
    env = {**os.environ, "SYNAPSE_LOAD_PLUGINS": "", "SYNAPSE_HOME": str(tmp_path / "home")}
    command = [
        str(Path(sys.executable).with_name("synapse")),
        "run",
        "upload-files",
        "--params",
        params,
    ]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "2 problem(s), nothing was uploaded" in result.stderr
    assert "locked1.csv: cannot be read (permission denied)" in result.stderr
    assert "locked2.csv: cannot be read (permission denied)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists()


def test_rollback_removes_the_folders_it_created_above_the_target(
    synapse_run: Any, synapse_host: Any, tmp_path: Path
) -> None:
    base = tmp_path / "base"
    (base / "other").mkdir(parents=True)
    (base / "other" / "keep.txt").write_text("keep")
    before = everything(base)
    synapse_host.register(FailAtTheEnd(), "fail-at-the-end")
    with pytest.raises(StepExecutionError, match="later failure"):
        synapse_run("upload-files", {"source": str(SAMPLE), "target": str(base / "a/b/c")})
    assert everything(base) == before  # no 'a', no 'a/b'


def test_rollback_keeps_empty_folders_that_existed_before(
    synapse_run: Any, synapse_host: Any, tmp_path: Path
) -> None:
    base = tmp_path / "base"
    (base / "a" / "empty").mkdir(parents=True)
    before = everything(base)
    synapse_host.register(FailAtTheEnd(), "fail-at-the-end")
    with pytest.raises(StepExecutionError, match="later failure"):
        synapse_run("upload-files", {"source": str(SAMPLE), "target": str(base / "a/b/c")})
    assert everything(base) == before


def test_a_file_in_the_way_of_the_target_is_reported_before_writing(
    synapse_run: Any, tmp_path: Path
) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "file").write_text("in the way")
    before = everything(tmp_path / "base")
    target = tmp_path / "base" / "file" / "a" / "b"
    with pytest.raises(StepExecutionError, match=r"base/file: is a file, not a folder"):
        synapse_run("upload-files", {"source": str(SAMPLE), "target": str(target)})
    assert everything(tmp_path / "base") == before


def test_journalled_rollback_data_is_canonical_urls(
    synapse_run: Any,
    synapse_host: Any,
    synapse_journal: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A relative target is journalled as absolute file:// URLs, never as given."""
    monkeypatch.chdir(tmp_path)
    synapse_host.register(FailAtTheEnd(), "fail-at-the-end")
    with pytest.raises(StepExecutionError, match="later failure"):
        synapse_run("upload-files", {"source": str(SAMPLE), "target": "up/../out/run"})
    urls = journalled_urls(synapse_journal)
    assert f"file://{tmp_path}/out/run/manifest.json" in urls
    assert f"file://{tmp_path}/out/run/labels/train.csv" in urls
    assert [f"file://{tmp_path}/out", f"file://{tmp_path}/out/run"] == urls[:2]  # folders
    assert all(url.startswith(f"file://{tmp_path}/out/run") for url in urls[1:])
    assert not (tmp_path / "out").exists()


def test_journalled_rollback_data_keeps_the_protocol(
    synapse_run: Any, synapse_host: Any, synapse_journal: Any
) -> None:
    synapse_host.register(FailAtTheEnd(), "fail-at-the-end")
    with pytest.raises(StepExecutionError, match="later failure"):
        synapse_run("upload-files", {"source": str(SAMPLE), "target": "memory://journal-urls/x"})
    urls = journalled_urls(synapse_journal)
    assert "memory:///journal-urls/x/manifest.json" in urls
    assert all(url.startswith("memory:///journal-urls") for url in urls)
    assert not fsspec.filesystem("memory").exists("/journal-urls/x")


@pytest.mark.parametrize(
    "name", ["../../x.json", "../x.json", "/tmp/x.json", "sub/m.json", "..", "", "a\\b.json"]
)
def test_a_manifest_name_that_leaves_the_target_is_refused(
    synapse_run: Any, tmp_path: Path, name: str
) -> None:
    target = tmp_path / "deep" / "out"
    with pytest.raises(InvalidParamsError, match=r"manifest_name: .* use a plain file name"):
        synapse_run(
            "upload-files", {"source": str(SAMPLE), "target": str(target), "manifest_name": name}
        )
    assert not (tmp_path / "deep").exists()


def test_the_command_refuses_a_manifest_name_outside_the_target(tmp_path: Path) -> None:
    params = {"source": str(SAMPLE), "target": "deep/out", "manifest_name": "../../x.json"}
    result = subprocess.run(
        [SYNAPSE, "run", "upload-files", "--params", json.dumps(params)],
        cwd=tmp_path,
        env={**os.environ, "SYNAPSE_LOAD_PLUGINS": "", "SYNAPSE_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "manifest_name: '../../x.json' would not be written at the top" in result.stderr
    assert "use a plain file name like 'manifest.json'" in result.stderr
    assert not (tmp_path / "deep").exists()
    assert not (tmp_path.parent / "x.json").exists()


def test_a_source_file_with_the_manifest_name_is_refused(synapse_run: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "manifest.json").write_text("{}")
    with pytest.raises(StepExecutionError, match="a source file has the manifest's name"):
        synapse_run("upload-files", {"source": str(source), "target": str(tmp_path / "out")})
    assert not (tmp_path / "out").exists()


BAD = b"bad\xff.txt"
BAD_FOLDER = b"dir\xfe"


@pytest.fixture
def undecodable_source(tmp_path: Path) -> Path:
    """A source tree whose names are not UTF-8, made through bytes paths."""
    source = tmp_path / "src"
    os.makedirs(os.path.join(os.fsencode(source), BAD_FOLDER))
    for name, data in [(BAD, b"one"), (BAD_FOLDER + b"/in\xe9.csv", b"two"), (b"ok.txt", b"3")]:
        with open(os.path.join(os.fsencode(source), name), "wb") as writer:
            writer.write(data)
    return source


def check_undecodable_upload(source: Path, target: Path) -> None:
    """The target holds the source byte for byte, names included, and the manifest says
    which names were escaped and what their bytes are."""
    copied = everything(target)
    manifest = json.loads(copied.pop(b"manifest.json") or b"")  # valid UTF-8 JSON
    assert copied == everything(source)
    entries = {entry["path"]: entry for entry in manifest["objects"]}
    assert entries["bad\\xff.txt"] == {
        "path": "bad\\xff.txt",
        "path_escaped": True,
        "path_bytes": BAD.hex(),
        "size": 3,
        "sha256": hashlib.sha256(b"one").hexdigest(),
    }
    assert bytes.fromhex(entries["dir\\xfe/in\\xe9.csv"]["path_bytes"]) == b"dir\xfe/in\xe9.csv"
    assert entries["ok.txt"] == {"path": "ok.txt", "size": 1, "sha256": entries["ok.txt"]["sha256"]}


def test_names_that_are_not_utf8_are_uploaded_and_rolled_back(
    synapse_run: Any,
    synapse_host: Any,
    synapse_journal: Any,
    undecodable_source: Path,
    tmp_path: Path,
) -> None:
    target = tmp_path / "out"
    result = synapse_run("upload-files", {"source": str(undecodable_source), "target": str(target)})
    assert result["success"] is True
    check_undecodable_upload(undecodable_source, target)

    other = tmp_path / "base"
    other.mkdir()
    before = everything(other)
    synapse_host.register(FailAtTheEnd(), "fail-at-the-end")
    with pytest.raises(StepExecutionError, match="later failure"):
        synapse_run(
            "upload-files", {"source": str(undecodable_source), "target": str(other / "x/out")}
        )
    assert everything(other) == before
    # What the journal holds survives JSON as UTF-8 and names the exact files.
    urls = journalled_urls(synapse_journal)
    assert json.loads(json.dumps(urls).encode("utf-8")) == urls
    assert f"file://{other}/x/out/bad\udcff.txt" in urls


def test_the_command_uploads_names_that_are_not_utf8(
    undecodable_source: Path, tmp_path: Path
) -> None:
    params = json.dumps({"source": str(undecodable_source), "target": "out"})
    env = {**os.environ, "SYNAPSE_LOAD_PLUGINS": "", "SYNAPSE_HOME": str(tmp_path / "home")}
    command = [SYNAPSE, "run", "upload-files", "--json", "--params", params]
    first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert first.returncode == 0, first.stderr.decode(errors="replace")
    events = [json.loads(line) for line in first.stdout.decode("utf-8").splitlines()]
    assert events[-1]["success"] is True
    check_undecodable_upload(undecodable_source, tmp_path / "out")
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert again.returncode == 1
    stderr = again.stderr.decode("utf-8")
    assert "bad\\xff.txt: already exists at the target" in stderr
    assert "Traceback" not in stderr
