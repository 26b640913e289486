"""The event store on real SQLite files: shape, chain, durability settings, locking, pruning."""
from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import datetime

import pytest

from kiosk.events import SCHEMA_VERSION, EventStore, StoreBusy, StoreCorrupt, StoreError, store_in_use
from protocol.chain import event_hash, verify_chain
from protocol.events import EVENT_FIELDS


def run(coro):
    return asyncio.run(coro)


class FixedClock:
    boot_id = "boot-test"

    def __init__(self):
        self.mono = 1_000_000_000

    def wall_time(self):
        return "2026-11-23T09:14:03.512+08:00"

    def monotonic(self):
        return self.mono / 1e9

    def mono_ns(self):
        self.mono += 1000
        return self.mono

    def clock_synced(self):
        return False


def test_event_has_every_protocol_field_and_a_valid_chain(tmp_path):
    async def scenario():
        store = await EventStore.open(tmp_path / "events.db")
        try:
            first = await store.append("unit.started", {"version": "1", "role": "both", "config_hash": "x"})
            rest = await store.append_many([("staff.signed_in", {"staff_id": "1001", "counter_id": "1"}),
                                            ("counter.paused", {"counter_id": "1", "reason": "开会（临时）"})])
            return store.stream_id, [first, *rest], await store.read(0, 10)
        finally:
            await store.close()

    stream_id, appended, stored = run(scenario())
    assert appended == stored
    assert [e["seq"] for e in stored] == [1, 2, 3]
    for event in stored:
        assert tuple(sorted(event)) == tuple(sorted(EVENT_FIELDS))
        uuid.UUID(event["event_id"])
        assert event["stream_id"] == stream_id
        assert event["hash"] == event_hash(event)
        assert datetime.fromisoformat(event["wall_time"]).utcoffset() is not None
        assert isinstance(event["mono_ns"], int) and isinstance(event["clock_synced"], bool)
        assert event["boot_id"]
    assert stored[0]["prev_hash"] == ""
    verify_chain(stored, stream_id)
    assert stored[2]["data"]["reason"] == "开会（临时）"


def test_pragmas_and_schema_version(tmp_path):
    async def scenario():
        store = await EventStore.open(tmp_path / "events.db")
        await store.close()

    run(scenario())
    conn = sqlite3.connect(tmp_path / "events.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_synchronous_full_on_the_writer_connection(tmp_path):
    async def scenario():
        store = await EventStore.open(tmp_path / "events.db")
        try:
            async with store._conn.execute("PRAGMA synchronous") as cursor:
                return (await cursor.fetchone())[0]
        finally:
            await store.close()

    assert run(scenario()) == 2  # FULL


def test_seq_and_chain_continue_across_reopen(tmp_path):
    async def scenario():
        store = await EventStore.open(tmp_path / "events.db")
        await store.append("a", {})
        stream = store.stream_id
        await store.close()
        store = await EventStore.open(tmp_path / "events.db")
        await store.append("b", {})
        events = await store.read()
        await store.close()
        return stream, events

    stream, events = run(scenario())
    assert [e["seq"] for e in events] == [1, 2]
    assert {e["stream_id"] for e in events} == {stream}
    verify_chain(events, stream)


def test_new_database_is_a_new_stream(tmp_path):
    async def stream_of(path):
        store = await EventStore.open(path)
        await store.close()
        return store.stream_id

    assert run(stream_of(tmp_path / "a.db")) != run(stream_of(tmp_path / "b.db"))


def test_only_one_writer(tmp_path):
    async def scenario():
        store = await EventStore.open(tmp_path / "events.db")
        try:
            assert store_in_use(tmp_path / "events.db")
            with pytest.raises(StoreBusy):
                await EventStore.open(tmp_path / "events.db")
        finally:
            await store.close()
        assert not store_in_use(tmp_path / "events.db")

    run(scenario())


def test_corrupt_file_is_refused_at_open(tmp_path):
    path = tmp_path / "events.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(StoreCorrupt):
        run(EventStore.open(path))
    assert not store_in_use(path)  # a refused open releases the writer lock


def test_damaged_pages_fail_quick_check(tmp_path):
    path = tmp_path / "events.db"

    async def fill():
        store = await EventStore.open(path)
        await store.append_many([("x", {"pad": "数据" * 200}) for _ in range(200)])
        await store.close()

    run(fill())
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = bytearray(path.read_bytes())
    for offset in range(4096 * 3, 4096 * 6):
        raw[offset] = 0x5A
    path.write_bytes(bytes(raw))
    with pytest.raises(StoreCorrupt):
        run(EventStore.open(path))


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "events.db"
    async def create():
        store = await EventStore.open(path)
        await store.close()

    run(create())
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        run(EventStore.open(path))


def test_acked_through_and_prune_never_touch_unacked_or_head(tmp_path):
    async def scenario():
        store = await EventStore.open(tmp_path / "events.db", FixedClock())
        try:
            await store.append_many([("x", {"i": i}) for i in range(10)])
            assert store.backlog == 10
            await store.set_acked_through(6)
            assert store.backlog == 4
            deleted_young = await store.prune(retention_s=3600)
            deleted_old = await store.prune(retention_s=3600, now=10**10)
            remaining = [e["seq"] for e in await store.read(0, 100)]
            await store.set_acked_through(10)
            deleted_all_acked = await store.prune(retention_s=3600, now=10**10)
            after = [e["seq"] for e in await store.read(0, 100)]
            event = await store.append("y", {})
            return deleted_young, deleted_old, remaining, deleted_all_acked, after, event, store.acked_through
        finally:
            await store.close()

    young, old, remaining, all_acked, after, event, acked = run(scenario())
    assert young == 0
    assert old == 6 and remaining == [7, 8, 9, 10]
    assert all_acked == 3 and after == [10]   # the head stays: the next event chains onto it
    assert event["seq"] == 11 and acked == 10


def test_acked_through_survives_reopen(tmp_path):
    async def scenario():
        store = await EventStore.open(tmp_path / "events.db")
        await store.append_many([("x", {}), ("y", {})])
        await store.set_acked_through(2)
        await store.close()
        store = await EventStore.open(tmp_path / "events.db")
        acked = store.acked_through
        await store.close()
        return acked

    assert run(scenario()) == 2


def test_read_filters_by_type_and_latest_seq(tmp_path):
    async def scenario():
        store = await EventStore.open(tmp_path / "events.db")
        try:
            await store.append_many([("a", {}), ("b", {}), ("a", {}), ("c", {})])
            return ([e["seq"] for e in await store.read(0, 10, types=["a"])],
                    await store.latest_seq(["a", "b"]), await store.latest_seq(["zzz"]))
        finally:
            await store.close()

    assert run(scenario()) == ([1, 3], 3, None)
