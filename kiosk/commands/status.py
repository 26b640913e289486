"""`kiosk status`: mode, staff, backlog, last events and storage health.

While the service runs it owns the event store, so status asks it over the local API; when it is
stopped, status opens the store itself (the lock guarantees nobody else writes meanwhile).
"""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import requests

from kiosk.app import disk_free_mb, replay_state
from kiosk.clock import read_boot_id
from kiosk.config import Settings, parse_listen
from kiosk.events import EventStore, StoreError, store_in_use
from kiosk.paths import api_url_file, events_db
from kiosk.rating.machine import RatingMachine, RatingRules
from sync.status import stored_sync_state

LAST_EVENTS = 5
API_TIMEOUT_S = 3.0


def running_unit_url(settings: Settings) -> str:
    """The running service's API: as it announced it in the state dir, else as configured."""
    try:
        return api_url_file(settings.state_dir).read_text(encoding="ascii").strip()
    except OSError:
        host, port = parse_listen(settings.api.listen)
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"


def _from_running_unit(settings: Settings) -> dict[str, Any]:
    base = running_unit_url(settings)
    headers = {"Authorization": f"Bearer {settings.api.token}"}
    state = requests.get(f"{base}/v1/state", headers=headers, timeout=API_TIMEOUT_S)
    state.raise_for_status()
    report = state.json()
    last_seq = report.get("last_seq") or 0
    events = requests.get(f"{base}/v1/events", params={"after": max(0, last_seq - LAST_EVENTS),
                                                      "limit": LAST_EVENTS}, headers=headers,
                          timeout=API_TIMEOUT_S)
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
    if not db.exists():
        return {"service": "never started", "error": f"no event store at {db}",
                "storage": {"ok": None, "disk_free_mb": disk_free_mb(settings.state_dir)}}
    try:
        return asyncio.run(_from_store(settings))
    except StoreError as error:
        return {"service": "stopped", "storage": {"ok": False, "error": error.code, "message": str(error)}}


def status_command(settings: Settings, *, as_json: bool = False) -> int:
    report = gather_status(settings)
    healthy = bool(report.get("storage", {}).get("ok"))
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0 if healthy else 1
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
        f"  ({storage.get('disk_free_mb', '?')} MB free)",
    ]
    stored = report["sync_stored"]
    if stored["provisioned"]:
        lines.append(f"centre:    {stored['centre_url']} as {stored['unit_id']}, acknowledged through seq "
                     f"{stored['acked_through']}, bundle {stored['bundle_version'] or 'none yet'}")
    else:
        lines.append("centre:    not provisioned" + (f" ({stored['problem']})" if stored["problem"] else ""))
    if stored["stream_stopped"]:
        reason = stored["stream_stopped_reason"] or {}
        lines.append(f"sync:      STOPPED by the centre: {json.dumps(reason, ensure_ascii=False)} "
                     "(every event is kept; see the centre's fleet health)")
    live = (report.get("sync") or {}).get("upload") or {}
    if live.get("last_error"):
        lines.append(f"sync:      last error: {live['last_error']}")
    if report.get("error"):
        lines.append(f"error:     {report['error']}")
    if report.get("last_events"):
        lines.append("last events:")
        for event in report["last_events"]:
            lines.append(f"  {event['seq']:>6}  {event['wall_time']}  {event['type']}  "
                         f"{json.dumps(event['data'], ensure_ascii=False)}")
    print("\n".join(lines))
    sys.stdout.flush()
    return 0 if healthy else 1
