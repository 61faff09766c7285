"""What ``import synapse_sdk.plugins.steps`` loads: the engine, not the libraries around it.

Speed itself is measured in ``benchmarks/bench_import.py``; this checks the modules behind
it, in a fresh interpreter, so that a stray import at the top of a module is caught.
"""

from __future__ import annotations

import subprocess
import sys

LOADED_ON_FIRST_USE = (
    "click",
    "fsspec",
    "json",
    "pathlib",
    "pluggy",
    "pydantic",
    "rich",
    "structlog",
    "signal",
    "synapse_sdk.engine.orchestrator",
    "synapse_sdk.errors",
    "synapse_sdk.fanout",
    "synapse_sdk.interrupts",
    "synapse_sdk.journal",
    "synapse_sdk.runtime.context",
    "synapse_sdk.runtime.events",
    "synapse_sdk.runtime.settings",
    "synapse_sdk.runtime.sinks",
    "synapse_sdk.storage",
    "threading",
)


def printed_by(script: str) -> list[str]:
    """The words ``script`` prints, run by a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.split()


def loaded_after(statement: str) -> set[str]:
    """Which of LOADED_ON_FIRST_USE a fresh interpreter has loaded after ``statement``."""
    return set(
        printed_by(
            f"import sys\n{statement}\n"
            f"print(' '.join(m for m in {LOADED_ON_FIRST_USE!r} if m in sys.modules))"
        )
    )


def test_the_step_api_loads_neither_storage_nor_the_libraries_it_uses_later() -> None:
    # What the interpreter loads anyway (a coverage hook started from a .pth file does
    # load json and pathlib) is not the import's doing.
    before = loaded_after("pass")

    assert loaded_after("import synapse_sdk.plugins.steps") - before == set()


def test_the_orchestrator_is_loaded_when_first_named() -> None:
    # A module that only defines steps does not pay for the run machinery; one that runs
    # them gets the same class through the face as from its home module.
    script = (
        "import sys\n"
        "import synapse_sdk.plugins.steps as face\n"
        "before = 'synapse_sdk.engine.orchestrator' in sys.modules\n"
        "from synapse_sdk.plugins.steps import Orchestrator\n"
        "from synapse_sdk.engine.orchestrator import Orchestrator as home\n"
        "print(before, Orchestrator is home, 'Orchestrator' in vars(face))"
    )

    assert printed_by(script) == ["False", "True", "True"]


def test_a_step_writing_through_storage_loads_it_then() -> None:
    script = (
        "import sys\n"
        "from synapse_sdk.plugins.steps import BaseStepContext\n"
        "from synapse_sdk.runtime import RuntimeContext\n"
        "context = BaseStepContext(runtime_ctx=RuntimeContext())\n"
        "before = 'synapse_sdk.storage' in sys.modules\n"
        "storage = context.storage\n"
        "print(before, type(storage).__module__)"
    )

    assert printed_by(script) == ["False", "synapse_sdk.storage.journalled"]


def test_the_console_script_imports_nothing_before_its_signal_handlers() -> None:
    # `synapse` imports the package and `synapse_sdk.console` before `main()` installs the
    # handlers that turn Ctrl-C into exit 130; a module loaded meanwhile (typing takes
    # milliseconds) is a moment in which Ctrl-C ends the command with a traceback.
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import synapse_sdk.console\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )

    assert printed_by(script) == ["synapse_sdk", "synapse_sdk.console"]
