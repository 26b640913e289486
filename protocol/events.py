"""Every event type a unit records (PROTOCOL.md and docs/protocol-notes.md), as named constants.

`EventType` is a `StrEnum`: a member is the wire string itself (`EventType.RATING_SUBMITTED ==
"rating.submitted"`, JSON writes it as that string), and a misspelt name fails at import, where a
misspelt string literal would silently match nothing.
"""
from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    UNIT_STARTED = "unit.started"
    STAFF_SIGNED_IN = "staff.signed_in"
    STAFF_SIGNED_OUT = "staff.signed_out"
    COUNTER_PAUSED = "counter.paused"
    COUNTER_RESUMED = "counter.resumed"
    TRANSACTION_COMPLETED = "transaction.completed"
    RATING_SUBMITTED = "rating.submitted"
    RATING_REASON = "rating.reason"
    RATING_MISSED = "rating.missed"
    RATING_MISUSE = "rating.misuse"
    RATING_VOIDED = "rating.voided"
    TICKET_ISSUED = "ticket.issued"
    TICKET_PRINT_FAILED = "ticket.print_failed"
    TICKET_REFUSED = "ticket.refused"
    TICKET_VOIDED = "ticket.voided"
    TICKET_CALLED = "ticket.called"
    TICKET_RECALLED = "ticket.recalled"
    TICKET_NO_SHOW = "ticket.no_show"
    TICKET_TRANSFERRED = "ticket.transferred"
    TICKET_REPRINTED = "ticket.reprinted"
    QUEUE_COUNTER_OPENED = "queue.counter_opened"
    QUEUE_COUNTER_CLOSED = "queue.counter_closed"
    NOTICE_PRINTED = "notice.printed"
    PRINTER_STATUS = "printer.status"


EVENT_TYPES = frozenset(EventType)

EVENT_FIELDS = (
    "event_id", "stream_id", "seq", "type", "wall_time", "mono_ns", "boot_id", "clock_synced",
    "data", "prev_hash", "hash",
)

# Rating levels, best to worst, as PROTOCOL.md codes them.
LEVEL_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD_LEVELS = frozenset({1, 2})  # 差评

# 差评 reasons a unit offers from the bundle's list, besides 其他: two pages of four keys. The
# centre warns when a bundle has more; the unit takes the first ones.
OFFERED_REASONS = 8
OTHER_REASON_LABEL = "其他"
