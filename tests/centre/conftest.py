"""Fixtures for the centre's tests: every database test runs on SQLite and on PostgreSQL.

PostgreSQL needs CENTRE_TEST_PG_URL (a role that may create databases; `.ci/postgres.sh` makes
one); each test gets its own database, dropped afterwards. Without the variable those cases skip.
"""
from __future__ import annotations

import os
import uuid
from typing import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.centre.centre_testkit import LiveCentre, serve_in_thread

PG_URL_ENV = "CENTRE_TEST_PG_URL"


def _pg_conninfo(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'centre.db'}"
        return
    server_url = os.environ.get(PG_URL_ENV)
    if not server_url:
        pytest.skip(f"{PG_URL_ENV} is not set (see .ci/postgres.sh)")
    server = make_url(server_url)
    name = f"centre_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_pg_conninfo(server), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(_pg_conninfo(server), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def centre(db_url) -> Iterator[LiveCentre]:
    with serve_in_thread(db_url) as live:
        yield live
