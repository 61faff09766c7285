"""Build real installed distributions (a package plus its ``.dist-info``) in a directory.

A directory holding ``name-version.dist-info/`` with ``METADATA`` and ``entry_points.txt``
is an installed distribution as far as ``importlib.metadata`` is concerned once the
directory is on ``sys.path`` (or ``PYTHONPATH`` for a subprocess): the same discovery path
a ``pip install`` takes, without a network or a build step.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

DEMO_SOURCES = Path(__file__).parent / "demo_src"


def make_distribution(
    site: Path,
    name: str,
    version: str,
    *,
    modules: Mapping[str, str] = {},
    entry_points: Mapping[str, Mapping[str, str]] = {},
) -> Path:
    """Write ``modules`` (``{"pkg_mod": source}``) and a dist-info for them into ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source, encoding="utf-8")
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = []
    for group, items in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in items.items()]
        lines.append("")
    (dist_info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return dist_info


def install_demo(site: Path) -> Path:
    """Install the demo distributions used by the plugin and CLI tests into ``site``.

    * ``demo-actions 1.2.0``: actions ``demo-upload`` (copies files, can fail or hang on
      request) and ``demo-simple`` (no steps; ``execute()`` only), plus a broken action
      entry ``demo-broken`` whose module does not exist; and ``demo-fanout``, whose
      step writes one file per item through ``context.map`` (see demo_fanout.py).
    * ``demo-hooks 0.3.0``: hook plugin ``announce`` (inserts a step before ``copy``) and
      ``stamp`` (wraps every step).
    * ``demo-broken-plugin 0.0.1``: hook plugin ``exploding`` that raises on import.
    * ``demo-disabled 0.0.1``: hook plugin ``sentinel`` that writes a file when imported,
      so a test can prove it was never imported.
    * ``synapse-faults 0.1.0``: hook plugin ``faults``, the fault injector of tests/faults.
    """
    site.mkdir(parents=True, exist_ok=True)
    for source in DEMO_SOURCES.glob("*.py"):
        shutil.copy(source, site / source.name)
    make_distribution(
        site,
        "demo-actions",
        "1.2.0",
        entry_points={
            "synapse_sdk.actions": {
                "demo-upload": "demo_actions:DemoUpload",
                "demo-simple": "demo_actions:DemoSimple",
                "demo-fanout": "demo_fanout:DemoFanOut",
                "demo-broken": "demo_missing_module:Nothing",
            }
        },
    )
    make_distribution(
        site,
        "demo-hooks",
        "0.3.0",
        entry_points={
            "synapse_sdk.plugins": {"announce": "demo_hooks:announce", "stamp": "demo_hooks:stamp"}
        },
    )
    make_distribution(
        site,
        "demo-broken-plugin",
        "0.0.1",
        entry_points={"synapse_sdk.plugins": {"exploding": "demo_exploding"}},
    )
    make_distribution(
        site,
        "synapse-faults",
        "0.1.0",
        entry_points={"synapse_sdk.plugins": {"faults": "synapse_faults"}},
    )
    make_distribution(
        site,
        "demo-disabled",
        "0.0.1",
        entry_points={"synapse_sdk.plugins": {"sentinel": "demo_sentinel"}},
    )
    return site
