from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.distributions import DEMO_SOURCES, install_demo

from synapse_sdk.plugins import PluginHost


@pytest.fixture
def host() -> PluginHost:
    """A fresh plugin host with no plugins registered."""
    return PluginHost()


@pytest.fixture
def demo_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo distributions installed in a directory on sys.path."""
    site = install_demo(tmp_path / "site")
    monkeypatch.setenv("DEMO_SENTINEL_FILE", str(tmp_path / "sentinel-imported"))
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in [path.stem for path in DEMO_SOURCES.glob("*.py")]:
        sys.modules.pop(module, None)
