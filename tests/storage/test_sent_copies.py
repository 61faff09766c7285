"""A copy a Ray worker sends to the caller's undo area is on disk before it is journalled.

``write_chunk`` runs in the caller (Ray is not needed to call it): the worker's journal
entry naming the copy follows once the last piece is acknowledged, so the copy and its
name must be flushed by then, also when the last piece is a replayed message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synapse_sdk.ray.undo_copies import copy_chunks, write_chunk
from synapse_sdk.runtime.settings import Settings

NAME = "ab" * 16 + "-model.pkl"


@pytest.fixture
def flushed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the real os.fsync flushes, in order."""
    paths: list[str] = []
    real_fsync = os.fsync

    def watched_fsync(descriptor: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    return paths


def test_the_last_piece_leaves_the_copy_and_its_name_on_disk(
    tmp_path: Path, flushed: list[str]
) -> None:
    source = tmp_path / "original.pkl"
    source.write_bytes(os.urandom(3 << 20))  # several pieces
    settings = Settings.from_env({"SYNAPSE_HOME": str(tmp_path / "home")})
    area = settings.undo_root / "run1"

    for offset, data, last in copy_chunks(str(source)):
        write_chunk(settings, "run1", NAME, offset, data, last)

    final = area / NAME
    assert final.read_bytes() == source.read_bytes()
    assert str(final) in flushed
    assert str(area) in flushed[flushed.index(str(final)) + 1 :]  # its name, after it


def test_a_replayed_last_piece_flushes_the_copy_again(tmp_path: Path, flushed: list[str]) -> None:
    # An interrupt between the rename and its flush, then the message replayed: the
    # replay finds the copy complete and must still leave it on disk before acknowledging.
    settings = Settings.from_env({"SYNAPSE_HOME": str(tmp_path / "home")})
    write_chunk(settings, "run1", NAME, 0, b"whole copy", True)
    flushed.clear()

    write_chunk(settings, "run1", NAME, 0, b"whole copy", True)

    final = settings.undo_root / "run1" / NAME
    assert final.read_bytes() == b"whole copy"
    assert flushed[:2] == [str(final), str(final.parent)]
