"""``synapse run --ray-address`` on a cluster that has never seen the SDK or the plugin.

The clusters come from this folder's conftest: Ray alone (``bare_ray_cluster``), or Ray
and virtualenv (``pip_ray_cluster``: the workers can install what they lack). Every
command runs from an empty folder, so that nothing of this checkout reaches the workers
but what the run ships.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SYNAPSE = str(Path(sys.executable).with_name("synapse"))
SAMPLE_DATA = Path(__file__).resolve().parents[2] / "plugins_examples/upload-files/sample_data"


def synapse(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run(
        [SYNAPSE, *args],
        cwd=work,
        env={
            **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            "SYNAPSE_HOME": str(tmp_path / "home"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_an_upload_runs_on_a_cluster_that_never_saw_the_sdk(
    pip_ray_cluster: str, tmp_path: Path
) -> None:
    target = tmp_path / "uploaded"
    params = json.dumps({"source": str(SAMPLE_DATA), "target": str(target)})

    done = synapse(
        tmp_path, "run", "upload-files", "--ray-address", pip_ray_cluster, "--json",
        "--params", params,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    lines = events(done.stdout)
    assert lines[-1]["result"]["success"] is True
    progress = [line["percent"] for line in lines if line["event"] == "progress"]
    assert len(progress) > 3
    assert progress[-1] == 100
    uploaded = files(target)
    uploaded.pop("manifest.json")
    assert uploaded == files(SAMPLE_DATA)


def test_a_cluster_that_cannot_install_what_it_lacks_refuses_before_the_run(
    bare_ray_cluster: str, tmp_path: Path
) -> None:
    target = tmp_path / "uploaded"
    params = json.dumps({"source": str(SAMPLE_DATA), "target": str(target)})

    refused = synapse(
        tmp_path, "run", "upload-files", "--ray-address", bare_ray_cluster, "--params", params
    )

    assert refused.returncode == 2, refused.stderr
    assert "lack requirements of this run and cannot install them" in refused.stderr
    assert "pydantic==" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not target.exists()
    assert (
        not (tmp_path / "home" / "runs.db").exists()
        or "upload-files" not in synapse(tmp_path, "runs", "list").stdout
    )


def test_a_failure_rolls_back_on_the_cluster_and_leaves_the_target_as_it_was(
    pip_ray_cluster: str, tmp_path: Path
) -> None:
    target = tmp_path / "uploaded"
    (target / "manifest.json").mkdir(parents=True)  # the last write is refused there
    (target / "manifest.json" / "kept.txt").write_text("the owner's")
    before = files(target)
    params = json.dumps({"source": str(SAMPLE_DATA), "target": str(target)})

    failed = synapse(
        tmp_path, "run", "upload-files", "--ray-address", pip_ray_cluster, "--params", params
    )

    assert failed.returncode == 2, failed.stderr  # a folder in the way: bad input
    assert "a folder is there" in failed.stderr
    assert files(target) == before
    listed = json.loads(synapse(tmp_path, "runs", "list", "--json").stdout)
    assert [run["state"] for run in listed] == ["rolled_back"]


def test_an_upload_to_s3_runs_on_the_cluster_with_its_filesystem_shipped(
    pip_ray_cluster: str, tmp_path: Path, moto: Any, s3: Any, bucket: str
) -> None:
    from support.moto import bucket_listing

    options = {  # moto takes any credentials: these are found nowhere but in the params
        "key": "AKIA-SHIPPED-IN-MEMORY",
        "secret": "s3cr3t-only-in-memory-42",
        "client_kwargs": {"endpoint_url": moto.endpoint_url, "region_name": "us-east-1"},
    }
    params = tmp_path / "params.json"
    params.write_text(
        json.dumps(
            {
                "source": str(SAMPLE_DATA),
                "target": f"s3://{bucket}/upload",
                "storage_options": options,
            }
        )
    )

    done = synapse(
        tmp_path, "run", "upload-files", "--ray-address", pip_ray_cluster,
        "--params-file", str(params),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    listing = bucket_listing(s3, bucket, "upload/")
    listing.pop("upload/manifest.json")
    assert listing == {f"upload/{name}": data for name, data in files(SAMPLE_DATA).items()}
    journal = (tmp_path / "home" / "runs.db").read_bytes()
    assert options["secret"].encode() not in journal  # in memory to the workers only
