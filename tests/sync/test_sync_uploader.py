"""The uploader against a fake centre on 127.0.0.1: order, exactly once, gap, conflict, refusals,
backoff, heartbeat, pruning, and that no HTTP call ever runs on the event loop's thread."""
from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime

import pytest
import requests

from kiosk import paths
from kiosk.config import SyncSettings
from kiosk.events import EventStore
from sync.bundle import BundleCache
from sync.client import Outcome
from protocol import MAX_BATCH
from protocol.signing import generate_private_key
from sync.provision import Provisioning
from sync.timing import Backoff
from sync.uploader import EVENTS_PRUNED, STREAM_STOPPED, STREAM_STOPPED_META_KEY, Uploader
from sync_helpers import append_events, run_async, store_with

pytestmark = pytest.mark.timeout(120)


def sync_settings(**overrides) -> SyncSettings:
    # model_construct: tests may use intervals below the config's minimums (heartbeat ≥ 5 s).
    base = SyncSettings(timeout_s=5).model_dump()
    base.update(overrides)
    return SyncSettings.model_construct(**base)


def fast_uploader(store: EventStore, provisioning: Provisioning, **kwargs) -> Uploader:
    """Jitter of 0.001 turns the 1 s…300 s backoff into 1 ms…0.3 s: the loop's logic, quickly."""
    kwargs.setdefault("rng", lambda: 0.001)
    settings = kwargs.pop("settings", sync_settings())
    return Uploader(store, provisioning, settings, **kwargs)


async def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_backlog_drains_in_order_exactly_once_with_progress(centre, provisioning, state_dir):
    total = 2 * MAX_BATCH + 234
    progress: list[tuple[int, int]] = []

    async def scenario():
        store = await store_with(paths.events_db(state_dir), total)
        uploader = fast_uploader(store, provisioning)
        try:
            result = await uploader.drain_once(progress=lambda done, all_: progress.append((done, all_)))
            local = await store.read(0, total + 1)
            return result, local, store.acked_through, store.backlog, store.stream_id
        finally:
            uploader.close()
            await store.close()

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
        store = await store_with(paths.events_db(state_dir), 3)
        uploader = fast_uploader(store, provisioning, health=lambda: {"paper": "near_end", "printer_online": True})
        try:
            return await uploader.drain_once()
        finally:
            uploader.close()
            await store.close()

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
        store = await store_with(paths.events_db(state_dir), MAX_BATCH + 5)
        uploader = fast_uploader(store, provisioning, settings=sync_settings(heartbeat_s=0.05))
        task = asyncio.create_task(uploader.run())
        try:
            await wait_until(lambda: store.backlog == 0 and len(centre.heartbeats()) >= 2)
            await uploader.drain_once()
            bundle = BundleCache(state_dir, provisioning, sync_settings())
            assert await bundle.refresh() and bundle.current.photo_path("1001") is not None
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            uploader.close()
            await store.close()
        return loop_thread

    loop_thread = run_async(scenario())
    assert len(threads) >= 6  # two batches, heartbeats, the drain's heartbeat, bundle, photo
    assert loop_thread not in threads


def test_resent_events_are_counted_as_duplicates_not_stored_twice(centre, provisioning, state_dir):
    async def scenario():
        store = await store_with(paths.events_db(state_dir), 40)
        uploader = fast_uploader(store, provisioning)
        try:
            await uploader.drain_once()
            await store.set_acked_through(10)  # as if the acknowledgements after 10 were lost
            await append_events(store, 5, start=40)
            return await uploader.drain_once(), store.stream_id
        finally:
            uploader.close()
            await store.close()

    result, stream_id = run_async(scenario())
    assert result.ok and (result.sent, result.stored, result.duplicates, result.acked_through) == (35, 5, 30, 45)
    assert [e["seq"] for e in centre.stored(stream_id)] == list(range(1, 46))


