"""The upload example against the plain ways of doing the same copies, in one process.

* ``s3_upload``: ``--s3-files`` small files uploaded by the real ``upload-files`` action
  (journalled, threads) to S3 on ``moto_server`` (127.0.0.1), against s3fs's own
  ``fs.put(folder, prefix, recursive=True)`` of the same files;
* ``s3_rollback``: the SDK undoing that upload from its journal entries
  (``undo_writes``: one listing per folder, ETag checks, bulk delete, check it is gone),
  against one s3fs bulk ``fs.rm(list_of_paths)`` of the baseline's objects;
* ``local_upload``: ``--local-files`` files uploaded by the action to a local folder,
  against a plain Python loop of sha256 + ``shutil.copy`` of the same files.

Each pair runs ``--repeats`` times, alternating, in fresh targets; medians are compared.
Prints one JSON document. Needs the upload-files example installed (``pip install -e
plugins_examples/upload-files``) and, for S3, ``moto[server]``, ``s3fs`` and ``boto3``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import S3_CREDENTIALS, emit, machine, s3_unavailable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # support.moto


def make_source(folder: Path, count: int) -> Path:
    """``count`` files of 1-4 KiB in folders of 500."""
    for index in range(count):
        path = folder / f"d{index // 500:03d}" / f"f{index:06d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1024 + index % 3072))
    return folder


def run_upload(source: Path, target: str, home: Path, options: dict[str, Any]) -> None:
    """Run the real upload-files action, journalled in ``home``, without hook plugins."""
    from synapse_sdk.journal.store import RunJournal
    from synapse_sdk.plugins import PluginHost, RuntimeContext, run_action

    home.mkdir(parents=True, exist_ok=True)
    journal = RunJournal(home / "runs.db")
    params = {"source": str(source), "target": target, "storage_options": options}
    try:
        result = run_action(
            "upload-files", params, ctx=RuntimeContext(), plugins=PluginHost(), journal=journal
        )
    finally:
        journal.close()
    assert result["success"], result


def _newest(home: Path) -> str:
    from synapse_sdk.journal.store import RunJournal

    journal = RunJournal(home / "runs.db")
    try:
        return journal.list_runs(1)[0].run_id
    finally:
        journal.close()


def storage_entries(home: Path, run_id: str) -> list[dict[str, Any]]:
    """What every step of the run journalled through context.storage, in order."""
    from synapse_sdk.journal.store import RunJournal
    from synapse_sdk.storage import STORAGE_KEY

    journal = RunJournal(home / "runs.db")
    try:
        run = journal.get_run(run_id)
    finally:
        journal.close()
    assert run is not None
    return [entry for step in run.steps for entry in step.rollback_data.get(STORAGE_KEY, [])]


def timed(call: Any, *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    call(*args, **kwargs)
    return time.perf_counter() - started


def ratio(sdk: list[float], baseline: list[float]) -> dict[str, Any]:
    sdk_median, base_median = statistics.median(sdk), statistics.median(baseline)
    return {
        "sdk_seconds": [round(value, 3) for value in sdk],
        "baseline_seconds": [round(value, 3) for value in baseline],
        "sdk_median": round(sdk_median, 3),
        "baseline_median": round(base_median, 3),
        "ratio": round(sdk_median / base_median, 2),
    }


def measure_s3(server: Any, files: int, repeats: int, work: Path) -> dict[str, Any]:
    import boto3
    import fsspec

    from synapse_sdk.storage import undo_writes

    options = {"endpoint_url": server.endpoint_url}
    boto3.client("s3", endpoint_url=server.endpoint_url).create_bucket(Bucket="bench")
    fs = fsspec.filesystem("s3", skip_instance_cache=True, use_listings_cache=False, **options)
    source = make_source(work / "s3-source", files)
    upload: tuple[list[float], list[float]] = ([], [])
    rollback: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        home = work / f"home-{uuid.uuid4().hex[:8]}"
        sdk_prefix = f"bench/sdk-{uuid.uuid4().hex[:8]}"
        base_prefix = f"bench/put-{uuid.uuid4().hex[:8]}"
        upload[0].append(timed(run_upload, source, f"s3://{sdk_prefix}", home, options))
        upload[1].append(timed(fs.put, f"{source}/", f"{base_prefix}/", recursive=True))
        assert len(fs.find(base_prefix)) == files
        assert len(fs.find(sdk_prefix)) == files + 1  # and the manifest
        entries = storage_entries(home, _newest(home))
        rollback[0].append(timed(undo_writes, entries, options))
        assert fs.find(sdk_prefix) == [], "the SDK's undo left objects behind"
        paths = fs.find(base_prefix)
        rollback[1].append(timed(fs.rm, paths))
        fs.invalidate_cache()
    return {"s3_upload": ratio(*upload), "s3_rollback": ratio(*rollback)}


def plain_copy(source: Path, target: Path) -> None:
    """What a script without the SDK would do: sha256 and shutil.copy, file by file."""
    for path in sorted(source.rglob("*")):
        if path.is_file():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            hashlib.sha256(path.read_bytes()).hexdigest()
            shutil.copy(path, destination)


def measure_local(files: int, repeats: int, work: Path) -> dict[str, Any]:
    source = make_source(work / "local-source", files)
    sdk: list[float] = []
    baseline: list[float] = []
    for _ in range(repeats):
        home = work / f"home-{uuid.uuid4().hex[:8]}"
        sdk_target, base_target = work / f"sdk-{uuid.uuid4().hex[:8]}", work / "plain"
        sdk.append(timed(run_upload, source, str(sdk_target), home, {}))
        baseline.append(timed(plain_copy, source, base_target))
        shutil.rmtree(sdk_target)
        shutil.rmtree(base_target)
        shutil.rmtree(home)
    return {"local_upload": ratio(sdk, baseline)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--s3-files", type=int, default=2000)
    parser.add_argument("--local-files", type=int, default=30000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    document: dict[str, Any] = {
        "benchmark": "upload",
        "description": "upload-files (journalled) vs fs.put / a plain copy loop; undo vs bulk rm",
        "machine": machine(),
        "s3_files": args.s3_files,
        "local_files": args.local_files,
        "repeats": args.repeats,
    }
    os.environ.setdefault("SYNAPSE_HOME", tempfile.mkdtemp(prefix="synapse-bench-"))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if args.local_files:
            document.update(measure_local(args.local_files, args.repeats, work))
        if args.s3_files:
            unavailable = s3_unavailable()
            if unavailable:
                document["s3_skipped"] = unavailable
            else:
                from support.moto import moto_server

                os.environ.update(S3_CREDENTIALS)
                with moto_server(work / "moto.log") as server:
                    document.update(measure_s3(server, args.s3_files, args.repeats, work))
    emit(document)


if __name__ == "__main__":
    main()
