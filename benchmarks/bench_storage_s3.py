"""Deleting what a run created on S3: bulk ``DeleteObjects`` vs one ``DeleteObject`` each.

Against a real S3 API (``moto_server`` on 127.0.0.1, started and stopped here, dummy
credentials in this process only), ``--objects`` small objects are created, then deleted

* ``one_by_one``: ``fs.rm_file(path)`` for each object (one request per object);
* ``bulk``: one ``fs.rm(list_of_paths)`` (s3fs sends ``DeleteObjects``, 1,000 keys a call);

and, for ``--sdk-objects`` created objects, the SDK's own rollback of them,
``synapse_sdk.storage.undo_writes`` over their journal entries (``create`` + ``written``
with the sha256), which checks each object (exists, content still what was written)
before it deletes. Requests are counted from the server's request log. Also timed: the
same per-object check with one filesystem shared by all objects. Prints one JSON document.

Needs ``moto[server]``, ``s3fs`` and ``boto3`` (requirements-test.txt); without them the
document says ``"skipped"``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import S3_CREDENTIALS, emit, machine, s3_unavailable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # support.moto


def _seed(fs: Any, bucket: str, count: int) -> dict[str, bytes]:
    """``count`` new objects under ``bucket/run/`` (written concurrently); their content."""
    objects = {f"{bucket}/run/{index:06d}.bin": b"object %d" % index for index in range(count)}
    fs.pipe(objects)
    fs.invalidate_cache()
    return objects


def _deletes(server: Any, since: int, bucket: str) -> dict[str, int]:
    lines = [line for line in server.requests()[since:] if f"/{bucket}" in line]
    return {
        "delete_objects_calls": sum(1 for x in lines if x.startswith("POST") and "?delete" in x),
        "delete_object_calls": sum(1 for x in lines if x.startswith("DELETE")),
        "requests": len(lines),
    }


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(server: Any, objects: int, sdk_objects: int) -> dict[str, Any]:
    import boto3
    import fsspec

    from synapse_sdk.storage import undo_writes

    options = {"endpoint_url": server.endpoint_url}
    boto3.client("s3", endpoint_url=server.endpoint_url).create_bucket(Bucket="bench")
    fs = fsspec.filesystem("s3", skip_instance_cache=True, use_listings_cache=False, **options)
    results: dict[str, Any] = {}

    paths = sorted(_seed(fs, "bench", objects))
    since = len(server.requests())
    seconds = _timed(lambda: [fs.rm_file(path) for path in paths])
    assert not fs.find("bench/run")
    results["one_by_one"] = {"seconds": round(seconds, 3), **_deletes(server, since, "bench")}

    paths = sorted(_seed(fs, "bench", objects))
    since = len(server.requests())
    seconds = _timed(lambda: fs.rm(paths))
    assert not fs.find("bench/run")
    results["bulk"] = {"seconds": round(seconds, 3), **_deletes(server, since, "bench")}

    written = _seed(fs, "bench", sdk_objects)
    started = time.perf_counter()
    for path, data in written.items():  # the check undo_writes makes, on one filesystem
        assert fs.exists(path)
        assert hashlib.sha256(fs.cat(path)).hexdigest() == hashlib.sha256(data).hexdigest()
    check_ms = (time.perf_counter() - started) * 1000 / sdk_objects
    entries: list[dict[str, Any]] = []
    for path, data in written.items():
        url = f"s3://{path}"
        entries.append({"op": "create", "url": url})
        digest = hashlib.sha256(data).hexdigest()
        entries.append({"op": "written", "url": url, "size": len(data), "sha256": digest})
    since = len(server.requests())
    seconds = _timed(lambda: undo_writes(entries, options))
    assert not fs.find("bench/run")
    results["sdk_undo_writes"] = {
        "objects": sdk_objects,
        "seconds": round(seconds, 3),
        "ms_per_object": round(seconds * 1000 / sdk_objects, 1),
        **_deletes(server, since, "bench"),
    }
    results["check_ms_per_object_one_filesystem"] = round(check_ms, 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--sdk-objects", type=int, default=500)
    args = parser.parse_args()
    document: dict[str, Any] = {
        "benchmark": "storage_s3_delete",
        "description": "deleting created objects on S3 (moto_server): bulk vs one by one",
        "machine": machine(),
        "objects": args.objects,
    }
    unavailable = s3_unavailable()
    if unavailable:
        emit({**document, "skipped": unavailable})
        return
    from support.moto import moto_server

    os.environ.update(S3_CREDENTIALS)
    with tempfile.TemporaryDirectory() as folder, moto_server(Path(folder) / "log") as server:
        results = measure(server, args.objects, args.sdk_objects)
    one, bulk = results["one_by_one"]["seconds"], results["bulk"]["seconds"]
    sdk = results["sdk_undo_writes"]
    emit(
        {
            **document,
            **results,
            "bulk_speedup": round(one / bulk, 1) if bulk else None,
            "sdk_undo_seconds_for_objects_extrapolated": round(
                sdk["ms_per_object"] * args.objects / 1000, 1
            ),
        }
    )


if __name__ == "__main__":
    main()
