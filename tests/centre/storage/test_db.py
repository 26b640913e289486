"""Opening the database: which URL (--db, $CENTRE_DB, the current folder), and the PostgreSQL
connection pool, which pings a connection only after it sat idle and replaces one whose server
session ended meanwhile (centre/storage/db.py: _ping_connections_left_idle)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

import centre.storage.db
from centre.storage.db import Database, resolve_db_url

pytestmark = pytest.mark.timeout(60)

IDLE_S = 0.5
ON_POSTGRESQL = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


@pytest.fixture
def db(db_url, monkeypatch):
    monkeypatch.setattr(centre.storage.db, "PG_IDLE_PING_S", IDLE_S)
    database = Database(db_url)
    yield database
    database.dispose()


def _counting_pings(db: Database, monkeypatch) -> list[object]:
    pings: list[object] = []
    dialect = db.engine.dialect
    real_ping = dialect.do_ping

    def ping(dbapi_connection) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", ping)
    return pings


def _backend_pid(db: Database) -> int:
    with db.connection() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


@ON_POSTGRESQL
def test_a_connection_in_steady_use_is_not_pinged_one_left_idle_is(db, monkeypatch):
    pings = _counting_pings(db, monkeypatch)
    pids = {_backend_pid(db) for _ in range(5)}
    assert len(pids) == 1 and pings == []  # made once, then handed out again at once: no ping
    time.sleep(IDLE_S * 1.5)
    assert _backend_pid(db) in pids and len(pings) == 1
    assert _backend_pid(db) in pids and len(pings) == 1  # just used: not pinged again


@ON_POSTGRESQL
def test_a_connection_whose_session_ended_while_idle_is_replaced_unseen(db, db_url, monkeypatch):
    pings = _counting_pings(db, monkeypatch)
    idle_pid = _backend_pid(db)
    other = Database(db_url)  # ends the session from outside, as a PostgreSQL restart would
    try:
        with other.transaction() as session:
            assert session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": idle_pid}).scalar()
    finally:
        other.dispose()
    time.sleep(IDLE_S * 1.5)
    assert _backend_pid(db) != idle_pid  # the dead one failed its ping and a new one took its place
    assert pings


def test_the_database_comes_from_db_then_centre_db_then_the_current_folder(monkeypatch):
    monkeypatch.delenv("CENTRE_DB", raising=False)
    assert resolve_db_url(None) == "sqlite:///centre.db"
    monkeypatch.setenv("CENTRE_DB", "sqlite:///from-env.db")
    assert resolve_db_url(None) == "sqlite:///from-env.db"
    assert resolve_db_url("sqlite:///given.db") == "sqlite:///given.db"
