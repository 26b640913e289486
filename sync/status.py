"""Sync state as the state dir records it, for `kiosk status`.

Reads without taking the event store's writer lock (a read-only SQLite connection), so it works
whether or not the service is running. A running service knows more (last error, next retry):
that comes from Uploader.status() through the local API.
"""
from __future__ import annotations

import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kiosk import paths
from kiosk.events import open_readonly
from sync.bundle import load_cached_bundle
from sync.provision import ProvisioningBroken, load_provisioning
from sync.uploader import STREAM_STOPPED_META_KEY, read_stream_stop


def stored_sync_state(state_dir: Path) -> dict[str, Any]:
    state: dict[str, Any] = {
        "provisioned": False, "centre_url": None, "unit_id": None, "problem": None,
        "stream_id": None, "head_seq": None, "acked_through": None, "backlog": None,
        "stream_stopped": False, "stream_stopped_reason": None,
        "bundle_version": None, "bundle_fetched_at": None,
    }
    try:
        provisioning = load_provisioning(state_dir)
    except ProvisioningBroken as error:
        state["problem"] = str(error)
        provisioning = None
    if provisioning is not None:
        state.update(provisioned=True, centre_url=provisioning.centre_url, unit_id=provisioning.unit_id)
    db_path = paths.events_db(state_dir)
    if db_path.exists():
        try:
            state.update(_store_state(db_path))
        except sqlite3.Error as error:
            state["problem"] = f"{db_path}: {error}"
    bundle = load_cached_bundle(state_dir)
    if bundle is not None:
        state.update(bundle_version=bundle.data.version, bundle_fetched_at=bundle.fetched_at)
    return state


def _store_state(db_path: Path) -> dict[str, Any]:
    conn = open_readonly(db_path)
    try:
        meta = dict(conn.execute(
            "SELECT key, value FROM meta WHERE key IN ('stream_id', 'acked_through', ?)",
            (STREAM_STOPPED_META_KEY,)).fetchall())
        head_seq = conn.execute("SELECT max(seq) FROM events").fetchone()[0] or 0
    finally:
        conn.close()
    acked = int(meta.get("acked_through") or 0)
    stop = read_stream_stop(meta.get(STREAM_STOPPED_META_KEY))
    return {"stream_id": meta.get("stream_id"), "head_seq": head_seq, "acked_through": acked,
            "backlog": max(0, head_seq - acked), "stream_stopped": stop is not None,
            "stream_stopped_reason": asdict(stop) if stop else None}
