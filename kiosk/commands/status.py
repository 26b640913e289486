"""`kiosk status`: mode, staff, backlog, last events, storage health and sync.

While the service runs it owns the event store, so status asks it over the local API; when it is
stopped, status opens the store itself (the lock guarantees nobody else writes meanwhile). What the
state dir records about sync (provisioning, acknowledged seq, a stopped stream, the bundle) is read
without taking the store's writer lock (a read-only SQLite connection), running or not; a running
service knows more (last error, next retry), and that comes through its API.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import requests

from sync.bundle import load_cached_bundle
from sync.files import disk_free_mb
from sync.provision import ProvisioningBroken, load_provisioning
from sync.uploader import STREAM_STOPPED_META_KEY, read_stream_stop

from kiosk.app import replay_state
from kiosk.clock import read_boot_id
from kiosk.commands import EXIT_FAILED, EXIT_OK
from kiosk.commands.local_api import running_api_url
from kiosk.config import Settings
from kiosk.events import EventStore, StoreError, open_readonly, store_in_use
from kiosk.paths import events_db
from kiosk.rating.machine import RatingMachine, RatingRules
from kiosk.stream_record import stream_record_path

LAST_EVENTS = 5
API_TIMEOUT_S = 3.0

# What went wrong with an upload, in a technician's words (the outcomes of sync.client.Outcome and
# sync.uploader's own); the centre's or the network's own message follows after a dash.
UPLOAD_TROUBLE = {
    "network_error": "the centre could not be reached",
    "server_error": "the centre answered with an error",
    "unauthorized": "the centre refused this unit's token (provision the unit again?)",
    "forbidden": "the centre says this token belongs to another unit",
    "revoked": "this unit was revoked at the centre",
    "store_error": "the unit's own event store could not be read",
    "internal_error": "a fault in the uploader (see the log)",
    "conflict": "the centre holds other events at these seq numbers",
    "bad_signature": "the centre found the hash chain or the signature wrong",
    "invalid": "the centre refused the shape of a batch",
    "events_pruned": "the centre needs events this unit no longer has",
}


def describe_upload_error(error: dict[str, Any], upload: dict[str, Any]) -> str:
    """One sentence for the uploader's last_error, with when it happened and what happens next."""
    outcome = str(error.get("outcome") or "")
    words = UPLOAD_TROUBLE.get(outcome, outcome.replace("_", " ") or "upload failed")
    detail = f" — {error['message']}" if error.get("message") else ""
    when = f" (at {error['at']})" if error.get("at") else ""
    failures = upload.get("consecutive_failures") or 0
    retry = upload.get("next_retry_in_s")
    next_try = (f"; {failures} failed tr{'y' if failures == 1 else 'ies'} in a row, next in {retry:.0f} s"
                if retry is not None else "")
    return f"{words}{detail}{when}{next_try}; every event is kept"


def describe_stream_stop(reason: dict[str, Any]) -> str:
    code = str(reason.get("code") or "")
    words = UPLOAD_TROUBLE.get(code, code.replace("_", " ") or "refused")
    detail = f" — {reason['message']}" if reason.get("message") else ""
    since = f" since {reason['at']}" if reason.get("at") else ""
    return (f"STOPPED by the centre{since}: {words}{detail}, at seq {reason.get('first_seq', '?')} of stream "
            f"{reason.get('stream_id') or '?'}; every event is kept; see the centre's fleet health")


def _from_running_unit(settings: Settings) -> dict[str, Any]:
    base = running_api_url(settings)
    headers = {"Authorization": f"Bearer {settings.api.token}"}
    state = requests.get(f"{base}/v1/state", headers=headers, timeout=API_TIMEOUT_S)
    state.raise_for_status()
    report = state.json()
    last_seq = report.get("last_seq") or 0
    events = requests.get(f"{base}/v1/events", params={"after": max(0, last_seq - LAST_EVENTS),
                                                      "limit": LAST_EVENTS}, headers=headers,
                          timeout=API_TIMEOUT_S)
    if events.status_code == 503 and not (report.get("storage") or {}).get("ok", True):
        report["last_events"] = []   # out of order, its store not open: the state says why
    else:
        events.raise_for_status()
        report["last_events"] = [_summary(e) for e in events.json()["events"]]
    report["service"] = "running"
    return report


async def _from_store(settings: Settings) -> dict[str, Any]:
    store = await EventStore.open(events_db(settings.state_dir))
    try:
        machine = RatingMachine(RatingRules(counter_id=settings.unit.counter_id))
        await replay_state(machine, store, read_boot_id())
        head = store.head.seq
        return {
            "service": "stopped",
            "unit_id": settings.unit.id,
            "role": settings.unit.role,
            "counter_id": settings.unit.counter_id,
            "staff": {"staff_id": machine.staff_id} if machine.staff_id else None,
            "paused": machine.paused,
            "backlog": store.backlog,
            "last_seq": head,
            "stream_id": store.stream_id,
            "storage": {"ok": True, "error": None, "disk_free_mb": disk_free_mb(settings.state_dir)},
            "last_events": [_summary(e) for e in await store.read(max(0, head - LAST_EVENTS), LAST_EVENTS)],
        }
    finally:
        await store.close()


