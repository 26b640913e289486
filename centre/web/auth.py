"""Who is calling: a unit (its bearer token) or an admin (the centre's admin token), and
`admin_only`, the dependency of every admin router."""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from fastapi import Request
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from centre.storage.models import Unit
from centre.web.errors import ApiError
from centre.web.tokens import bearer_token, same_secret, token_digest

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers=_CHALLENGE)


class AuthenticatedUnit(NamedTuple):
    unit_id: str
    public_key: str  # standard base64 of the raw Ed25519 key
    # What `centre unit add` registered and when it enrolled: what the unit's claims are held to.
    role: str
    counter_id: str | None
    enrolled_at: datetime | None


# Every upload runs these: Core selects of the columns needed, not ORM loads of whole rows, so that
# they run on a Session or on a bare Connection (centre/units/upload.py) alike.
_units = Unit.__table__
_UNIT_CREDENTIALS = select(_units.c.unit_id, _units.c.public_key, _units.c.token_hash,
                           _units.c.revoked_at, _units.c.role, _units.c.counter_id,
                           _units.c.enrolled_at).where(_units.c.unit_id == bindparam("unit_id"))
# The unit a token belongs to (token_hash is unique), whichever unit the request names.
_TOKEN_HOLDER = select(_units.c.unit_id, _units.c.revoked_at).where(
    _units.c.token_hash == bindparam("digest"))


def authenticate_unit(connection: Session | Connection, unit_id: str, authorization: str | None
                      ) -> AuthenticatedUnit:
    """The unit named in the path, if the token is its own (PROTOCOL's check 1, in its order)."""
    token = bearer_token(authorization)
    if token is None:
        raise _unauthorized("a unit token is required (Authorization: Bearer …)")
    digest = token_digest(token)
    unit = connection.execute(_UNIT_CREDENTIALS, {"unit_id": unit_id}).first()
    if unit is None or unit.token_hash is None or not same_secret(unit.token_hash, digest):
        if connection.execute(_TOKEN_HOLDER, {"digest": digest}).first() is not None:
            raise ApiError(403, "forbidden", "this token belongs to another unit")
        raise _unauthorized("unknown or wrong unit token")
    if unit.revoked_at is not None:
        raise ApiError(403, "revoked", f"unit {unit_id} has been revoked")
    return AuthenticatedUnit(unit.unit_id, unit.public_key, unit.role, unit.counter_id, unit.enrolled_at)


def authenticate_any_unit(session: Session, authorization: str | None) -> str:
    """Any enrolled unit that is not revoked (for resources shared by all units, e.g. photos);
    answers its unit id."""
    token = bearer_token(authorization)
    unit = session.execute(_TOKEN_HOLDER, {"digest": token_digest(token)}).first() if token else None
    if unit is None:
        raise _unauthorized("a unit token or the admin token is required")
    if unit.revoked_at is not None:
        raise ApiError(403, "revoked", f"unit {unit.unit_id} has been revoked")
    return unit.unit_id


def is_admin(admin_token: str | None, authorization: str | None) -> bool:
    token = bearer_token(authorization)
    return admin_token is not None and token is not None and same_secret(token, admin_token)


def require_admin(admin_token: str | None, authorization: str | None) -> None:
    if admin_token is None:
        raise ApiError(403, "admin_disabled", "admin calls are disabled: this centre was started "
                       "without an admin token (--admin-token or CENTRE_ADMIN_TOKEN)")
    if not is_admin(admin_token, authorization):
        raise _unauthorized("the admin token is required (Authorization: Bearer …)")


async def admin_only(request: Request) -> None:
    """A router dependency: the request must carry the admin token. Dependencies run before
    FastAPI validates query parameters, so a caller without the token learns nothing from a 422."""
    require_admin(request.app.state.admin_token, request.headers.get("authorization"))
