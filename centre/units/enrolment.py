"""Adding units and enrolling them: one-time enrolment tokens in, a unit token and key on file."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from centre.storage.models import EnrolmentToken, Unit
from centre.web.errors import ApiError, invalid
from centre.web.tokens import new_token, same_secret, token_digest
from protocol.signing import load_public_key_b64

ENROLMENT_TTL = timedelta(hours=24)
ROLES = ("counter", "dispenser", "both")


class UnitError(ValueError):
    """A unit command that cannot be carried out (unknown unit, already enrolled, …)."""


@dataclass(frozen=True)
class IssuedToken:
    unit_id: str
    token: str
    expires_at: datetime


def add_unit(session: Session, unit_id: str, role: str, counter_id: str | None,
             now: datetime) -> IssuedToken:
    """Register a unit (or update one not yet enrolled) and issue a one-time enrolment token."""
    if role not in ROLES:
        raise UnitError(f"role must be one of {', '.join(ROLES)}")
    if role in ("counter", "both") and not counter_id:
        raise UnitError(f"a {role} unit needs its counter (--counter N)")
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


def enrol(session: Session, token: str, unit_id: str, public_key: str, now: datetime) -> str:
    """Use up the enrolment token, keep the unit's public key, and return its new unit token.

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
    return unit_token
