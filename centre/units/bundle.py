"""The unit bundle (reasons, staff roster, service items, complaint phone) and the staff photos."""
from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.storage.models import BundleVersion, StaffPhoto
from centre.units.pins import pin_hashes
from centre.units.schemas import Bundle
from protocol.chain import canonical_bytes
from protocol.events import OFFERED_REASONS, OTHER_REASON_LABEL

MAX_PHOTO_BYTES = 2 * 1024 * 1024
# What a photo's first bytes must be for the content type it is uploaded as.
PHOTO_SIGNATURES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


class BundleFileError(ValueError):
    """A bundle file that cannot be read."""


def photo_path(staff_id: str) -> str:
    return f"/api/v1/staff/{staff_id}/photo"


def read_bundle_file(path: Path) -> Any:
    """The data of a .toml or .json bundle file (not yet validated)."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise BundleFileError(f"cannot read {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(content.decode("utf-8"))
        if suffix == ".json":
            return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise BundleFileError(f"{path} is not valid {suffix[1:].upper()}: {exc}") from exc
    raise BundleFileError(f"{path}: a bundle file ends in .toml or .json")


@dataclass(frozen=True)
class BundleWarning:
    """Something in a bundle that loads but will not work as its author may expect."""

    code: str
    message: str
    reasons: list[dict[str, str]]

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "reasons": self.reasons}


def bundle_warnings(bundle: Bundle) -> list[BundleWarning]:
    """What to tell whoever loads `bundle`: the 差评 reasons past the eighth, which units do not offer."""
    listed = [reason for reason in bundle.reasons if reason.label != OTHER_REASON_LABEL]
    unoffered = listed[OFFERED_REASONS:]
    if not unoffered:
        return []
    names = "、".join(f"{reason.code} {reason.label}" for reason in unoffered)
    return [BundleWarning(
        "reasons_not_offered",
        f"the bundle lists {len(listed)} 差评 reasons besides 其他, and units offer the first "
        f"{OFFERED_REASONS} (two pages of four, then 其他): the other {len(unoffered)} are kept in the "
        f"bundle but no citizen can choose them ({names}); a citizen they fit chooses 其他. "
        f"Keep the {OFFERED_REASONS} that matter most first, or merge some.",
        [{"code": reason.code, "label": reason.label} for reason in unoffered])]


def store_bundle(session: Session, bundle: Bundle, now: datetime) -> tuple[str, bool]:
    """Make `bundle` the current one. Returns its version and whether anything changed."""
    content = bundle.model_dump(mode="json", exclude={"version"})
    version = bundle.version or hashlib.sha256(canonical_bytes(content)).hexdigest()[:16]
    body_json = json.dumps({"version": version, **content}, ensure_ascii=False)
    latest = _latest(session)
    if latest is not None and latest.body_json == body_json:
        return latest.version, False
    session.add(BundleVersion(version=version, body_json=body_json, created_at=now))
    return version, True


def _latest(session: Session) -> BundleVersion | None:
    return session.scalars(select(BundleVersion).order_by(BundleVersion.id.desc()).limit(1)).first()


@dataclass(frozen=True)
class RenderedBundle:
    body: bytes
    etag: str


def current_bundle(session: Session) -> RenderedBundle | None:
    """The bundle as units get it: the stored one with a photo path for each staff member who has one.

    The ETag covers the photos' hashes as well, so a new photo makes units fetch the bundle (and
    then the photo) again although the bundle's text is unchanged.
    """
    latest = _latest(session)
    if latest is None:
        return None
    bundle = json.loads(latest.body_json)
    photos = dict(session.execute(select(StaffPhoto.staff_id, StaffPhoto.sha256)).all())
    pins = pin_hashes(session)
    for member in bundle["staff"]:
        member["photo"] = photo_path(member["staff_id"]) if member["staff_id"] in photos else None
        if member["staff_id"] in pins:   # the staff console's PIN (docs/protocol-notes.md)
            member["pin_hash"] = pins[member["staff_id"]]
    body = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    digest = hashlib.sha256(body)
    for member in bundle["staff"]:
        digest.update(photos.get(member["staff_id"], "").encode("ascii"))
    return RenderedBundle(body=body, etag=f'"{digest.hexdigest()[:32]}"')


def photo_problem(content_type: str, data: bytes) -> str | None:
    """Why `data` cannot be a staff photo of `content_type`, or None when it can."""
    signature = PHOTO_SIGNATURES.get(content_type)
    if signature is None:
        return f"a photo is one of {', '.join(PHOTO_SIGNATURES)}, not {content_type or 'untyped'}"
    if not data.startswith(signature):
        return f"the data is not a {content_type} image"
    return None


def store_photo(session: Session, staff_id: str, content_type: str, data: bytes,
                now: datetime) -> StaffPhoto:
    photo = session.get(StaffPhoto, staff_id) or StaffPhoto(staff_id=staff_id)
    photo.content_type = content_type
    photo.data = data
    photo.sha256 = hashlib.sha256(data).hexdigest()
    photo.updated_at = now
    session.add(photo)
    return photo
