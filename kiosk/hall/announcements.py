"""The centre's announcements (信息发布) for the hall display, from the unit's bundle.

A bundle may carry `announcements`: [{"text", "valid_from"?, "valid_until"?}] (docs/protocol-notes.md),
times in RFC 3339 with an offset, either end open. They are read here, where they are shown, and
leniently: one the display cannot use (no text, a time it cannot read) is left out and logged
once, and never costs the unit its bundle (roster, reasons, service items still apply).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

log = logging.getLogger(__name__)

MAX_SHOWN = 10            # a hall screen has room for a few; the rest would never be read
MAX_TEXT_CHARS = 200


@dataclass(frozen=True)
class Announcement:
    text: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def current(self, now: datetime) -> bool:
        return ((self.valid_from is None or self.valid_from <= now)
                and (self.valid_until is None or now < self.valid_until))


def _moment(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} is not a time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{field} {value!r} has no offset")
    return moment


def read_announcements(raw: Any) -> list[Announcement]:
    """The usable announcements of a bundle's `announcements` value (anything: it came over the
    network), in the bundle's order."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        log.warning("bundle announcements ignored: a list was expected, not %s", type(raw).__name__)
        return []
    usable = []
    for index, item in enumerate(raw):
        if hasattr(item, "model_dump"):
            item = item.model_dump()
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            text = item.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ValueError("no text")
            usable.append(Announcement(" ".join(text.split())[:MAX_TEXT_CHARS],
                                       _moment(item.get("valid_from"), "valid_from"),
                                       _moment(item.get("valid_until"), "valid_until")))
        except ValueError as error:
            log.warning("bundle announcement %d left out: %s", index, error)
    return usable


def current_texts(announcements: Iterable[Announcement], now: datetime) -> list[str]:
    return [a.text for a in announcements if a.current(now)][:MAX_SHOWN]
