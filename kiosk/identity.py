"""Who the unit is: the unit id, role and counter the centre enrolled it as, over the config's.

`kiosk provision` keeps the centre's record in the state dir (sync.provision). A unit provisioned
with a config file has the same values written there; a sim unit on the built-in config has none
of its own (it says `sim-unit`, `both`, counter 1), and a config edited afterwards may disagree.
Either way the events must say the window the centre's reports and fleet page know the unit by,
so the record wins, and the change is reported.
"""
from __future__ import annotations

from sync.paths import centre_file
from sync.provision import ProvisioningBroken, load_identity

from kiosk.config import Settings, settings_from_mapping


def with_provisioned_identity(settings: Settings) -> tuple[Settings, str | None]:
    """The settings as the centre knows this unit, and a sentence saying what changed (None when
    nothing did). An unreadable record changes nothing here: sync reports it."""
    try:
        identity = load_identity(settings.state_dir)
    except ProvisioningBroken:
        return settings, None
    if identity is None:
        return settings, None
    unit = settings.unit
    wanted = {"id": identity.unit_id, "role": identity.role, "counter_id": identity.counter_id}
    changes = {key: value for key, value in wanted.items() if value is not None and getattr(unit, key) != value}
    if not changes:
        return settings, None
    raw = settings.model_dump(mode="json")
    raw["unit"].update(changes)
    source = centre_file(settings.state_dir)
    applied = settings_from_mapping(raw, f"the centre's record of this unit in {source}")
    return applied, (f"running as the centre's {identity.describe()} (from {source}); the config said "
                     f"unit {unit.id}, role {unit.role}, counter {unit.counter_id}")