def test_gap_resends_from_the_expected_seq(centre, provisioning, state_dir):
    async def scenario():
        store = await store_with(paths.events_db(state_dir), 10)
        uploader = fast_uploader(store, provisioning)
        try:
            await uploader.drain_once()
            centre.forget_after(store.stream_id, 4)  # the centre was restored from an older backup
            await append_events(store, 3, start=10)
            result = await uploader.drain_once()
            return result, await store.read(0, 100), store.stream_id
        finally:
            uploader.close()
            await store.close()

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
        store = await store_with(paths.events_db(state_dir), 3 * MAX_BATCH)
        uploader = fast_uploader(store, provisioning)
        try:
            centre.partial_acks.append(MAX_BATCH - 50)  # the first batch is taken only in part
            first = await uploader.drain_once()
            centre.forget_after(store.stream_id, 100)  # restored from an older backup
            await append_events(store, 2 * MAX_BATCH, start=3 * MAX_BATCH)
            second = await uploader.drain_once()
            return first, second, await store.read(0, 10 * MAX_BATCH), store.stream_id
        finally:
            uploader.close()
            await store.close()

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
        store = await store_with(paths.events_db(state_dir), 10)
        uploader = fast_uploader(store, provisioning)
        try:
            await uploader.drain_once()
            await store.prune(0, now=time.time() + 60)  # acknowledged: gone here (head kept)
            centre.forget_after(store.stream_id, 2)
            await append_events(store, 2, start=10)
            result = await uploader.drain_once()
            return result, uploader.status(), store.backlog, await store.get_meta(STREAM_STOPPED_META_KEY)
        finally:
            uploader.close()
            await store.close()

    result, status, backlog, stored_stop = run_async(scenario())
    assert result.outcome == EVENTS_PRUNED and "pruned" in result.error
    assert status["stream_stopped"] and status["stream_stopped_reason"]["code"] == EVENTS_PRUNED
    assert backlog == 2 and stored_stop


def test_conflict_stops_the_stream_keeps_events_and_survives_restart(centre, provisioning, state_dir):
    db = paths.events_db(state_dir)

    async def first_run():
        store = await store_with(db, 6)
        uploader = fast_uploader(store, provisioning)
        try:
            await uploader.drain_once()
            # The centre holds a different event at seq 5 than this unit does.
            centre.streams[store.stream_id][4] = dict(centre.streams[store.stream_id][4], hash="0" * 64)
            await store.set_acked_through(4)
            await append_events(store, 3, start=6)
            result = await uploader.drain_once()
            return result, uploader.status()
        finally:
            uploader.close()
            await store.close()

    result, status = run_async(first_run())
    assert result.outcome == Outcome.CONFLICT and result.acked_through == 4 and result.backlog == 5
    assert status["stream_stopped"] and status["stream_stopped_reason"]["code"] == "conflict"
    assert status["stream_stopped_reason"]["first_seq"] == 5

    async def after_restart():
        store = await EventStore.open(db)
        uploader = fast_uploader(store, provisioning, settings=sync_settings(heartbeat_s=0.05))
        batches_before = len(centre.batches())
        task = asyncio.create_task(uploader.run())
        try:
            await append_events(store, 1, start=9)
            uploader.notify()
            await wait_until(lambda: len(centre.heartbeats()) >= 2)
            drained = await uploader.drain_once()
            return (drained, uploader.status(), await store.count(), store.backlog,
                    len(centre.batches()) - batches_before)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            uploader.close()
            await store.close()

    drained, status, count, backlog, new_batches = run_async(after_restart())
    assert drained.outcome == STREAM_STOPPED and "conflict" in drained.error
    assert status["stream_stopped"] and new_batches == 0  # nothing more sent from this stream
    assert count == 10 and backlog == 6  # every event kept
    assert centre.health[-1]["stream_stopped"] == "conflict"  # reported in health


def test_bad_signature_stops_the_stream(centre, provisioning, state_dir):
    forged = Provisioning(provisioning.centre_url, provisioning.unit_id, provisioning.unit_token,
                          generate_private_key())

    async def scenario():
        store = await store_with(paths.events_db(state_dir), 3)
        uploader = fast_uploader(store, forged)
        try:
            return await uploader.drain_once(), store.backlog
        finally:
            uploader.close()
            await store.close()

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
        store = await store_with(paths.events_db(state_dir), 7)
        uploader = Uploader(store, provisioning, sync_settings(), rng=lambda: 1.0)
        try:
            return await uploader.drain_once(), uploader.status(), store.backlog, store.acked_through
        finally:
            uploader.close()
            await store.close()

    result, status, backlog, acked = run_async(scenario())
    assert result.outcome == outcome and (backlog, acked) == (7, 0)
    assert not status["stream_stopped"] and status["consecutive_failures"] == 1
    assert status["retry_delay_s"] == 1.0 and 0 < status["next_retry_in_s"] <= 1.0
    assert status["last_error"]["outcome"] == outcome


