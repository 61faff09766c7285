"""What a new plugin author reads first: install instructions, the tutorial, the docs nav."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from synapse_sdk.cli.new import next_commands

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NUMBERS = {"five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def pages_with_instructions() -> list[Path]:
    """Every page a reader may copy a command from. docs/cli.md is left out: it is the
    commands' own help, generated from synapse_sdk/cli."""
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    pages.append(ROOT / "synapse_sdk" / "scaffold" / "template" / "README.md.tmpl")
    return [page for page in pages if page != DOCS / "cli.md"]


def commands(text: str) -> list[str]:
    """The shell lines of ```bash blocks and the inline `code` spans of the prose.

    A line that warns against a command ("never `pip install synapse-sdk`") is prose, not
    an instruction, and is left out.
    """
    found: list[str] = []
    in_bash = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_bash = line.strip() == "```bash"
            continue
        if in_bash:
            found.append(line)
        elif not re.search(r"\bnever\b", line, re.IGNORECASE):
            found.extend(re.findall(r"`([^`]+)`", line))
    return found


def installs_from_the_index(command: str) -> bool:
    """True when ``command`` asks pip for the distribution synapse-sdk by name."""
    for part in re.split(r"&&|;|\|", command):
        if "pip" not in part or "install" not in part:
            continue
        text = part.split("#", 1)[0]
        try:
            words = shlex.split(text)
        except ValueError:  # an inline span that is not a whole command
            words = text.split()
        if "install" not in words:
            continue
        arguments = words[words.index("install") + 1 :]
        if any(re.match(r"synapse[-_]sdk\b", word, re.IGNORECASE) for word in arguments):
            return True
    return False


def test_the_checker_catches_an_install_from_the_index() -> None:
    assert installs_from_the_index("pip install synapse-sdk")
    assert installs_from_the_index("python -m pip install -U 'synapse-sdk[ray]'")
    assert installs_from_the_index("cd x && pip install synapse_sdk==0.1.0")
    assert not installs_from_the_index("pip install -e '/path/to/synapse-sdk[ray]'")
    assert not installs_from_the_index("pip install -e . -e plugins_examples/upload-files")
    assert not installs_from_the_index("pip install 'dist/synapse_sdk-0.1.0-py3-none-any.whl'")


@pytest.mark.parametrize("page", pages_with_instructions(), ids=lambda page: page.name)
def test_no_page_installs_the_sdk_from_the_index(page: Path) -> None:
    """The synapse-sdk on PyPI is another project: every instruction installs this one
    from its clone or from a wheel built from it."""
    wrong = [
        command
        for command in commands(page.read_text(encoding="utf-8"))
        if installs_from_the_index(command)
    ]
    assert wrong == [], f"{page.relative_to(ROOT)} installs synapse-sdk from the index"


def test_the_name_clash_is_explained() -> None:
    installing = (DOCS / "installing.md").read_text(encoding="utf-8")
    assert "## The name clash on PyPI" in installing
    assert "synapse-sdk~=0.1" in installing
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/installing.md" in readme.split("## What it looks like", 1)[0]


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    nav = nav.split("\n\n", 1)[0]
    listed = re.findall(r":\s+(\S+\.md)$", nav, re.MULTILINE)
    pages = sorted(
        str(path.relative_to(DOCS))
        for path in DOCS.rglob("*.md")
        if path.relative_to(DOCS).parts[0] != "examples"
    )
    assert sorted(listed) == pages
    assert len(set(listed)) == len(listed)


def test_api_reference_covers_the_public_faces() -> None:
    modules = {
        "plugins": "synapse_sdk.plugins",
        "steps": "synapse_sdk.plugins.steps",
        "exceptions": "synapse_sdk.errors",
        "testing": "synapse_sdk.testing",
    }
    for page, module in modules.items():
        text = (DOCS / "api" / f"{page}.md").read_text(encoding="utf-8")
        assert f"\n::: {module}\n" in text


def test_docs_tools_are_declared() -> None:
    """`nox -s docs` installs the docs extra; the dev extra brings nox itself."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    docs = " ".join(extras["docs"])
    for tool in ("mkdocs", "mkdocs-material", "mkdocstrings[python]", "pymdown-extensions"):
        assert tool in docs
    assert any(requirement.startswith("nox") for requirement in extras["dev"])
    assert "docs" in extras["dev"][0]
    assert 'session.install("-e", ".[docs]")' in (ROOT / "noxfile.py").read_text(encoding="utf-8")


def tutorial_commands() -> list[str]:
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_tutorial_counts_its_lines_and_starts_with_a_venv() -> None:
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    lines = tutorial_commands()
    count = re.search(r"These (\w+) lines", text)
    assert count is not None
    assert NUMBERS[count.group(1)] == len(lines)
    assert lines[0].startswith("python3 -m venv .venv && . .venv/bin/activate")
    assert lines[1].split("#")[0].split() == ["pip", "install", "-e", "/path/to/synapse-sdk"]


def test_tutorial_follows_what_synapse_new_plugin_prints() -> None:
    """After `synapse new plugin`, the tutorial runs the commands the command itself
    suggests, in the same order (other lines may come between them)."""
    lines = [line.split("#")[0].strip() for line in tutorial_commands()]
    created = next(i for i, line in enumerate(lines) if line.startswith("synapse new plugin"))
    suggested = next_commands("my-exporter", Path("my-exporter"))
    rest = iter(lines[created + 1 :])
    assert all(any(line == command for line in rest) for command in suggested), (
        lines,
        suggested,
    )


def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    """The tutorial's lines, verbatim but for the clone's path, in an empty folder.

    The new virtual environment also sees this one's packages, so pip finds every
    dependency installed and fetches only the build backend (hatchling, editables) for its
    isolated builds, as it would for a reader.
    """
    lines = [
        line.replace("/path/to/synapse-sdk", shlex.quote(str(ROOT))) for line in tutorial_commands()
    ]
    lines[0] = lines[0].replace("python3 -m venv", f"{sys.executable} -m venv")
    # The new environment also sees this one's packages, after its own.
    outer = sysconfig.get_paths()["purelib"]
    lines.insert(
        1,
        "echo " + shlex.quote(f"import site; site.addsitedir({outer!r})") + " > "
        '"$(python -c \'import sysconfig; print(sysconfig.get_paths()["purelib"])\')/outer.pth"',
    )
    env = {
        **{
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("VIRTUAL_ENV", "SYNAPSE_", "PYTHONPATH"))
        },
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "SYNAPSE_HOME": str(tmp_path / "synapse-home"),
    }
    # pip sees this environment's pytest and installs no `pytest` script in the new one.
    lines = [re.sub(r"^pytest ", "python -m pytest ", line) for line in lines]
    outer_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry != outer_bin
    )
    script = "set -e\n" + "\n".join(lines) + "\n"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "2 passed" in result.stdout
    assert (tmp_path / "out" / "my-exporter.json").exists()
    assert (tmp_path / ".venv" / "bin" / "synapse").exists()
