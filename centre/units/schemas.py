"""Shapes of what units and admins send (PROTOCOL.md). A mismatch is `422 invalid` naming the field."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, StringConstraints,
    model_validator,
)

from centre.web.fields import EXACT_FLOAT_MAX, INT64_MAX
from protocol import MAX_BATCH

# unit, stream, event and staff ids: UUIDs or short readable names such as "counter-03".
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]


# A day inside datetime's years 1 to 9999: so a time within them is one in every time zone too.
_PLACEABLE = (datetime.min.replace(tzinfo=timezone.utc) + timedelta(days=1),
              datetime.max.replace(tzinfo=timezone.utc) - timedelta(days=1))


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time with its offset. A time without an offset cannot be placed and is refused,
    and so is one at the very ends of the years 1 to 9999, which UTC or the centre's time zone
    cannot hold (0001-01-01T00:00:00+08:00 is in the year 0 in UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise ValueError("an RFC 3339 time needs its offset (e.g. +08:00)")
    try:
        in_range = _PLACEABLE[0] <= value <= _PLACEABLE[1]
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValueError("outside the times the centre can place (0001-01-02 to 9999-12-30 UTC)")
    return value


def _rfc3339(text: str) -> str:
    parse_rfc3339(text)
    return text


# The format only tells the OpenAPI document (centre/web/openapi.py); _rfc3339 does the checking.
Rfc3339 = Annotated[str, StringConstraints(max_length=64), AfterValidator(_rfc3339),
                    Field(json_schema_extra={"format": "date-time"})]


UnitRole = Literal["counter", "dispenser", "both"]
CounterId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class EnrolRequest(BaseModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    unit_id: Identifier
    public_key: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    # What the technician typed on the unit, if anything: the centre refuses a disagreement with
    # what `centre unit add` recorded, before the token is used (docs/protocol-notes.md).
    role: UnitRole | None = None
    counter_id: CounterId | None = None


class EnrolAnswer(BaseModel):
    """201 to an enrolment: the unit's token, and the role and counter the centre recorded for it."""

    unit_token: str
    role: UnitRole
    counter_id: str | None


class UploadedEvent(BaseModel):
    """One event as PROTOCOL.md defines it. Fields it does not name are allowed (and hashed)."""

    model_config = ConfigDict(extra="allow", strict=True)

    event_id: Identifier
    stream_id: Identifier
    seq: int = Field(ge=1, le=INT64_MAX)
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    wall_time: Rfc3339
    mono_ns: int = Field(ge=-INT64_MAX - 1, le=INT64_MAX)
    boot_id: str
    clock_synced: bool
    data: dict[str, Any]
    prev_hash: str
    hash: str


class UnitHealth(BaseModel):
    model_config = ConfigDict(extra="allow")

    backlog: Annotated[NonNegativeInt, Field(le=INT64_MAX)] | None = None
    paper: Annotated[str, StringConstraints(max_length=32)] | None = None
    # Units may measure these as fractions; the centre keeps whole numbers (BIGINT).
    disk_free_mb: Annotated[NonNegativeFloat, Field(le=EXACT_FLOAT_MAX)] | None = None
    version: Annotated[str, StringConstraints(max_length=64)] | None = None
    uptime_s: Annotated[NonNegativeFloat, Field(le=EXACT_FLOAT_MAX)] | None = None


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
    # Likewise the staff console's PIN hash: set with `centre staff set-pin`, never by a bundle file.
    pin_hash: str | None = Field(default=None, exclude=True)


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
