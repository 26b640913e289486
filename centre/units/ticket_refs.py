"""The tickets' references (`ticket.issued` data `ref`), indexed as the events are stored so the
citizen's phone finds its ticket (`/t/{ref}`, centre/public) with one primary-key look-up.

A reference is 16–64 characters of the URL-safe base64 alphabet (a unit makes 22: 128 random
bits). Anything else is not indexed (the event itself is stored as sent); a reference that is
already indexed keeps its first ticket, so a unit cannot take over another's ticket page; an event
the centre set aside (centre/units/claims.py) is never indexed."""
from __future__ import annotations

import re
from typing import Any, Iterable

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from centre.storage.models import TicketRef
from protocol.events import EventType

REF_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TICKET_REFS = TicketRef.__table__


def usable_ref(ref: Any) -> str | None:
    return ref if isinstance(ref, str) and REF_PATTERN.fullmatch(ref) else None


def index_ticket_refs(connection: Connection, events: Iterable[dict[str, Any]],
                      rows: Iterable[dict[str, Any]]) -> None:
    """Index the references of the stored `rows` (made from `events`, in the same order)."""
    refs: dict[str, dict[str, Any]] = {}
    for event, row in zip(events, rows):
        if row["type"] != EventType.TICKET_ISSUED or row.get("set_aside") is not None:
            continue
        ref = usable_ref((event.get("data") or {}).get("ref"))
        if ref is not None and ref not in refs:
            refs[ref] = {"ref": ref, "unit_id": row["unit_id"], "stream_id": row["stream_id"], "seq": row["seq"]}
    if not refs:
        return
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(dialect_insert(_TICKET_REFS).on_conflict_do_nothing(index_elements=["ref"]),
                       list(refs.values()))
