"""The dashboard's login limit under attack (issue 15.10), against a real `centre serve` on
127.0.0.1. Before: 5 wrong passwords for one name locked every other name out of that address for
15 minutes (an office behind one NAT), and X-Forwarded-For was believed on direct connections, so
a password spray that named a new address in each request was never limited. Now the limits are
per name (tight) and per address (generous) apart, and the forwarded headers count only from the
proxies given with --trusted-proxy."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import httpx
import pytest

from centre.dashboard.accounts import LOGIN_FAILURES_PER_ADDRESS, LOGIN_FAILURES_PER_NAME, add_user
from centre.storage.db import Database
from centre.storage.migrate import upgrade_to_head
from tests.fault.results import record
from tests.support.centre.process import CentreProcess

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
USERS = {"张主管": "zhang-pass-1", "李科员": "li-pass-1", "王科员": "wang-pass-1"}
SPRAYED_NAMES = 25  # more than the per-address limit


def centre_with_users(tmp_path, *extra_args: str) -> CentreProcess:
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    db = Database(db_url)
    try:
        upgrade_to_head(db.engine)
        with db.transaction() as session:
            for name, password in USERS.items():
                add_user(session, name, "viewer", password, datetime.now(timezone.utc))
    finally:
        db.dispose()
    return CentreProcess(db_url, extra_args=extra_args)


def log_in(centre: CentreProcess, name: str, password: str, *, forwarded_for: str | None = None,
           source: str = "127.0.0.1") -> int:
    """One login as a browser makes it (the form, then the POST) from `source`; the status."""
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=centre.url, headers=headers, transport=transport, timeout=15) as client:
        token = CSRF_FIELD.search(client.get("/dashboard/login").text).group(1)
        answer = client.post("/dashboard/login", data={"name": name, "password": password,
                                                       "csrf_token": token})
        return answer.status_code


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_one_names_failures_do_not_lock_out_the_others_and_a_spray_is_limited(tmp_path, request):
    with centre_with_users(tmp_path) as centre:
        # Someone in the office gets their password wrong five times: only that name is locked.
        wrong = [log_in(centre, "张主管", "wrong-pass") for _ in range(LOGIN_FAILURES_PER_NAME)]
        assert wrong == [401] * LOGIN_FAILURES_PER_NAME
        assert log_in(centre, "张主管", USERS["张主管"]) == 429
        assert log_in(centre, "李科员", USERS["李科员"]) == 303  # a colleague, same address: in

        # A spray over many names, each request claiming another address: the header is not
        # believed on a direct connection, so the address's limit stops it.
        sprayed = [log_in(centre, f"user{n:02d}", "Winter2026!", forwarded_for=f"203.0.113.{n}")
                   for n in range(SPRAYED_NAMES)]
    allowed = LOGIN_FAILURES_PER_ADDRESS - LOGIN_FAILURES_PER_NAME  # the five above count too
    assert sprayed == [401] * allowed + [429] * (SPRAYED_NAMES - allowed), sprayed
    record(request.node.nodeid, f"{LOGIN_FAILURES_PER_NAME} wrong passwords for one name, then a "
           f"{SPRAYED_NAMES}-name spray with a new X-Forwarded-For each, from one address",
           {"other name with its password": 303, "spray refused after": f"{allowed} tries",
            "limits": f"{LOGIN_FAILURES_PER_NAME} per name, {LOGIN_FAILURES_PER_ADDRESS} per address in 15 min"})


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_forwarded_addresses_count_only_from_a_trusted_proxy(tmp_path, request):
    with centre_with_users(tmp_path, "--trusted-proxy", "127.0.0.1") as centre:
        # Through the proxy, each office is its own address: one office's spray locks only it.
        office_a = [log_in(centre, f"user{n:02d}", "Winter2026!", forwarded_for="198.51.100.7")
                    for n in range(LOGIN_FAILURES_PER_ADDRESS + 1)]
        assert office_a[-1] == 429 and office_a.count(401) == LOGIN_FAILURES_PER_ADDRESS
        assert log_in(centre, "李科员", USERS["李科员"], forwarded_for="198.51.100.7") == 429
        assert log_in(centre, "李科员", USERS["李科员"], forwarded_for="198.51.100.8") == 303
        # A client that is not the proxy (127.0.0.2) names addresses in vain: it is counted as itself.
        direct = [log_in(centre, f"other{n:02d}", "Winter2026!", forwarded_for=f"203.0.113.{n}",
                         source="127.0.0.2") for n in range(LOGIN_FAILURES_PER_ADDRESS + 1)]
        assert direct[-1] == 429 and direct.count(401) == LOGIN_FAILURES_PER_ADDRESS
        assert log_in(centre, "王科员", USERS["王科员"], source="127.0.0.2") == 429
        assert log_in(centre, "王科员", USERS["王科员"], source="127.0.0.3") == 303
    record(request.node.nodeid, f"--trusted-proxy 127.0.0.1; {LOGIN_FAILURES_PER_ADDRESS + 1} failures "
           "through it for one forwarded address, and as many from 127.0.0.2 naming others",
           {"forwarded address after the limit": 429, "another forwarded address": 303,
            "untrusted client naming others": "counted as itself (429)"})
