"""Adding units and enrolling them: one-time enrolment tokens in, a unit token and key on file.

The technician types a unit's role and counter once, at the centre (`centre unit add`); the
enrolment answer hands them to the unit. Whatever the unit was told locally only confirms them: a
disagreement is refused (409 identity_mismatch) after the token was checked and before it is used,
in the same transaction as the enrolment itself, so a mistyped flag costs no token, and a unit can
never be enrolled as something other than what the centre recorded (not even if `centre unit add`
re-registers it between a question and an enrolment: there is no separate question).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import get_args

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from centre.storage.models import EnrolmentToken, Unit
from centre.units.schemas import UnitRole
from centre.web.errors import ApiError, invalid
from centre.web.tokens import new_token, same_secret, token_digest
from protocol.signing import load_public_key_b64

ENROLMENT_TTL = timedelta(hours=24)
ROLES: tuple[str, ...] = get_args(UnitRole)
# What a unit's config takes as its counter (kiosk.config: unit.counter_id, 1-16 characters): the
# enrolment answer puts it there, so the centre refuses one a unit could not use.
COUNTER_ID_PATTERN = re.compile(r"[^\s\x00-\x1f\x7f]{1,16}")


class UnitError(ValueError):
    """A unit command that cannot be carried out (unknown unit, already enrolled, …)."""


@dataclass(frozen=True)
class IssuedToken:
    unit_id: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment answer carries (PROTOCOL.md: `201 {"unit_token", "role", "counter_id"}`)."""

    unit_token: str
    role: str
    counter_id: str | None


def add_unit(session: Session, unit_id: str, role: str, counter_id: str | None,
             now: datetime) -> IssuedToken:
    """Register a unit (or update one not yet enrolled) and issue a one-time enrolment token."""
    if role not in ROLES:
        raise UnitError(f"role must be one of {', '.join(ROLES)}")
    if role in ("counter", "both") and not counter_id:
        raise UnitError(f"a {role} unit needs its counter (--counter N)")
    if counter_id is not None and not COUNTER_ID_PATTERN.fullmatch(counter_id):
        raise UnitError(f"counter {counter_id!r}: the window's number or name, 1-16 characters, no spaces")
    unit = session.get(Unit, unit_id)
    if unit is None:
        session.add(Unit(unit_id=unit_id, role=role, counter_id=counter_id, created_at=now))
        session.flush()  # the token's foreign key needs the unit's row first
    elif unit.revoked_at is not None:
        raise UnitError(f"unit {unit_id} is revoked; give the replacement a new unit id")
    elif unit.enrolled_at is not None:
        raise UnitError(f"unit {unit_id} is already enrolled; give a replacement a new unit id")
    else:
        # The first token expired before the technician got there: a fresh one, same unit.
        unit.role, unit.counter_id = role, counter_id
    token = new_token()
    expires_at = now + ENROLMENT_TTL
    session.add(EnrolmentToken(token_hash=token_digest(token), unit_id=unit_id, created_at=now,
                               expires_at=expires_at))
    return IssuedToken(unit_id=unit_id, token=token, expires_at=expires_at)


# One answer for every refusal, so that a caller learns nothing about which tokens exist.
def _refused() -> ApiError:
    return ApiError(401, "unauthorized",
                    "enrolment refused: the token is unknown, used, expired or for another unit")


def _unit_told(role: str | None, counter_id: str | None) -> str:
    return " and ".join(part for part in (f"role {role}" if role else "",
                                          f"counter {counter_id}" if counter_id else "") if part)


def _check_confirmation(unit: Unit, role: str | None, counter_id: str | None) -> None:
    """The unit's own idea of its role and counter (flags typed there), if it has one, must be what
    the centre recorded; a unit given no flags confirms nothing."""
    wrong_role = role is not None and role != unit.role
    wrong_counter = counter_id is not None and counter_id != unit.counter_id
    if not (wrong_role or wrong_counter):
        return
    recorded = _unit_told(unit.role, unit.counter_id) if unit.counter_id else f"role {unit.role}, no counter"
    raise ApiError(
        409, "identity_mismatch",
        f"unit {unit.unit_id} is registered at the centre with {recorded}, but the unit was given "
        f"{_unit_told(role, counter_id)}; nothing was enrolled and the token is still valid. Leave the "
        "role and counter out (the centre's apply), or register the unit again with `centre unit add`",
        role=unit.role, counter_id=unit.counter_id)


def enrol(session: Session, token: str, unit_id: str, public_key: str, now: datetime, *,
          role: str | None = None, counter_id: str | None = None) -> Enrolment:
    """Use up the enrolment token, keep the unit's public key, and return its new unit token with
    the role and counter recorded for it. `role` and `counter_id` are what the unit was told
    locally, if anything: they must agree with the record.

    Any refusal raises before anything is written, so it leaves the token usable.
    """
    try:
        load_public_key_b64(public_key)
    except ValueError as exc:
        raise invalid("public_key", f"not a base64 Ed25519 public key: {exc}") from exc
    # Locked: two different tokens of one unit used at once must not both enrol it.
    unit = session.get(Unit, unit_id, with_for_update=True)
    if unit is None or unit.revoked_at is not None or unit.enrolled_at is not None:
        raise _refused()
    digest = token_digest(token)
    candidates = session.scalars(select(EnrolmentToken).where(
        EnrolmentToken.unit_id == unit_id, EnrolmentToken.used_at.is_(None),
        EnrolmentToken.expires_at > now)).all()
    match = next((c for c in candidates if same_secret(c.token_hash, digest)), None)
    if match is None:
        raise _refused()
    # Only after the token proved itself: the record is told to no one who could not enrol.
    _check_confirmation(unit, role, counter_id)
    # Guarded by used_at IS NULL: of two simultaneous attempts with one token, one wins.
    claimed = session.execute(update(EnrolmentToken)
                              .where(EnrolmentToken.id == match.id, EnrolmentToken.used_at.is_(None))
                              .values(used_at=now)).rowcount
    if claimed != 1:
        raise _refused()
    unit_token = new_token()
    unit.public_key = public_key
    unit.token_hash = token_digest(unit_token)
    unit.enrolled_at = now
    return Enrolment(unit_token=unit_token, role=unit.role, counter_id=unit.counter_id)
