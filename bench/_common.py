"""What the sync benchmarks share: a real `centre serve` process, the `centre` command, a throwaway
PostgreSQL database, a unit's signed event stream, realistic event data, and small print helpers.

Benchmarks never import from tests/: these are their own, small and self-contained.
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple
from urllib.parse import urlsplit

import httpx

from protocol.chain import event_hash
from protocol.signing import generate_private_key, public_key_b64, sign_head

START_TIMEOUT_S = 60.0   # generous: the machine may be busy with other people's test runs
STOP_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 120.0
TOKEN_LINE = re.compile(r"^token: (\S+)$", re.MULTILINE)
CHINA = timezone(timedelta(hours=8))
PG_URL_ENV = "CENTRE_TEST_PG_URL"
DROP_ATTEMPTS = 60


def say(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def machine_note() -> str:
    """The conditions the figures were taken under: they are only comparable within one run."""
    load = os.getloadavg()
    return (f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            "at the start (other work on the machine slows both sides of a ratio alike)")


def processes_cpu_seconds(chosen: Callable[[int, int, str], bool]) -> float:
    """CPU time (user + system) used so far by the processes for which chosen(pid, process group,
    command line) is true, from /proc: what work costs, whatever else competes for the machine."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # a process that ended while we looked
        # After the command: state, ppid, pgrp, …; utime and stime are fields 14 and 15 of stat.
        if chosen(int(stat.parent.name), int(fields[2]), cmdline):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all CPUs, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])       # guest time is already counted in user
    return (total - idle) / os.sysconf("SC_CLK_TCK"), total / os.sysconf("SC_CLK_TCK")


# --- the centre as a process ----------------------------------------------------------------

