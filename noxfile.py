"""Developer sessions: ``nox -s tests lint typecheck docs benchmarks``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole test suite (core and example plugins)."""
    session.install("-r", "requirements-test.txt")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff")
    session.run("ruff", "check", "synapse_sdk", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "synapse_sdk", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the synapse_sdk package."""
    session.install("-e", ".", "mypy")
    session.run("mypy", "synapse_sdk")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site with MkDocs in strict mode (broken links and snippets fail)."""
    session.install("-e", ".", "mkdocs>=1.6", "pymdown-extensions>=10")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Run every benchmark script; each prints one JSON document."""
    session.install("-e", ".[ray]", "-e", "plugins_examples/upload-files")
    for script in sorted(__import__("pathlib").Path("benchmarks").glob("bench_*.py")):
        session.run("python", str(script))
