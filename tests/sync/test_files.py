"""The state dir's files: written whole or not at all, secrets 0600; the room left on its disk."""
from __future__ import annotations

import shutil
import stat
from pathlib import Path

from sync import files


def test_write_atomic_replaces_whole_and_keeps_mode(tmp_path: Path):
    target = tmp_path / "f"
    files.write_atomic(target, b"one")
    files.write_atomic(target, b"two")
    assert target.read_bytes() == b"two" and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_remove_durably_is_quiet_about_a_missing_file(tmp_path: Path):
    target = tmp_path / "f"
    files.write_atomic(target, b"x")
    files.remove_durably(target)
    files.remove_durably(target)
    assert list(tmp_path.iterdir()) == []


def test_disk_free_mb_in_whole_mebibytes_or_none(tmp_path: Path):
    assert files.disk_free_mb(tmp_path) == shutil.disk_usage(tmp_path).free // (1024 * 1024)
    assert files.disk_free_mb(tmp_path / "no" / "such" / "folder") is None
