"""The complaints register (投诉): complaints from 12329, letters, visits and the web, each with
its class and reply deadline in working days (重大 10; 一般 3–5, $CENTRE_COMPLAINT_GENERAL_DAYS,
default 5; 无效 — 恶意 / 不实 / 无法立案 — none: kept, never counted against staff), the 首办责任人,
the window and staff member concerned, the reply, the callback and the complainant's
satisfaction. open → replied → closed; `overdue` is an open complaint past its deadline, worked
out when read. Nothing is deleted; every change is a ComplaintAction with who and when."""
from __future__ import annotations

import os
from collections import Counter
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.dates.holidays import add_working_days, load_calendar
from centre.dates.months import centre_time_zone
from centre.storage.models import Complaint, ComplaintAction

CHANNELS = {"12329": "12329热线", "letter": "来信", "visit": "来访", "web": "网上"}
CLASSES = {"major": "重大", "general": "一般", "invalid": "无效"}
INVALID_REASONS = {"malicious": "恶意", "untrue": "不实", "unfounded": "无法立案"}
SATISFACTION = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}
MAJOR_DAYS = 10
GENERAL_DAYS_ENV = "CENTRE_COMPLAINT_GENERAL_DAYS"
GENERAL_DAYS_RANGE = (3, 5)


class ComplaintError(ValueError):
    def __init__(self, message: str, code: str = "invalid", status: int = 422) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def general_days() -> int:
    text = os.environ.get(GENERAL_DAYS_ENV, "5")
    low, high = GENERAL_DAYS_RANGE
    if not text.isdecimal() or not low <= int(text) <= high:
        raise ComplaintError(f"${GENERAL_DAYS_ENV} is a number of working days from {low} to {high}; got {text!r}")
    return int(text)


def _choice(value: str | None, allowed: dict[str, str], what: str) -> str:
    if value not in allowed:
        raise ComplaintError(f"{what} is one of {', '.join(allowed)}; got {value!r}")
    return value


def _text(value: str | None, what: str, limit: int = 4000) -> str:
    text = (value or "").strip()
    if not text:
        raise ComplaintError(f"{what} is required")
    return text[:limit]


def _act(session: Session, complaint: Complaint, action: str, actor: str, now: datetime, detail: str | None = None) -> None:
    session.add(ComplaintAction(complaint_id=complaint.id, action=action, actor=_text(actor, "who", 64), at=now,
                                detail=detail))


def add_complaint(session: Session, *, channel: str, kind: str, summary: str, actor: str, now: datetime,
                  received_at: datetime | None = None, invalid_reason: str | None = None,
                  department: str | None = None, cause: str | None = None, first_handler: str | None = None,
                  counter_id: str | None = None, staff_id: str | None = None,
                  complainant: str | None = None) -> Complaint:
    _choice(channel, CHANNELS, "channel")
    _choice(kind, CLASSES, "class")
    if kind == "invalid":
        _choice(invalid_reason, INVALID_REASONS, "an invalid complaint's reason")
    elif invalid_reason is not None:
        raise ComplaintError("only an invalid complaint has an invalid reason")
    days = {"major": MAJOR_DAYS, "general": general_days(), "invalid": None}[kind]
    complaint = Complaint(
        channel=channel, kind=kind, invalid_reason=invalid_reason, deadline_days=days,
        summary=_text(summary, "the summary"), received_at=received_at or now, department=department,
        cause=cause, first_handler=first_handler, counter_id=counter_id, staff_id=staff_id,
        complainant=complainant, status="open", created_by=_text(actor, "who", 64), created_at=now)
    session.add(complaint)
    session.flush()
    _act(session, complaint, "received", actor, now, f"{CHANNELS[channel]} · {CLASSES[kind]}")
    return complaint


