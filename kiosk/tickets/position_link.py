"""What a ticket's QR code carries: the centre's page for that ticket, `{centre}/t/{ref}` (DESIGN
"The citizen's phone"), where the citizen's phone follows the queue on mobile data.

The centre's public address is `printer.position_url` when set (the centre is reached by phones
at another address than by units), else the centre URL the unit was provisioned with. A
`printer.qr_url` template that uses `{ref}` is taken as it is. An unprovisioned unit with neither
prints its `qr_url` template as before (no `{ref}`: a page of the hall's own), or no QR at all."""
from __future__ import annotations

import logging
from pathlib import Path

from kiosk.config import PrinterSettings

log = logging.getLogger(__name__)


class PositionLink:
    def __init__(self, printer: PrinterSettings, state_dir: Path, unit_id: str) -> None:
        self._printer = printer
        self._state_dir = Path(state_dir)
        self._unit_id = unit_id
        self._base: str | None = None
        self._looked_up = False

    def _centre_base(self) -> str | None:
        """The centre's public address, looked up once (provisioning happens before the unit runs)."""
        if not self._looked_up:
            self._looked_up = True
            self._base = self._printer.position_url or _provisioned_centre(self._state_dir)
        return self._base

    def url(self, number: str, letter: str, date: str, ref: str) -> str:
        template = self._printer.qr_url
        fields = {"ticket": number, "date": date, "category": letter, "unit": self._unit_id, "ref": ref}
        if ref and "{ref}" in template:
            return template.format(**fields)
        base = self._centre_base() if ref else None
        if base:
            return f"{base.rstrip('/')}/t/{ref}"
        return template.format(**fields) if template and "{ref}" not in template else ""


def _provisioned_centre(state_dir: Path) -> str | None:
    from sync.provision import ProvisioningBroken, load_provisioning  # keys and HTTPS: only when a ticket prints

    try:
        provisioning = load_provisioning(state_dir)
    except ProvisioningBroken as error:
        log.warning("ticket QR: %s; the tickets carry no link to the centre", error)
        return None
    return provisioning.centre_url if provisioning else None
