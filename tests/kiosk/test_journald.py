"""Log lines carry their syslog priority (`<N>`) only when stdout is the journal's stream: under
systemd, journald stores each line at that priority (`journalctl -u kiosk -p warning` finds the
warnings); on a terminal, a pipe or a file the lines stay as they were. The booted-root check in
.ci/systemd-boot.sh reads the priorities back from a real journal."""
from __future__ import annotations

import io
import logging
import os
import sys
from pathlib import Path

import pytest

from kiosk.cli import setup_logging
from kiosk.journald import JOURNAL_STREAM_ENV, syslog_priority, writes_to_journal


@pytest.fixture
def root_logging():
    """setup_logging replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def stream_id(path: Path) -> str:
    status = os.stat(path)
    return f"{status.st_dev}:{status.st_ino}"


def log_two_lines(monkeypatch, out: Path, journal_stream: str | None) -> list[str]:
    if journal_stream is None:
        monkeypatch.delenv(JOURNAL_STREAM_ENV, raising=False)
    else:
        monkeypatch.setenv(JOURNAL_STREAM_ENV, journal_stream)
    with out.open("w", encoding="utf-8") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        setup_logging()
        logging.getLogger("kiosk.test").warning("paper low")
        logging.getLogger("kiosk.test").info("started")
        for handler in logging.getLogger().handlers:
            handler.flush()
    return out.read_text(encoding="utf-8").splitlines()


def test_lines_to_the_journal_stream_start_with_their_priority(tmp_path, monkeypatch, root_logging):
    out = tmp_path / "journal-stream"
    out.touch()
    lines = log_two_lines(monkeypatch, out, stream_id(out))
    assert lines == ['<4>level=warning logger=kiosk.test msg="paper low"',
                     '<6>level=info logger=kiosk.test msg="started"']


@pytest.mark.parametrize("journal_stream", [None, "", "other"], ids=["unset", "empty", "another-stream"])
def test_lines_elsewhere_have_no_prefix(tmp_path, monkeypatch, root_logging, journal_stream):
    out = tmp_path / "terminal-or-file"
    out.touch()
    if journal_stream == "other":
        # Inherited from a service (a shell started by it), but this output went to a file.
        other = tmp_path / "the-service-stream"
        other.touch()
        journal_stream = stream_id(other)
    lines = log_two_lines(monkeypatch, out, journal_stream)
    assert lines == ['level=warning logger=kiosk.test msg="paper low"',
                     'level=info logger=kiosk.test msg="started"']


def test_a_stream_without_a_file_descriptor_is_not_the_journal(tmp_path):
    out = tmp_path / "x"
    out.touch()
    assert not writes_to_journal(io.StringIO(), {JOURNAL_STREAM_ENV: stream_id(out)})


@pytest.mark.parametrize(("level", "priority"), [
    (logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6),
    (logging.DEBUG, 7), (logging.WARNING + 5, 4), (logging.NOTSET, 7)])
def test_syslog_priority(level, priority):
    assert syslog_priority(level) == priority
