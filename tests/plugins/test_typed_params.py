"""Typed params in steps: ``UploadContext[MyParams]`` makes mypy check ``context.params``.

The plugin modules are written to a temporary folder and checked by the real
``python -m mypy --strict`` in a subprocess, with a config file of their own, as a plugin
author's project would be.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from synapse_sdk.actions.upload import UploadContext, UploadParams
from synapse_sdk.runtime import RuntimeContext

PLUGIN = """\
from __future__ import annotations

from synapse_sdk.actions.upload import UploadContext
from synapse_sdk.plugins import BaseUploadAction, UploadParams
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class CopyParams(UploadParams):
    dry_run: bool = False


class Copy(BaseStep[UploadContext[CopyParams]]):
    name = "copy"
    progress_weight = 1.0

    def execute(self, context: UploadContext[CopyParams]) -> StepResult:
        source: str = context.params.{source}
        return StepResult(success=True, data={{"source": source}})


class CopyAction(BaseUploadAction[CopyParams]):
    # A bare UploadContext, as the seed writes it: UploadContext[Any], still strict-clean.
    def setup_steps(self, registry: StepRegistry[UploadContext]) -> None:
        registry.register(Copy())
"""


def mypy_strict(tmp_path: Path, module: str, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n", encoding="utf-8")  # no project config: --strict alone
    command = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(config)]
    return subprocess.run(
        [*command, "--cache-dir", str(tmp_path / ".mypy_cache"), f"{module}.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_mypy_strict_reports_a_misspelled_param_and_passes_the_right_one(tmp_path: Path) -> None:
    right = mypy_strict(tmp_path, "right_plugin", PLUGIN.format(source="source"))
    assert right.returncode == 0, right.stdout + right.stderr
    assert "Success: no issues found in 1 source file" in right.stdout

    typo = mypy_strict(tmp_path, "typo_plugin", PLUGIN.format(source="sourc"))
    assert typo.returncode == 1, typo.stdout + typo.stderr
    line = PLUGIN.splitlines().index("        source: str = context.params.{source}") + 1
    assert f'typo_plugin.py:{line}: error: "CopyParams" has no attribute "sourc"' in typo.stdout
    assert "[attr-defined]" in typo.stdout
    assert "Found 1 error in 1 file" in typo.stdout


def test_a_context_built_without_params_holds_none_and_with_params_holds_them() -> None:
    bare = UploadContext(runtime_ctx=RuntimeContext())
    assert bare.params is None
    params = UploadParams(source="in", target="out")
    typed = UploadContext[UploadParams](runtime_ctx=RuntimeContext(), params=params)
    assert typed.params is params
    assert type(typed) is UploadContext
