"""What the sim panel shows, as one JSON object sent again whenever it changes: which screen is up
(the page fetches its image when this changes), the keys this unit has, the sim printer's
switches and what the unit makes of its printer, every slip printed, what the speaker said, and
the latest events committed.

Built on the event loop each time the change feed moves: it reads only what is in memory (the
printer's new bytes are decoded once; images are drawn when asked for, in a worker thread).
"""
from __future__ import annotations

import zlib
from collections import deque
from typing import Any

from kiosk.screens.views import LEVEL_LABELS
from kiosk.simpanel.slips import PrintedSlips
from kiosk.voice import PHRASES

EVENTS_SHOWN = 14
SPEECH_LINES_SHOWN = 24
SPEECH_CLIPS_READ = 600        # the latest clips hold the lines shown, many times over
# Clips that go on with what is being said (the pieces of a number, of a call, of a ticket's
# answer); every other clip starts a new line of the speech log.
CONTINUING = frozenset({"call_number", "call_to_window", "call_window", "ticket_ahead",
                        "ticket_people_waiting", "ticket_none_ahead", "ticket_take",
                        "ten", "hundred", "thousand"}) | {clip for clip in PHRASES if len(clip) == 1}
# Continuing clips that open a clause of their own: a comma before them, as the voice pauses.
CLAUSES = frozenset({"ticket_ahead", "ticket_none_ahead", "ticket_take"})
# The event's data worth a glance in the log, in this order.
EVENT_FIELDS = ("ticket", "level", "category", "counter_id", "staff_id", "reason", "paper", "online", "why")


def speech_lines(clips: list[str]) -> list[str]:
    """The clips said, as the sentences a person heard, numbers as a screen writes them:
    ['call_please', 'A', '0', '2', '3', …] → ['请A023号到3号窗口']; a quantity (前面还有 十二 人) in words."""
    lines: list[str] = []
    counting = False         # between 前面还有 and 人等候: a number of people, said as a quantity
    for clip in clips:
        counting = (counting or clip == "ticket_ahead") and clip != "ticket_people_waiting"
        text = clip if clip.isdigit() and not counting else PHRASES.get(clip, clip)
        if lines and clip in CONTINUING:
            lines[-1] += ("，" if clip in CLAUSES else "") + text
        else:
            lines.append(text)
    return lines


def event_line(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data") or {}
    detail = " ".join(f"{name}={data[name]}" for name in EVENT_FIELDS if name in data)
    return {"seq": event["seq"], "type": event["type"], "detail": detail}


class SimPanel:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._events: deque[dict[str, Any]] = deque(maxlen=EVENTS_SHOWN)
        self._started = False
        self.slips: PrintedSlips | None = None

    async def ensure_started(self) -> None:
        """On the panel's first request (the API is built before the app has started): follow the
        commits from now on, after the latest ones already in the store."""
        if self._started:
            return
        self._started = True
        app = self.app
        printer = app.devices.printer
        if hasattr(printer, "received"):   # the sim printer; a unit without one has none
            self.slips = PrintedSlips(printer, app.settings.printer.paper_width_mm, app.settings.printer.encoding)
        store = app.store
        if store is not None:
            head = store.head.seq
            self._events.extend(event_line(event) for event in await store.read(max(0, head - EVENTS_SHOWN),
                                                                                 EVENTS_SHOWN))
        app.add_event_listener(self._committed)

    def _committed(self, events: list[dict[str, Any]]) -> None:
        self._events.extend(event_line(event) for event in events)

    def snapshot(self) -> dict[str, Any]:
        app = self.app
        settings = app.settings
        role = settings.unit.role
        printer = app.devices.printer
        categories = app.queue.rules.categories
        said = list(getattr(app.devices.speaker, "said", ())[-SPEECH_CLIPS_READ:])
        return {
            "unit": {"role": role, "counter_id": settings.unit.counter_id, "centre_name": settings.unit.centre_name,
                     "queue_host": app.queue.is_host, "staff": app.staff_name},
            "screen": zlib.crc32(repr(app.current_view()).encode("utf-8")),
            "rating_keys": [] if role == "dispenser" else
            [{"key": key, "label": LEVEL_LABELS[level]} for key, level in enumerate(settings.keys.levels, start=1)],
            "ticket_keys": [{"key": key, "label": category.name} for key, category in enumerate(categories[:5], start=1)]
            if app.queue.has_ticket_keys else [],
            "printer": None if self.slips is None else {
                "paper": printer.paper, "online": printer.online, "poll_s": settings.printer.poll_s,
                "seen_as": app.queue.printer_health()},
            "slips": self.slips.listing() if self.slips is not None else [],
            "speech": speech_lines(said)[-SPEECH_LINES_SHOWN:],
            "speech_enabled": hasattr(app.devices.speaker, "said"),
            "events": list(self._events),
        }
