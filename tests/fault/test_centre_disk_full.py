"""The centre's database disk fills up for real (SQLite on a tiny tmpfs) while a unit uploads its
backlog: the centre answers 503 storage_unavailable (JSON, no traceback), the unit keeps every
event it was not sent an acknowledgement for, and once space returns the backlog drains and the
centre holds every event exactly once."""
from __future__ import annotations

import time

import pytest

from tests.fault.backlog import build_backlog, drain_with_passes, read_unit_store, sync_once
from tests.fault.harness import centre_events, compare_exactly_once, provision_sim_unit, start_centre
from tests.fault.results import record
from tests.support.tiny_disk import fill, mounted_tmpfs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

UNIT_ID = "disk-full-unit"
# The whole backlog must fit once space returns: SQLite keeps up to 4 MB of WAL before it
# checkpoints into the database file, and 2,000 events take about 3.2 MB of it.
DISK_MB = 8
BACKLOG = 2000
# Room for one 500-event batch (about 0.8 MB of WAL) but not two: the uploads themselves fill it.
ROOM_LEFT_BYTES = 1200 * 1024
DRAIN_TIMEOUT_S = 60.0


def test_a_full_database_disk_is_503_and_the_backlog_drains_exactly_once_after(tmp_path, request):
    with mounted_tmpfs(tmp_path / "disk", size_mb=DISK_MB) as disk:
        db_url = f"sqlite:///{disk / 'centre.db'}"
        centre = start_centre(db_url)
        try:
            state_dir = tmp_path / "unit"
            provision_sim_unit(db_url, centre.url, state_dir, UNIT_ID)
            build_backlog(state_dir, BACKLOG)
            filler = fill(disk, leave_bytes=ROOM_LEFT_BYTES)

            refused = sync_once(state_dir)
            assert refused.returncode != 0, refused.stdout
            assert "HTTP 503 storage_unavailable the centre's database disk is full" in refused.stderr, \
                refused.stderr
            stuck = read_unit_store(state_dir)
            assert 0 < stuck.acked_through < BACKLOG, "the uploads did not fill the disk part-way"
            assert stuck.backlog == BACKLOG - stuck.acked_through and len(stuck.events) == BACKLOG
            held_while_full = centre_events(centre.url, UNIT_ID)  # reading still works on a full disk
            assert [e["seq"] for e in held_while_full] == list(range(1, stuck.acked_through + 1))
            assert centre.proc.poll() is None

            filler.unlink()
            started = time.monotonic()
            drained = drain_with_passes(state_dir, timeout_s=DRAIN_TIMEOUT_S)
            drain_s = time.monotonic() - started
            final = read_unit_store(state_dir)
            assert final.backlog == 0
            counts = compare_exactly_once(final.events, centre_events(centre.url, UNIT_ID))
        finally:
            centre.__exit__(None, None, None)
        log = centre.output()
    assert "database unavailable on POST /api/v1/units/disk-full-unit/events: database or disk is full" in log
    assert "Traceback" not in log and "internal error" not in log
    record(request.node.nodeid, f"SQLite centre on a {DISK_MB} MB tmpfs with {ROOM_LEFT_BYTES // 1024} KB free, "
           f"a unit's backlog of {BACKLOG} events via `kiosk sync --once`",
           {"stored before the disk filled": stuck.acked_through, "answer when full": "503 storage_unavailable",
            "kept by the unit": stuck.backlog, "passes to drain after space returned": len(drained.passes),
            "drain s": round(drain_s, 1), "events at centre": counts["centre_events"], "lost": counts["lost"],
            "duplicated": counts["duplicated"]})
