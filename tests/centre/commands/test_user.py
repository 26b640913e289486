"""`centre user add`: a dashboard account from the command line, its password read from standard
input and stored only as an argon2id hash."""
from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import time
from select import select as wait_readable

import pytest
from sqlalchemy import select

from centre.storage.db import Database
from centre.storage.models import DashboardUser
from tests.support.centre.testkit import cli

pytestmark = pytest.mark.timeout(120)


def test_user_add_reads_the_password_from_stdin_and_stores_only_a_hash(db_url, capsys, monkeypatch):
    monkeypatch.setenv("CENTRE_DB", db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-enough\n"))
    code, out, _ = cli(capsys, "user", "add", "新主管", "--role", "manager", "--password-stdin")
    assert code == 0 and "新主管" in out
    db = Database(db_url)
    try:
        with db.transaction() as session:
            stored = session.scalars(select(DashboardUser).where(DashboardUser.name == "新主管")).one()
            assert stored.role == "manager" and stored.password_hash.startswith("$argon2id$")
            assert "s3cret-enough" not in stored.password_hash
    finally:
        db.dispose()
    for args, stdin, message in ((["新主管", "--role", "viewer"], "another-pass\n", "exists already"),
                                 (["短", "--role", "viewer"], "short\n", "at least 8")):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code, _, err = cli(capsys, "user", "add", *args, "--password-stdin")
        assert code == 1 and message in err


def centre_process(db_url: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CENTRE_DB"}
    return subprocess.run([sys.executable, "-m", "centre", *args, "--db", db_url], env=env,
                          capture_output=True, text=True, timeout=60, **kwargs)


def test_user_add_without_a_terminal_points_to_password_stdin(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    # A new session has no controlling terminal (as under cron, CI or a pipe): nothing to ask on.
    done = centre_process(db_url, "user", "add", "新主管", "--role", "viewer", stdin=subprocess.DEVNULL,
                          start_new_session=True)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "EOFError" not in done.stderr
    assert "no terminal" in done.stderr and "--password-stdin" in done.stderr
    assert "at least 8 characters" in done.stderr
    listed = centre_process(db_url, "user", "list")
    assert "新主管" not in listed.stdout


def on_a_terminal(db_url: str, *args: str, typed: list[str]) -> tuple[int, str]:
    """`centre ARGS` on a pseudo-terminal of its own (its controlling terminal, as getpass wants):
    each line of `typed` is written once a new prompt has come since the last line (getpass flushes
    what was typed before its prompt: the newline after a secret is no prompt)."""
    env = {k: v for k, v in os.environ.items() if k != "CENTRE_DB"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command
        os.execve(sys.executable, [sys.executable, "-m", "centre", *args, "--db", db_url], env)
    seen, since_typed, pending = b"", 0, list(typed)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = wait_readable([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal: it is done
                break
            if not chunk:
                break
            seen += chunk
            if pending and seen[since_typed:].rstrip().endswith(b":"):
                os.write(fd, pending.pop(0).encode() + b"\n")
                since_typed = len(seen)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


def test_user_add_on_a_terminal_says_the_password_rule_before_asking(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    code, shown = on_a_terminal(db_url, "user", "add", "chief", "--role", "manager", typed=["short"])
    assert code == 1
    rule = shown.index("at least 8 characters")
    assert rule < shown.index("password:")  # said before it is asked
    assert "too short" in shown[shown.index("password:"):] and "again:" not in shown  # refused at once
    code, shown = on_a_terminal(db_url, "user", "add", "chief", "--role", "manager",
                                typed=["long-enough-1", "long-enough-1"])
    assert code == 0 and "user chief added (manager)" in shown, shown
