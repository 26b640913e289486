"""The 差评 ledger: every rating of level 1 or 2 becomes an entry with a deadline to rectify it.

Entries are made by `sync_ledger`, which the CLI and the API run before they read the ledger:
idempotent (one entry per transaction, UNIQUE in the schema) and cheap when nothing is new, and
it keeps the upload path (centre.units.upload) free of report work. Nothing is ever deleted; every change
is also written to ledger_actions with who and when.

Status: open → rectified → closed; an upheld appeal closes an entry from any status. "overdue" is
shown for an open entry past its deadline, worked out when read, so it is never stale.
"""
from __future__ import annotations

import json
import os
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from centre.dates.holidays import add_working_days, load_calendar
from centre.dates.months import centre_time_zone
from centre.storage.models import Appeal, CountedEvent, Event, LedgerAction, LedgerEntry, SetAside
from protocol.events import BAD_LEVELS, EventType

DEADLINE_DAYS_ENV = "CENTRE_LEDGER_DEADLINE_DAYS"
DEADLINE_CHOICES = (5, 15)
STATUSES = ("open", "rectified", "overdue", "closed")
# The action that closes an entry whose 差评 is no longer counted, and what its trail says why.
WITHDRAWN = "withdrawn"
WITHDRAWN_BECAUSE = {
    SetAside.OTHER_COUNTER: "不再计入：评价记录的窗口不是设备登记的窗口",
    SetAside.FUTURE: "不再计入：评价时间晚于中心收到的时间一天以上",
    SetAside.BEFORE_ENROLMENT: "不再计入：评价时间早于设备注册一天以上",
    SetAside.VOIDED: "评价作废：评价后紧接着连续按键（rating.voided），是误按而非评价，计入误按",
}
# Any constant: concurrent syncs on PostgreSQL take this lock so they do not race on new entries.
_SYNC_LOCK_KEY = 0x6C6564676572


class LedgerError(ValueError):
    """A change the ledger refuses (wrong status, missing note); `code` is the API error code."""

    def __init__(self, message: str, code: str = "invalid_transition", status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def deadline_days_setting(given: int | None = None) -> int:
    """Working days to rectify: the value given, else $CENTRE_LEDGER_DEADLINE_DAYS, else 5."""
    raw = given if given is not None else os.environ.get(DEADLINE_DAYS_ENV, "5")
    try:
        days = int(raw)
    except ValueError:
        days = -1
    if days not in DEADLINE_CHOICES:
        raise LedgerError(f"the rectification deadline is 5 or 15 working days; got {raw!r}",
                          code="invalid", status=422)
    return days


def _reason_labels(session: Session, transaction_ids: list[str]) -> dict[str, list[str]]:
    labels: dict[str, list[str]] = {}
    for start in range(0, len(transaction_ids), 500):  # keeps IN (...) lists a sane size
        rows = session.execute(
            select(CountedEvent.transaction_id, CountedEvent.raw_json)
            .where(CountedEvent.type == EventType.RATING_REASON,
                   CountedEvent.transaction_id.in_(transaction_ids[start:start + 500]))
            .order_by(CountedEvent.wall_time_utc, CountedEvent.id)
        )
        for transaction_id, raw in rows:
            data = json.loads(raw).get("data") or {}
            label = data.get("reason_label") or data.get("reason_code")
            if label and label not in labels.setdefault(transaction_id, []):
                labels[transaction_id].append(str(label))
    return labels


def log_action(session: Session, entry: LedgerEntry, action: str, actor: str, now: datetime,
               detail: str | None = None) -> None:
    session.add(LedgerAction(entry_id=entry.id, action=action, actor=actor, at=now, detail=detail))


def sync_ledger(session: Session, now: datetime, deadline_days: int | None = None) -> int:
    """Make an entry for every 差评 not in the ledger yet, and pick up reasons that arrived after
    their entry was made. Returns how many entries it made."""
    days = deadline_days_setting(deadline_days)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SYNC_LOCK_KEY})
    held = dict(session.execute(select(LedgerEntry.transaction_id, LedgerEntry.id)).all())
    ratings = session.execute(
        select(CountedEvent.transaction_id, CountedEvent.counter_id, CountedEvent.staff_id,
               CountedEvent.level, CountedEvent.wall_time, CountedEvent.wall_time_utc)
        .where(CountedEvent.type == EventType.RATING_SUBMITTED, CountedEvent.level.in_(sorted(BAD_LEVELS)),
               CountedEvent.transaction_id.is_not(None))
        .order_by(CountedEvent.wall_time_utc, CountedEvent.id)
    ).all()
    _withdraw_uncounted(session, held, {rating.transaction_id for rating in ratings}, now)
    fresh = {}
    for transaction_id, counter_id, staff_id, level, wall_time, rated_at in ratings:
        if transaction_id not in held and transaction_id not in fresh:
            fresh[transaction_id] = LedgerEntry(
                transaction_id=transaction_id, counter_id=counter_id, staff_id=staff_id, level=level,
                reasons_json="[]", wall_time=wall_time, rated_at=rated_at, deadline_days=days,
                status="open", created_at=now)
    without_reasons = list(session.scalars(select(LedgerEntry).where(LedgerEntry.reasons_json == "[]")))
    entries = without_reasons + list(fresh.values())
    labels = _reason_labels(session, [entry.transaction_id for entry in entries])
    for entry in entries:
        entry.reasons_json = json.dumps(labels.get(entry.transaction_id, []), ensure_ascii=False)
    session.add_all(fresh.values())
    session.flush()
    for entry in fresh.values():
        log_action(session, entry, "created", "system", now, f"level {entry.level}")
    session.flush()
    return len(fresh)


