"""Staff PINs for the units' staff console: set at the centre (`centre staff set-pin`), kept only as
the slow salted hash units verify (protocol.pins), and sent to the units in the bundle as each
staff member's `pin_hash` (centre.units.bundle.current_bundle), beside the bundle as loaded: loading
a new bundle file keeps every PIN, and a PIN set for someone the bundle does not list yet reaches
the units once a bundle lists them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.storage.models import BundleVersion, StaffPin
from protocol.pins import hash_pin, pin_problem


class PinError(ValueError):
    """A PIN that may not be set (the rule), or a staff id that cannot have one."""


@dataclass(frozen=True)
class PinSet:
    staff_id: str
    replaced: bool               # the staff member had a PIN before
    in_bundle: bool | None       # listed in the current bundle (None: there is no bundle yet)


def set_pin(session: Session, staff_id: str, pin: str, now: datetime) -> PinSet:
    problem = pin_problem(pin)
    if problem is not None:
        raise PinError(problem)
    stored = session.get(StaffPin, staff_id)
    replaced = stored is not None
    if stored is None:
        stored = StaffPin(staff_id=staff_id)
    stored.pin_hash = hash_pin(pin)
    stored.updated_at = now
    session.add(stored)
    return PinSet(staff_id, replaced, _in_current_bundle(session, staff_id))


def pin_hashes(session: Session) -> dict[str, str]:
    return dict(session.execute(select(StaffPin.staff_id, StaffPin.pin_hash)).all())


def _in_current_bundle(session: Session, staff_id: str) -> bool | None:
    latest = session.scalars(select(BundleVersion.body_json).order_by(BundleVersion.id.desc()).limit(1)).first()
    if latest is None:
        return None
    return any(member.get("staff_id") == staff_id for member in json.loads(latest).get("staff", []))
