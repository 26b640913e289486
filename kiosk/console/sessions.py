"""The console's sessions: a random token in an HttpOnly, SameSite=Strict cookie, and on the unit
the staff member it belongs to, the counter's sign-in it was made for, its CSRF token and when it
ends.

Kept in memory (a unit restart asks everyone for their PIN again; the counter's sign-in itself is
in the event log and survives). Only the token's sha256 is kept, so the table is not a list of
working cookies. A session ends when it expires, when its staff member signs out (签退, the staff
key or the API), or when someone else signs in at the counter: it is bound to one sign-in, so a
later sign-in of the same staff member elsewhere does not bring an old cookie back to life.
At most MAX_SESSIONS are kept; the oldest goes first.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Callable

SESSION_LIFETIME_S = 12 * 3600.0     # a working day and its overtime; 签退 ends it sooner
MAX_SESSIONS = 64


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass(frozen=True)
class ConsoleSession:
    staff_id: str
    sign_in_seq: int        # the seq of the counter's sign-in (staff.signed_in, or the one in force) it belongs to
    csrf: str
    expires_at: float       # monotonic

    def seconds_left(self, now: float) -> int:
        return max(0, int(self.expires_at - now))


class Sessions:
    def __init__(self, lifetime_s: float = SESSION_LIFETIME_S, limit: int = MAX_SESSIONS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.lifetime_s = lifetime_s
        self.limit = limit
        self._monotonic = monotonic
        self._by_digest: dict[str, ConsoleSession] = {}

    def __len__(self) -> int:
        return len(self._by_digest)

    def now(self) -> float:
        return self._monotonic()

    def start(self, staff_id: str, sign_in_seq: int) -> tuple[str, ConsoleSession]:
        """A new session; returns the token for the cookie (never stored) and the session."""
        self._forget_expired()
        while len(self._by_digest) >= self.limit:
            del self._by_digest[next(iter(self._by_digest))]   # dicts keep insertion order
        token = secrets.token_urlsafe(32)
        session = ConsoleSession(staff_id, sign_in_seq, secrets.token_urlsafe(32),
                                 self._monotonic() + self.lifetime_s)
        self._by_digest[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> ConsoleSession | None:
        """The session of a cookie's token, if it is one and has not expired."""
        if not token or len(token) > 128:
            return None
        digest = _digest(token)
        session = self._by_digest.get(digest)
        if session is not None and self._monotonic() >= session.expires_at:
            del self._by_digest[digest]
            return None
        return session

    def end(self, token: str | None) -> None:
        if token:
            self._by_digest.pop(_digest(token), None)

    def _forget_expired(self) -> None:
        now = self._monotonic()
        for digest in [d for d, s in self._by_digest.items() if now >= s.expires_at]:
            del self._by_digest[digest]
