"""``synapse new plugin``: write a ready-to-install plugin package from templates.

The generated package has a pyproject with the ``synapse_sdk.actions`` entry point, one
action with two steps (the second with a rollback), a README and tests that use the
SDK's pytest fixtures. It passes its own tests as soon as it is installed.
"""

from __future__ import annotations

import keyword
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from synapse_sdk.errors import ScaffoldError

__all__ = ["KINDS", "ScaffoldError", "create_plugin", "sdk_requirement"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_RELEASE = re.compile(r"^(\d+)\.(\d+)")


@dataclass(frozen=True)
class _Kind:
    base_class: str
    params_base: str
    context_class: str
    output_field: str
    test_params: str
    example_params: str


KINDS: dict[str, _Kind] = {
    "upload": _Kind(
        "BaseUploadAction",
        "UploadParams",
        "UploadContext",
        "target",
        '"source": str(tmp_path), "target": str(tmp_path / "out")',
        '"source": "data", "target": "out"',
    ),
    "export": _Kind(
        "BaseExportAction",
        "ExportParams",
        "ExportContext",
        "output_uri",
        '"output_uri": str(tmp_path / "out")',
        '"output_uri": "out"',
    ),
    "train": _Kind(
        "BaseTrainAction",
        "TrainParams",
        "TrainContext",
        "model_uri",
        '"model_uri": str(tmp_path / "out")',
        '"model_uri": "out"',
    ),
}


def sdk_requirement(sdk_version: str) -> str:
    """The requirement a new plugin declares on this SDK: ``synapse-sdk~=MAJOR.MINOR``.

    A range, not a lower bound: the ``synapse-sdk`` on PyPI is another project, with
    calendar versions (2026.x), and ``synapse-sdk>=0.1`` would let pip install it when this
    SDK is missing. ``~=0.1`` means ``>=0.1, ==0.*``, which this SDK satisfies and those
    versions never do.
    """
    match = _RELEASE.match(sdk_version)
    if match is None:
        raise ScaffoldError(
            f"cannot read a MAJOR.MINOR release from the SDK version {sdk_version!r}"
        )
    major, minor = match.groups()
    return f"synapse-sdk~={major}.{minor}"


def _render(template: str, values: dict[str, str]) -> str:
    text = resources.files(__package__).joinpath("template", template).read_text(encoding="utf-8")
    return Template(text).substitute(values)


def create_plugin(name: str, kind: str, parent: Path, *, sdk_version: str = "0.1.0") -> Path:
    """Write the plugin package ``name`` of ``kind`` into ``parent / name``; return its path.

    Raises:
        ScaffoldError: the name is not a valid package name, the kind is unknown, or the
            target directory already exists (nothing is written then).
    """
    if not _NAME.match(name):
        raise ScaffoldError(
            f"plugin name {name!r} is not valid: use lowercase letters, digits and single "
            "'-' or '_' between them, starting with a letter (for example 'my-uploader')"
        )
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")
    module = name.replace("-", "_")
    if keyword.iskeyword(module):
        raise ScaffoldError(f"plugin name {name!r} is a Python keyword; choose another name")
    root = parent / name
    if root.exists():
        raise ScaffoldError(f"{root} already exists; choose another name or remove it")

    spec = KINDS[kind]
    class_name = "".join(part.capitalize() for part in re.split(r"[-_]", name)) + "Action"
    values = {
        "dist_name": name,
        "module": module,
        "action_name": name,
        "class_name": class_name,
        "kind": kind,
        "kind_title": kind.capitalize(),
        "sdk_requirement": sdk_requirement(sdk_version),
        "base_class": spec.base_class,
        "params_base": spec.params_base,
        "context_class": spec.context_class,
        "output_field": spec.output_field,
        "output_expr": f'params(tmp_path)["{spec.output_field}"]',
        "test_params": spec.test_params,
        "example_params": spec.example_params,
    }
    files = {
        root / "pyproject.toml": _render("pyproject.toml.tmpl", values),
        root / "README.md": _render("README.md.tmpl", values),
        root / module / "__init__.py": f'"""The {name} synapse-sdk plugin."""\n',
        root / module / "action.py": _render("action.py.tmpl", values),
        root / "tests" / f"test_{module}.py": _render("test_action.py.tmpl", values),
    }
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)  # never leave a half-written package
        raise
    return root
