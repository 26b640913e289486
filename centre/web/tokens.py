"""Bearer tokens: made with `secrets`, stored only as sha256 hex, compared in constant time."""
from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32  # 256 bits: a sha256 of it needs no salt or slow hash to be safe at rest


def new_token() -> str:
    # Hex, not urlsafe base64: a token that starts with "-" reads as an option on a command line
    # (`kiosk provision --token -x…`), and technicians type these.
    return secrets.token_hex(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
