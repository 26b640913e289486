"""The centre's tables. The migrations in centre/storage/migrations create exactly these (a test checks)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from enum import StrEnum

from sqlalchemy import (
    BigInteger, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, Numeric, SmallInteger, String, Text,
    TypeDecorator, UniqueConstraint, or_, select, text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, aliased, mapped_column

# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on both backends.

    SQLite keeps no offset, so it stores naive UTC and we put the zone back on reading; PostgreSQL
    stores timestamptz. Either way code only ever sees aware datetimes in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a time zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class Unit(Base):
    __tablename__ = "units"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    counter_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by enrolment: the unit's Ed25519 key (standard base64, raw 32 bytes) and the sha256 hex
    # of the bearer token handed to it. The token itself is never stored.
    public_key: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The stream the unit last uploaded to (or sent a heartbeat for).
    current_stream_id: Mapped[str | None] = mapped_column(String(64))
    # The latest refused batch (409 conflict / 422), until a batch of events is accepted after it.
    stream_stopped_reason: Mapped[str | None] = mapped_column(Text)
    stream_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest refused batch whatever came after: the record, never cleared.
    last_refusal: Mapped[str | None] = mapped_column(Text)
    last_refusal_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Health, from the unit's last accepted upload or heartbeat.
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger)
    backlog: Mapped[int | None] = mapped_column(BigInteger)
    paper: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[str | None] = mapped_column(String(64))
    uptime_s: Mapped[int | None] = mapped_column(BigInteger)
    disk_free_mb: Mapped[int | None] = mapped_column(BigInteger)
    health_json: Mapped[str | None] = mapped_column(Text)  # the whole health object as sent


class EnrolmentToken(Base):
    __tablename__ = "enrolment_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Stream(Base):
    __tablename__ = "streams"

    stream_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    # Every event with seq <= acked_through is stored; head_hash is the hash of that last one.
    acked_through: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default="")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    # The stream's latest refused batch, until one of its batches is accepted after it …
    stopped_reason: Mapped[str | None] = mapped_column(Text)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # … and the same refusal kept as the record.
    last_refusal: Mapped[str | None] = mapped_column(Text)
    last_refusal_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SetAside(StrEnum):
    """Why the centre does not count a stored event (`events.set_aside`; null: it counts). Decided
    when the event is stored (centre.units.claims); the event itself stays whole in raw_json."""

    OTHER_COUNTER = "other_counter"        # a window event naming a counter the unit is not registered for
    FUTURE = "future"                      # wall_time more than a day after the centre received it
    BEFORE_ENROLMENT = "before_enrolment"  # wall_time more than a day before the unit enrolled
    # A type the centre did not know when it stored the event. Nothing counts a type it does not
    # know, so such an event is ignored while the type is unknown and counts like any other once a
    # newer centre knows it (it passed the other checks: they come first).
    UNKNOWN_TYPE = "unknown_type"
    # A rating (and its reason) that a `rating.voided` of the same unit took back: a burst of
    # presses followed it, so it was a child or key chatter, not a decision. Counted as misuse, by
    # the voided event (its `presses`), never in levels or points; not a doubt about the unit.
    VOIDED = "voided"


_SET_ASIDE_ROWS = text("set_aside IS NOT NULL")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("stream_id", "seq", name="uq_events_stream_seq"),
        Index("ix_events_counter_wall_time", "counter_id", "wall_time_utc"),
        Index("ix_events_staff_wall_time", "staff_id", "wall_time_utc"),
        Index("ix_events_type_wall_time", "type", "wall_time_utc"),
        # Fleet health lists what was set aside per unit: a small index over those rows only.
        Index("ix_events_set_aside", "unit_id", "set_aside", "id",
              sqlite_where=_SET_ASIDE_ROWS, postgresql_where=_SET_ASIDE_ROWS),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    stream_id: Mapped[str] = mapped_column(ForeignKey("streams.stream_id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(64))
    wall_time: Mapped[str] = mapped_column(String(64))  # exactly as the unit wrote it
    wall_time_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    hash: Mapped[str] = mapped_column(String(64))
    # Columns the reports need, copied out of `data` (null where the type has no such field).
    level: Mapped[int | None] = mapped_column(SmallInteger)
    staff_id: Mapped[str | None] = mapped_column(Text)
    counter_id: Mapped[str | None] = mapped_column(Text)
    transaction_id: Mapped[str | None] = mapped_column(Text, index=True)
    ticket: Mapped[str | None] = mapped_column(Text)
    service_item: Mapped[str | None] = mapped_column(Text)
    # The event's JSON text exactly as it arrived in the batch: the audit trail.
    raw_json: Mapped[str] = mapped_column(Text)
    set_aside: Mapped[str | None] = mapped_column(String(32))  # a SetAside, or null: counted
    # How many key presses a rating.misuse or rating.voided stands for in the report's misuse column
    # (a burst's dropped presses; a voided rating and its reason). Null for other types.
    presses: Mapped[int | None] = mapped_column(Integer)


class TicketRef(Base):
    """The unguessable reference a unit printed in a ticket's QR (`ticket.issued` data `ref`): how
    the citizen's phone finds its ticket (`/t/{ref}`) without any way to list or guess the others.
    Filled as the events are stored; the first event to bring a reference keeps it."""
    __tablename__ = "ticket_refs"

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    stream_id: Mapped[str] = mapped_column(ForeignKey("streams.stream_id"))
    seq: Mapped[int] = mapped_column(BigInteger)   # the ticket.issued event's


class QrRating(Base):
    """A rating after the fact (扫码评价, channel `qr`; the keypad's are `keypad`) from the ticket's page; at
    most one per ticket and per transaction. The window, staff member and service item are the
    completed transaction's, for the reports; the page never shows them."""
    __tablename__ = "qr_ratings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref: Mapped[str] = mapped_column(ForeignKey("ticket_refs.ref"), unique=True)
    transaction_id: Mapped[str] = mapped_column(Text, unique=True)
    level: Mapped[int] = mapped_column(SmallInteger)
    reasons_json: Mapped[str | None] = mapped_column(Text)   # [{"code", "label"}], once, after a 差评
    counter_id: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[str | None] = mapped_column(Text)
    service_item: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PublicSecret(Base):
    """Keys of the public pages (the rating form's per-page tokens), made once and shared by every
    server process on the database."""
    __tablename__ = "public_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))


# The events the centre counts. Every report, the ledger, the callback list and the dashboard's
# figures select from this, never from Event, so what was set aside is left out of all of them
# in the same way (an alias of a filtered select: the databases fold it into each query).
CountedEvent = aliased(Event, select(Event).where(
    or_(Event.set_aside.is_(None), Event.set_aside == SetAside.UNKNOWN_TYPE)).subquery("counted_events"),
    name="counted_event")


class BundleVersion(Base):
    __tablename__ = "bundle_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    body_json: Mapped[str] = mapped_column(Text)  # the bundle as loaded, without photo paths
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffPhoto(Base):
    __tablename__ = "staff_photos"

    staff_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SupervisionScore(Base):
    """A manager's supervision score (of 20) for one window and month.

    Append-only: the newest entry for a (month, counter) counts, the earlier ones stay as the record
    of who entered what and when.
    """

    __tablename__ = "supervision_scores"
    __table_args__ = (Index("ix_supervision_scores_month_counter", "month", "counter_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    counter_id: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False))
    note: Mapped[str | None] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallbackDraw(Base):
    """The month's random draw of transactions to call back; `seed` makes it repeatable."""

    __tablename__ = "callback_draws"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    seed: Mapped[str] = mapped_column(String(64))
    requested: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[int] = mapped_column(Integer)  # completed transactions it was drawn from
    drawn_by: Mapped[str] = mapped_column(String(64))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallbackEntry(Base):
    __tablename__ = "callback_entries"
    __table_args__ = (UniqueConstraint("month", "transaction_id", name="uq_callback_entries_month_tx"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month: Mapped[str] = mapped_column(ForeignKey("callback_draws.month"))
    position: Mapped[int] = mapped_column(Integer)  # 1.. in the order drawn
    transaction_id: Mapped[str] = mapped_column(Text)
    counter_id: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[str | None] = mapped_column(Text)
    ticket: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int | None] = mapped_column(SmallInteger)  # the rating, if the citizen gave one
    wall_time: Mapped[str] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(Text)
    result_by: Mapped[str | None] = mapped_column(String(64))
    result_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Holiday(Base):
    """The centre's holiday calendar: public holidays off, and the weekend days worked in their
    place (调休), which count as working days for ledger deadlines."""

    __tablename__ = "holidays"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "off" or "work"
    name: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerEntry(Base):
    """One 差评 (level 1 or 2) and what was done about it. Never deleted; every change is also a
    LedgerAction. The status is open, rectified or closed; "overdue" is an open entry past its
    deadline, worked out when read so that it is never stale."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(128), unique=True)
    counter_id: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int] = mapped_column(SmallInteger)
    reasons_json: Mapped[str] = mapped_column(Text)  # a JSON list of the citizen's reason labels
    wall_time: Mapped[str] = mapped_column(String(64))  # the rating's, as the unit wrote it
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_days: Mapped[int] = mapped_column(SmallInteger)  # working days to rectify
    status: Mapped[str] = mapped_column(String(16), index=True)
    rectification: Mapped[str | None] = mapped_column(Text)
    rectified_by: Mapped[str | None] = mapped_column(String(64))
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_note: Mapped[str | None] = mapped_column(Text)
    callback_by: Mapped[str | None] = mapped_column(String(64))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerAction(Base):
    """The audit trail of the ledger: who did what to which entry, and when."""

    __tablename__ = "ledger_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(Text)


class Appeal(Base):
    """An appeal against a malicious 差评. Upheld, it takes the rating out of scoring."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    evidence: Mapped[str] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decision: Mapped[str | None] = mapped_column(String(16))  # None (pending), upheld, rejected
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DashboardUser(Base):
    """Someone who logs in to the dashboard. `role`: admin, manager (may change things) or viewer
    (reads only). Only an argon2 hash of the password is stored."""

    __tablename__ = "dashboard_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DashboardSession(Base):
    """A logged-in browser. The cookie holds a random token; only its sha256 is stored, so a copy
    of the database does not let anyone in. Logging out deletes the row (a session is not a
    record the centre must keep)."""

    __tablename__ = "dashboard_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("dashboard_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A failed login, for the rate limit (per user name and per client address)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_name_at", "name", "at"),
                      Index("ix_login_failures_client_at", "client", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxStatus(StrEnum):
    """Where a record for the 好差评 platform stands (`platform_outbox.status`)."""

    PENDING = "pending"    # to send (again): the worker tries it when next_attempt_at has come
    SENT = "sent"          # the platform took it (or said it had it already)
    MERGED = "merged"      # a reason sent inside its rating's record, not on its own
    WITHHELD = "withheld"  # its event was set aside (voided) before it was sent: never forwarded
    DEAD = "dead"          # still not taken N days after it was made: left for a person (resend)


class PlatformOutbox(Base):
    """A record the centre owes the provincial / national 好差评 platform: a counted rating, a
    reason (when its rating was sent without it), later a rectification or a callback. Made in the
    transaction that stores its event, so none is lost and none is made twice; `key` is what the
    platform de-duplicates on (the event_id). Sent in the order of `rated_at`, then `id`."""

    __tablename__ = "platform_outbox"
    __table_args__ = (Index("ix_platform_outbox_status_order", "status", "rated_at", "id"),
                      Index("ix_platform_outbox_transaction", "transaction_id", "kind"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # rating, reason, rectification, callback
    unit_id: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(64))  # the event it forwards (rectification: the rating's)
    transaction_id: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the rating's time: the order of sending
    status: Mapped[str] = mapped_column(String(16))  # an OutboxStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_json: Mapped[str | None] = mapped_column(Text)  # the body as last sent: the record of what went


class StaffPin(Base):
    """A staff member's PIN for the units' staff console, as the scrypt hash units verify
    (protocol.pins; `centre staff set-pin`): never the PIN. Units get it in the bundle."""

    __tablename__ = "staff_pins"

    staff_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Complaint(Base):
    """A complaint (投诉) in the register (centre.complaints.register). Never deleted; every change
    is also a ComplaintAction. `kind`: major (重大), general (一般) or invalid (无效: kept, never
    counted against staff); `deadline_days` working days to reply (none for an invalid one)."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # 12329, letter, visit, web
    kind: Mapped[str] = mapped_column(String(16))
    invalid_reason: Mapped[str | None] = mapped_column(String(16))  # malicious, untrue, unfounded
    deadline_days: Mapped[int | None] = mapped_column(SmallInteger)
    summary: Mapped[str] = mapped_column(Text)
    complainant: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    department: Mapped[str | None] = mapped_column(Text)
    cause: Mapped[str | None] = mapped_column(Text)
    first_handler: Mapped[str | None] = mapped_column(Text)  # 首办责任人
    counter_id: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open, replied, closed
    reply: Mapped[str | None] = mapped_column(Text)
    replied_by: Mapped[str | None] = mapped_column(String(64))
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_note: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[str | None] = mapped_column(String(16))  # satisfied, basic, unsatisfied
    callback_by: Mapped[str | None] = mapped_column(String(64))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ComplaintAction(Base):
    """The complaints register's audit trail: who did what to which complaint, and when."""

    __tablename__ = "complaint_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(Text)
