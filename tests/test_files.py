"""Atomic writes: the destination holds the old complete file or the new one, never a part."""

import json
import os
from pathlib import Path

import pytest

from fashion_mnist.files import atomic_path, write_json


def test_a_write_replaces_the_file_and_leaves_nothing_else(tmp_path: Path):
    write_json(tmp_path / "metrics.json", {"accuracy": 0.5})
    write_json(tmp_path / "metrics.json", {"accuracy": 0.9})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"accuracy": 0.9}
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path):
    write_json(tmp_path / "metrics.json", {"accuracy": 0.5})
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "metrics.json") as temporary:
        temporary.write_text('{"accur')
        raise RuntimeError("killed mid-write")
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"accuracy": 0.5}
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]


def test_the_temporary_keeps_every_suffix_for_writers_that_choose_the_format_by_it(tmp_path: Path):
    with atomic_path(tmp_path / "epoch-0001.weights.h5") as temporary:
        assert temporary.name.startswith(".tmp-epoch-0001-") and temporary.name.endswith(".weights.h5")
        assert temporary.parent == tmp_path
        temporary.write_bytes(b"weights")


def test_a_written_file_gets_the_usual_permissions(tmp_path: Path):
    previous = os.umask(0o022)
    try:
        write_json(tmp_path / "metrics.json", {})
    finally:
        os.umask(previous)
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == 0o644


def test_the_folder_is_synced_after_the_rename_so_a_power_cut_cannot_undo_it(tmp_path: Path, monkeypatch):
    synced = []
    fsync = os.fsync

    def record(descriptor: int) -> None:
        synced.append(os.path.samestat(os.fstat(descriptor), os.stat(tmp_path)))
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", record)
    write_json(tmp_path / "metrics.json", {})
    assert synced[-1], "the last fsync is of the folder holding the renamed file"
