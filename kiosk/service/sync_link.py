"""Wiring the unit to its centre inside `kiosk run`: the uploader and the bundle refresher.

Sync never stands between a citizen and the screen: the uploader is woken by commits and works in
its own task (its HTTP calls in worker threads), and a bundle from the centre only swaps the roster
and reasons the counter shows. `sync` knows nothing of the unit: this module hands it the event
store, the unit's version and the store's failures, and turns the centre's bundle into the
config's own roster and reasons.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable

from pydantic import ValidationError

from protocol.pins import PinHashError, parse_pin_hash
from sync.bundle import BundleCache, CurrentBundle
from sync.provision import Provisioning, ProvisioningBroken, load_provisioning
from sync.settings import SyncSettings
from sync.uploader import Uploader

from kiosk import __version__
from kiosk.config import Reason, StaffMember
from kiosk.events import STORE_ERRORS, EventStore
from kiosk.tasks import cancel_all

if TYPE_CHECKING:
    from kiosk.app import KioskApp

log = logging.getLogger(__name__)

def unit_uploader(store: EventStore, provisioning: Provisioning, settings: SyncSettings,
                  health: Callable[[], dict[str, Any]] | None = None) -> Uploader:
    """The uploader for this unit's event store (`kiosk run` and `kiosk sync --once`)."""
    return Uploader(store, provisioning, settings, health, version=__version__, store_errors=STORE_ERRORS)


def bundle_staff(bundle: CurrentBundle) -> list[StaffMember]:
    """The bundle's roster in the config's own type (photo = the local file), so the app can use
    either; a member the config would refuse is left out and logged. A PIN hash this unit cannot
    use (a newer centre's stronger parameters) is left out alone: the member stays on the roster,
    signs in by the API, the staff keys or a card, not on the console."""
    members = []
    for member in bundle.data.staff:
        pin_hash = member.pin_hash
        try:
            if pin_hash is not None:
                parse_pin_hash(pin_hash)
        except PinHashError as error:
            log.warning("bundle staff %r: PIN hash not used (%s)", member.staff_id, error)
            pin_hash = None
        try:
            members.append(StaffMember(staff_id=member.staff_id, name=member.name, title=member.title,
                                       duties=member.duties, photo=bundle.photo_path(member.staff_id),
                                       pin_hash=pin_hash))
        except ValidationError as error:
            log.warning("bundle staff %r skipped: %s", member.staff_id, error.errors()[0]["msg"])
    return members


def bundle_reasons(bundle: CurrentBundle) -> list[Reason]:
    return [Reason(code=reason.code, label=reason.label) for reason in bundle.data.reasons
            if reason.code and reason.label]


class SyncLink:
    def __init__(self, app: KioskApp) -> None:
        self.app = app
        self.uploader: Uploader | None = None
        self.bundles: BundleCache | None = None
        self.problem: str | None = None
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        app = self.app
        settings = app.settings
        try:
            provisioning = load_provisioning(settings.state_dir)
        except ProvisioningBroken as broken:
            # Keep recording; a technician re-provisions. Nothing is lost meanwhile.
            self.problem = f"provisioning files unusable: {broken}"
            log.error("sync disabled: %s", self.problem)
            provisioning = None
        self.bundles = BundleCache(settings.state_dir, provisioning, settings.sync)
        self.bundles.on_update(self._use_bundle)
        if self.bundles.current is not None:
            self._use_bundle(self.bundles.current)
        if provisioning is not None:
            self._tasks.append(asyncio.create_task(self.bundles.run(), name="bundle-refresh"))
            if app.store is None:
                self.problem = "event store not open: uploads start after a restart"
                log.error("sync: %s", self.problem)
            else:
                self.uploader = unit_uploader(app.store, provisioning, settings.sync, health=app.health)
                app.add_event_listener(self.uploader.notify)
                self._tasks.append(asyncio.create_task(self.uploader.run(), name="uploader"))
        elif self.problem is None:
            self.problem = "not provisioned (kiosk provision …)"
        app.sync = self

    def _use_bundle(self, bundle: CurrentBundle) -> None:
        self.app.use_directory(bundle_staff(bundle), bundle_reasons(bundle), bundle.data.complaint_phone)
        log.info("using bundle %s from the centre", bundle.data.version)

    def status(self) -> dict[str, Any]:
        report: dict[str, Any] = {"provisioned": self.uploader is not None, "problem": self.problem}
        if self.uploader is not None:
            report["upload"] = self.uploader.status()
        if self.bundles is not None:
            report["bundle"] = self.bundles.status()
        return report

    async def drain_once(self) -> dict[str, Any]:
        if self.uploader is None:
            return {"outcome": "not_provisioned", "error": self.problem}
        return (await self.uploader.drain_once()).to_dict()

    async def stop(self) -> None:
        """Before the store closes: an acknowledgement being written finishes first."""
        await cancel_all(self._tasks)
        if self.uploader is not None:
            self.uploader.close()
        if self.bundles is not None:
            self.bundles.close()
