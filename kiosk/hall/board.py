"""What the hall display shows, as one JSON object: the numbers being served and their windows, the
last calls, the waiting per category, the centre's announcements.

Public (the waiting room's TV has no login), so it is built field by field from the queue and
holds nothing private: ticket numbers, window numbers, category names and counts, the times of the
calls; never a staff member's name or id, a token, the unit's id or its state dir.

Every open hall page asks for it whenever the unit's change feed moves (each commit, each screen
refresh: a second's countdown on a `both` unit too), so it is built once per change and shared;
what changes by the clock alone (an announcement's hours, the hall's closing time) is caught up
within REBUILD_S.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from kiosk.hall.announcements import Announcement, current_texts, read_announcements

LAST_CALLS_SHOWN = 8
REBUILD_S = 5.0


def window_order(counter_id: str) -> tuple[int, str]:
    """Windows 1, 2, … 10 in the order of their numbers; a named one after them."""
    return (int(counter_id), "") if counter_id.isdigit() else (1 << 30, counter_id)


class HallBoard:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._built: dict[str, Any] | None = None
        self._built_for: int | None = None
        self._built_at = float("-inf")
        self._bundle: Any = None
        self._announcements: list[Announcement] = []

    def snapshot(self) -> dict[str, Any]:
        version = self._app.changes.version
        if self._built is None or self._built_for != version or time.monotonic() - self._built_at >= REBUILD_S:
            self._built, self._built_for, self._built_at = self._build(), version, time.monotonic()
        return self._built

    def _current_announcements(self) -> list[Announcement]:
        bundles = getattr(self._app.sync, "bundles", None)   # the sync link, once `kiosk run` started it
        bundle = bundles.current if bundles is not None else None
        if bundle is not self._bundle:
            self._bundle = bundle
            self._announcements = read_announcements(getattr(bundle.data, "announcements", None)) if bundle else []
        return self._announcements

    def _build(self) -> dict[str, Any]:
        app = self._app
        queue = app.queue
        wall = app.clock.wall_time()
        queue_now = queue.backend.machine_here().snapshot(wall)
        names = {c.letter: c.name for c in queue.rules.categories}
        categories = queue_now["serving_categories"]
        serving = [{"ticket": ticket, "counter_id": counter, "category": names.get(categories.get(counter, ""), "")}
                   for counter, ticket in sorted(queue_now["serving"].items(), key=lambda item: window_order(item[0]))]
        stopped = queue_now["stopped"]
        return {
            # The host's clock for the page's; it also changes the board at each rebuild, so an open
            # page hears from the host at every wake-up of its stream and can tell a dead line.
            "now": wall,
            "centre_name": app.settings.unit.centre_name,
            "time_zone": app.settings.unit.time_zone,
            "day": queue_now["day"],
            "serving": serving,
            "last_called": [{"ticket": call["ticket"], "counter_id": call["counter_id"], "at": call["at"]}
                            for call in queue_now["last_called"][:LAST_CALLS_SHOWN]],
            "categories": [{"letter": c.letter, "name": c.name, "priority": c.priority,
                            "waiting": queue_now["waiting"].get(c.letter, 0),
                            "wait_min": queue_now["estimated_wait_min"].get(c.letter),
                            "stopped": c.letter in stopped} for c in queue.rules.categories],
            "surge": queue_now["surge"],
            "announcements": current_texts(self._current_announcements(), datetime.fromisoformat(wall)),
        }
