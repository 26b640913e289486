"""The uploader against a fake centre on 127.0.0.1: order, exactly once, gap, conflict, refusals,
backoff, heartbeat, pruning, and that no HTTP call ever runs on the event loop's thread.

Every scenario runs on the unit's real event store (kiosk.events.EventStore, the uploader's
EventSource) with the uploader made as the unit makes it (tests.support.sync.helpers.uploading)."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import datetime

import pytest
import requests

from protocol import MAX_BATCH
from protocol.signing import generate_private_key
from sync.bundle import BundleCache
from sync.client import Outcome, UploadResult
from sync.provision import Provisioning
from sync.uploader import (EVENTS_PRUNED, GROW_AFTER, MIN_BATCH, STORE_ERROR, STREAM_STOPPED,
                           STREAM_STOPPED_META_KEY)
from tests.support.sync.helpers import append_events, run_async, sync_settings, uploading, wait_until

pytestmark = pytest.mark.timeout(120)


def test_backlog_drains_in_order_exactly_once_with_progress(centre, provisioning, state_dir):
    total = 2 * MAX_BATCH + 234
    progress: list[tuple[int, int]] = []

    async def scenario():
        async with uploading(state_dir, provisioning, total) as (store, uploader):
            result = await uploader.drain_once(progress=lambda done, all_: progress.append((done, all_)))
            local = await store.read(0, total + 1)
            return result, local, store.acked_through, store.backlog, store.stream_id

    result, local, acked, backlog, stream_id = run_async(scenario())

    assert result.ok and (result.sent, result.stored, result.duplicates) == (total, total, 0)
    assert (result.acked_through, result.backlog, acked, backlog) == (total, 0, total, 0)
    held = centre.stored(stream_id)
    assert [e["seq"] for e in held] == list(range(1, total + 1))
    assert held == local  # every field, exactly as recorded
    sizes = [len(b.body["events"]) for b in centre.batches()]
    assert sizes == [MAX_BATCH, MAX_BATCH, 234]
    assert progress[0] == (0, total) and progress[-1] == (total, total)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_batches_carry_signature_sent_at_and_health(centre, provisioning, state_dir):
    async def scenario():
        health = lambda: {"paper": "near_end", "printer_online": True}  # noqa: E731
        async with uploading(state_dir, provisioning, 3, health=health) as (_, uploader):
            return await uploader.drain_once()

    assert run_async(scenario()).ok
    (batch,) = centre.batches()
    body = batch.body
    assert batch.headers["Authorization"] == f"Bearer {provisioning.unit_token}"
    assert body["head_sig"]  # verified by the fake centre, or it would have answered 422
    assert datetime.fromisoformat(body["sent_at"]).utcoffset() is not None
    health = body["health"]
    assert health["backlog"] == 3 and health["paper"] == "near_end" and health["printer_online"] is True
    assert isinstance(health["disk_free_mb"], int) and isinstance(health["uptime_s"], int)
    assert health["version"] and health["stream_stopped"] is None


def test_http_calls_never_run_on_the_event_loop_thread(centre, provisioning, state_dir, monkeypatch):
    threads: list[int] = []
    real_send = requests.Session.send

    def recording_send(self, request, **kwargs):
        threads.append(threading.get_ident())
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)

    async def scenario():
        loop_thread = threading.get_ident()
        async with uploading(state_dir, provisioning, MAX_BATCH + 5, run=True,
                             settings=sync_settings(heartbeat_s=0.05)) as (store, uploader):
            await wait_until(lambda: store.backlog == 0 and len(centre.heartbeats()) >= 2)
            await uploader.drain_once()
            bundle = BundleCache(state_dir, provisioning, sync_settings())
            try:
                assert await bundle.refresh() and bundle.current.photo_path("1001") is not None
            finally:
                bundle.close()
        return loop_thread

    loop_thread = run_async(scenario())
    assert len(threads) >= 6  # two batches, heartbeats, the drain's heartbeat, bundle, photo
    assert loop_thread not in threads


def test_resent_events_are_counted_as_duplicates_not_stored_twice(centre, provisioning, state_dir):
    async def scenario():
        async with uploading(state_dir, provisioning, 40) as (store, uploader):
            await uploader.drain_once()
            await store.set_acked_through(10)  # as if the acknowledgements after 10 were lost
            await append_events(store, 5, start=40)
            return await uploader.drain_once(), store.stream_id

    result, stream_id = run_async(scenario())
    assert result.ok and (result.sent, result.stored, result.duplicates, result.acked_through) == (35, 5, 30, 45)
    assert [e["seq"] for e in centre.stored(stream_id)] == list(range(1, 46))


def test_gap_resends_from_the_expected_seq(centre, provisioning, state_dir):
    async def scenario():
        async with uploading(state_dir, provisioning, 10) as (store, uploader):
            await uploader.drain_once()
            centre.forget_after(store.stream_id, 4)  # the centre was restored from an older backup
            await append_events(store, 3, start=10)
            result = await uploader.drain_once()
            return result, await store.read(0, 100), store.stream_id

    result, local, stream_id = run_async(scenario())
    assert result.ok and result.acked_through == 13 and result.backlog == 0
    assert centre.stored(stream_id) == local
    codes = [b.status for b in centre.batches()]
    assert codes == [200, 409, 200]
    assert centre.batches()[2].body["events"][0]["seq"] == 5


def test_a_batch_read_ahead_is_used_only_where_the_centre_acknowledged_up_to(centre, provisioning, state_dir):
    """The uploader reads the next batch while the centre handles one. A partial acknowledgement
    or a gap moves the start elsewhere: then that read is dropped and every batch still starts
    right after what the centre holds, in order, nothing skipped or sent twice."""
    async def scenario():
        async with uploading(state_dir, provisioning, 3 * MAX_BATCH) as (store, uploader):
            centre.partial_acks.append(MAX_BATCH - 50)  # the first batch is taken only in part
            first = await uploader.drain_once()
            centre.forget_after(store.stream_id, 100)  # restored from an older backup
            await append_events(store, 2 * MAX_BATCH, start=3 * MAX_BATCH)
            second = await uploader.drain_once()
            return first, second, await store.read(0, 10 * MAX_BATCH), store.stream_id

    first, second, local, stream_id = run_async(scenario())
    assert first.ok and first.acked_through == 3 * MAX_BATCH
    assert second.ok and second.acked_through == 5 * MAX_BATCH and second.backlog == 0
    assert centre.stored(stream_id) == local
    starts = [(b.status, b.body["events"][0]["seq"]) for b in centre.batches()]
    assert starts == [(200, 1), (200, 451), (200, 951), (200, 1451),  # 450 taken of the first
                      (409, 1501),  # the centre holds only 100 now: the batch read ahead is dropped
                      (200, 101), (200, 601), (200, 1101), (200, 1601), (200, 2101)]


def test_gap_for_events_pruned_here_stops_the_stream(centre, provisioning, state_dir):
    async def scenario():
        async with uploading(state_dir, provisioning, 10) as (store, uploader):
            await uploader.drain_once()
            await store.prune(0, now=time.time() + 60)  # acknowledged: gone here (head kept)
            centre.forget_after(store.stream_id, 2)
            await append_events(store, 2, start=10)
            result = await uploader.drain_once()
            return result, uploader.status(), store.backlog, await store.get_meta(STREAM_STOPPED_META_KEY)

    result, status, backlog, stored_stop = run_async(scenario())
    assert result.outcome == EVENTS_PRUNED and "pruned" in result.error
    assert status["stream_stopped"] and status["stream_stopped_reason"]["code"] == EVENTS_PRUNED
    assert backlog == 2 and stored_stop


def test_conflict_stops_the_stream_keeps_events_and_survives_restart(centre, provisioning, state_dir):
    async def first_run():
        async with uploading(state_dir, provisioning, 6) as (store, uploader):
            await uploader.drain_once()
            # The centre holds a different event at seq 5 than this unit does.
            centre.streams[store.stream_id][4] = dict(centre.streams[store.stream_id][4], hash="0" * 64)
            await store.set_acked_through(4)
            await append_events(store, 3, start=6)
            result = await uploader.drain_once()
            return result, uploader.status()

    result, status = run_async(first_run())
    assert result.outcome == Outcome.CONFLICT and result.acked_through == 4 and result.backlog == 5
    assert status["stream_stopped"] and status["stream_stopped_reason"]["code"] == "conflict"
    assert status["stream_stopped_reason"]["first_seq"] == 5

    async def after_restart():
        batches_before = len(centre.batches())
        async with uploading(state_dir, provisioning, run=True,
                             settings=sync_settings(heartbeat_s=0.05)) as (store, uploader):
            await append_events(store, 1, start=9)
            uploader.notify()
            await wait_until(lambda: len(centre.heartbeats()) >= 2)
            drained = await uploader.drain_once()
            return (drained, uploader.status(), await store.count(), store.backlog,
                    len(centre.batches()) - batches_before)

    drained, status, count, backlog, new_batches = run_async(after_restart())
    assert drained.outcome == STREAM_STOPPED and "conflict" in drained.error
    assert status["stream_stopped"] and new_batches == 0  # nothing more sent from this stream
    assert count == 10 and backlog == 6  # every event kept
    assert centre.health[-1]["stream_stopped"] == "conflict"  # reported in health


def test_bad_signature_stops_the_stream(centre, provisioning, state_dir):
    forged = Provisioning(provisioning.centre_url, provisioning.unit_id, provisioning.unit_token,
                          generate_private_key())

    async def scenario():
        async with uploading(state_dir, forged, 3) as (store, uploader):
            return await uploader.drain_once(), store.backlog

    result, backlog = run_async(scenario())
    assert result.outcome == Outcome.BAD_SIGNATURE and backlog == 3
    assert centre.stored(centre.batches()[0].body["stream_id"]) == []


@pytest.mark.parametrize("refusal, outcome", [
    ("bad_token", Outcome.UNAUTHORIZED), ("revoked", Outcome.REVOKED), ("other_unit", Outcome.FORBIDDEN)])
def test_401_and_403_keep_events_and_back_off_without_stopping(centre, provisioning, state_dir, refusal, outcome):
    if refusal == "bad_token":
        centre.units[provisioning.unit_id].unit_token = "rotated"
    elif refusal == "revoked":
        centre.units[provisioning.unit_id].revoked = True
    else:
        centre.units["someone-else"] = centre.units.pop(provisioning.unit_id)

    async def scenario():
        async with uploading(state_dir, provisioning, 7, rng=lambda: 1.0) as (store, uploader):
            return await uploader.drain_once(), uploader.status(), store.backlog, store.acked_through

    result, status, backlog, acked = run_async(scenario())
    assert result.outcome == outcome and (backlog, acked) == (7, 0)
    assert not status["stream_stopped"] and status["consecutive_failures"] == 1
    assert status["retry_delay_s"] == 1.0 and 0 < status["next_retry_in_s"] <= 1.0
    assert status["last_error"]["outcome"] == outcome


def test_uploader_backoff_grows_caps_and_resets_on_success(centre, provisioning, state_dir):
    centre.refuse_uploads = [(503, {"code": "unavailable", "message": "db down"})] * 11

    async def scenario():
        delays = []
        async with uploading(state_dir, provisioning, 2, rng=lambda: 1.0) as (_, uploader):
            for _ in range(11):
                result = await uploader.drain_once()
                assert result.outcome == Outcome.SERVER_ERROR and "db down" in result.error
                delays.append(uploader.status()["retry_delay_s"])
            final = await uploader.drain_once()
            return delays, final, uploader.status()

    delays, final, status = run_async(scenario())
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert final.ok and status["consecutive_failures"] == 0 and status["next_retry_in_s"] is None
    assert status["last_success_at"]


def test_run_uploads_within_a_second_of_notify_and_recovers_after_outage(centre, provisioning, state_dir):
    centre.refuse_uploads = [(503, {"code": "unavailable"})] * 3

    async def scenario():
        async with uploading(state_dir, provisioning, 5, run=True) as (store, uploader):
            await wait_until(lambda: store.backlog == 0)  # through three refusals, with backoff
            latencies = []
            for i in range(3):
                await append_events(store, 1, start=100 + i)
                started = time.monotonic()
                uploader.notify()
                await wait_until(lambda: store.backlog == 0, timeout=5)
                latencies.append(time.monotonic() - started)
            return latencies, store.stream_id

    latencies, stream_id = run_async(scenario())
    assert max(latencies) < 1.0
    assert [e["seq"] for e in centre.stored(stream_id)] == list(range(1, 9))
    assert [b.status for b in centre.batches()][:4] == [503, 503, 503, 200]


def test_heartbeat_when_idle_has_the_protocol_shape(centre, provisioning, state_dir):
    async def scenario():
        async with uploading(state_dir, provisioning, run=True, settings=sync_settings(heartbeat_s=0.2),
                             health=lambda: {"paper": "ok"}) as (store, uploader):
            await wait_until(lambda: len(centre.heartbeats()) >= 3, timeout=5)
            return store.stream_id, uploader.status()

    stream_id, status = run_async(scenario())
    beats = centre.heartbeats()
    body = beats[0].body
    assert set(body) == {"stream_id", "events", "head_sig", "sent_at", "health"}
    assert body["stream_id"] == stream_id and body["events"] == [] and body["head_sig"] == ""
    assert datetime.fromisoformat(body["sent_at"]).utcoffset() is not None
    assert {"backlog", "paper", "disk_free_mb", "version", "uptime_s"} <= set(body["health"])
    assert body["health"]["backlog"] == 0 and body["health"]["paper"] == "ok"
    assert status["last_heartbeat_at"] is not None
    assert len(centre.batches()) == 0


def test_run_prunes_acknowledged_events_after_the_retention(centre, provisioning, state_dir):
    async def scenario():
        async with uploading(state_dir, provisioning, 20, run=True,
                             settings=sync_settings(retention_days=0)) as (store, _):
            await wait_until(lambda: store.backlog == 0)
            deadline = time.monotonic() + 5
            count = await store.count()
            while count != 1 and time.monotonic() < deadline:  # the prune follows the acks
                await asyncio.sleep(0.02)
                count = await store.count()
            return count, store.head.seq

    count, head = run_async(scenario())
    assert count == 1 and head == 20  # every acknowledged event but the head (chain anchor)


def test_network_error_when_the_centre_is_gone(provisioning, state_dir, centre):
    centre.close()

    async def scenario():
        async with uploading(state_dir, provisioning, 2) as (store, uploader):
            return await uploader.drain_once(), store.backlog

    result, backlog = run_async(scenario())
    assert result.outcome == Outcome.NETWORK_ERROR and "refused" in result.error and backlog == 2


def test_a_store_that_cannot_be_read_keeps_every_event_and_backs_off(centre, provisioning, state_dir):
    """The store's failures are the exception types the unit names (store_errors): a pass ends
    with store_error, nothing is sent or marked, and the uploader retries after its backoff."""
    async def scenario():
        async with uploading(state_dir, provisioning, 4, rng=lambda: 1.0) as (store, uploader):
            real_read = store.read

            async def failing_read(*args, **kwargs):
                raise sqlite3.OperationalError("disk I/O error")

            store.read = failing_read
            failed = await uploader.drain_once()
            status, sent = uploader.status(), len(centre.batches())
            store.read = real_read
            return failed, status, sent, await uploader.drain_once()

    failed, status, sent, recovered = run_async(scenario())
    assert failed.outcome == STORE_ERROR and "disk I/O error" in failed.error and failed.backlog == 4
    assert status["consecutive_failures"] == 1 and status["last_error"]["outcome"] == STORE_ERROR
    assert not status["stream_stopped"] and sent == 0
    assert recovered.ok and recovered.acked_through == 4


def test_cancelling_run_lets_an_acknowledgement_write_finish(centre, provisioning, state_dir):
    """Stopping the service mid-write must not leave the store's one connection in a transaction."""
    async def scenario():
        async with uploading(state_dir, provisioning, 3) as (store, uploader):
            gate, entered = asyncio.Event(), asyncio.Event()
            real_set_acked = store.set_acked_through

            async def slow_set_acked(seq: int) -> None:
                entered.set()
                await gate.wait()
                await real_set_acked(seq)

            store.set_acked_through = slow_set_acked
            task = asyncio.create_task(uploader.run())
            await asyncio.wait_for(entered.wait(), 10)
            task.cancel()
            await asyncio.sleep(0.1)
            still_running = not task.done()  # waits for the write instead of abandoning it
            gate.set()
            await asyncio.gather(task, return_exceptions=True)
            await store.append("printer.status", {"paper": "ok", "online": True})  # the store still writes
            return still_running, task.cancelled(), store.acked_through, store.head.seq

    still_running, cancelled, acked, head = run_async(scenario())
    assert still_running and cancelled and (acked, head) == (3, 4)


