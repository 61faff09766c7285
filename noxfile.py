"""Developer sessions: ``nox -s tests lint typecheck docs benchmarks``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python=["3.11", "3.12", "3.13"])
def tests(session: nox.Session) -> None:
    """The whole test suite (core and example plugins), on every Python the SDK claims."""
    session.install("-r", "requirements-test.txt")
    session.run("pytest", *session.posargs)


LINTED = ("synapse_sdk", "tests", "benchmarks", "noxfile.py", "plugins_examples")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check, and the layer contracts (import-linter)."""
    session.install("-e", ".", "ruff==0.17.6", "import-linter==2.17")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the synapse_sdk package and on the upload-files example plugin.

    The example's steps are typed with their params (``UploadContext[UploadFilesParams]``),
    so this is what a plugin author gets: a misspelled param is a type error. Both runs
    read ``[tool.mypy]`` in pyproject.toml (``strict = true``). pytest and Ray are
    installed because the package imports them (the pytest plugin, the Ray launcher);
    without them their decorators and modules are untyped and strict mode fails.
    """
    session.install("-e", ".[test,ray]", "mypy==2.4.1")  # the version .ci/run pins
    session.run("mypy", "synapse_sdk")
    session.run("mypy", "plugins_examples/upload-files/synapse_upload_files")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site (Material theme, API reference from the docstrings) in strict mode.

    Broken links, missing snippets and docstrings mkdocstrings cannot render fail the build.
    """
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


BENCHMARKS_LEFT_OUT = ("bench_ship.py",)
"""Not run by the benchmarks session. bench_ship.py needs the package index: its bare Ray
venv is built from it, and each of its runs starts a fresh cluster whose workers install
the run's requirements with pip (Ray's pip does not use pip's cache). It also imports
tests/support (and pytest), and takes about two minutes."""


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Run every benchmark script but ``BENCHMARKS_LEFT_OUT``; each prints one JSON document."""
    session.install(
        "-e", ".[ray]", "-e", "plugins_examples/upload-files", "moto[server]", "s3fs", "boto3"
    )
    for script in sorted(__import__("pathlib").Path("benchmarks").glob("bench_*.py")):
        if script.name not in BENCHMARKS_LEFT_OUT:
            session.run("python", str(script))


MUTATED_AREAS = (
    "synapse_sdk/journal/store.py",
    "synapse_sdk/journal/recovery.py",
    "synapse_sdk/host/manager.py",
    "synapse_sdk/fanout/mapper.py",
    "synapse_sdk/engine/orchestrator.py",
    "synapse_sdk/engine/rollback.py",
    "synapse_sdk/engine/registry.py",
)
MUTATION_TESTS = ("tests/journal", "tests/steps", "tests/plugins", "tests/executors")
MUTATION_DESELECTED: tuple[str, ...] = (
    # mutmut's fork server ignores SIGINT (SIG_IGN) and its test processes inherit that,
    # so _thread.interrupt_main() does nothing there and this test cannot pass under
    # mutmut; tests/executors/test_fan_out_guards.py covers the same path with its own
    # SIGINT handler.
    "tests/executors/test_fan_out.py::test_an_interrupt_lets_running_items_settle_and_records_every_success",
)
"""Tests left out of the mutation run (mutmut needs every selected test to pass first)."""

SQL_TEXT_LINES = (
    r'^\s*f?"(SELECT|INSERT|UPDATE|DELETE|VALUES|DO UPDATE|traceback FROM|\(run_id,) ',
    r'^\s*(self\._db|db)\.execute\(f?"(PRAGMA|BEGIN|COMMIT|ROLLBACK|VACUUM|ALTER|DELETE)[^"]*"',
)
"""Lines of SQL text, which mutmut is told not to mutate: SQLite reads keywords and names
in any case, so upper- or lower-casing a statement (mutmut's string mutation) changes
nothing any test could see. docs/mutation.md lists what this leaves out."""


@nox.session(python="3.11")
def mutants(session: nox.Session) -> None:
    """Mutation testing (mutmut 3) of the journal, recovery, plugin host, fan-out and engine.

    Not part of CI: it takes an hour or two. Runs in a copy of the committed tree under
    .nox/ (mutmut writes a ``mutants/`` folder and reads its config from setup.cfg, which
    the copy gets), so the checkout is left as it was; the session's environment installs
    the copy (SDK and example plugins), so the ``synapse`` subprocesses that tests start
    run the copy too, whatever happens meanwhile in the checkout. Extra arguments go to
    ``mutmut run`` (e.g. mutant names); see docs/mutation.md for the last measured score.
    """
    import shutil
    import subprocess
    from pathlib import Path

    work = Path(session.create_tmp()).resolve() / "mutants-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive.stdout, check=True)
    with session.chdir(work):
        session.install("-r", "requirements-test.txt", "mutmut==3.8.1")

    def lines(values: tuple[str, ...]) -> str:
        return "".join(f"\n    {value}" for value in values)

    deselect = [arg for test in MUTATION_DESELECTED for arg in ("--deselect", test)]
    pytest_args = ("-p", "no:cacheprovider", *deselect)
    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = synapse_sdk\n"
        f"only_mutate ={lines(MUTATED_AREAS)}\n"
        f"pytest_add_cli_args_test_selection ={lines(MUTATION_TESTS)}\n"
        f"pytest_add_cli_args ={lines(pytest_args)}\n"
        f"do_not_mutate_patterns ={lines(SQL_TEXT_LINES)}\n",
        encoding="utf-8",
    )
    with session.chdir(work):
        # No PYTHONPATH to mutants/: mutated modules import mutmut, which must find this
        # setup.cfg, so child processes started by tests import the copy, unmutated.
        session.run("mutmut", "run", "--max-children", "2", *session.posargs)
        session.run("mutmut", "results")
