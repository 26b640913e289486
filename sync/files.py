"""Atomic, durable file writes for the state dir, and how much room is left on its disk.

A Pi loses power without warning. Every file sync keeps (key, token, centre.json, bundle cache,
photos) is written to a temporary file in the same folder, fsynced, renamed over the old one and
the folder fsynced, so after a power cut the file is either the old one or the new one, whole.
The temporary file is created with its final mode, so a secret is never readable by others, not
even for the moment between creating and chmod-ing it.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

SECRET_MODE = 0o600
STATE_DIR_MODE = 0o700


def ensure_dir(path: Path, mode: int = STATE_DIR_MODE) -> None:
    """Create the folder (and parents) if missing; an existing folder keeps its mode and owner."""
    path.mkdir(parents=True, exist_ok=True, mode=mode)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = SECRET_MODE, owner: tuple[int, int] | None = None) -> None:
    """Replace `path` with `data`: the file is the old one or the new one, never half written.

    `owner` (uid, gid) is set on the temporary file before the rename, so root writing into the
    service's folder (`sudo kiosk provision`) never leaves a file the service cannot read, not even
    after a power cut between two steps."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    # O_EXCL: never follow or reuse a file someone planted under the temporary name.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode)  # the umask may have taken bits away; the mode is a contract
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def remove_durably(path: Path) -> None:
    """Delete a file if it exists, and make the deletion survive a power cut."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def disk_free_mb(path: Path) -> int | None:
    """Free space on the file system holding `path`, in MiB; None when it cannot be read."""
    try:
        return shutil.disk_usage(path).free // (1024 * 1024)
    except OSError:
        return None
