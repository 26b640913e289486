"""The centre's PostgreSQL server crashes and comes back while a unit uploads a large backlog: the
centre answers 503 storage_unavailable (JSON, no traceback) while the database is down, recovers by
itself when it is back (no restart of `centre serve`), and in the end holds every event exactly
once: seq gap-free, hash chain intact, one stream.

The server is a private cluster (tests.fault.private_postgres), so stopping it disturbs no other
test. It is stopped with `pg_ctl stop -m immediate`: sessions cut mid-transaction, no checkpoint,
crash recovery at the next start.
"""
from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.fault.backlog import build_backlog, drain_with_passes, read_unit_store
from tests.fault.harness import (ADMIN_HEADERS, UNIT_ENV, centre_events, centre_streams, compare_exactly_once,
                                 fleet_row, provision_sim_unit, start_centre)
from tests.fault.private_postgres import PrivatePostgres
from tests.fault.results import record
from tests.support.sim_unit import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]

UNIT_ID = "pg-restart-unit"
BACKLOG = 12_000           # 24 batches: the crash lands mid-drain with room to spare
DOWN_S = 2.0               # how long the database stays down
FIRST_PASS_TIMEOUT_S = 60
DRAIN_TIMEOUT_S = 120.0
HTTP_TIMEOUT_S = 30


def background_sync(state_dir) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kiosk.cli", "sync", "--once", "--sim", "--state-dir",
                             str(state_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=UNIT_ENV)


def test_a_postgresql_crash_mid_upload_is_503_and_the_centre_recovers_exactly_once(tmp_path, request):
    with PrivatePostgres() as database:
        centre = start_centre(database.url)
        try:
            state_dir = tmp_path / "unit"
            provision_sim_unit(database.url, centre.url, state_dir, UNIT_ID)
            build_backlog(state_dir, BACKLOG)

            uploading = background_sync(state_dir)
            try:
                wait_until(lambda: fleet_row(centre.url, UNIT_ID)["acked_through"] > 0, timeout=60, interval=0.05)
                database.stop("immediate")
                down_at = time.monotonic()
                while_down = httpx.get(f"{centre.url}/api/v1/units", headers=ADMIN_HEADERS, timeout=HTTP_TIMEOUT_S)
                first_out, first_err = uploading.communicate(timeout=FIRST_PASS_TIMEOUT_S)
            finally:
                if uploading.poll() is None:
                    uploading.kill()
            time.sleep(max(0.0, DOWN_S - (time.monotonic() - down_at)))
            cut = read_unit_store(state_dir)
            database.start()

            drained = drain_with_passes(state_dir, timeout_s=DRAIN_TIMEOUT_S)
            final = read_unit_store(state_dir)
            assert final.backlog == 0
            counts = compare_exactly_once(final.events, centre_events(centre.url, UNIT_ID))
            streams = centre_streams(centre.url, UNIT_ID)
            assert centre.proc.poll() is None, "the centre had to be restarted"
        finally:
            centre.__exit__(None, None, None)
        log = centre.output()

    assert while_down.status_code == 503, while_down.text
    assert while_down.json()["error"]["code"] == "storage_unavailable" and while_down.headers["Retry-After"]
    assert uploading.returncode != 0, f"the first pass finished before the crash:\n{first_out}"
    assert "HTTP 503 storage_unavailable" in first_err, first_err
    assert 0 < cut.acked_through < BACKLOG and cut.backlog == BACKLOG - cut.acked_through
    assert len(streams) == 1
    assert "database unavailable on" in log and "Traceback" not in log and "internal error" not in log
    record(request.node.nodeid, f"`kiosk sync --once` of a {BACKLOG}-event backlog to a PostgreSQL centre, "
           f"server crashed (pg_ctl -m immediate) mid-drain and down {DOWN_S:.0f} s",
           {"acknowledged before the crash": cut.acked_through, "answer while down": "503 storage_unavailable",
            "passes to drain after": len(drained.passes), "events at centre": counts["centre_events"],
            "lost": counts["lost"], "duplicated": counts["duplicated"], "streams": len(streams)})
