"""Test helpers for the centre: a simulated unit that writes valid hash chains with the protocol package,
a centre app served over real HTTP on 127.0.0.1 in a background thread, and enrolment."""
from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
import uuid
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select, text

from centre.app import create_app
from centre.cli import main
from centre.storage.db import Database
from centre.dashboard.accounts import add_user
from centre.storage.models import Base, DashboardUser, Event
from centre.units.enrolment import add_unit
from protocol.chain import event_hash
from protocol.signing import generate_private_key, public_key_b64, sign_head

ADMIN_TOKEN = "test-admin-token"
HTTP_TIMEOUT_S = 15.0
START_TIMEOUT_S = 20.0
CHINA = timezone(timedelta(hours=8))


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def seal(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its "hash" (re)computed, as the unit's event store would write it."""
    event = {k: v for k, v in event.items() if k != "hash"}
    event["hash"] = event_hash(event)
    return event


class SimulatedUnit:
    """A unit's signing key and one stream of events, chained and hashed as a real unit does."""

    def __init__(self, unit_id: str, stream_id: str | None = None) -> None:
        self.unit_id = unit_id
        self.key = generate_private_key()
        self.public_key = public_key_b64(self.key)
        self.stream_id = stream_id or str(uuid.uuid4())
        self.boot_id = str(uuid.uuid4())
        self.seq = 0
        self.head_hash = ""
        self.token = ""  # set by enrol()

    def new_stream(self) -> None:
        """As after the unit's database was made afresh: a new stream from seq 1."""
        self.stream_id = str(uuid.uuid4())
        self.seq = 0
        self.head_hash = ""

    def record(self, type_: str = "rating.submitted", data: dict[str, Any] | None = None, *,
               wall_time: datetime | None = None) -> dict[str, Any]:
        """The next event of the stream (a rating at counter 3 unless told), recorded now or at
        `wall_time`."""
        self.seq += 1
        if data is None:
            data = {"transaction_id": str(uuid.uuid4()), "level": 5 - self.seq % 5, "staff_id": "1001",
                    "counter_id": "3", "service_item": "TQ01", "ticket": f"B{self.seq:03d}"}
        event = seal({
            "event_id": str(uuid.uuid4()), "stream_id": self.stream_id, "seq": self.seq,
            "type": type_,
            "wall_time": (wall_time or datetime.now(CHINA)).isoformat(timespec="milliseconds"),
            "mono_ns": time.monotonic_ns(), "boot_id": self.boot_id, "clock_synced": True,
            "data": data, "prev_hash": self.head_hash,
        })
        self.head_hash = event["hash"]
        return event

    def record_many(self, count: int) -> list[dict[str, Any]]:
        return [self.record() for _ in range(count)]

    def batch(self, events: list[dict[str, Any]], *, key=None, stream_id: str | None = None,
              sent_at: datetime | None = None, health: dict[str, Any] | None = None) -> dict[str, Any]:
        """An upload body, its head signed with this unit's key (or `key`, to forge one)."""
        stream_id = stream_id or self.stream_id
        head_sig = ""
        if events:
            last = events[-1]
            head_sig = sign_head(key or self.key, stream_id, last["seq"], last["hash"])
        return {"stream_id": stream_id, "events": events, "head_sig": head_sig,
                "sent_at": (sent_at or now_utc()).isoformat(),
                "health": health if health is not None else {"backlog": 0, "paper": "ok",
                                                             "disk_free_mb": 812, "version": "0.1.0",
                                                             "uptime_s": 3600}}

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class LiveCentre:
    base_url: str
    db: Database
    client: httpx.Client
    app: FastAPI

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    @contextmanager
    def fresh(self) -> Iterator["LiveCentre"]:
        """This centre as a new one would be: every table empty (ids count from 1 again), no wrong
        tokens counted (the app's middleware is built anew on the next request), and a client of
        its own. Lets a test module share one database and server instead of making them per test."""
        empty_tables(self.db)
        self.app.middleware_stack = None
        with httpx.Client(base_url=self.base_url, timeout=HTTP_TIMEOUT_S) as client:
            yield replace(self, client=client)

    def upload(self, unit: SimulatedUnit, body: dict[str, Any] | str | bytes, *,
               headers: dict[str, str] | None = None, unit_id: str | None = None) -> httpx.Response:
        content = body if isinstance(body, (str, bytes)) else json.dumps(body, ensure_ascii=False)
        return self.client.post(f"/api/v1/units/{unit_id or unit.unit_id}/events", content=content,
                                headers={"Content-Type": "application/json",
                                         **(unit.auth() if headers is None else headers)})

    def stored_count(self, unit_id: str | None = None) -> int:
        with self.db.transaction() as session:
            query = select(func.count()).select_from(Event)
            if unit_id is not None:
                query = query.where(Event.unit_id == unit_id)
            return session.scalar(query)

    def stored_raw(self, stream_id: str) -> list[str]:
        with self.db.transaction() as session:
            return list(session.scalars(select(Event.raw_json).where(Event.stream_id == stream_id)
                                        .order_by(Event.seq)))

    def fleet(self, unit_id: str) -> dict[str, Any]:
        response = self.client.get("/api/v1/units", headers=self.admin())
        response.raise_for_status()
        return next(u for u in response.json()["units"] if u["unit_id"] == unit_id)

    def dashboard_page(self, path: str, user: str = "主管", password: str = "dashboard-pass-1") -> str:
        """A dashboard page as a logged-in manager sees it (the account is made on first use)."""
        page = self.client.get(path, follow_redirects=False)
        if page.status_code == 200:
            return page.text
        with self.db.transaction() as session:
            if session.scalar(select(DashboardUser.id).where(DashboardUser.name == user)) is None:
                add_user(session, user, "manager", password, now_utc())
        form = self.client.get("/dashboard/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        answer = self.client.post("/dashboard/login", data={"name": user, "password": password,
                                                            "csrf_token": csrf, "next": path},
                                  follow_redirects=True)
        assert answer.status_code == 200, answer.text
        return answer.text

    def issue_token(self, unit_id: str, *, role: str = "counter", counter: str | None = "3",
                    now: datetime | None = None) -> str:
        with self.db.transaction() as session:
            return add_unit(session, unit_id, role, counter, now or now_utc()).token

    def enrol(self, unit: SimulatedUnit, *, role: str = "counter", counter: str | None = "3") -> SimulatedUnit:
        token = self.issue_token(unit.unit_id, role=role, counter=counter)
        response = self.client.post("/api/v1/enrol", json={"token": token, "unit_id": unit.unit_id,
                                                           "public_key": unit.public_key})
        assert response.status_code == 201, response.text
        unit.token = response.json()["unit_token"]
        return unit

    def new_unit(self, unit_id: str = "counter-03", *, role: str = "counter", counter: str | None = "3"
                 ) -> SimulatedUnit:
        """A unit registered (`centre unit add`) with this role and counter, and enrolled."""
        return self.enrol(SimulatedUnit(unit_id), role=role, counter=counter)

    def report(self, capsys, month: str, *options: str) -> dict[str, Any]:
        """`centre report --month MONTH --format json` on this centre's database, as a manager runs it."""
        code, out, err = cli(capsys, "report", "--month", month, "--format", "json", "--db", self.db.url, *options)
        assert code == 0, err
        return json.loads(out)


