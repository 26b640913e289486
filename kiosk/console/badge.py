"""Staff cards at the counter (drivers.badge_reader): a card signs its staff member in at the counter,
as POST /v1/staff/sign-in does, once they have signed in on this unit's console with their PIN that
day (the hall's date). Before that, the card is only remembered for BADGE_WAIT_S, and the console's
sign-in form offers its 工号 and asks for the PIN. Who signed in with a PIN today is kept in memory:
after a restart of the unit the PIN is asked again.

A card is not a console session: the browser still signs in with the PIN (a card swiped at the
counter must not open the console to whoever sits at the staff PC).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from kiosk.clock import hall_zone, in_zone
from kiosk.refusals import Refused

log = logging.getLogger(__name__)

BADGE_WAIT_S = 120.0


class BadgeSignIn:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._pin_day: dict[str, str] = {}     # staff id → the hall's date of their last PIN sign-in
        self._waiting: tuple[str, float] | None = None
        self._started = False
        self._tasks: set[asyncio.Task] = set()

    def start(self) -> None:
        """Listen to the unit's reader (once; the console starts it with its first request)."""
        if self._started:
            return
        self._started = True
        self._app.devices.badge_reader.start(self._on_card)

    def _today(self) -> str:
        return in_zone(self._app.clock.wall_time(), hall_zone(self._app.settings.unit.time_zone)).date().isoformat()

    def pin_verified(self, staff_id: str) -> None:
        self._pin_day[staff_id] = self._today()
        if self._waiting is not None and self._waiting[0] == staff_id:
            self._waiting = None

    def waiting_staff(self) -> str | None:
        """The 工号 of a card swiped lately by someone who still has to give the PIN today."""
        if self._waiting is None:
            return None
        staff_id, at = self._waiting
        return staff_id if self._app.clock.monotonic() - at < BADGE_WAIT_S else None

    def _on_card(self, staff_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._card(staff_id), name="badge-sign-in")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _card(self, staff_id: str) -> None:
        if self._app.roster_member(staff_id) is None:
            log.info("card %s: not on this unit's roster; ignored", staff_id)
            return
        if self._pin_day.get(staff_id) != self._today():
            self._waiting = (staff_id, self._app.clock.monotonic())
            log.info("card %s: the PIN is asked on the console first today", staff_id)
            return
        try:
            await self._app.sign_in(staff_id)       # as POST /v1/staff/sign-in
        except Refused as refused:
            log.info("card %s: not signed in: %s", staff_id, refused.message)
