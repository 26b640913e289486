"""A real full disk for tests: a tiny tmpfs mounted for the test, and a filler file that takes every
byte left on it (test helper; mounting needs root, which CI has)."""
from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

MOUNT_TIMEOUT_S = 30


@contextmanager
def mounted_tmpfs(mount_point: Path, size_mb: int) -> Iterator[Path]:
    """`mount_point` as a fresh tmpfs of `size_mb` MB; skips the test where mounting is impossible."""
    mount_point.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True, timeout=MOUNT_TIMEOUT_S)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, timeout=MOUNT_TIMEOUT_S)


def fill(disk: Path, leave_bytes: int = 0) -> Path:
    """Write until the file system says ENOSPC, down to the last 512-byte piece; then give back
    about `leave_bytes`, so that the next writes of the program under test fill it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 512):
            try:
                while os.write(fd, chunk):
                    pass
            except OSError:
                pass
        if leave_bytes:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave_bytes))
    finally:
        os.close(fd)
    return filler
