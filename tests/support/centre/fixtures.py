"""Fixtures for the centre's tests: every database test runs on SQLite and on PostgreSQL.

PostgreSQL needs CENTRE_TEST_PG_URL (a role that may create databases; `.ci/postgres.sh` makes
one); each test gets its own database, dropped afterwards. Without the variable those cases skip.

Tests elsewhere use these by importing them (a fixture is found by its name in the test's module):
`from tests.support.centre.fixtures import db_url` or `… import centre, served_centre`.
"""
from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from centre.storage.db import Database
from centre.storage.migrate import upgrade_to_head
from tests.support.centre.testkit import LiveCentre, serve_in_thread

PG_URL_ENV = "CENTRE_TEST_PG_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_server() -> URL:
    server_url = os.environ.get(PG_URL_ENV)
    if not server_url:
        pytest.skip(f"{PG_URL_ENV} is not set (see .ci/postgres.sh)")
    return make_url(server_url)


def _pg_admin(server: URL, statement: sql.Composable) -> None:
    conninfo = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        conn.execute(statement)


@contextmanager
def new_database(backend: str, folder: Path, template: str | None = None) -> Iterator[str]:
    """The URL of a database of its own (SQLite: a file in `folder`; PostgreSQL: a database on the
    CENTRE_TEST_PG_URL server, dropped afterwards), empty, or a copy of `template` (a URL that
    new_database made on the same backend, with nobody connected to it)."""
    if backend == "sqlite":
        path = folder / f"centre-{uuid.uuid4().hex[:8]}.db"
        if template is not None:
            source = Path(make_url(template).database)
            for suffix in ("", "-wal"):  # a closed database has no -wal file; were one left, it counts
                if Path(f"{source}{suffix}").exists():
                    shutil.copyfile(f"{source}{suffix}", f"{path}{suffix}")
        yield f"sqlite:///{path}"
        return
    server = _pg_server()
    name = f"centre_test_{uuid.uuid4().hex[:16]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(make_url(template).database))
    _pg_admin(server, create)
    try:
        yield server.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        _pg_admin(server, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class DatabaseTemplate:
    """A database filled once (migrated, then `fill(db)`), copied afresh for every test that asks:
    each test starts from the same state, and none pays again for the migrations, the data or the
    password hashes. SQLite copies the file; PostgreSQL makes a database from the template."""

    def __init__(self, backend: str, folder: Path, url: str) -> None:
        self.backend, self.folder, self.url = backend, folder, url

    @contextmanager
    def copy(self) -> Iterator[str]:
        with new_database(self.backend, self.folder, template=self.url) as url:
            yield url


@contextmanager
def database_template(backend: str, folder: Path, fill: Callable[[Database], object]) -> Iterator[DatabaseTemplate]:
    with new_database(backend, folder) as url:
        db = Database(url)
        try:
            upgrade_to_head(db.engine)
            fill(db)
        finally:
            db.dispose()  # a template is copied only while nobody is connected to it
        yield DatabaseTemplate(backend, folder, url)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> Iterator[str]:
    """An empty database of the test's own, on each backend."""
    with new_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def served_centre(request, tmp_path_factory) -> Iterator[LiveCentre]:
    """One centre per test module and backend, served over real HTTP in a thread; tests take it
    through `centre`, which empties it first."""
    with new_database(request.param, tmp_path_factory.mktemp("centre")) as url, serve_in_thread(url) as live:
        yield live


@pytest.fixture
def centre(served_centre: LiveCentre) -> Iterator[LiveCentre]:
    """A centre as good as new (every table empty, ids from 1, no wrong tokens counted) with a
    client of the test's own."""
    with served_centre.fresh() as live:
        yield live
