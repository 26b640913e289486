"""What the console page shows, as one JSON object (sent again whenever it changes): the counter's
state, the ticket it serves, the waiting counts per category, whether the last citizen rated —
never how — and whether the unit's storage, its printer and the queue host are working.

Cheap and synchronous: it is built on the event loop each time the change feed moves."""
from __future__ import annotations

from typing import Any

from drivers.printer import NEAR_END, READY
from kiosk.clock import hall_zone, in_zone
from kiosk.console.watch import CounterWatch
from kiosk.screens.views import pause_reason_label, printer_problem_label

RATING_TEXT = {"open": "评价中", "rated": "已评价", "not_rated": "未评价"}
PRINTER_OK = "正常"


def _clock(wall_time: str | None, zone: Any) -> str | None:
    if not wall_time:
        return None
    try:
        return in_zone(wall_time, zone).strftime("%H:%M:%S")
    except ValueError:
        return None


def counter_state(app: Any) -> dict[str, Any]:
    machine = app.machine
    serving = app.queue.serving()
    if app.fault is not None:
        state, text = "out_of_order", "停用：本机存储故障"
    elif app.staff_id is None:
        state, text = "not_signed_in", "未签到"
    elif machine.paused:
        state, text = "paused", f"暂停服务（{pause_reason_label(machine.pause_reason)}）"
    elif serving is not None:
        state, text = "serving", "正在办理"
    else:
        state, text = "idle", "空闲，可呼叫下一位"
    return {"state": state, "text": text, "paused": machine.paused,
            "pause_reason": machine.pause_reason if machine.paused else None}


def waiting_counts(app: Any, watch: CounterWatch) -> dict[str, Any]:
    """Per category, in the dispenser's key order: from the queue here, or the host's last answer."""
    queue = app.queue
    rules = queue.rules
    own = app.settings.unit.counter_id
    if queue.is_host:
        counts = queue.health().get("waiting_by_category") or {}
        known = True
    else:
        counts = (watch.host_snapshot or {}).get("waiting") or {}
        known = watch.host_snapshot is not None
    categories = [{"letter": c.letter, "name": c.name, "count": counts.get(c.letter, 0) if known else None,
                   "called_here": rules.serves(own, c.letter)} for c in rules.categories]
    total = sum(c["count"] for c in categories) if known else None
    return {"categories": categories, "total": total}


def queue_link(app: Any, watch: CounterWatch, zone: Any) -> dict[str, Any]:
    health = app.queue.health()
    if health.get("mode") == "host":
        return {"mode": "host", "ok": True, "text": "本机排队叫号"}
    link = health.get("link")
    answered = _clock(watch.host_answered_at, zone)
    if link == "down":
        text = "叫号服务（排队主机）无响应" + (f"，最后应答 {answered}" if answered else "")
    elif link == "ok":
        text = "排队主机连接正常"
    else:
        text = "正在连接排队主机"
    return {"mode": "remote", "ok": link != "down", "state": link, "text": text, "answered_at": answered}


def printer_line(app: Any) -> dict[str, Any]:
    health = app.queue.printer_health()
    if health.get("kind") in (None, "none"):
        return {"ok": False, "text": printer_problem_label("no_printer")}
    state = health.get("state")
    if state is None or state == READY:      # None: not asked yet (the first check comes at start)
        return {"ok": True, "text": PRINTER_OK}
    if state == NEAR_END:
        return {"ok": True, "text": "纸将用尽"}
    return {"ok": False, "text": printer_problem_label(state)}


def console_snapshot(app: Any, watch: CounterWatch) -> dict[str, Any]:
    settings = app.settings
    zone = hall_zone(settings.unit.time_zone)
    served = app.queue.serving()
    staff = None
    if app.staff_id is not None:
        staff = {"staff_id": app.staff_id, "name": app.staff_name or app.staff_id}
    last = watch.last_citizen
    citizen = None
    if last is not None:
        citizen = {"ticket": last.ticket, "completed_at": _clock(last.completed_at, zone),
                   "rating": last.rating, "text": RATING_TEXT[last.rating]}
    return {
        "counter_id": settings.unit.counter_id,
        "staff": staff,
        "counter": counter_state(app),
        "serving": {"ticket": served.ticket, "category": served.category_name} if served else None,
        "waiting": waiting_counts(app, watch),
        "last_citizen": citizen,
        "queue": queue_link(app, watch, zone),
        "printer": printer_line(app),
        "storage": {"ok": app.fault is None,
                    "text": None if app.fault is None else "本机存储故障，操作无法记录，请联系技术人员"},
    }
