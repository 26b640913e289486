"""What the unit answers when it will not take an input: one base, `Refused`, with a code (machine
words, the API's error code), a message (human words) and optional detail fields.

Where a refusal comes from says its type — the rating machine (`RatingRefused`), the queue
(`QueueRefused`), storage (`Unavailable`) — but none of them knows HTTP: the local API turns a code
into a status with one table (`kiosk.api.errors.STATUS_BY_CODE`). The state machines stay pure.
"""
from __future__ import annotations

from typing import Any


class Refused(Exception):
    def __init__(self, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


class RatingRefused(Refused):
    """An input the counter cannot take now (not signed in, paused, unknown staff)."""


class QueueRefused(Refused):
    """An input the queue cannot take (empty, unknown ticket, printer not ready, host unreachable)."""


class Unavailable(Refused):
    """The unit cannot take the request now: its event storage is faulty (code `storage_*`)."""
