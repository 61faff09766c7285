"""``synapse new plugin``: the scaffold installs and passes its own tests straight away."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from support.cli import Synapse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path.parent for path in (ROOT / "plugins_examples").glob("*/pyproject.toml"))
# Versions of the unrelated synapse-sdk on PyPI (calendar versions) and a 1.0 this SDK
# has not made: no pin may accept them.
NAMESAKE_VERSIONS = ("2026.2.17", "2026.1.0", "2025.12.1", "2027.0.0", "1.0.0")


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
    table = plan.stdout.split("\n\n")[0].splitlines()[2:]  # the note under the plan follows
    assert [line.split()[1] for line in table] == ["prepare", "write_output"]


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


def test_scaffold_pins_this_sdk_and_never_the_pypi_namesake(tmp_path: Path) -> None:
    """The synapse-sdk on PyPI is another project (calendar versions, 2026.x): the range a
    new plugin requires must match this SDK's version and none of that project's."""
    from importlib.metadata import version

    from packaging.requirements import Requirement

    from synapse_sdk.scaffold import create_plugin

    this_sdk = version("synapse-sdk")
    root = create_plugin("pinned", "export", tmp_path, sdk_version=this_sdk)
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (requirement,) = (Requirement(dep) for dep in project["dependencies"])
    assert requirement.name == "synapse-sdk"
    assert str(requirement.specifier) == "~=0.1"
    assert requirement.specifier.contains(this_sdk)
    for other in NAMESAKE_VERSIONS:
        assert not requirement.specifier.contains(other), other
    assert "synapse-sdk~=0.1" in (root / "README.md").read_text(encoding="utf-8")


def test_the_examples_are_found() -> None:
    assert [path.name for path in EXAMPLES] == [
        "export-annotations",
        "integrity-steps",
        "nightly-pipeline",
        "train-classifier",
        "upload-files",
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_every_example_pins_this_sdk_and_never_the_pypi_namesake(example: Path) -> None:
    """An example installed on its own must not pull the other synapse-sdk from PyPI."""
    from importlib.metadata import version

    from packaging.requirements import Requirement

    project = tomllib.loads((example / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (requirement,) = (
        parsed
        for parsed in map(Requirement, project["dependencies"])
        if parsed.name == "synapse-sdk"
    )
    assert requirement.specifier, f"{example.name} accepts any synapse-sdk"
    assert requirement.specifier.contains(version("synapse-sdk"))
    for other in NAMESAKE_VERSIONS:
        assert not requirement.specifier.contains(other), other


@pytest.mark.parametrize(
    ("sdk_version", "expected"),
    [("0.1.0", "~=0.1"), ("0.3.2", "~=0.3"), ("1.4.0.dev1", "~=1.4")],
)
def test_the_pin_follows_the_sdk_version(sdk_version: str, expected: str) -> None:
    from packaging.specifiers import SpecifierSet

    from synapse_sdk.scaffold import sdk_requirement

    requirement = sdk_requirement(sdk_version)
    assert requirement == f"synapse-sdk{expected}"
    assert not SpecifierSet(expected).contains("2026.2.17")


def test_help_and_output_give_the_same_next_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`synapse new plugin --help` and the command's last lines list the same commands."""
    from click.testing import CliRunner

    from synapse_sdk.cli import cli

    runner = CliRunner()
    help_text = runner.invoke(cli, ["new", "plugin", "--help"]).output
    description = help_text.split("Options:", 1)[0]  # paragraphs are indented by 2
    in_help = [line.strip() for line in description.splitlines() if line.startswith("    ")]
    monkeypatch.chdir(tmp_path)
    created = runner.invoke(cli, ["new", "plugin", "my-exporter", "--kind", "export"])
    assert created.exit_code == 0, created.output
    printed = created.output.splitlines()
    assert printed[1] == "Next, in the virtual environment where synapse-sdk is installed:"
    assert [line.strip() for line in printed[2:]] == [
        command.replace("NAME", "my-exporter") for command in in_help
    ]
    assert [line.strip() for line in printed[2:]] == [
        "pip install -e 'my-exporter[test]'",
        "synapse plan my-exporter",
        "pytest my-exporter",
    ]
