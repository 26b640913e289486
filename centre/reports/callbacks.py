"""The monthly callback list: 5-10 completed transactions drawn at random for managers to call
back, repeatably (the seed is recorded, and the same seed over the same month draws the same
transactions), each with a field for the result."""
from __future__ import annotations

import random
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.dates.months import Month, centre_time_zone
from centre.storage.models import CallbackDraw, CallbackEntry, CountedEvent
from protocol.events import EventType

MIN_CALLBACKS = 5
MAX_CALLBACKS = 10
DEFAULT_CALLBACKS = 8


class CallbackError(ValueError):
    """A draw or result that cannot be recorded; `code` is the API's error code."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def draw_sample(transaction_ids: list[str], seed: str, count: int) -> list[str]:
    """`count` of the ids (fewer if there are fewer), chosen by the seed alone: the ids are sorted
    first, so the order the database returns them in does not matter."""
    population = sorted(set(transaction_ids))
    return random.Random(seed).sample(population, min(count, len(population)))


def _month_transactions(session: Session, month: Month, zone_name: str | None) -> dict[str, dict[str, Any]]:
    start, end = month.utc_bounds(centre_time_zone(zone_name))
    rows = session.execute(
        select(CountedEvent.type, CountedEvent.transaction_id, CountedEvent.counter_id, CountedEvent.staff_id, CountedEvent.ticket,
               CountedEvent.level, CountedEvent.wall_time, CountedEvent.wall_time_utc)
        .where(CountedEvent.type.in_((EventType.TRANSACTION_COMPLETED, EventType.RATING_SUBMITTED)),
               CountedEvent.transaction_id.is_not(None), CountedEvent.wall_time_utc >= start, CountedEvent.wall_time_utc < end)
        .order_by(CountedEvent.wall_time_utc)
    ).all()
    found: dict[str, dict[str, Any]] = {}
    for type_, transaction_id, counter_id, staff_id, ticket, level, wall_time, _utc in rows:
        if type_ == EventType.TRANSACTION_COMPLETED and transaction_id not in found:
            found[transaction_id] = {"counter_id": counter_id, "staff_id": staff_id, "ticket": ticket,
                                     "wall_time": wall_time, "level": None}
    for type_, transaction_id, *_rest, level, _wall, _utc in rows:
        if type_ != EventType.RATING_SUBMITTED or transaction_id not in found:
            continue
        if found[transaction_id]["level"] is None:
            found[transaction_id]["level"] = level
    return found


def draw_callbacks(session: Session, month: Month, drawn_by: str, now: datetime, *,
                   count: int = DEFAULT_CALLBACKS, seed: str | None = None,
                   zone_name: str | None = None) -> dict[str, Any]:
    """Draw the month's callback list once; a second draw is refused (the first one stands)."""
    if not MIN_CALLBACKS <= count <= MAX_CALLBACKS:
        raise CallbackError(f"draw {MIN_CALLBACKS} to {MAX_CALLBACKS} transactions; got {count}")
    if not drawn_by.strip() or len(drawn_by) > 64:
        raise CallbackError("say who draws the list (1-64 characters)")
    if session.get(CallbackDraw, str(month)) is not None:
        raise CallbackError(f"the callback list of {month} has been drawn already", "already_drawn")
    seed = seed or secrets.token_hex(8)
    if len(seed) > 64:
        raise CallbackError("a seed is at most 64 characters")
    transactions = _month_transactions(session, month, zone_name)
    if not transactions:
        # A draw is final, so an empty one would leave the month without a list for good.
        raise CallbackError(f"{month} has no completed transactions to draw from yet", "nothing_to_draw")
    session.add(CallbackDraw(month=str(month), seed=seed, requested=count, candidates=len(transactions),
                             drawn_by=drawn_by, drawn_at=now))
    session.flush()
    for position, transaction_id in enumerate(draw_sample(list(transactions), seed, count), start=1):
        session.add(CallbackEntry(month=str(month), position=position, transaction_id=transaction_id,
                                  **transactions[transaction_id]))
    session.flush()
    return callback_list(session, month)


def record_callback_result(session: Session, month: Month, transaction_id: str, result: str,
                           recorded_by: str, now: datetime) -> dict[str, Any]:
    if not result.strip():
        raise CallbackError("the result of a callback cannot be empty")
    if not recorded_by.strip() or len(recorded_by) > 64:
        raise CallbackError("say who made the call (1-64 characters)")
    entry = session.scalars(select(CallbackEntry).where(CallbackEntry.month == str(month),
                                                        CallbackEntry.transaction_id == transaction_id)
                            ).one_or_none()
    if entry is None:
        raise CallbackError(f"transaction {transaction_id} is not on the callback list of {month}",
                            "not_on_list")
    entry.result, entry.result_by, entry.result_at = result, recorded_by, now
    session.flush()
    return _entry(entry)


def _entry(entry: CallbackEntry) -> dict[str, Any]:
    return {"position": entry.position, "transaction_id": entry.transaction_id,
            "counter_id": entry.counter_id, "staff_id": entry.staff_id, "ticket": entry.ticket,
            "level": entry.level, "wall_time": entry.wall_time, "result": entry.result,
            "result_by": entry.result_by,
            "result_at": None if entry.result_at is None else entry.result_at.isoformat()}


def callback_list(session: Session, month: Month) -> dict[str, Any] | None:
    """The month's draw and its entries, or None before it is drawn."""
    draw = session.get(CallbackDraw, str(month))
    if draw is None:
        return None
    entries = session.scalars(select(CallbackEntry).where(CallbackEntry.month == str(month))
                              .order_by(CallbackEntry.position)).all()
    return {"month": draw.month, "seed": draw.seed, "requested": draw.requested,
            "candidates": draw.candidates, "drawn_by": draw.drawn_by,
            "drawn_at": draw.drawn_at.isoformat(), "entries": [_entry(entry) for entry in entries]}
