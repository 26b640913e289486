"""The event store: one SQLite file, append-only, hash-chained, and the only writer to that file.

Every append returns only after its transaction is committed with synchronous=FULL in WAL mode, so
an event the unit acknowledged (to the API, on screen, by voice) survives a power cut or kill -9.
"""
from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import aiosqlite

from protocol.chain import canonical_bytes, event_hash

from kiosk.clock import Clock, SystemClock
from kiosk.stored_chain import ChainBroken, ChainWalk
from kiosk.stream_record import StreamRecord, load_stream_record, save_stream_record, stream_record_path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
VERIFY_BATCH = 1000
# Where the store keeps how far its hash chain was verified (the seq and that event's hash).
VERIFIED_SEQ_KEY = "chain_verified_seq"
VERIFIED_HASH_KEY = "chain_verified_hash"
_ROWS_AFTER = "SELECT seq, event_id, type, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?"

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # version reached -> statements that take the schema there from the version before
    1: (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE events (
               seq INTEGER PRIMARY KEY,
               event_id TEXT NOT NULL,
               type TEXT NOT NULL,
               recorded_at REAL NOT NULL,
               body TEXT NOT NULL
           )""",
        "CREATE INDEX events_type ON events (type, seq)",
    ),
}


class StoreError(Exception):
    """The store cannot do what was asked; `code` is what the API and status report."""

    code = "storage_error"


class StoreWriteError(StoreError):
    """A write failed (disk full, I/O error). Nothing of that write was committed."""

    code = "storage_unavailable"


class StoreCorrupt(StoreError):
    """The store's content cannot be trusted; `seq` is the first event concerned, when known."""

    code = "storage_corrupt"

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class StoreBusy(StoreError):
    """Another process already owns this event store (the store must be the only writer)."""

    code = "storage_busy"

    def __init__(self, message: str, holder: "Holder | None" = None) -> None:
        super().__init__(message)
        self.holder = holder


# How the store says it cannot read or write: its own errors for writes and opening, SQLite's as
# they come for reads (what the uploader is told to treat as "the store failed", not as a bug).
STORE_ERRORS: tuple[type[Exception], ...] = (StoreError, sqlite3.Error)


# SQLite's primary result codes that say the file itself is damaged (the rest — full, I/O error,
# read-only, cannot open — say the disk will not take it now).
_SQLITE_DAMAGE = {11, 26}   # SQLITE_CORRUPT, SQLITE_NOTADB


_SQLITE_NO_WRITE = {3, 8, 14}   # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN


def sqlite_failure(db_path: Path, error: sqlite3.Error) -> StoreError:
    code = (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in _SQLITE_DAMAGE:
        return StoreCorrupt(f"{db_path}: not a usable event database: {error}")
    if code in _SQLITE_NO_WRITE and (why := _unwritable(db_path.parent)) is not None:
        return cannot_write(db_path.parent, OSError(why, os.strerror(why)))
    return StoreWriteError(f"{db_path}: {error}")


def _unwritable(folder: Path) -> int | None:
    """EROFS or EACCES when the folder cannot be written, else None."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return errno.EROFS
    except OSError:
        return None
    return None if os.access(folder, os.W_OK) else errno.EACCES


def cannot_write(state_dir: Path, error: OSError) -> StoreWriteError:
    """One line for a state dir the unit cannot write: what, where, how to fix."""
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = ("make it writable for the service's user (remount it read-write, or chown it); "
               "the unit resumes by itself")
    elif error.errno == errno.ENOSPC:
        fix = "free space on its disk; the unit resumes by itself"
    else:
        fix = "check the disk and the path"
    return StoreWriteError(f"state dir {state_dir} cannot be written ({error.strerror or error}): {fix}")


def chain_broken_message(db_path: Path, broken: ChainBroken) -> str:
    return (f"{db_path}: the hash chain breaks at seq {broken.seq}: {broken}; nothing is recorded on "
            f"it any more. {RESET_HINT}")


def _hash_in(body: str) -> str | None:
    try:
        return json.loads(body).get("hash")
    except (ValueError, AttributeError):
        return None


RESET_HINT = ("Restore the database from a backup, or start a new stream with `kiosk reset-store --yes` "
              "(the old files are kept)")


def _gone_message(db_path: Path, record: StreamRecord, what: str) -> str:
    return (f"{db_path} {what}, but this unit recorded stream {record.stream_id} up to seq {record.head_seq} "
            f"({record.unsent} of them not yet acknowledged by the centre): its events are not here. {RESET_HINT}")


def _stream_record_of(db_path: Path) -> StreamRecord | None:
    """The unit's record of its stream; a missing or empty database where one existed is
    StoreCorrupt before SQLite could quietly make a new one."""
    try:
        record = load_stream_record(db_path)
    except ValueError as error:
        raise StoreCorrupt(f"{stream_record_path(db_path)}: this unit's stream record is unreadable ({error}). "
                           f"{RESET_HINT}") from None
    except OSError as error:
        raise cannot_write(db_path.parent, error) from error
    if record is not None:
        if not db_path.exists():
            raise StoreCorrupt(_gone_message(db_path, record, "is missing"))
        if db_path.stat().st_size == 0 and not Path(f"{db_path}-wal").exists():
            raise StoreCorrupt(_gone_message(db_path, record, "is empty"))
    return record


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


@dataclass(frozen=True)
class Holder:
    """The process that holds a store's writer lock, as its lock file names it."""
    pid: int | None
    command: str = ""

    def __str__(self) -> str:
        if self.pid is None:
            return "pid unknown"
        return f"pid {self.pid}" + (f": {self.command}" if self.command else "")


HOLDER_COMMAND_CHARS = 120


def take_writer_lock(db_path: Path) -> int:
    """Take the store's writer lock; its descriptor (closing it releases the lock). StoreBusy when
    another process holds it, OSError when the lock file can be neither made nor opened. On a
    read-only disk an existing lock file is locked all the same (flock needs no write access)."""
    try:
        fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        if error.errno not in (errno.EROFS, errno.EACCES):
            raise
        fd = os.open(lock_path(db_path), os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = store_holder(db_path) or Holder(None)
        raise StoreBusy(f"{db_path} is in use by another kiosk process ({holder})", holder) from None
    try:
        # Name the holder, so a second `kiosk run` can say which process to stop.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError:
        pass  # a full disk: the lock holds all the same, only its holder goes unnamed
    return fd


def store_holder(db_path: Path) -> Holder | None:
    """The process holding the writer lock, or None when nobody holds it."""
    try:
        fd = os.open(lock_path(db_path), os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder_named_in(fd)
        return None
    finally:
        os.close(fd)


def _holder_named_in(fd: int) -> Holder:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    if not text.isdigit():
        return Holder(None)
    pid = int(text)
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return Holder(pid)
    command = " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)
    return Holder(pid, command[:HOLDER_COMMAND_CHARS])


def store_in_use(db_path: Path) -> bool:
    """True while a running process holds the writer lock."""
    return store_holder(db_path) is not None


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


class EventStore:
    """Append-only log with a gap-free seq and a sha256 chain, per PROTOCOL.md."""

    def __init__(self, path: Path, conn: aiosqlite.Connection, clock: Clock, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._conn = conn
        self._clock = clock
        self.stream_id = ""
        self._head = Head(0, "")
        self._acked_through = 0
        self._record: StreamRecord | None = None   # what the unit remembers of its stream
        self._record_checked = False               # the database matched it: keep it current

    # --- opening and closing -------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path | str, clock: Clock | None = None, *, lock_held: bool = False
                   ) -> "EventStore":
        """`lock_held`: the caller holds the writer lock itself (take_writer_lock), for longer than
        the store is open (the running unit holds its state dir even while the store is not open)."""
        path = Path(path)
        lock_fd = -1
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not lock_held:
                lock_fd = take_writer_lock(path)
        except OSError as error:
            raise cannot_write(path.parent, error) from error
        try:
            record = _stream_record_of(path)
            conn = await aiosqlite.connect(str(path), isolation_level=None)
        except BaseException as error:
            if lock_fd >= 0:
                os.close(lock_fd)
            if isinstance(error, sqlite3.Error):
                raise sqlite_failure(path, error) from error
            raise
        store = cls(path, conn, clock or SystemClock(), lock_fd)
        store._record = record
        try:
            await store._prepare()
        except sqlite3.Error as error:
            await store.close()
            raise sqlite_failure(path, error) from error
        except BaseException:
            await store.close()
            raise
        return store

    async def _prepare(self) -> None:
        conn = self._conn
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
            mode = (await cursor.fetchone())[0]
        if mode.lower() != "wal":
            raise StoreError(f"{self.path}: SQLite refused WAL mode (got {mode})")
        await conn.execute("PRAGMA synchronous = FULL")
        try:
            async with conn.execute("PRAGMA quick_check") as cursor:
                verdict = [row[0] for row in await cursor.fetchall()]
        except sqlite3.DatabaseError as error:
            raise StoreCorrupt(f"{self.path}: quick_check failed: {error}") from error
        if verdict != ["ok"]:
            raise StoreCorrupt(f"{self.path}: quick_check found damage: {'; '.join(verdict[:5])}")
        await self._migrate()
        self.stream_id = await self._meta("stream_id") or ""
        self._acked_through = int(await self._meta("acked_through") or 0)
        await self._verify_new_events()
        self._check_against_record()
        self._record_checked = True
        await self._keep_record()

    def _check_against_record(self) -> None:
        record = self._record
        if record is None:
            return  # a new store, or one from before the record existed: adopted as it is
        if record.stream_id != self.stream_id:
            raise StoreCorrupt(
                f"{self.path} holds stream {self.stream_id}, but this unit's stream is {record.stream_id} "
                f"(up to seq {record.head_seq}): a database from elsewhere? {RESET_HINT}")
        if self._head.seq < record.head_seq:
            raise StoreCorrupt(
                f"{self.path} ends at seq {self._head.seq}, but this unit had recorded up to seq "
                f"{record.head_seq}: events {self._head.seq + 1}..{record.head_seq} are missing (an older copy?). "
                f"{RESET_HINT}", seq=self._head.seq + 1)

    async def _keep_record(self) -> None:
        """Bring the record up to what the database holds (off the loop: it fsyncs)."""
        if not self._record_checked:
            return
        current = StreamRecord(self.stream_id, self._head.seq, self._acked_through)
        if current == self._record:
            return
        try:
            await asyncio.to_thread(save_stream_record, self.path, current)
            self._record = current
        except OSError as error:
            log.warning("stream record not updated (%s); it is kept as it was", error.strerror or error)

    async def _verify_new_events(self) -> None:
        """Walk the chain from the last verified event to the head (that event itself again: new
        events chain onto the head's hash), then record the head as verified. A break is
        StoreCorrupt with its seq, and the store does not open: nothing is chained onto it."""
        verified_seq = int(await self._meta(VERIFIED_SEQ_KEY) or 0)
        verified_hash = await self._meta(VERIFIED_HASH_KEY) or ""
        last_seq = (await self._conn.execute_fetchall("SELECT max(seq) FROM events"))[0][0] or 0
        if last_seq < verified_seq:
            raise self._broken(ChainBroken(last_seq + 1, f"is missing: the store ends at seq {last_seq}, "
                                                         f"and was verified up to seq {verified_seq}"))
        if verified_seq:
            kept = await self._conn.execute_fetchall("SELECT body FROM events WHERE seq = ?", (verified_seq,))
            if kept and _hash_in(kept[0][0]) != verified_hash:   # (gone: pruned, and nothing links to it)
                raise self._broken(ChainBroken(verified_seq, "is not the event that was verified"))
        walk = ChainWalk(self.stream_id, self._acked_through, max(0, verified_seq - 1), None)
        await self._walk(walk, walk.seq)
        self._head = Head(walk.seq, walk.hash or "")
        if walk.seq > verified_seq:
            try:
                await self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?), (?, ?)",
                                  [VERIFIED_SEQ_KEY, str(walk.seq), VERIFIED_HASH_KEY, walk.hash])
            except StoreWriteError:
                pass  # a full disk: the same events are verified again at the next start

    async def verify_all(self) -> int:
        """Walk the whole stored chain (`kiosk selftest`); the number of events checked."""
        walk = ChainWalk(self.stream_id, self._acked_through)
        await self._walk(walk, 0)
        return walk.checked

    async def _walk(self, walk: ChainWalk, after: int) -> None:
        while rows := await self._conn.execute_fetchall(_ROWS_AFTER, (after, VERIFY_BATCH)):
            after = _check_batch(self.path, walk, rows)

    def _broken(self, broken: ChainBroken) -> StoreCorrupt:
        return StoreCorrupt(chain_broken_message(self.path, broken), seq=broken.seq)

    async def _migrate(self) -> None:
        async with self._conn.execute("PRAGMA user_version") as cursor:
            version = (await cursor.fetchone())[0]
        if version == 0 and self._record is not None:
            raise StoreCorrupt(_gone_message(self.path, self._record, "has no event tables"))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this software ({SCHEMA_VERSION});"
                " install the newer release or restore its database")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _MIGRATIONS[target]:
                    await self._conn.execute(statement)
                if target == 1:
                    # The stream is born with the database: a re-created database is a new stream.
                    await self._conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('stream_id', ?), ('created_at', ?)",
                        (str(uuid.uuid4()), self._clock.wall_time()))
                await self._conn.execute(f"PRAGMA user_version = {target}")
                await self._conn.execute("COMMIT")
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        try:
            await self._keep_record()
            await self._conn.close()
        finally:
            if self._lock_fd >= 0:
                os.close(self._lock_fd)  # closing the descriptor releases the flock
                self._lock_fd = -1

    # --- appending -----------------------------------------------------------------------

    @property
    def head(self) -> Head:
        return self._head

    def _build(self, seq: int, prev_hash: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        event = {
            "event_id": str(uuid.uuid4()),
            "stream_id": self.stream_id,
            "seq": seq,
            "type": event_type,
            "wall_time": self._clock.wall_time(),
            "mono_ns": self._clock.mono_ns(),
            "boot_id": self._clock.boot_id,
            "clock_synced": self._clock.clock_synced(),
            "data": data,
            "prev_hash": prev_hash,
        }
        event["hash"] = event_hash(event)
        return event

    async def append(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        return (await self.append_many([(event_type, data)]))[0]

    async def append_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Append events in one transaction; returns them once they are durably committed."""
        head = self._head
        events = []
        for event_type, data in items:
            event = self._build(head.seq + 1, head.hash, event_type, data)
            events.append(event)
            head = Head(event["seq"], event["hash"])
        if not events:
            return []
        now = time.time()
        params = [value for e in events
                  for value in (e["seq"], e["event_id"], e["type"], now, canonical_bytes(e).decode("utf-8"))]
        rows = ",".join(["(?, ?, ?, ?, ?)"] * len(events))
        await self._write(f"INSERT INTO events (seq, event_id, type, recorded_at, body) VALUES {rows}", params)
        self._head = head
        return events

    async def _write(self, statement: str, params: Iterable[Any] = ()) -> int:
        """Run one statement as its own transaction; returns the rows it changed.

        In autocommit mode a single statement is atomic and, with synchronous=FULL, durable when
        it returns. One statement is also one hop to aiosqlite's thread instead of three
        (BEGIN, write, COMMIT), which is most of what a key press costs beyond the fsync.
        """
        try:
            before = self._conn.total_changes
            # execute_fetchall runs, drains and closes the statement in a single hop.
            await self._conn.execute_fetchall(statement, tuple(params))
            changed = self._conn.total_changes - before
        except sqlite3.Error as error:
            await self._rollback_quietly()
            log.error("event store write failed: %s", error)
            raise StoreWriteError(str(error)) from error
        return changed

    async def _rollback_quietly(self) -> None:
        try:
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
        except sqlite3.Error as error:
            log.warning("rollback after a failed write also failed: %s", error)

    async def probe_write(self) -> None:
        """A real small write: succeeds only when the disk takes writes again."""
        await self._write("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_probe', ?)",
                          [self._clock.wall_time()])

    # --- reading -------------------------------------------------------------------------

    async def read(self, after: int = 0, limit: int = 100, types: Iterable[str] | None = None
                   ) -> list[dict[str, Any]]:
        """Events with seq > after, in seq order (optionally only some types)."""
        if types is None:
            query, params = "SELECT body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        else:
            kinds = list(types)
            marks = ",".join("?" * len(kinds))
            query = f"SELECT body FROM events WHERE seq > ? AND type IN ({marks}) ORDER BY seq LIMIT ?"
            params = (after, *kinds, limit)
        async with self._conn.execute(query, params) as cursor:
            return [json.loads(row[0]) for row in await cursor.fetchall()]

    async def read_all(self, after: int = 0, batch: int = 1000):
        """Every stored event after `after` in seq order, fetched in batches (to rebuild state)."""
        while True:
            events = await self.read(after, batch)
            if not events:
                return
            for event in events:
                yield event
            after = events[-1]["seq"]

    async def latest_seq(self, types: Iterable[str]) -> int | None:
        """The seq of the newest event of any of these types, if there is one."""
        kinds = list(types)
        marks = ",".join("?" * len(kinds))
        async with self._conn.execute(f"SELECT max(seq) FROM events WHERE type IN ({marks})", kinds) as cursor:
            return (await cursor.fetchone())[0]

    async def count(self) -> int:
        async with self._conn.execute("SELECT count(*) FROM events") as cursor:
            return (await cursor.fetchone())[0]

    # --- sync bookkeeping ----------------------------------------------------------------

    @property
    def acked_through(self) -> int:
        return self._acked_through

    @property
    def backlog(self) -> int:
        return self._head.seq - self._acked_through

    async def set_acked_through(self, seq: int) -> None:
        """Record what the centre acknowledged (it may move back if the centre asks to resend)."""
        seq = max(0, min(seq, self._head.seq))
        await self._write("INSERT OR REPLACE INTO meta (key, value) VALUES ('acked_through', ?)", [str(seq)])
        self._acked_through = seq
        await self._keep_record()

    async def get_meta(self, key: str) -> str | None:
        return await self._meta(key)

    async def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            await self._write("DELETE FROM meta WHERE key = ?", [key])
        else:
            await self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    async def _meta(self, key: str) -> str | None:
        async with self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def prune(self, retention_s: float, now: float | None = None) -> int:
        """Delete acknowledged events older than the retention; never unacknowledged ones, never
        the head (it carries the hash the next event chains onto)."""
        cutoff = (now if now is not None else time.time()) - retention_s
        limit = min(self._acked_through, self._head.seq - 1)
        if limit <= 0:
            return 0
        return await self._write("DELETE FROM events WHERE seq <= ? AND recorded_at < ?", [limit, cutoff])


def _check_batch(db_path: Path, walk: ChainWalk, rows: Iterable[Any]) -> int:
    """Check a batch of rows; the last seq in it."""
    try:
        walk.check_all(rows)
    except ChainBroken as broken:
        raise StoreCorrupt(chain_broken_message(db_path, broken), seq=broken.seq) from None
    return walk.seq


def verify_readonly(conn: sqlite3.Connection, db_path: Path) -> int:
    """Walk the whole chain over a read-only connection (selftest beside a running service); the
    number of events checked, or StoreCorrupt."""
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('stream_id', 'acked_through')"))
    walk = ChainWalk(meta.get("stream_id", ""), int(meta.get("acked_through") or 0))
    after = 0
    while rows := conn.execute(_ROWS_AFTER, (after, VERIFY_BATCH)).fetchall():
        after = _check_batch(db_path, walk, rows)
    return walk.checked


def open_readonly(path: Path | str) -> sqlite3.Connection:
    """A read-only connection for `kiosk status` while the service owns the file."""
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    return conn
