"""Times on the wire: RFC 3339 with offset, milliseconds."""
from __future__ import annotations

from datetime import datetime


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
