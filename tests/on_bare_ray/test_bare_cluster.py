"""The bare clusters really are bare: a plain task there cannot import this SDK.

The proof every later test here stands on: whatever such a test finds importable on the
workers, it shipped itself. Both flavours are checked: ``bare_ray_cluster`` (Ray alone)
and ``pip_ray_cluster`` (Ray and virtualenv, which Ray's ``pip`` runtime env needs).

The driver is a separate Python of this venv (which has the SDK) started in an empty
folder: Ray puts the driver's current directory (and its script's) on the workers'
``sys.path``, so a driver started in this checkout would lend the workers its
``synapse_sdk/`` on a one-machine cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# A plain task: no runtime_env. It reports, for each module, the ImportError it raised
# (None when the import worked) and where the worker's Python lives.
DRIVER = """
import json, sys
import ray

ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)


@ray.remote
def imports(names):
    import importlib, sys
    errors = {}
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
        else:
            errors[name] = None
    return {"prefix": sys.prefix, "errors": errors}


print(json.dumps(ray.get(imports.remote(sys.argv[2:]), timeout=120)))
"""


@pytest.mark.parametrize(
    ("cluster", "python", "virtualenv"),
    [
        (
            "bare_ray_cluster",
            "bare_ray_python",
            "ModuleNotFoundError: No module named 'virtualenv'",
        ),
        ("pip_ray_cluster", "pip_ray_python", None),
    ],
    ids=["ray-alone", "ray-and-virtualenv"],
)
def test_a_plain_task_on_the_bare_cluster_cannot_import_the_sdk(
    cluster: str,
    python: str,
    virtualenv: str | None,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    import synapse_sdk  # the driver's venv has it: the workers' lack is theirs alone

    assert synapse_sdk.__file__
    address: str = request.getfixturevalue(cluster)
    venv = Path(request.getfixturevalue(python)).parent.parent
    names = ["synapse_sdk", "pydantic", "pluggy", "structlog", "fsspec", "ray", "virtualenv"]
    driver = subprocess.run(
        [sys.executable, "-c", DRIVER, address, *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert driver.returncode == 0, driver.stdout + driver.stderr
    report = json.loads(driver.stdout.strip().splitlines()[-1])

    # The task ran in the bare venv's Python, not this one.
    assert Path(report["prefix"]) == venv
    assert report["errors"] == {
        "synapse_sdk": "ModuleNotFoundError: No module named 'synapse_sdk'",
        "pydantic": "ModuleNotFoundError: No module named 'pydantic'",
        "pluggy": "ModuleNotFoundError: No module named 'pluggy'",
        "structlog": "ModuleNotFoundError: No module named 'structlog'",
        "fsspec": "ModuleNotFoundError: No module named 'fsspec'",
        "ray": None,
        "virtualenv": virtualenv,
    }
