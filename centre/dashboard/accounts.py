"""Dashboard accounts: argon2-hashed passwords, roles, server-side sessions and the login limit.

Sessions live in the database (table dashboard_sessions) rather than in a signed cookie: logging
out really ends them, no signing secret has to be configured and rotated, and the CSRF token sits
next to the session it protects. The cookie carries only a random token.
"""
from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from functools import cache
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from centre.storage.models import DashboardSession, DashboardUser, LoginFailure
from centre.web.tokens import same_secret, token_digest

ROLES = ("admin", "manager", "viewer")
EDITING_ROLES = ("admin", "manager")
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 8
# Failed logins in the window after which logging in is refused (429) until it passes, counted
# apart: per user name, tight (guessing one account's password), and per client address, generous
# (a password spray over many names; an office behind one NAT shares an address, so one person's
# five wrong tries must not lock out colleagues who type theirs right).
LOGIN_FAILURES_PER_NAME = 5
LOGIN_FAILURES_PER_ADDRESS = 20
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
    Made on the first login, not at import: a hash takes ~0.1 s, and importing the centre (every
    `centre` command, every test run) need not pay for it."""
    return _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A user that cannot be made as asked (bad role, name taken, short password)."""


@dataclass(frozen=True)
class LoggedIn:
    """The user behind a request's session cookie."""

    user_id: int
    name: str
    role: str
    csrf_token: str

    @property
    def may_edit(self) -> bool:
        return self.role in EDITING_ROLES


def add_user(session: Session, name: str, role: str, password: str, now: datetime) -> DashboardUser:
    name = name.strip()
    if not name or len(name) > 64:
        raise AccountError("a user name is 1-64 characters")
    if role not in ROLES:
        raise AccountError(f"a role is one of {', '.join(ROLES)}; got {role!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password is at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalars(select(DashboardUser).where(DashboardUser.name == name)).one_or_none():
        raise AccountError(f"user {name} exists already")
    user = DashboardUser(name=name, role=role, password_hash=_hasher.hash(password), created_at=now)
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[DashboardUser]:
    return list(session.scalars(select(DashboardUser).order_by(DashboardUser.name)))


def client_key(address: str) -> str:
    """What the per-address limit counts by: the address, or for IPv6 its /64 (one machine may
    have any of 2**64 of them)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def login_blocked(session: Session, name: str, client: str, now: datetime) -> bool:
    """Too many recent failures for this name, or from this address (guessing is slowed down)."""
    since = now - LOGIN_FAILURE_WINDOW
    by_name = session.scalar(select(func.count()).select_from(LoginFailure)
                             .where(LoginFailure.name == name[:64], LoginFailure.at >= since))
    by_client = session.scalar(select(func.count()).select_from(LoginFailure)
                               .where(LoginFailure.client == client_key(client), LoginFailure.at >= since))
    return by_name >= LOGIN_FAILURES_PER_NAME or by_client >= LOGIN_FAILURES_PER_ADDRESS


def check_password(session: Session, name: str, password: str, client: str, now: datetime
                   ) -> DashboardUser | None:
    """The user if the password is theirs; otherwise None, and the failure is counted."""
    user = session.scalars(select(DashboardUser).where(DashboardUser.name == name)).one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
        verified = user is not None
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified:
        session.add(LoginFailure(name=name[:64], client=client_key(client), at=now))
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - LOGIN_FAILURE_WINDOW))
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def start_session(session: Session, user: DashboardUser, now: datetime) -> str:
    """A new session for `user`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.execute(delete(DashboardSession).where(DashboardSession.expires_at < now))
    session.add(DashboardSession(token_hash=token_digest(token), user_id=user.id,
                                 csrf_token=secrets.token_urlsafe(32), created_at=now,
                                 expires_at=now + SESSION_LIFETIME))
    session.flush()
    return token


def session_user(session: Session, token: str | None, now: datetime) -> LoggedIn | None:
    if not token:
        return None
    row = session.execute(
        select(DashboardSession, DashboardUser)
        .join(DashboardUser, DashboardUser.id == DashboardSession.user_id)
        .where(DashboardSession.token_hash == token_digest(token))
    ).first()
    if row is None or row[0].expires_at <= now:
        return None
    stored, user = row
    return LoggedIn(user.id, user.name, user.role, stored.csrf_token)


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(DashboardSession).where(DashboardSession.token_hash == token_digest(token)))


def csrf_matches(logged_in: LoggedIn, submitted: str | None) -> bool:
    return bool(submitted) and same_secret(submitted, logged_in.csrf_token)
