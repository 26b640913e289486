"""Enrolment: `kiosk provision` makes the unit's Ed25519 key, enrols it at the centre, and keeps what
`kiosk run` needs (key, unit token, centre URL, unit id, role, counter, CA bundle) in the state dir.

The role and counter are the centre's (`centre unit add` recorded them; the enrolment answer
carries them). A role or counter the technician gave on the unit is sent along as a confirmation:
the centre refuses a disagreement before it uses the token up (409 identity_mismatch), so a wrong
flag costs nothing, and a unit is never enrolled as something the centre did not record.

The key is made in memory and written only after the centre accepted it, so a failed attempt
leaves an earlier working provisioning untouched. centre.json is written last and names the public
key and a hash of the token: it is the mark that the set is complete, and `load_provisioning`
refuses a key or token that does not belong to it (a power cut mid-way shows up as a clear error,
not as signatures the centre rejects). The event store is never touched: a re-provisioned unit
keeps its stream and uploads its backlog under the new token.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.signing import generate_private_key, load_private_key_pem, private_key_pem, public_key_b64
from sync import paths
from sync.client import CentreClient, CentreUnreachable, normalise_centre_url
from sync.files import SECRET_MODE, ensure_dir, remove_durably, write_atomic

log = logging.getLogger(__name__)

CENTRE_FILE_FORMAT = 1  # role and counter_id were added without a new format: older records lack them
ROLES = ("counter", "dispenser", "both")
IDENTITY_MISMATCH = "identity_mismatch"
# The same rule as the config's unit.id, so a provisioned id is always a valid config id.
UNIT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ProvisionError(Exception):
    """Enrolment did not happen; str() tells the technician why and what to do."""


class ProvisioningBroken(Exception):
    """The state dir holds provisioning files that do not belong together or cannot be read."""


@dataclass(frozen=True)
class Identity:
    """Who the centre enrolled this unit as. `role` is None in a record from before the centre said
    (the config's role then stands); `counter_id` is None for a unit the centre gave no counter."""

    unit_id: str
    role: str | None = None
    counter_id: str | None = None

    def describe(self) -> str:
        counter = f", counter {self.counter_id}" if self.counter_id else ""
        return f"unit {self.unit_id}" + (f", role {self.role}{counter}" if self.role else "")


@dataclass(frozen=True)
class ProvisionResult:
    state_dir: Path
    centre_url: str
    identity: Identity
    public_key: str
    key_path: Path
    token_path: Path
    centre_path: Path
    ca_path: Path | None

    @property
    def unit_id(self) -> str:
        return self.identity.unit_id


@dataclass(frozen=True)
class Provisioning:
    """What the uploader and the bundle refresher need; secrets are kept out of repr (logs)."""

    centre_url: str
    unit_id: str
    unit_token: str = field(repr=False)
    private_key: Ed25519PrivateKey = field(repr=False)
    ca_file: Path | None = None
    role: str | None = None
    counter_id: str | None = None

    @property
    def public_key(self) -> str:
        return public_key_b64(self.private_key)


def check_centre_url(url: str) -> str:
    """https:// anywhere; plain http:// only to this machine (tests), never across a network."""
    url = normalise_centre_url(url)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ProvisionError(f"not a centre URL: {url!r} (expected https://host[:port])")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ProvisionError(
            f"{url}: plain http is allowed only to this machine; the centre must be reached over https")
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def provision_unit(state_dir: Path, centre_url: str, unit_id: str, token: str,
                   ca_file: Path | None = None, timeout_s: float = 10, *, role: str | None = None,
                   counter_id: str | None = None) -> ProvisionResult:
    """Enrol and store; when root provisions a state dir that belongs to the service's user, the
    files written are given to that user (the service runs unprivileged and must read them).
    `role` and `counter_id` are what the technician gave on the unit, if anything: the centre
    enrols only if they agree with its record."""
    state_dir = Path(state_dir)
    centre_url = check_centre_url(centre_url)
    if not UNIT_ID_PATTERN.match(unit_id):
        raise ProvisionError(f"unit id {unit_id!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if role is not None and role not in ROLES:
        raise ProvisionError(f"role {role!r}: one of {', '.join(ROLES)}")
    token = token.strip()
    if not token:
        raise ProvisionError("the enrolment token is empty")
    ca_bytes = None
    if ca_file is not None:
        try:
            ca_bytes = Path(ca_file).read_bytes()
        except OSError as error:
            raise ProvisionError(f"cannot read the CA file {ca_file}: {error.strerror or error}") from None

    # Check the state dir before enrolling: a token the centre has used up cannot be used again.
    try:
        ensure_dir(state_dir)
    except OSError as error:
        raise ProvisionError(f"cannot create the state dir {state_dir}: {error.strerror or error}") from None
    if not os.access(state_dir, os.W_OK | os.X_OK):
        raise ProvisionError(f"cannot write to the state dir {state_dir} (run as the kiosk service's user?)")

    key = generate_private_key()
    public_key = public_key_b64(key)
    client = CentreClient(centre_url, ca_file=ca_file, timeout_s=timeout_s)
    try:
        reply = client.enrol(token, unit_id, public_key, role=role, counter_id=counter_id)
    except CentreUnreachable as error:
        raise ProvisionError(f"enrolment failed: {error.message}") from None
    finally:
        client.close()
    if reply.status == 401:
        raise ProvisionError(
            f"the centre refused the enrolment token (401). It is mistyped, already used, expired "
            f"(tokens last 24 h), or was issued for a unit id other than {unit_id!r}; the centre "
            f"answers the same for all of these. Check the unit id, or ask the centre for a new token.")
    if reply.code == IDENTITY_MISMATCH:
        recorded = Identity(unit_id, reply.role, reply.counter_id)
        given = Identity(unit_id, role, counter_id)
        raise ProvisionError(
            f"the centre has {recorded.describe()}{'' if recorded.counter_id else ', no counter'}, "
            f"but this unit was given {_given(role, counter_id)}. Nothing was enrolled and the token is "
            f"still good: leave out --role and --counter (the unit takes the centre's), or, if the "
            f"centre's record is wrong, register the unit again there (`centre unit add {unit_id} "
            f"--role {given.role or recorded.role} …`) and use its new token.")
    if reply.unit_token is None:
        detail = ": ".join(part for part in (reply.code, reply.message) if part) or "no details"
        raise ProvisionError(f"the centre refused the enrolment (HTTP {reply.status}): {detail}")

    identity = _enrolled_as(unit_id, reply.role, reply.counter_id, role, counter_id)
    try:
        result = _store(state_dir, centre_url, identity, key, reply.unit_token, ca_bytes,
                        state_dir_owner(state_dir))
    except OSError as error:
        raise ProvisionError(
            f"the centre enrolled the unit, but writing to {state_dir} failed ({error}); the token is "
            "used up: ask the centre for a new one and provision again") from None
    if (role and role != identity.role) or (counter_id and counter_id != identity.counter_id):
        # Only a centre that ignores the confirmation gets here (this project's refuses first).
        raise ProvisionError(
            f"the centre enrolled {identity.describe()}, not {_given(role, counter_id)} as given; the "
            "unit runs as the centre recorded it. If that is wrong, correct it at the centre.")
    return result


def _given(role: str | None, counter_id: str | None) -> str:
    return ", ".join(part for part in (f"--role {role}" if role else "",
                                       f"--counter {counter_id}" if counter_id else "") if part)


def _enrolled_as(unit_id: str, answered_role: str | None, answered_counter: str | None,
                 given_role: str | None, given_counter: str | None) -> Identity:
    """The centre's answer; from a centre that does not say (older than the role in the answer),
    what the technician gave, or nothing (the config's role and counter then stand)."""
    if answered_role in ROLES:
        return Identity(unit_id, answered_role, answered_counter)
    if answered_role is not None:
        log.warning("the centre answered an unknown role %r; keeping the config's", answered_role)
    return Identity(unit_id, given_role, given_counter if given_role else None)


def state_dir_owner(state_dir: Path) -> tuple[int, int] | None:
    """(uid, gid) of the state dir when root writes into another user's state dir, else None."""
    if os.geteuid() != 0:
        return None
    info = os.stat(state_dir)
    return (info.st_uid, info.st_gid) if info.st_uid != 0 else None


def _store(state_dir: Path, centre_url: str, identity: Identity, key: Ed25519PrivateKey, unit_token: str,
           ca_bytes: bytes | None, owner: tuple[int, int] | None = None) -> ProvisionResult:
    public_key = public_key_b64(key)
    key_path, token_path, centre_path = (
        paths.unit_key(state_dir), paths.unit_token(state_dir), paths.centre_file(state_dir))
    ca_path = paths.centre_ca(state_dir) if ca_bytes is not None else None
    write_atomic(key_path, private_key_pem(key), SECRET_MODE, owner)
    write_atomic(token_path, unit_token.encode("utf-8"), SECRET_MODE, owner)
    if ca_path is not None:
        write_atomic(ca_path, ca_bytes, SECRET_MODE, owner)
    record = {
        "format": CENTRE_FILE_FORMAT,
        "centre_url": centre_url,
        "unit_id": identity.unit_id,
        "role": identity.role,
        "counter_id": identity.counter_id,
        "public_key": public_key,
        "unit_token_sha256": _token_digest(unit_token),
        "ca_file": paths.CENTRE_CA_NAME if ca_path is not None else None,
        "enrolled_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    write_atomic(centre_path, json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8"), SECRET_MODE, owner)
    if ca_path is None:
        remove_durably(paths.centre_ca(state_dir))  # a CA from an earlier provisioning no longer applies
    log.info("%s enrolled at %s", identity.describe(), centre_url)
    return ProvisionResult(state_dir, centre_url, identity, public_key, key_path, token_path, centre_path,
                           ca_path)


def _read_record(state_dir: Path) -> dict | None:
    centre_path = paths.centre_file(state_dir)
    try:
        record = json.loads(centre_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ProvisioningBroken(f"{centre_path}: unreadable ({error}); run `kiosk provision` again") from None
    if not isinstance(record, dict) or record.get("format") != CENTRE_FILE_FORMAT:
        raise ProvisioningBroken(f"{centre_path}: not a provisioning record this version understands")
    return record


def _identity_of(record: dict) -> Identity:
    role, counter_id = record.get("role"), record.get("counter_id")
    return Identity(str(record["unit_id"]), role if role in ROLES else None,
                    counter_id if isinstance(counter_id, str) and counter_id else None)


def load_identity(state_dir: Path) -> Identity | None:
    """Who the centre enrolled this unit as, or None if it never was. Reads no secret, so any user
    that may read the state dir's provisioning record learns it; raises ProvisioningBroken."""
    record = _read_record(Path(state_dir))
    try:
        return None if record is None else _identity_of(record)
    except KeyError:
        raise ProvisioningBroken(f"{paths.centre_file(state_dir)}: no unit_id; run `kiosk provision` again") from None


def load_provisioning(state_dir: Path) -> Provisioning | None:
    """What `kiosk provision` stored, or None if the unit was never provisioned.

    Raises ProvisioningBroken when the files are there but unreadable or do not belong together;
    the unit should keep recording (it does not need the centre for that) and report the error.
    """
    state_dir = Path(state_dir)
    record = _read_record(state_dir)
    if record is None:
        return None
    try:
        key = load_private_key_pem(_read_secret(paths.unit_key(state_dir)))
        unit_token = _read_secret(paths.unit_token(state_dir)).decode("utf-8").strip()
    except (OSError, ValueError) as error:
        raise ProvisioningBroken(f"unit key or token unreadable ({error}); run `kiosk provision` again") from None
    if public_key_b64(key) != record.get("public_key") or _token_digest(unit_token) != record.get("unit_token_sha256"):
        raise ProvisioningBroken(
            f"the unit key or token in {state_dir} does not match {paths.CENTRE_FILE_NAME} (an interrupted "
            "provisioning?); run `kiosk provision` again with a new enrolment token")
    ca_name = record.get("ca_file")
    identity = _identity_of(record)
    return Provisioning(
        centre_url=str(record["centre_url"]), unit_id=identity.unit_id, unit_token=unit_token,
        private_key=key, ca_file=state_dir / Path(ca_name).name if ca_name else None,
        role=identity.role, counter_id=identity.counter_id)


def _read_secret(path: Path) -> bytes:
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by others (mode %o); it should be 0600", path, stat.S_IMODE(mode))
    return path.read_bytes()
