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
import time
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


def test_progress_arrives_while_the_run_on_the_cluster_is_still_going(
    pip_ray_cluster: str, tmp_path: Path
) -> None:
    source = tmp_path / "many"
    for index in range(300):
        (source / f"d{index % 10}").mkdir(parents=True, exist_ok=True)
        (source / f"d{index % 10}" / f"f{index}.bin").write_bytes(os.urandom(2048))
    params = json.dumps({"source": str(source), "target": str(tmp_path / "up")})
    work = tmp_path / "work"
    work.mkdir()
    process = subprocess.Popen(
        [SYNAPSE, "run", "upload-files", "--ray-address", pip_ray_cluster, "--json",
         "--params", params],
        cwd=work,
        env={**os.environ, "SYNAPSE_HOME": str(tmp_path / "home")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    seen_while_running = []
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "progress" and process.poll() is None:
            seen_while_running.append(event["percent"])
        if event["event"] == "result":
            break
    process.communicate(timeout=300)

    assert process.returncode == 0
    assert len(set(seen_while_running)) > 3  # read live, not in one block at the end


def test_kill_9_of_the_caller_then_runs_rollback_leaves_the_target_as_before(
    pip_ray_cluster: str, tmp_path: Path
) -> None:
    source = tmp_path / "many"
    for index in range(2000):
        (source / f"d{index % 20}").mkdir(parents=True, exist_ok=True)
        (source / f"d{index % 20}" / f"f{index}.bin").write_bytes(os.urandom(1024))
    target = tmp_path / "up"
    target.mkdir()
    (target / "kept.txt").write_text("was here")
    before = files(target)
    params = json.dumps({"source": str(source), "target": str(target)})
    work = tmp_path / "work"
    work.mkdir()
    process = subprocess.Popen(
        [SYNAPSE, "run", "upload-files", "--ray-address", pip_ray_cluster, "--json",
         "--params", params],
        cwd=work,
        env={**os.environ, "SYNAPSE_HOME": str(tmp_path / "home")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while len(list(target.rglob("*.bin"))) < 50:  # copies are landing on the target
        assert process.poll() is None, "the upload ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.kill()
    process.wait()
    # Ray ends the dead caller's tasks; wait until nothing lands on the target any more.
    settled, count = time.monotonic(), -1
    while time.monotonic() - settled < 3:
        now = len(list(target.rglob("*")))
        if now != count:
            settled, count = time.monotonic(), now
        time.sleep(0.2)
    [run] = json.loads(synapse(tmp_path, "runs", "list", "--json").stdout)
    assert run["state"] == "needs_rollback"

    undone = synapse(tmp_path, "runs", "rollback", run["run_id"])

    assert undone.returncode == 0, undone.stderr
    assert files(target) == before


def test_plan_shows_what_a_run_would_ship_and_what_the_workers_lack(
    pip_ray_cluster: str, bare_ray_cluster: str, tmp_path: Path
) -> None:
    planned = synapse(tmp_path, "plan", "upload-files", "--ray-address", pip_ray_cluster, "--json")

    assert planned.returncode == 0, planned.stderr
    shipment = json.loads(planned.stdout)["shipment"]
    shipped = {package["name"]: package for package in shipment["packages"]}
    assert {"synapse_sdk", "synapse_upload_files"} <= set(shipped)
    assert shipped["synapse_sdk"]["size"] > 100_000
    assert shipment["size"] == sum(package["size"] for package in shipment["packages"])
    assert any(name.startswith("pydantic==") for name in shipment["requirements"])
    # What the workers lack depends on the cluster: this one may have it installed by now
    # (a run's pip environment is not the workers' own Python), the bare one lacks it.
    text = synapse(tmp_path, "plan", "upload-files", "--ray-address", bare_ray_cluster).stdout
    assert "Shipped to the Ray workers (py_modules)" in text
    assert "cannot install them (no virtualenv there): a run would be refused" in text


def test_environment_variables_reach_the_workers_only_when_named(
    pip_ray_cluster: str, tmp_path: Path
) -> None:
    tests = str(Path(__file__).resolve().parents[1])
    action = "support.env_probe:EnvProbeAction"
    env = {"PYTHONPATH": tests, "PROBE_VARIABLE": "from the caller"}

    unnamed = synapse(tmp_path, "run", action, "--ray-address", pip_ray_cluster, **env)
    named = synapse(
        tmp_path, "run", action, "--ray-address", pip_ray_cluster, "--env", "PROBE_VARIABLE",
        **env,
    )  # fmt: skip
    by_setting = synapse(
        tmp_path, "run", action, "--ray-address", pip_ray_cluster,
        **env, SYNAPSE_RAY_ENV="PROBE_VARIABLE",
    )  # fmt: skip

    for done in (unnamed, named, by_setting):
        assert done.returncode == 0, done.stderr
    assert json.loads(unnamed.stdout)["result"]["value"] is None
    assert json.loads(named.stdout)["result"]["value"] == "from the caller"
    assert json.loads(by_setting.stdout)["result"]["value"] == "from the caller"
    [run, *_] = json.loads(synapse(tmp_path, "runs", "list", "--json").stdout)
    assert json.loads(by_setting.stdout)["result"]["pid"] != run["pid"]  # a worker's


NEEDY_ACTION = """
from typing import Any

from synapse_sdk.actions.base import ActionParams
from synapse_sdk.plugins import BaseAction
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class Nothing(BaseStep[Any]):
    name = "nothing"
    progress_weight = 1.0

    def execute(self, context: Any) -> StepResult:
        return StepResult(success=True)


class NeedyAction(BaseAction[ActionParams]):
    action_name = "needy"

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(Nothing())
"""


def test_a_requirement_the_cluster_cannot_install_is_a_clear_error_before_the_run(
    pip_ray_cluster: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "needy_action").mkdir(parents=True)
    (site / "needy_action" / "__init__.py").write_text(NEEDY_ACTION)
    dist_info = site / "needy_plugin-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: needy-plugin\nVersion: 0.1.0\n"
        "Requires-Dist: no-such-package-for-synapse-tests==1.0\n"
    )
    (dist_info / "top_level.txt").write_text("needy_action\n")

    refused = synapse(
        tmp_path, "run", "needy_action:NeedyAction", "--ray-address", pip_ray_cluster,
        PYTHONPATH=str(site),
    )  # fmt: skip

    assert refused.returncode == 2, refused.stderr
    assert "cannot set up this run's environment" in refused.stderr
    assert "no-such-package-for-synapse-tests==1.0" in refused.stderr
    assert "No matching distribution" in refused.stderr  # pip's own words
    assert "Traceback" not in refused.stderr
    listed = synapse(tmp_path, "runs", "list", "--json")
    assert json.loads(listed.stdout or "[]") == []


def test_a_pipeline_runs_each_action_on_a_cluster_that_never_saw_them(
    pip_ray_cluster: str, tmp_path: Path
) -> None:
    from support.pipeline_actions import NIGHTLY_TOML

    work = tmp_path / "work"
    work.mkdir()
    toml = NIGHTLY_TOML
    for name in ("prep", "models/m.txt", "pub"):  # the workers' folder is not ours
        toml = toml.replace(f'"{name}"', f'"{tmp_path / name}"')
    (work / "nightly.toml").write_text(toml)
    tests = str(Path(__file__).resolve().parents[1])

    done = synapse(
        tmp_path, "pipeline", "run", "nightly.toml", "--ray-address", pip_ray_cluster,
        PYTHONPATH=tests,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    [top] = json.loads(synapse(tmp_path, "runs", "list", "--json").stdout)
    assert result["actions"]["train"]["result"]["pid"] != top["pid"]  # a worker's, not ours
    assert (tmp_path / "pub" / "model.txt").read_text() == "model of 3 rows\n"


SCRIPT = """
import sys
from typing import Any

from pydantic import BaseModel

from synapse_sdk.actions.base import ActionParams
from synapse_sdk.plugins import BaseAction, run_action
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class Where(BaseModel):
    pid: int


class Report(BaseStep[Any]):
    name = "report"
    progress_weight = 1.0

    def execute(self, context: Any) -> StepResult:
        import os

        context.set_result(pid=os.getpid())
        return StepResult(success=True)


class ScriptAction(BaseAction[ActionParams]):
    result_model = Where

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        registry.register(Report())


outcome = run_action(ScriptAction, {}, executor="ray", ray_address=sys.argv[1])
import os
print(os.getpid(), outcome["result"].pid)
"""


def test_an_action_defined_in_a_script_travels_to_a_bare_cluster(
    pip_ray_cluster: str, tmp_path: Path
) -> None:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)

    done = subprocess.run(
        [sys.executable, str(script), pip_ray_cluster],
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            "SYNAPSE_HOME": str(tmp_path / "home"),
            "SYNAPSE_LOAD_PLUGINS": "",
        },
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 0, done.stderr
    caller, worker = map(int, done.stdout.split()[-2:])
    assert worker != caller  # the step ran on the cluster, from a class defined in a script
