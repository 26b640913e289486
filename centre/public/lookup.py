"""A ticket found by its reference, and what the page shows of it: read from the stored events
in one transaction (the counted ones: centre.storage.models.CountedEvent)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.dates.months import centre_time_zone
from centre.public.position import DONE, LINE_EVENT_TYPES, HallEvent, Position, fold_line, follow, text
from centre.public.rating import RatingState, Transaction, rating_state
from centre.storage.models import CountedEvent, Stream, TicketRef, Unit
from centre.units.ticket_refs import usable_ref
from protocol.events import EventType

# The hall's data is old when its host has not been heard from (an upload or a heartbeat) for this long.
STALE_AFTER = timedelta(minutes=1)
# A business day of one hall holds far fewer events than this either side of a ticket: the bound
# keeps the look-up on the (stream_id, seq) index however long the stream's history grows.
DAY_SEQ_SPAN = 50_000
# Folded days kept per process: a hall's day is read and folded again only when its stream has
# taken new events, not for every phone that polls (500 phones on one hall every 5 s).
CACHED_DAYS = 256


class _DayLines:
    """(stream, day start) → the folded line, as of the stream's acked_through."""

    def __init__(self, size: int = CACHED_DAYS) -> None:
        self._size = size
        self._held: OrderedDict[tuple[str, datetime], tuple[int, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, datetime], acked: int) -> dict | None:
        with self._lock:
            held = self._held.get(key)
            if held is None or held[0] != acked:
                return None
            self._held.move_to_end(key)
            return held[1]

    def put(self, key: tuple[str, datetime], acked: int, line: dict) -> None:
        with self._lock:
            self._held[key] = (acked, line)
            self._held.move_to_end(key)
            while len(self._held) > self._size:
                self._held.popitem(last=False)


_DAY_LINES = _DayLines()


@dataclass(frozen=True)
class TicketPage:
    position: Position
    issued_at: datetime           # in the centre's time zone
    today: bool                   # issued on the centre's today (else the page is history)
    hall_seen_at: datetime | None  # the host's last upload or heartbeat, centre's time zone
    stale: bool
    transaction: Transaction | None = None   # the ticket's completed transaction, once there is one
    rating: RatingState | None = None        # rating after the fact, where a transaction is known


def ticket_page(session: Session, ref: str, now: datetime) -> TicketPage | None:
    """The ticket with this reference, or None (no such reference: the same answer for a
    malformed one, so nothing tells a near miss from a wild guess)."""
    if usable_ref(ref) is None:
        return None
    found = session.get(TicketRef, ref)
    if found is None:
        return None
    issued_row = session.execute(
        select(CountedEvent.seq, CountedEvent.type, CountedEvent.raw_json, CountedEvent.wall_time_utc)
        .where(CountedEvent.stream_id == found.stream_id, CountedEvent.seq == found.seq)).first()
    if issued_row is None or issued_row.type != EventType.TICKET_ISSUED:
        return None
    zone = centre_time_zone()
    issued_at = issued_row.wall_time_utc.astimezone(zone)
    day_start = datetime.combine(issued_at.date(), time(0), zone)
    day_end = day_start + timedelta(days=1)
    acked = session.scalar(select(Stream.acked_through).where(Stream.stream_id == found.stream_id))
    line = _DAY_LINES.get((found.stream_id, day_start), acked)
    if line is None:
        day_rows = session.execute(
            select(CountedEvent.seq, CountedEvent.type, CountedEvent.raw_json)
            .where(CountedEvent.stream_id == found.stream_id,
                   CountedEvent.seq.between(found.seq - DAY_SEQ_SPAN, found.seq + DAY_SEQ_SPAN),
                   CountedEvent.type.in_(LINE_EVENT_TYPES),
                   CountedEvent.wall_time_utc >= day_start, CountedEvent.wall_time_utc < day_end)
            .order_by(CountedEvent.seq)).all()
        line = fold_line(HallEvent.from_raw(*row) for row in day_rows)
        _DAY_LINES.put((found.stream_id, day_start), acked, line)
    issued = HallEvent.from_raw(issued_row.seq, issued_row.type, issued_row.raw_json)
    ticket = text(issued.data.get("ticket"))
    completed = [Transaction(*row) for row in session.execute(
        select(CountedEvent.transaction_id, CountedEvent.counter_id, CountedEvent.staff_id,
               CountedEvent.service_item, CountedEvent.wall_time_utc)
        .where(CountedEvent.type == EventType.TRANSACTION_COMPLETED,
               CountedEvent.wall_time_utc >= issued_row.wall_time_utc, CountedEvent.wall_time_utc < day_end,
               CountedEvent.ticket == ticket)
        .order_by(CountedEvent.wall_time_utc)).all()] if ticket else []
    position = follow(issued, line, [done.counter_id for done in completed if done.counter_id])
    transaction = next((done for done in completed if position.status == DONE and done.transaction_id
                        and done.counter_id == position.counter), None)
    seen = session.scalar(select(Unit.last_seen).where(Unit.unit_id == found.unit_id))
    return TicketPage(position, issued_at, issued_at.date() == now.astimezone(zone).date(),
                      seen.astimezone(zone) if seen else None, seen is None or now - seen > STALE_AFTER,
                      transaction, rating_state(session, ref, transaction, now) if transaction else None)