def _withdraw_uncounted(session: Session, held: dict[str, int], counted: set[str], now: datetime) -> None:
    """Close, once, each entry whose 差评 the centre no longer counts: the rating was set aside
    after its entry was made (centre.storage.models.SetAside): the unit voided it in a later upload
    (a burst followed it), or an upgrade held older events to rules they had escaped. The entry
    stays, with why on its trail; it is no longer open or overdue, and an appeal waiting on it
    may still be reviewed."""
    gone = [entry_id for transaction_id, entry_id in held.items() if transaction_id not in counted]
    if not gone:
        return
    withdrawn = set(session.scalars(select(LedgerAction.entry_id).where(LedgerAction.action == WITHDRAWN)))
    for entry_id in gone:
        if entry_id in withdrawn:
            continue
        entry = session.get(LedgerEntry, entry_id)
        reason = session.scalar(select(Event.set_aside).where(
            Event.type == EventType.RATING_SUBMITTED, Event.transaction_id == entry.transaction_id,
            Event.set_aside.is_not(None)).limit(1))
        log_action(session, entry, WITHDRAWN, "system", now, WITHDRAWN_BECAUSE.get(reason, "不再计入"))
        if entry.status != "closed":
            entry.status, entry.closed_by, entry.closed_at = "closed", "system", now
    session.flush()


def _deadline(entry: LedgerEntry, calendar: dict[date, str], zone) -> date:
    return add_working_days(entry.rated_at.astimezone(zone).date(), entry.deadline_days, calendar)


def _effective_status(entry: LedgerEntry, deadline: date, today: date) -> str:
    return "overdue" if entry.status == "open" and today > deadline else entry.status


def _appeal_dict(appeal: Appeal) -> dict[str, Any]:
    return {"id": appeal.id, "evidence": appeal.evidence, "submitted_by": appeal.submitted_by,
            "submitted_at": appeal.submitted_at.isoformat(), "decision": appeal.decision,
            "decision_note": appeal.decision_note, "decided_by": appeal.decided_by,
            "decided_at": None if appeal.decided_at is None else appeal.decided_at.isoformat()}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _entry_dict(entry: LedgerEntry, deadline: date, today: date, appeals: list[Appeal]) -> dict[str, Any]:
    return {
        "id": entry.id, "transaction_id": entry.transaction_id, "counter_id": entry.counter_id,
        "staff_id": entry.staff_id, "level": entry.level, "reasons": json.loads(entry.reasons_json),
        "wall_time": entry.wall_time, "deadline": deadline.isoformat(),
        "deadline_days": entry.deadline_days, "status": _effective_status(entry, deadline, today),
        "rectification": entry.rectification, "rectified_by": entry.rectified_by,
        "rectified_at": _iso(entry.rectified_at), "callback_note": entry.callback_note,
        "callback_by": entry.callback_by, "callback_at": _iso(entry.callback_at),
        "closed_by": entry.closed_by, "closed_at": _iso(entry.closed_at),
        "appeals": [_appeal_dict(appeal) for appeal in appeals],
    }


