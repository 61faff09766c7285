"""``synapse new plugin``: the scaffold installs and passes its own tests straight away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import Synapse


def pip_install_into(target: Path, package: Path) -> None:
    """A real (non-editable) install of ``package`` into ``target``, entry points included."""
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--target", str(target), str(package)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.parametrize("kind", ["upload", "export", "train"])
def test_scaffold_installs_and_passes_its_tests(
    synapse: Synapse, tmp_path: Path, kind: str
) -> None:
    name = f"my-{kind}er"
    work = tmp_path / "work"
    created = synapse("new", "plugin", name, "--kind", kind, "--directory", str(work))
    assert created.returncode == 0, created.stderr
    root = work / name
    module = name.replace("-", "_")
    assert sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) == [
        "README.md",
        f"{module}/__init__.py",
        f"{module}/action.py",
        "pyproject.toml",
        f"tests/test_{module}.py",
    ]
    site = tmp_path / "scaffold-site"
    pip_install_into(site, root)
    env = {**os.environ, "PYTHONPATH": str(site)}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
    plan = synapse("plan", name, PYTHONPATH=str(site), SYNAPSE_LOAD_PLUGINS="")
    assert plan.returncode == 0, plan.stderr
    assert [line.split()[1] for line in plan.stdout.splitlines()[2:]] == ["prepare", "write_output"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("My Plugin", "plugin name 'My Plugin' is not valid"),
        ("class", "is a Python keyword"),
    ],
)
def test_bad_names_are_refused(synapse: Synapse, tmp_path: Path, name: str, message: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = synapse("new", "plugin", name, "--kind", "upload", "--directory", str(work))
    assert result.returncode == 2
    assert message in result.stderr
    assert list(work.iterdir()) == []


def test_existing_directory_is_left_alone(synapse: Synapse, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = synapse("new", "plugin", "taken", "--kind", "export", "--directory", str(tmp_path))
    assert result.returncode == 2
    assert "already exists" in result.stderr
    assert [path.name for path in (tmp_path / "taken").iterdir()] == ["keep.txt"]


def test_unknown_kind_is_bad_usage(synapse: Synapse, tmp_path: Path) -> None:
    result = synapse("new", "plugin", "x", "--kind", "deploy", "--directory", str(tmp_path))
    assert result.returncode == 2
    assert "Invalid value for '--kind'" in result.stderr