def _centre_env(db_url: str, admin_token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CENTRE_DB", "CENTRE_ADMIN_TOKEN")}
    env["CENTRE_DB"] = db_url
    if admin_token:
        env["CENTRE_ADMIN_TOKEN"] = admin_token
    return env


def centre_command(db_url: str, *args: str) -> str:
    """`centre ARGS…` on db_url as a process; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run([sys.executable, "-m", "centre", *args], env=_centre_env(db_url, None),
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"centre {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def add_unit(db_url: str, unit_id: str, counter: str = "3") -> str:
    """`centre unit add UNIT_ID --role counter --counter N`; the enrolment token it printed."""
    output = centre_command(db_url, "unit", "add", unit_id, "--role", "counter", "--counter", counter)
    return TOKEN_LINE.search(output).group(1)


class CentreServer:
    """`centre serve` on 127.0.0.1 (a free port) as a child process; a context manager.

    Its output goes to a file, not a pipe: a busy server's access log would fill a pipe nobody reads
    and stall it, which would look like a slow centre.
    """

    def __init__(self, db_url: str, log_path: Path, *, admin_token: str | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.db_url = db_url
        self.log_path = log_path
        self.admin_token = admin_token
        self.extra_args = extra_args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "CentreServer":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "centre", "serve", "--listen", f"127.0.0.1:{self.port}",
                 *self.extra_args],
                env=_centre_env(self.db_url, self.admin_token), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)  # a Ctrl-C at the terminal reaches us; we stop it in order
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"centre serve exited {self.proc.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"centre serve did not answer /healthz in time: {self.log_tail()}")
            time.sleep(0.1)

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # The whole process group: with --workers N uvicorn runs N children of its own.
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT_S)

    def cpu_seconds(self) -> float:
        """CPU time the server's processes (its process group) have used so far."""
        return processes_cpu_seconds(lambda pid, pgrp, cmdline: self.proc is not None
                                     and pgrp == self.proc.pid)

    def admin_get(self, path: str) -> Any:
        response = httpx.get(self.url + path, headers={"Authorization": f"Bearer {self.admin_token}"},
                             timeout=30.0)
        response.raise_for_status()
        return response.json()

    def log_tail(self, lines: int = 20, only: tuple[str, ...] = ()) -> str:
        """The last `lines` lines of its output (those containing one of `only`, if given)."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        if only:
            text = [line for line in text if any(word in line for word in only)]
        return "\n".join(text[-lines:])


# --- a light HTTP client for many requests ----------------------------------------------------

class HttpError(Exception):
    """No usable HTTP answer (connection refused or dropped, timeout, a reply we cannot read)."""


class Answer(NamedTuple):
    status: int
    body: bytes
    queued_s: float  # waited for one of the pool's connections before the request could go


class KeepAliveClient:
    """POSTs to one host over HTTP/1.1 on asyncio, with just enough HTTP for the centre's JSON
    answers, at most `max_in_flight` at a time.

    Each caller (`key`: a unit) has a connection of its own, kept alive between its requests as a
    unit's requests.Session does, and not reused once idle for longer than the server keeps it
    (uvicorn: 5 s): a unit uploading every 10 s connects afresh each time, as it would in the field,
    and with `centre serve --workers N` each new connection goes to whichever worker accepts it.
    One the server closed just before it was reused is retried once on a fresh connection; a batch
    resent that way is at worst a duplicate, which the protocol makes harmless.

    Why not httpx.AsyncClient: it cost several ms of CPU per request here, taken on a 2-core
    machine from the centre being measured; this costs a fraction of a millisecond.
    """

    IDLE_REUSE_S = 4.0  # below uvicorn's keep-alive timeout of 5 s

    def __init__(self, base_url: str, max_in_flight: int, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"want http://host:port, got {base_url!r}")
        self.host, self.port = parts.hostname, parts.port
        self.timeout_s = timeout_s
        self._gate = asyncio.Semaphore(max_in_flight)
        self._idle: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = {}

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None, *,
                   key: str = "") -> Answer:
        """The answer to a POST of `body` (JSON), on `key`'s connection."""
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                "Content-Type: application/json", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        asked = time.perf_counter()
        async with self._gate:
            queued_s = time.perf_counter() - asked
            for attempt in (1, 2):
                reader, writer, reused = await self._connection(key)
                try:
                    status, answer, keep = await asyncio.wait_for(
                        self._exchange(reader, writer, request), self.timeout_s)
                except _ClosedBeforeAnswer as error:
                    writer.close()
                    if reused and attempt == 1:
                        continue  # the server had just closed the idle connection: a fresh one
                    raise HttpError(str(error)) from None
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as error:
                    writer.close()
                    raise HttpError(f"{type(error).__name__}: {error}") from None
                if keep:
                    self._idle[key] = (reader, writer, time.monotonic())
                else:
                    writer.close()
                return Answer(status, answer, queued_s)
        raise AssertionError("unreachable")

    async def _connection(self, key: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        idle = self._idle.pop(key, None)
        if idle is not None:
            reader, writer, last_used = idle
            if time.monotonic() - last_used < self.IDLE_REUSE_S and not reader.at_eof():
                return reader, writer, True
            writer.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout_s)
        except (OSError, asyncio.TimeoutError) as error:
            raise HttpError(f"connect: {type(error).__name__}: {error}") from None
        return reader, writer, False

    @staticmethod
    async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        request: bytes) -> tuple[int, bytes, bool]:
        writer.write(request)
        await writer.drain()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                raise _ClosedBeforeAnswer("the server closed the connection before answering") from None
            raise
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {name.strip().lower(): value.strip()
                  for name, _, value in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" not in fields:
            raise ValueError(f"an answer without Content-Length: {lines[0]}")
        answer = await reader.readexactly(int(fields["content-length"]))
        return status, answer, fields.get("connection", "").lower() != "close"

    async def aclose(self) -> None:
        for _, writer, _ in self._idle.values():
            writer.close()
        self._idle.clear()


class _ClosedBeforeAnswer(Exception):
    pass


# --- a throwaway PostgreSQL database --------------------------------------------------------

@contextmanager
def temporary_pg_database(server_url: str, prefix: str) -> Iterator[str]:
    """CREATE DATABASE on the server at server_url (a role that may create databases), yield its
    SQLAlchemy URL, DROP it afterwards (WITH FORCE: a killed server may leave connections)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    server = make_url(server_url)
    conninfo = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False)
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        for attempt in range(DROP_ATTEMPTS):
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(drop)
                break
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                # An autovacuum worker (the superuser's, so FORCE may not end it) is still busy
                # with the tables just written; it gives way within seconds.
                if attempt == DROP_ATTEMPTS - 1:
                    raise
                time.sleep(1.0)


# --- what units record ----------------------------------------------------------------------

REASONS = (("510", "等待时间长"), ("520", "服务态度差"), ("530", "业务不熟练"))


def hall_events(count: int, start: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type, data) of a counter's working day, PROTOCOL.md's shapes: tickets called, transactions,
    ratings (one in six bad, with a reason in Chinese), now and then a printer status."""
    for n in range(start, start + count):
        transaction = f"T{n:08d}"
        ticket = f"B{n % 1000:03d}"
        staff, counter = "1001", "3"
        step = n % 4
        if step == 0:
            yield "ticket.called", {"ticket": ticket, "counter_id": counter, "staff_id": staff}
        elif step == 1:
            yield "transaction.completed", {"transaction_id": transaction, "staff_id": staff,
                                            "counter_id": counter, "service_item": "TQ01",
                                            "ticket": ticket}
        elif step == 2:
            level = 2 if n % 24 == 2 else 5 - n % 3
            yield "rating.submitted", {"transaction_id": transaction, "level": level, "staff_id": staff,
                                       "counter_id": counter, "service_item": "TQ01", "ticket": ticket}
        elif n % 24 == 3:
            code, label = REASONS[n % len(REASONS)]
            yield "rating.reason", {"transaction_id": transaction, "reason_code": code,
                                    "reason_label": label}
        else:
            yield "printer.status", {"paper": "ok", "online": True}


class SignedStream:
    """One unit's key and stream, writing events hash-chained and batches head-signed exactly as
    the unit's event store and uploader do (protocol), without a database per unit."""

    def __init__(self, unit_id: str) -> None:
        self.unit_id = unit_id
        self.key = generate_private_key()
        self.public_key = public_key_b64(self.key)
        self.stream_id = str(uuid.uuid4())
        self.boot_id = str(uuid.uuid4())
        self.seq = 0
        self.head_hash = ""
        self.token = ""  # the unit token, once enrolled

    def record(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        event = {"event_id": str(uuid.uuid4()), "stream_id": self.stream_id, "seq": self.seq,
                 "type": event_type, "wall_time": datetime.now(CHINA).isoformat(timespec="milliseconds"),
                 "mono_ns": time.monotonic_ns(), "boot_id": self.boot_id, "clock_synced": True,
                 "data": data, "prev_hash": self.head_hash}
        event["hash"] = event_hash(event)
        self.head_hash = event["hash"]
        return event

    def batch(self, count: int) -> dict[str, Any]:
        """An upload body carrying the next `count` events of a hall's day, signed."""
        events = [self.record(t, d) for t, d in hall_events(count, self.seq)]
        last = events[-1]
        return {"stream_id": self.stream_id, "events": events,
                "head_sig": sign_head(self.key, self.stream_id, last["seq"], last["hash"]),
                "sent_at": datetime.now(CHINA).isoformat(timespec="milliseconds"),
                "health": {"backlog": 0, "paper": "ok", "disk_free_mb": 812, "version": "bench",
                           "uptime_s": 3600}}