def _summary(event: dict[str, Any]) -> dict[str, Any]:
    return {"seq": event["seq"], "type": event["type"], "wall_time": event["wall_time"], "data": event["data"]}


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
    db_path = events_db(state_dir)
    if db_path.exists():
        try:
            state.update(_stored_upload_state(db_path))
        except sqlite3.Error as error:
            state["problem"] = f"{db_path}: {error}"
    bundle = load_cached_bundle(state_dir)
    if bundle is not None:
        state.update(bundle_version=bundle.data.version, bundle_fetched_at=bundle.fetched_at)
    return state


def _stored_upload_state(db_path: Path) -> dict[str, Any]:
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


def gather_status(settings: Settings) -> dict[str, Any]:
    report = _gather_unit(settings)
    # What the state dir records about sync, running or not (a running unit adds its live view).
    report["sync_stored"] = stored_sync_state(settings.state_dir)
    return report


def _gather_unit(settings: Settings) -> dict[str, Any]:
    db = events_db(settings.state_dir)
    if store_in_use(db):
        try:
            return _from_running_unit(settings)
        except (requests.RequestException, ValueError) as error:
            return {"service": "running, API not answering", "error": str(error),
                    "storage": {"ok": None, "disk_free_mb": disk_free_mb(settings.state_dir)}}
    if not db.exists() and not stream_record_path(db).exists():
        return {"service": "never started", "error": f"no event store at {db}",
                "storage": {"ok": None, "disk_free_mb": disk_free_mb(settings.state_dir)}}
    try:
        return asyncio.run(_from_store(settings))
    except StoreError as error:
        return {"service": "stopped", "error": str(error), "storage": {
            "ok": False, "error": error.code, "message": str(error), "seq": getattr(error, "seq", None)}}


def status_command(settings: Settings, *, as_json: bool = False) -> int:
    report = gather_status(settings)
    healthy = bool(report.get("storage", {}).get("ok"))
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_OK if healthy else EXIT_FAILED
    storage = report.get("storage", {})
    staff = report.get("staff")
    lines = [
        f"service:   {report.get('service')}" + (f" ({report['mode']})" if report.get("mode") else ""),
        f"unit:      {report.get('unit_id', settings.unit.id)}  role {report.get('role', settings.unit.role)}"
        f"  counter {report.get('counter_id', settings.unit.counter_id)}",
        f"staff:     {(staff or {}).get('staff_id', '-') if staff else 'not signed in'}"
        + (f" {staff['name']}" if staff and staff.get("name") else ""),
        f"paused:    {'yes' if report.get('paused') else 'no'}",
        f"backlog:   {report.get('backlog', '-')} events not yet acknowledged by the centre",
        f"storage:   {'ok' if storage.get('ok') else storage.get('error') or 'unknown'}"
        + (f" at seq {storage['seq']}" if storage.get("seq") is not None else "")
        + f"  ({storage.get('disk_free_mb', '?')} MB free)",
    ]
    stored = report["sync_stored"]
    if stored["provisioned"]:
        lines.append(f"centre:    {stored['centre_url']} as {stored['unit_id']}, acknowledged through seq "
                     f"{stored['acked_through']}, bundle {stored['bundle_version'] or 'none yet'}")
    else:
        lines.append("centre:    not provisioned" + (f" ({stored['problem']})" if stored["problem"] else ""))
    if stored["stream_stopped"]:
        lines.append(f"sync:      {describe_stream_stop(stored['stream_stopped_reason'] or {})}")
    live = (report.get("sync") or {}).get("upload") or {}
    error = live.get("last_error")
    # A stopped stream's refusal is said just above; anything else the running uploader met is said here.
    if error and not (stored["stream_stopped"] and error.get("outcome") == (stored["stream_stopped_reason"]
                                                                             or {}).get("code")):
        lines.append(f"sync:      uploads failing: {describe_upload_error(error, live)}")
    if report.get("error"):
        lines.append(f"error:     {report['error']}")
    elif storage.get("message"):   # a running unit out of order says why in its state
        lines.append(f"error:     {storage['message']}")
    if report.get("last_events"):
        lines.append("last events:")
        for event in report["last_events"]:
            lines.append(f"  {event['seq']:>6}  {event['wall_time']}  {event['type']}  "
                         f"{json.dumps(event['data'], ensure_ascii=False)}")
    print("\n".join(lines))
    sys.stdout.flush()
    return EXIT_OK if healthy else EXIT_FAILED
