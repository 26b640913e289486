"""Rating after the fact (扫码评价) on the ticket's page: when it is offered, the form's per-page
token, and storing the rating and its 差评 reason, once each.

Offered when the ticket's transaction was completed (a `transaction.completed` naming the ticket at
the counter that called it), no rating of that transaction came from the keypad (counted or not:
a voided one ended the transaction too), none came from the page yet, and the completion is at
most `CENTRE_QR_RATING_DAYS` (default 7) days old. A keypad rating uploaded later wins: the
reports take the page's rating only where no keypad rating exists."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from centre.storage.models import BundleVersion, Event, PublicSecret, QrRating
from protocol.events import BAD_LEVELS, LEVEL_LABELS, OFFERED_REASONS, OTHER_REASON_LABEL, EventType

RATING_DAYS_ENV = "CENTRE_QR_RATING_DAYS"
DEFAULT_RATING_DAYS = 7
TOKEN_LIFETIME_S = 3600        # a page left open longer is reloaded (it reloads itself anyway)
REASON_WINDOW = timedelta(hours=1)   # after a 差评, how long its reason may still be given
OTHER_REASON_CODE = "other"

OFFER, REASONS, THANKS, AT_COUNTER, EXPIRED = "offer", "reasons", "thanks", "at_counter", "expired"


def rating_days() -> int:
    text = os.environ.get(RATING_DAYS_ENV, "")
    return int(text) if text.isdecimal() and 0 < int(text) <= 366 else DEFAULT_RATING_DAYS


@dataclass(frozen=True)
class Transaction:
    """The completed transaction of a ticket, as its `transaction.completed` recorded it."""
    transaction_id: str
    counter_id: str | None
    staff_id: str | None
    service_item: str | None
    completed_at: datetime


@dataclass(frozen=True)
class RatingState:
    state: str                       # OFFER, REASONS, THANKS, AT_COUNTER, EXPIRED
    level: int | None = None         # the page's rating, once given
    reasons: tuple[tuple[str, str], ...] = ()   # what a 差评 may be given as (code, label)


def rating_state(session: Session, ref: str, transaction: Transaction, now: datetime) -> RatingState:
    at_counter = session.scalar(select(Event.id).where(
        Event.type == EventType.RATING_SUBMITTED, Event.transaction_id == transaction.transaction_id).limit(1))
    if at_counter is not None:
        return RatingState(AT_COUNTER)
    given = session.scalar(select(QrRating).where(QrRating.ref == ref))
    if given is not None:
        if given.level in BAD_LEVELS and given.reasons_json is None and now - given.rated_at <= REASON_WINDOW:
            return RatingState(REASONS, given.level, offered_reasons(session))
        return RatingState(THANKS, given.level)
    if now - transaction.completed_at > timedelta(days=rating_days()):
        return RatingState(EXPIRED)
    return RatingState(OFFER)


def offered_reasons(session: Session) -> tuple[tuple[str, str], ...]:
    """The bundle's 差评 reasons as the keypad offers them (the first eight), then 其他."""
    body = session.scalar(select(BundleVersion.body_json).order_by(BundleVersion.id.desc()).limit(1))
    reasons: list[tuple[str, str]] = []
    for reason in (json.loads(body).get("reasons") or []) if body else []:
        if reason.get("label") != OTHER_REASON_LABEL and len(reasons) < OFFERED_REASONS:
            reasons.append((str(reason["code"]), str(reason["label"])))
    return (*reasons, (OTHER_REASON_CODE, OTHER_REASON_LABEL))


def store_rating(session: Session, ref: str, transaction: Transaction, level: int, now: datetime) -> bool:
    """The page's rating, unless one is held for the ticket or the transaction (then False)."""
    if level not in LEVEL_LABELS:
        return False
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stored = session.execute(dialect_insert(QrRating.__table__).values(
        ref=ref, transaction_id=transaction.transaction_id, level=level, reasons_json=None,
        counter_id=transaction.counter_id, staff_id=transaction.staff_id,
        service_item=transaction.service_item, rated_at=now).on_conflict_do_nothing().returning(QrRating.id))
    return stored.first() is not None


def store_reason(session: Session, ref: str, code: str) -> bool:
    """The 差评's reason, once; False when there is no 差评 waiting for one or the code is unknown."""
    given = session.scalar(select(QrRating).where(QrRating.ref == ref).with_for_update())
    if given is None or given.level not in BAD_LEVELS or given.reasons_json is not None:
        return False
    label = dict(offered_reasons(session)).get(code)
    if label is None:
        return False
    given.reasons_json = json.dumps([{"code": code, "label": label}], ensure_ascii=False)
    return True


# --- the form's per-page token: no cookie, so the token is bound to the ticket and a time ---------

def form_secret(session: Session) -> bytes:
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(dialect_insert(PublicSecret.__table__).values(
        name="rating_form", secret=secrets.token_hex(32)).on_conflict_do_nothing())
    return bytes.fromhex(session.scalar(select(PublicSecret.secret).where(PublicSecret.name == "rating_form")))


def _mac(secret: bytes, ref: str, issued: int) -> str:
    return hmac.new(secret, f"rating:{ref}:{issued}".encode(), hashlib.sha256).hexdigest()[:32]


def form_token(secret: bytes, ref: str, now_s: float | None = None) -> str:
    issued = int(time.time() if now_s is None else now_s)
    return f"{issued}.{_mac(secret, ref, issued)}"


def token_valid(secret: bytes, ref: str, token: Any, now_s: float | None = None) -> bool:
    if not isinstance(token, str) or token.count(".") != 1:
        return False
    issued_text, mac = token.split(".")
    if not issued_text.isdecimal() or len(issued_text) > 12:
        return False
    issued, now = int(issued_text), time.time() if now_s is None else now_s
    return 0 <= now - issued <= TOKEN_LIFETIME_S and hmac.compare_digest(mac, _mac(secret, ref, issued))

