"""Staff PINs as they travel from the centre to the units (`staff[].pin_hash` in the bundle, a local
roster entry's `pin_hash`): a slow, salted scrypt hash, never the PIN.

The text form is the PHC-style string passlib and others use for scrypt:
`$scrypt$ln=15,r=8,p=1$<salt>$<key>` (salt and key in standard base64 without padding; N = 2**ln).
scrypt is in Python's standard library (hashlib, OpenSSL), so a unit needs nothing more than it has;
ln=15, r=8 costs 32 MiB and about 0.1 s here, a few tenths on a Raspberry Pi 4.

What a hash may ask for is bounded: a bundle or config naming N = 2**30 would otherwise make a unit
spend gigabytes on one sign-in. A hash outside the bounds is refused where it is read.

A six-digit PIN has a million possibilities: no hash makes a stolen copy of the bundle safe from
someone with time to try them all, which is why the bundle is served only to enrolled units (over
TLS, with their token) and kept in the unit's state dir with mode 0600. The PIN's protection at the
counter is the lockout (five wrong PINs lock a staff ID for five minutes) and the per-address limit.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

SCHEME = "scrypt"
LOG2_N, BLOCK_SIZE, PARALLELISM = 15, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
# Bounds on what a stored hash may ask for (verification's memory is 128 · r · N bytes).
LOG2_N_RANGE, BLOCK_SIZE_RANGE, PARALLELISM_RANGE = range(10, 18), range(1, 17), range(1, 5)
MAX_MEMORY = 128 * 1024 * 1024
MAX_HASH_CHARS = 200

PIN_PATTERN = re.compile(r"[0-9]{6,12}")
PIN_RULE = "a PIN is 6 to 12 digits, not one digit repeated and not a run such as 123456"

_FORMAT = re.compile(r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d)\$([A-Za-z0-9+/]{16,88})\$([A-Za-z0-9+/]{16,88})")


class PinHashError(ValueError):
    """A text that is not a PIN hash this protocol accepts."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise PinHashError("salt or key is not base64") from None


def pin_problem(pin: str) -> str | None:
    """Why `pin` may not be set as a PIN (the centre's rule), or None."""
    if not PIN_PATTERN.fullmatch(pin):
        return PIN_RULE
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in zip(digits, digits[1:])}
    if steps in ({0}, {1}, {-1}):
        return PIN_RULE
    return None


def _key(pin: str, salt: bytes, log2_n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=2 ** log2_n, r=r, p=p, dklen=length,
                          maxmem=MAX_MEMORY + 1024 * 1024)


def hash_pin(pin: str) -> str:
    """The text to store for `pin` (a new random salt each time)."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _key(pin, salt, LOG2_N, BLOCK_SIZE, PARALLELISM, KEY_BYTES)
    return f"${SCHEME}$ln={LOG2_N},r={BLOCK_SIZE},p={PARALLELISM}${_b64(salt)}${_b64(key)}"


def parse_pin_hash(text: str) -> tuple[int, int, int, bytes, bytes]:
    """(ln, r, p, salt, key) of a hash within the bounds; PinHashError otherwise."""
    match = _FORMAT.fullmatch(text) if len(text) <= MAX_HASH_CHARS else None
    if match is None:
        raise PinHashError("not a PIN hash: expected $scrypt$ln=…,r=…,p=…$salt$key")
    log2_n, r, p = (int(group) for group in match.group(1, 2, 3))
    if log2_n not in LOG2_N_RANGE or r not in BLOCK_SIZE_RANGE or p not in PARALLELISM_RANGE \
            or 128 * r * 2 ** log2_n > MAX_MEMORY:
        raise PinHashError(f"PIN hash parameters ln={log2_n}, r={r}, p={p} are outside what a unit computes")
    salt, key = _unb64(match.group(4)), _unb64(match.group(5))
    if len(salt) < 8 or len(key) < 16:
        raise PinHashError("PIN hash salt or key too short")
    return log2_n, r, p, salt, key


def check_pin_hash(text: str) -> str:
    """`text` if it is a usable PIN hash (a validator's shape); PinHashError otherwise."""
    parse_pin_hash(text)
    return text


def verify_pin(pin: str, stored: str) -> bool:
    """Whether `pin` is the PIN `stored` was made from. Slow on purpose (run it off the event
    loop); a malformed `stored` is never a match."""
    try:
        log2_n, r, p, salt, key = parse_pin_hash(stored)
    except PinHashError:
        return False
    if len(pin) > 64:   # no PIN is this long; do not hash a megabyte to find out
        return False
    return hmac.compare_digest(_key(pin, salt, log2_n, r, p, len(key)), key)
