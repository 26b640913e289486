"""Opening the centre's database: SQLite (one file, the default) or PostgreSQL (psycopg 3)."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DB_FILE = "centre.db"
DB_ENV = "CENTRE_DB"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections per server process: plenty for a few cores (PostgreSQL does best with a few times its
# cores busy at once), and `centre serve --workers N` opens N times this many.
PG_POOL_SIZE = 10
# A pooled PostgreSQL connection left unused this long is pinged before it is handed out (see
# _ping_connections_left_idle); one in steady use is not.
PG_IDLE_PING_S = 10.0
_RETURNED_AT = "centre_returned_at"  # the key in a pooled connection's .info


class DatabaseUrlError(ValueError):
    """A database URL the centre cannot use."""


def resolve_db_url(given: str | None) -> str:
    """--db wins, then $CENTRE_DB, then centre.db in the current folder."""
    return given or os.environ.get(DB_ENV) or f"sqlite:///{DEFAULT_DB_FILE}"


def normalise_url(text: str) -> URL:
    try:
        url = make_url(text)
    except Exception as exc:  # SQLAlchemy raises ArgumentError for text it cannot read
        raise DatabaseUrlError(f"not a database URL: {text!r}") from exc
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            # Every pooled connection would get its own empty in-memory database.
            raise DatabaseUrlError("an SQLite database must be a file, e.g. sqlite:///centre.db")
        # Absolute, so the server and its log name the same file whatever the working folder.
        return url.set(drivername="sqlite+pysqlite", database=str(Path(url.database).resolve()))
    if url.get_backend_name() == "postgresql":
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        return url.set(drivername="postgresql+psycopg")
    raise DatabaseUrlError(f"unsupported database {url.drivername!r}: use sqlite:///FILE or "
                           "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB")


def display_url(text: str) -> str:
    return normalise_url(text).render_as_string(hide_password=True)


def _make_sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False,
                                              "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def configure_connection(dbapi_connection, _record) -> None:
        # Take BEGIN away from the sqlite3 module so that we can say BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged batch must survive a power cut (the unit then forgets it).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin_immediate(connection) -> None:
        # Every transaction takes the write lock up front. Two uploads of one stream then run one
        # after the other (SQLite's stand-in for SELECT ... FOR UPDATE), and a read-then-write
        # transaction can never fail half-way with "database is locked".
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_engine(text: str) -> Engine:
    url = normalise_url(text)
    if url.get_backend_name() == "sqlite":
        return _make_sqlite_engine(url)
    # A fixed set of connections, no overflow: SQLAlchemy closes an overflow connection as soon as it
    # is returned, so in a burst of uploads every request beyond the pool paid for a new PostgreSQL
    # session (a backend process and a SCRAM handshake, several ms of CPU on both sides), which made
    # the burst last longer. Requests beyond the pool now wait for a connection instead.
    engine = create_engine(url, pool_size=PG_POOL_SIZE, max_overflow=0)
    _ping_connections_left_idle(engine, PG_IDLE_PING_S)
    return engine


def _ping_connections_left_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection before use only if it sat unused for `idle_s` or longer.

    Why not pool_pre_ping: it pings on every checkout, a round trip (and CPU on both sides) per
    request, while the connections that may have died unnoticed (a PostgreSQL restart, a firewall
    dropping idle sessions) are the ones left idle. A connection that dies while in steady use fails
    its request; SQLAlchemy then discards the pool's connections, and the unit retries.
    """
    @event.listens_for(engine, "checkin")
    def note_return(dbapi_connection, record) -> None:
        if dbapi_connection is not None:  # None when the connection was invalidated
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_left_idle(dbapi_connection, record, _proxy) -> None:
        returned_at = record.info.get(_RETURNED_AT)  # none yet on a connection just made
        if returned_at is None or time.monotonic() - returned_at < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and hands out a new one instead.
            raise DisconnectionError(f"a pooled connection failed its ping: {exc}") from exc


class Database:
    """An engine and its sessions. Work happens in short transactions: `with db.transaction() as s`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """One pooled connection for several transactions in a row (`transaction(connection)`):
        one checkout, and on PostgreSQL one pre-ping, instead of one per transaction."""
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def transaction(self, connection: Connection | None = None) -> Iterator[Session]:
        """Commits when the block ends normally, rolls back when it raises. Runs on `connection`
        when given (see connection()), else on a connection taken from the pool for it."""
        if connection is None:
            with self._sessions.begin() as session:
                yield session
            return
        with self._sessions(bind=connection) as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