def known(session: Session, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise ComplaintError(f"no complaint {complaint_id}", code="unknown_complaint", status=404)
    return complaint


def reply(session: Session, complaint_id: int, text: str, actor: str, now: datetime) -> Complaint:
    complaint = known(session, complaint_id)
    if complaint.status != "open":
        raise ComplaintError(f"complaint {complaint_id} is {complaint.status}, not open", "invalid_transition", 409)
    complaint.reply, complaint.replied_by, complaint.replied_at = _text(text, "the reply"), actor, now
    complaint.status = "replied"
    _act(session, complaint, "replied", actor, now, complaint.reply)
    return complaint


def callback(session: Session, complaint_id: int, note: str, satisfaction: str, actor: str, now: datetime) -> Complaint:
    complaint = known(session, complaint_id)
    _choice(satisfaction, SATISFACTION, "satisfaction")
    complaint.callback_note, complaint.satisfaction = _text(note, "the callback note"), satisfaction
    complaint.callback_by, complaint.callback_at = actor, now
    _act(session, complaint, "callback", actor, now, f"{SATISFACTION[satisfaction]}：{complaint.callback_note}")
    return complaint


def close(session: Session, complaint_id: int, actor: str, now: datetime) -> Complaint:
    complaint = known(session, complaint_id)
    if complaint.status == "closed" or (complaint.status == "open" and complaint.kind != "invalid"):
        raise ComplaintError(f"complaint {complaint_id} is {complaint.status}: reply first", "invalid_transition", 409)
    complaint.status, complaint.closed_by, complaint.closed_at = "closed", actor, now
    _act(session, complaint, "closed", actor, now)
    return complaint


def _deadline(complaint: Complaint, calendar: dict[date, str], zone) -> date | None:
    if complaint.deadline_days is None:
        return None
    return add_working_days(complaint.received_at.astimezone(zone).date(), complaint.deadline_days, calendar)


def _as_dict(complaint: Complaint, deadline: date | None, today: date) -> dict[str, Any]:
    overdue = complaint.status == "open" and deadline is not None and today > deadline
    return {
        "id": complaint.id, "channel": complaint.channel, "class": complaint.kind,
        "invalid_reason": complaint.invalid_reason, "counts_against_staff": complaint.kind != "invalid",
        "summary": complaint.summary, "received_at": complaint.received_at.isoformat(),
        "deadline": deadline.isoformat() if deadline else None, "overdue": overdue,
        "status": "overdue" if overdue else complaint.status, "department": complaint.department,
        "cause": complaint.cause, "first_handler": complaint.first_handler, "counter_id": complaint.counter_id,
        "staff_id": complaint.staff_id, "reply": complaint.reply, "callback_note": complaint.callback_note,
        "satisfaction": complaint.satisfaction,
    }


def listing(session: Session, now: datetime, *, year: int | None = None, overdue_only: bool = False,
            zone_name: str | None = None) -> list[dict[str, Any]]:
    zone, calendar = centre_time_zone(zone_name), load_calendar(session)
    today = now.astimezone(zone).date()
    rows = [_as_dict(c, _deadline(c, calendar, zone), today)
            for c in session.scalars(select(Complaint).order_by(Complaint.received_at, Complaint.id))
            if year is None or c.received_at.astimezone(zone).year == year]
    return [row for row in rows if row["overdue"]] if overdue_only else rows


def complaint_with_trail(session: Session, complaint_id: int, now: datetime, zone_name: str | None = None) -> dict[str, Any]:
    complaint = known(session, complaint_id)
    zone = centre_time_zone(zone_name)
    shown = _as_dict(complaint, _deadline(complaint, load_calendar(session), zone), now.astimezone(zone).date())
    shown["trail"] = [{"action": a.action, "actor": a.actor, "at": a.at.isoformat(), "detail": a.detail}
                      for a in session.scalars(select(ComplaintAction).where(ComplaintAction.complaint_id == complaint_id)
                                               .order_by(ComplaintAction.id))]
    return shown


def yearly_summary(session: Session, year: int, now: datetime, zone_name: str | None = None) -> dict[str, Any]:
    """The year's complaints by department and by cause: per class, overdue, and satisfaction."""
    rows = listing(session, now, year=year, zone_name=zone_name)

    def by(field: str) -> dict[str, dict[str, int]]:
        groups: dict[str, Counter] = {}
        for row in rows:
            counts = groups.setdefault(row[field] or "未填写", Counter())
            counts["total"] += 1
            counts[row["class"]] += 1
            counts["overdue"] += row["overdue"]
            counts["satisfied"] += row["satisfaction"] == "satisfied"
        return {name: {k: counts.get(k, 0) for k in ("total", "major", "general", "invalid", "overdue", "satisfied")}
                for name, counts in sorted(groups.items())}

    return {"year": year, "total": len(rows), "by_department": by("department"), "by_cause": by("cause")}
