"""Shapes of what units and admins send (PROTOCOL.md). A mismatch is `422 invalid` naming the field."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, StringConstraints,
    model_validator,
)

from protocol import MAX_BATCH

# unit, stream, event and staff ids: UUIDs or short readable names such as "counter-03".
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time with its offset. A time without an offset cannot be placed and is refused."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise ValueError("an RFC 3339 time needs its offset (e.g. +08:00)")
    return value


def _rfc3339(text: str) -> str:
    parse_rfc3339(text)
    return text


# The format only tells the OpenAPI document (centre/web/openapi.py); _rfc3339 does the checking.
Rfc3339 = Annotated[str, StringConstraints(max_length=64), AfterValidator(_rfc3339),
                    Field(json_schema_extra={"format": "date-time"})]


class EnrolRequest(BaseModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    unit_id: Identifier
    public_key: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class UploadedEvent(BaseModel):
    """One event as PROTOCOL.md defines it. Fields it does not name are allowed (and hashed)."""

    model_config = ConfigDict(extra="allow", strict=True)

    event_id: Identifier
    stream_id: Identifier
    seq: int = Field(ge=1)
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    wall_time: Rfc3339
    mono_ns: int
    boot_id: str
    clock_synced: bool
    data: dict[str, Any]
    prev_hash: str
    hash: str


class UnitHealth(BaseModel):
    model_config = ConfigDict(extra="allow")

    backlog: NonNegativeInt | None = None
    paper: Annotated[str, StringConstraints(max_length=32)] | None = None
    # Units may measure these as fractions; the centre keeps whole numbers.
    disk_free_mb: NonNegativeFloat | None = None
    version: Annotated[str, StringConstraints(max_length=64)] | None = None
    uptime_s: NonNegativeFloat | None = None


class UploadBatch(BaseModel):
    stream_id: Identifier
    events: list[UploadedEvent] = Field(max_length=MAX_BATCH)
    head_sig: str
    sent_at: Rfc3339
    health: UnitHealth | None = None


# --- the unit bundle ------------------------------------------------------------------------

class _BundlePart(BaseModel):
    # Files written by hand: a misspelt key is an error, and `staff_id = 1001` means "1001".
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)


NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Reason(_BundlePart):
    code: NonEmpty
    label: NonEmpty


class StaffMember(_BundlePart):
    staff_id: Identifier
    name: NonEmpty
    title: str = ""
    duties: str = ""
    # The centre fills this in from the photos it holds; a value sent in is ignored, so a bundle
    # fetched from the centre can be edited and put back as it is.
    photo: str | None = Field(default=None, exclude=True)


class ServiceItem(_BundlePart):
    code: NonEmpty
    name: NonEmpty
    category: NonEmpty
    time_limit: NonEmpty
    materials: list[NonEmpty] = Field(min_length=1)


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} appears twice")
        seen.add(value)


class Bundle(_BundlePart):
    version: NonEmpty | None = None  # made from the content when not given
    reasons: list[Reason] = Field(min_length=1)
    staff: list[StaffMember]
    service_items: list[ServiceItem] = Field(min_length=1)
    complaint_phone: Annotated[str, StringConstraints(min_length=1, max_length=32)]

    @model_validator(mode="after")
    def _codes_are_unique(self) -> "Bundle":
        _unique([r.code for r in self.reasons], "reason code")
        _unique([s.staff_id for s in self.staff], "staff_id")
        _unique([i.code for i in self.service_items], "service item code")
        return self
