"""`kiosk status`'s view of sync, read from the state dir without taking the store."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.commands.status import status_command, stored_sync_state
from sync import paths
from sync.bundle import BundleCache
from sync.files import write_atomic
from sync.settings import SyncSettings
from tests.support.sync.fake_centre import FakeCentre
from tests.support.sync.helpers import append_events, make_settings, run_async, uploading

pytestmark = pytest.mark.timeout(60)


def test_unprovisioned_and_empty_state_dir(state_dir: Path):
    state = stored_sync_state(state_dir)
    assert state["provisioned"] is False and state["backlog"] is None and state["problem"] is None


async def stop_the_stream(centre: FakeCentre, store, uploader) -> None:
    """8 events acknowledged, the centre's copy of seq 8 altered, 2 more sent: 409 conflict."""
    await uploader.drain_once()
    centre.streams[store.stream_id][7] = dict(centre.streams[store.stream_id][7], hash="f" * 64)
    await store.set_acked_through(7)
    await append_events(store, 2, start=8)
    await uploader.drain_once()  # conflict: the stream stops


def test_status_while_the_service_holds_the_store(centre: FakeCentre, provisioning, state_dir: Path):
    async def scenario():
        async with uploading(state_dir, provisioning, 8, settings=SyncSettings(timeout_s=5)) as (store, uploader):
            await stop_the_stream(centre, store, uploader)
            bundles = BundleCache(state_dir, provisioning, SyncSettings(timeout_s=5))
            await bundles.refresh()
            bundles.close()
            return stored_sync_state(state_dir), store.stream_id  # read while the store is open

    state, stream_id = run_async(scenario())
    assert state["provisioned"] and state["centre_url"] == centre.url and state["unit_id"] == provisioning.unit_id
    assert (state["stream_id"], state["head_seq"], state["acked_through"], state["backlog"]) == (stream_id, 10, 7, 3)
    assert state["stream_stopped"] and state["stream_stopped_reason"]["code"] == "conflict"
    assert state["bundle_version"] == "2026-11-01"


def test_broken_provisioning_is_reported_not_raised(centre: FakeCentre, provisioning, state_dir: Path):
    write_atomic(paths.unit_token(state_dir), b"tampered")
    state = stored_sync_state(state_dir)
    assert not state["provisioned"] and "kiosk provision" in state["problem"]


def test_a_stopped_stream_is_said_in_words(centre: FakeCentre, provisioning, state_dir: Path, capsys):
    async def scenario():
        async with uploading(state_dir, provisioning, 8, settings=SyncSettings(timeout_s=5)) as (store, uploader):
            await stop_the_stream(centre, store, uploader)
            return store.stream_id

    stream_id = run_async(scenario())
    status_command(make_settings(state_dir))  # the service is stopped: status reads the state dir
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("sync:")]
    assert len(lines) == 1 and "{" not in lines[0], lines
    assert "STOPPED by the centre since " in lines[0]
    assert f"the centre holds other events at these seq numbers — seq 8 differs, at seq 8 of stream {stream_id}" in lines[0]
    assert "every event is kept" in lines[0]
