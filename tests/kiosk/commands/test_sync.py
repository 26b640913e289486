"""`kiosk sync --once`: a drain here, or through the running service, and what it says."""
from __future__ import annotations

import fcntl
import io
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kiosk.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from kiosk.commands.sync import sync_once_command
from kiosk.events import EventStore, lock_path, store_in_use
from kiosk.paths import api_url_file, events_db
from tests.support.sync.fake_centre import FakeCentre
from tests.support.sync.helpers import UNIT_ID, make_settings, run_async, store_with

pytestmark = pytest.mark.timeout(60)


def record_events(state_dir: Path, count: int) -> str:
    async def scenario() -> str:
        store = await store_with(events_db(state_dir), count)
        await store.close()
        return store.stream_id

    return run_async(scenario())


def test_sync_once_drains_with_progress_and_summary(centre: FakeCentre, provisioning, state_dir: Path):
    stream_id = record_events(state_dir, 1200)
    out, err = io.StringIO(), io.StringIO()
    assert sync_once_command(make_settings(state_dir), out=out, err=err) == EXIT_OK, err.getvalue()
    assert [e["seq"] for e in centre.stored(stream_id)] == list(range(1, 1201))
    assert "sent 1200 events (0 already at the centre); centre holds through seq 1200; backlog left 0" in out.getvalue()
    assert "1200/1200 events (100%)" in err.getvalue()  # not a terminal: one final progress line
    assert not store_in_use(events_db(state_dir))  # the command closed the store again

    out = io.StringIO()
    assert sync_once_command(make_settings(state_dir), out=out, err=io.StringIO()) == EXIT_OK
    assert "sent 0 events" in out.getvalue() and len(centre.heartbeats()) == 1  # nothing new: a heartbeat


def test_sync_once_fails_when_the_centre_is_down(centre: FakeCentre, provisioning, state_dir: Path):
    record_events(state_dir, 3)
    centre.close()
    out, err = io.StringIO(), io.StringIO()
    assert sync_once_command(make_settings(state_dir), out=out, err=err) == EXIT_FAILED
    assert "network_error" in err.getvalue() and "backlog left 3" in out.getvalue()


def test_sync_once_fails_when_the_centre_refuses(centre: FakeCentre, provisioning, state_dir: Path):
    record_events(state_dir, 3)
    centre.units[UNIT_ID].revoked = True
    err = io.StringIO()
    assert sync_once_command(make_settings(state_dir), out=io.StringIO(), err=err) == EXIT_FAILED
    assert "revoked" in err.getvalue()


def test_sync_once_before_anything_was_recorded_still_checks_the_centre(centre: FakeCentre, provisioning,
                                                                        state_dir: Path):
    out = io.StringIO()
    assert sync_once_command(make_settings(state_dir), out=out, err=io.StringIO()) == EXIT_OK
    assert "nothing to send" in out.getvalue() and not events_db(state_dir).exists()
    centre.units[UNIT_ID].revoked = True
    err = io.StringIO()
    assert sync_once_command(make_settings(state_dir), out=io.StringIO(), err=err) == EXIT_FAILED
    assert "revoked" in err.getvalue()
    centre.close()
    err = io.StringIO()
    assert sync_once_command(make_settings(state_dir), out=io.StringIO(), err=err) == EXIT_FAILED
    assert "connection refused" in err.getvalue()


def test_sync_once_needs_provisioning(state_dir: Path):
    err = io.StringIO()
    assert sync_once_command(make_settings(state_dir), out=io.StringIO(), err=err) == EXIT_USAGE
    assert "kiosk provision" in err.getvalue()


class FakeLocalApi:
    """Stands in for the running service's local API: POST /v1/sync/drain."""

    def __init__(self, token: str, answer: tuple[int, dict]) -> None:
        self.calls: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                api.calls.append({"path": self.path, "auth": self.headers.get("Authorization")})
                status, body = answer if self.headers.get("Authorization") == f"Bearer {token}" else (
                    401, {"error": {"code": "unauthorized", "message": "bad token"}})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def listen(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service_holds_store(state_dir: Path):
    """Take the event store's writer lock the way a running `kiosk run` does."""
    db = events_db(state_dir)
    record_events(state_dir, 2)
    fd = os.open(lock_path(db), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    yield db
    os.close(fd)


def test_sync_once_asks_the_running_service_instead_of_opening_the_store(
        provisioning, state_dir: Path, service_holds_store: Path, monkeypatch):
    def refuse_open(*args, **kwargs):
        raise AssertionError("the command opened the event store while the service holds it")

    monkeypatch.setattr(EventStore, "open", refuse_open)
    api = FakeLocalApi("local-secret", (200, {"outcome": "ok", "sent": 2, "duplicates": 0,
                                              "acked_through": 2, "backlog": 0}))
    try:
        out, err = io.StringIO(), io.StringIO()
        code = sync_once_command(make_settings(state_dir, listen=api.listen), out=out, err=err)
    finally:
        api.close()
    assert code == EXIT_OK, err.getvalue()
    assert api.calls == [{"path": "/v1/sync/drain", "auth": "Bearer local-secret"}]
    assert "sent 2 events (0 already at the centre); centre holds through seq 2; backlog left 0" in out.getvalue()


def test_sync_once_finds_the_service_where_it_announced_its_api(provisioning, state_dir: Path,
                                                                  service_holds_store: Path):
    api = FakeLocalApi("local-secret", (200, {"outcome": "ok", "sent": 0, "duplicates": 0,
                                              "acked_through": 2, "backlog": 0}))
    try:
        # The service runs with --listen elsewhere than the config says and wrote where to its state dir.
        api_url_file(state_dir).write_text(f"http://{api.listen}\n", encoding="ascii")
        out = io.StringIO()
        assert sync_once_command(make_settings(state_dir, listen="127.0.0.1:1"), out=out,
                                 err=io.StringIO()) == EXIT_OK
        assert len(api.calls) == 1 and "backlog left 0" in out.getvalue()
    finally:
        api.close()


def test_sync_once_through_the_service_reports_its_failures(provisioning, state_dir: Path, service_holds_store):
    api = FakeLocalApi("local-secret", (200, {"outcome": "network_error", "sent": 0, "duplicates": 0,
                                              "acked_through": 0, "backlog": 2, "error": "connection refused"}))
    try:
        err = io.StringIO()
        assert sync_once_command(make_settings(state_dir, listen=api.listen), out=io.StringIO(), err=err) == EXIT_FAILED
        assert "connection refused" in err.getvalue()
        wrong_token = make_settings(state_dir, listen=api.listen).model_copy(
            update={"api": make_settings(state_dir).api.model_copy(update={"token": "nope", "listen": api.listen})})
        err = io.StringIO()
        assert sync_once_command(wrong_token, out=io.StringIO(), err=err) == EXIT_FAILED
        assert "HTTP 401" in err.getvalue() and "api.token" in err.getvalue()
    finally:
        api.close()


def test_sync_once_when_the_service_api_is_not_answering(provisioning, state_dir: Path, service_holds_store):
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    err = io.StringIO()
    assert sync_once_command(make_settings(state_dir, listen=f"127.0.0.1:{port}"), out=io.StringIO(),
                             err=err) == EXIT_FAILED
    assert "does not answer" in err.getvalue()