def empty_tables(db: Database) -> None:
    """Delete every row of the centre's tables (the schema and its revision stay)."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with db.transaction() as session:
        if db.dialect == "postgresql":
            names = ", ".join(session.get_bind().dialect.identifier_preparer.quote(t.name) for t in tables)
            session.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        else:  # SQLite numbers an INTEGER PRIMARY KEY from the largest one held: from 1 again
            for table in tables:
                session.execute(table.delete())


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """`centre ARGS…` run in this process: its exit status, standard output and standard error
    (`capsys`: pytest's fixture)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def enrolment_token(db_url: str, unit_id: str, role: str = "counter", counter: str | None = "1") -> str:
    """`centre unit add UNIT_ID --role ROLE --counter N --db URL`, run in this process; returns the
    enrolment token it printed (tests.support.centre.process.add_unit runs it as a process)."""
    args = ["unit", "add", unit_id, "--role", role, "--db", db_url] + (["--counter", counter] if counter else [])
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(args)
    assert code == 0, f"centre unit add exited {code}"
    return re.search(r"^token: (\S+)$", out.getvalue(), re.MULTILINE).group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_in_thread(db_url: str, admin_token: str | None = ADMIN_TOKEN) -> Iterator[LiveCentre]:
    """create_app() behind a real uvicorn on 127.0.0.1 (a free port), stopped and disposed after."""
    app = create_app(db_url, admin_token)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the centre did not start")
        time.sleep(0.01)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_S) as client:
            yield LiveCentre(base_url=base_url, db=app.state.db, client=client, app=app)
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        sock.close()
        app.state.db.dispose()
