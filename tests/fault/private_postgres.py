"""A PostgreSQL server of the test's own, to stop and start at will (test helper).

Debian's binaries make a throwaway cluster in a temporary folder (initdb, then pg_ctl, as the
`postgres` user, since the server refuses to run as root), listening on a free port of 127.0.0.1
only and on no Unix socket. Stopping it disturbs no other test: they use CENTRE_TEST_PG_URL's.
"""
from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests.support.centre.testkit import free_port

SERVER_USER = "postgres"
COMMAND_TIMEOUT_S = 120
CONNECT_TIMEOUT_S = 10
DATABASE = "centre"
# The tests kill the server, not the machine: what it wrote stays in the page cache, so fsync
# would only slow a busy CI machine down.
SETTINGS = {"listen_addresses": "'127.0.0.1'", "unix_socket_directories": "''", "fsync": "off",
            "max_connections": "40", "shared_buffers": "32MB"}


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda path: int(path.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    def __init__(self) -> None:
        self.bin = server_binaries()
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.folder: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{SERVER_USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def __enter__(self) -> "PrivatePostgres":
        if self.bin is None or os.geteuid() != 0 or shutil.which("runuser") is None:
            pytest.skip("a private PostgreSQL needs Debian's server binaries and root (CI has both)")
        # Not under pytest's tmp_path: its folders are root's alone, and the server runs as postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="private-pg-"))
        shutil.chown(self.folder, SERVER_USER)
        password_file = self.folder / "password"
        password_file.write_text(self.password, encoding="ascii")
        shutil.chown(password_file, SERVER_USER)
        self._as_server_user("initdb", "-D", str(self.data_dir), "-U", SERVER_USER, "--auth=scram-sha-256",
                             f"--pwfile={password_file}", "--no-sync", "--no-instructions")
        password_file.unlink()
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in {**SETTINGS, "port": str(self.port)}.items())
        self.start()
        with self._connect("postgres") as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        return self

    def __exit__(self, *_exc) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def start(self) -> None:
        self._as_server_user("pg_ctl", "-D", str(self.data_dir), "-l", str(self.folder / "server.log"),
                             "-w", "-t", "60", "start")

    def stop(self, mode: str) -> None:
        """mode "immediate" is a crash (sessions cut, recovery at the next start); "fast" is clean."""
        self._as_server_user("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return self.folder is not None and (self.data_dir / "postmaster.pid").exists()

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def _connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=SERVER_USER, password=self.password,
                               dbname=database, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    def _as_server_user(self, program: str, *args: str) -> None:
        done = subprocess.run(["runuser", "-u", SERVER_USER, "--", str(self.bin / program), *args],
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}\n{self.log()}")
