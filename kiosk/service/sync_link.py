"""Wiring the unit to its centre inside `kiosk run`: the uploader and the bundle refresher.

Sync never stands between a citizen and the screen: the uploader is woken by commits and works in
its own task (its HTTP calls in worker threads), and a bundle from the centre only swaps the roster
and reasons the counter shows.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from sync.bundle import BundleCache, CurrentBundle
from sync.provision import ProvisioningBroken, load_provisioning
from sync.uploader import Uploader

from kiosk.app import KioskApp

log = logging.getLogger(__name__)


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
                self.uploader = Uploader(app.store, provisioning, settings.sync, health=app.health)
                app.add_event_listener(self.uploader.notify)
                self._tasks.append(asyncio.create_task(self.uploader.run(), name="uploader"))
        elif self.problem is None:
            self.problem = "not provisioned (kiosk provision …)"
        app.sync = self

    def _use_bundle(self, bundle: CurrentBundle) -> None:
        self.app.use_directory(bundle.config_staff(), bundle.config_reasons(), bundle.data.complaint_phone)
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
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.uploader is not None:
            self.uploader.close()
        if self.bundles is not None:
            self.bundles.close()