def test_backoff_doubles_from_one_second_with_full_jitter_and_caps_at_five_minutes():
    ceilings = Backoff(rng=lambda: 1.0)
    assert [ceilings.next_delay() for _ in range(12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    halves = Backoff(rng=lambda: 0.5)
    assert [halves.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    halves.reset()
    assert halves.next_delay() == 0.5
    many = Backoff(rng=lambda: 1.0)
    for _ in range(5000):
        delay = many.next_delay()
    assert delay == 300  # no overflow after days of failures


def test_uploader_backoff_grows_caps_and_resets_on_success(centre, provisioning, state_dir):
    centre.refuse_uploads = [(503, {"code": "unavailable", "message": "db down"})] * 11

    async def scenario():
        store = await store_with(paths.events_db(state_dir), 2)
        uploader = Uploader(store, provisioning, sync_settings(), rng=lambda: 1.0)
        delays = []
        try:
            for _ in range(11):
                result = await uploader.drain_once()
                assert result.outcome == Outcome.SERVER_ERROR and "db down" in result.error
                delays.append(uploader.status()["retry_delay_s"])
            final = await uploader.drain_once()
            return delays, final, uploader.status()
        finally:
            uploader.close()
            await store.close()

    delays, final, status = run_async(scenario())
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert final.ok and status["consecutive_failures"] == 0 and status["next_retry_in_s"] is None
    assert status["last_success_at"]


def test_run_uploads_within_a_second_of_notify_and_recovers_after_outage(centre, provisioning, state_dir):
    centre.refuse_uploads = [(503, {"code": "unavailable"})] * 3

    async def scenario():
        store = await store_with(paths.events_db(state_dir), 5)
        uploader = fast_uploader(store, provisioning)
        task = asyncio.create_task(uploader.run())
        try:
            await wait_until(lambda: store.backlog == 0)  # through three refusals, with backoff
            latencies = []
            for i in range(3):
                await append_events(store, 1, start=100 + i)
                started = time.monotonic()
                uploader.notify()
                await wait_until(lambda: store.backlog == 0, timeout=5)
                latencies.append(time.monotonic() - started)
            return latencies, store.stream_id
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            uploader.close()
            await store.close()

    latencies, stream_id = run_async(scenario())
    assert max(latencies) < 1.0
    assert [e["seq"] for e in centre.stored(stream_id)] == list(range(1, 9))
    assert [b.status for b in centre.batches()][:4] == [503, 503, 503, 200]


def test_heartbeat_when_idle_has_the_protocol_shape(centre, provisioning, state_dir):
    async def scenario():
        store = await EventStore.open(paths.events_db(state_dir))
        uploader = fast_uploader(store, provisioning, settings=sync_settings(heartbeat_s=0.2),
                                 health=lambda: {"paper": "ok"})
        task = asyncio.create_task(uploader.run())
        try:
            await wait_until(lambda: len(centre.heartbeats()) >= 3, timeout=5)
            return store.stream_id, uploader.status()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            uploader.close()
            await store.close()

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
        store = await store_with(paths.events_db(state_dir), 20)
        uploader = fast_uploader(store, provisioning, settings=sync_settings(retention_days=0))
        task = asyncio.create_task(uploader.run())
        try:
            await wait_until(lambda: store.backlog == 0)
            deadline = time.monotonic() + 5
            count = await store.count()
            while count != 1 and time.monotonic() < deadline:  # the prune follows the acks
                await asyncio.sleep(0.02)
                count = await store.count()
            return count, store.head.seq
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            uploader.close()
            await store.close()

    count, head = run_async(scenario())
    assert count == 1 and head == 20  # every acknowledged event but the head (chain anchor)


def test_network_error_when_the_centre_is_gone(provisioning, state_dir, centre):
    centre.close()

    async def scenario():
        store = await store_with(paths.events_db(state_dir), 2)
        uploader = fast_uploader(store, provisioning)
        try:
            return await uploader.drain_once(), store.backlog
        finally:
            uploader.close()
            await store.close()

    result, backlog = run_async(scenario())
    assert result.outcome == Outcome.NETWORK_ERROR and "refused" in result.error and backlog == 2


def test_cancelling_run_lets_an_acknowledgement_write_finish(centre, provisioning, state_dir):
    """Stopping the service mid-write must not leave the store's one connection in a transaction."""
    async def scenario():
        store = await store_with(paths.events_db(state_dir), 3)
        gate, entered = asyncio.Event(), asyncio.Event()
        real_set_acked = store.set_acked_through

        async def slow_set_acked(seq: int) -> None:
            entered.set()
            await gate.wait()
            await real_set_acked(seq)

        store.set_acked_through = slow_set_acked
        uploader = fast_uploader(store, provisioning)
        task = asyncio.create_task(uploader.run())
        try:
            await asyncio.wait_for(entered.wait(), 10)
            task.cancel()
            await asyncio.sleep(0.1)
            still_running = not task.done()  # waits for the write instead of abandoning it
            gate.set()
            await asyncio.gather(task, return_exceptions=True)
            await store.append("printer.status", {"paper": "ok", "online": True})  # the store still writes
            return still_running, task.cancelled(), store.acked_through, store.head.seq
        finally:
            uploader.close()
            await store.close()

    still_running, cancelled, acked, head = run_async(scenario())
    assert still_running and cancelled and (acked, head) == (3, 4)


def test_unexpected_statuses_are_retried_never_stop_the_stream(centre, provisioning, state_dir):
    centre.refuse_uploads = [(404, {"code": "not_found", "message": "no such route"}),
                             (409, {"code": "locked", "message": "try later"})]

    async def scenario():
        store = await store_with(paths.events_db(state_dir), 2)
        uploader = fast_uploader(store, provisioning)
        try:
            results = [await uploader.drain_once() for _ in range(3)]
            return results, uploader.status()
        finally:
            uploader.close()
            await store.close()

    results, status = run_async(scenario())
    assert [r.outcome for r in results] == [Outcome.SERVER_ERROR, Outcome.SERVER_ERROR, Outcome.OK]
    assert "404" in results[0].error and "locked" in results[1].error
    assert not status["stream_stopped"] and results[2].acked_through == 2


def test_batches_shrink_on_a_link_too_slow_for_a_full_batch_and_grow_back(centre, provisioning, state_dir):
    """A link that times out anything above 60 events: halving reaches a size that gets through,
    the backlog drains, and after successes the batch grows back toward the full 500."""
    from sync.client import UploadResult
    from sync.uploader import GROW_AFTER, MIN_BATCH

    total = 700

    async def scenario():
        store = await store_with(paths.events_db(state_dir), total)
        uploader = fast_uploader(store, provisioning)
        real_upload = uploader._client.upload

        def slow_link_upload(body):
            if len(body["events"]) > 60:
                return UploadResult(Outcome.NETWORK_ERROR, message="timed out (simulated slow link)")
            return real_upload(body)

        uploader._client.upload = slow_link_upload
        try:
            outcomes = []
            for _ in range(40):
                result = await uploader.drain_once()
                outcomes.append(result.outcome)
                if store.backlog == 0:
                    break
            return outcomes, store.backlog, store.stream_id, uploader.batch_size
        finally:
            uploader.close()
            await store.close()

    outcomes, backlog, stream_id, final_size = run_async(scenario())
    assert backlog == 0 and outcomes[-1] == Outcome.OK
    assert outcomes[:3] == [Outcome.NETWORK_ERROR] * 3           # 500 → 250 → 125 → 62 …
    assert [e["seq"] for e in centre.stored(stream_id)] == list(range(1, total + 1))
    sizes = [len(b.body["events"]) for b in centre.batches()]
    assert max(sizes) <= 60 and sizes[:8] == [31] * 8   # 500 → 250 → 125 → 62 refused, 31 gets through
    failures = outcomes.count(Outcome.NETWORK_ERROR)
    assert failures <= 4 + len(sizes) // GROW_AFTER + 1   # after the first shrink, one retry per 8 batches
    assert MIN_BATCH <= final_size <= 62
