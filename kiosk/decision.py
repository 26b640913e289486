"""What a state machine decides: the events to append (in order) and the voice clips to say once
they are committed. The machines (`kiosk.rating`, `kiosk.queue`) return one; `kiosk.app` commits it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.events import EventType


@dataclass
class Decision:
    events: list[tuple[EventType, dict[str, Any]]] = field(default_factory=list)
    say: list[str] = field(default_factory=list)

    def add(self, event_type: EventType, data: dict[str, Any]) -> None:
        self.events.append((EventType(event_type), data))