def ledger_listing(session: Session, now: datetime, *, status: str | None = None,
                   month_bounds: tuple[datetime, datetime] | None = None,
                   zone_name: str | None = None) -> list[dict[str, Any]]:
    """Entries (newest first), optionally only one status and/or rated within [start, end)."""
    if status is not None and status not in STATUSES:
        raise LedgerError(f"status is one of {', '.join(STATUSES)}", code="invalid", status=422)
    zone = centre_time_zone(zone_name)
    today = now.astimezone(zone).date()
    calendar = load_calendar(session)
    query = select(LedgerEntry).order_by(LedgerEntry.rated_at.desc(), LedgerEntry.id.desc())
    if month_bounds is not None:
        query = query.where(LedgerEntry.rated_at >= month_bounds[0], LedgerEntry.rated_at < month_bounds[1])
    entries = session.scalars(query).all()
    appeals: dict[int, list[Appeal]] = {}
    for appeal in session.scalars(select(Appeal).order_by(Appeal.id)):
        appeals.setdefault(appeal.entry_id, []).append(appeal)
    listed = [_entry_dict(entry, _deadline(entry, calendar, zone), today, appeals.get(entry.id, []))
              for entry in entries]
    return [item for item in listed if status is None or item["status"] == status]


def read_ledger(session: Session, now: datetime, **filters: Any) -> list[dict[str, Any]]:
    """The listing (ledger_listing's `filters`) right after a sync, so that a 差评 uploaded a
    moment ago is already in it: how the API, the dashboard and the CLI read the ledger."""
    sync_ledger(session, now)
    return ledger_listing(session, now, **filters)


def ledger_entry(session: Session, entry_id: int, now: datetime, zone_name: str | None = None
                 ) -> dict[str, Any]:
    """One entry with its appeals and its whole audit trail."""
    entry = known_entry(session, entry_id)
    zone = centre_time_zone(zone_name)
    appeals = list(session.scalars(select(Appeal).where(Appeal.entry_id == entry_id).order_by(Appeal.id)))
    item = _entry_dict(entry, _deadline(entry, load_calendar(session), zone), now.astimezone(zone).date(),
                       appeals)
    item["actions"] = [
        {"action": a.action, "actor": a.actor, "at": a.at.isoformat(), "detail": a.detail}
        for a in session.scalars(select(LedgerAction).where(LedgerAction.entry_id == entry_id)
                                 .order_by(LedgerAction.id))
    ]
    return item


def known_entry(session: Session, entry_id: int) -> LedgerEntry:
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise LedgerError(f"no ledger entry {entry_id}", code="unknown_entry", status=404)
    return entry


def require_text(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise LedgerError(f"{what} cannot be empty", code="invalid", status=422)
    return value.strip()


def require_actor(actor: str) -> str:
    actor = require_text(actor, "who made the change")
    if len(actor) > 64:
        raise LedgerError("a name is at most 64 characters", code="invalid", status=422)
    return actor


def rectify(session: Session, entry_id: int, note: str, actor: str, now: datetime) -> LedgerEntry:
    """Record what was done about the 差评: open (or overdue) → rectified."""
    entry = known_entry(session, entry_id)
    note, actor = require_text(note, "the rectification note"), require_actor(actor)
    if entry.status != "open":
        raise LedgerError(f"entry {entry_id} is {entry.status}: only an open entry can be rectified")
    entry.status, entry.rectification, entry.rectified_by, entry.rectified_at = "rectified", note, actor, now
    log_action(session, entry, "rectified", actor, now, note)
    session.flush()
    return entry


def record_callback(session: Session, entry_id: int, note: str, actor: str, now: datetime) -> LedgerEntry:
    """The citizen was called back; a later call replaces the shown note, the trail keeps both."""
    entry = known_entry(session, entry_id)
    note, actor = require_text(note, "the callback note"), require_actor(actor)
    entry.callback_note, entry.callback_by, entry.callback_at = note, actor, now
    log_action(session, entry, "callback", actor, now, note)
    session.flush()
    return entry


def close(session: Session, entry_id: int, actor: str, now: datetime, note: str | None = None) -> LedgerEntry:
    """A rectified entry is checked and closed."""
    entry = known_entry(session, entry_id)
    actor = require_actor(actor)
    if entry.status != "rectified":
        raise LedgerError(f"entry {entry_id} is {entry.status}: only a rectified entry can be closed")
    entry.status, entry.closed_by, entry.closed_at = "closed", actor, now
    log_action(session, entry, "closed", actor, now, note)
    session.flush()
    return entry


def close_by_appeal(session: Session, entry: LedgerEntry, actor: str, now: datetime) -> None:
    entry.status, entry.closed_by, entry.closed_at = "closed", actor, now