def test_unexpected_statuses_are_retried_never_stop_the_stream(centre, provisioning, state_dir):
    centre.refuse_uploads = [(404, {"code": "not_found", "message": "no such route"}),
                             (409, {"code": "locked", "message": "try later"})]

    async def scenario():
        async with uploading(state_dir, provisioning, 2) as (_, uploader):
            results = [await uploader.drain_once() for _ in range(3)]
            return results, uploader.status()

    results, status = run_async(scenario())
    assert [r.outcome for r in results] == [Outcome.SERVER_ERROR, Outcome.SERVER_ERROR, Outcome.OK]
    assert "404" in results[0].error and "locked" in results[1].error
    assert not status["stream_stopped"] and results[2].acked_through == 2


def test_batches_shrink_on_a_link_too_slow_for_a_full_batch_and_grow_back(centre, provisioning, state_dir):
    """A link that times out anything above 60 events: halving reaches a size that gets through,
    the backlog drains, and after successes the batch grows back toward the full 500."""
    total = 700

    async def scenario():
        async with uploading(state_dir, provisioning, total) as (store, uploader):
            real_upload = uploader._client.upload

            def slow_link_upload(body):
                if len(body["events"]) > 60:
                    return UploadResult(Outcome.NETWORK_ERROR, message="timed out (simulated slow link)")
                return real_upload(body)

            uploader._client.upload = slow_link_upload
            outcomes = []
            for _ in range(40):
                result = await uploader.drain_once()
                outcomes.append(result.outcome)
                if store.backlog == 0:
                    break
            return outcomes, store.backlog, store.stream_id, uploader.batch_size

    outcomes, backlog, stream_id, final_size = run_async(scenario())
    assert backlog == 0 and outcomes[-1] == Outcome.OK
    assert outcomes[:3] == [Outcome.NETWORK_ERROR] * 3           # 500 → 250 → 125 → 62 …
    assert [e["seq"] for e in centre.stored(stream_id)] == list(range(1, total + 1))
    sizes = [len(b.body["events"]) for b in centre.batches()]
    assert max(sizes) <= 60 and sizes[:8] == [31] * 8   # 500 → 250 → 125 → 62 refused, 31 gets through
    failures = outcomes.count(Outcome.NETWORK_ERROR)
    assert failures <= 4 + len(sizes) // GROW_AFTER + 1   # after the first shrink, one retry per 8 batches
    assert MIN_BATCH <= final_size <= 62
