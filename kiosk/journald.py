"""Log priorities for journald: a `<N>` prefix on each line, only when the line goes to the journal.

journald reads a line beginning with `<N>` on a service's stdout/stderr as syslog priority N
(sd-daemon(3)) and stores the line without it; every other line is stored at the unit's default,
6 (info), so `journalctl -u kiosk -p warning` would find nothing. systemd says which stream is the
journal's in $JOURNAL_STREAM ("device:inode" of the socket): a terminal, a pipe or a file the
output was redirected to is another stream, and gets plain lines.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import IO

JOURNAL_STREAM_ENV = "JOURNAL_STREAM"

# syslog(3) priorities.
_PRIORITY_BY_LEVEL = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
_DEBUG_PRIORITY = 7


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a logging level: CRITICAL 2, ERROR 3, WARNING 4, INFO 6, below 7."""
    for level, priority in _PRIORITY_BY_LEVEL:
        if levelno >= level:
            return priority
    return _DEBUG_PRIORITY


def writes_to_journal(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` is the journal's stream systemd connected this process to."""
    environ = os.environ if environ is None else environ
    expected = environ.get(JOURNAL_STREAM_ENV, "")
    if not expected:
        return False
    try:
        status = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # no file descriptor (a StringIO), or closed
        return False
    return f"{status.st_dev}:{status.st_ino}" == expected
