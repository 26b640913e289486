"""A version number that moves on every change a person could see (a commit, a queue or link
change, a screen refresh), and a way to wait for the next one: what keeps the staff console, the
hall display and the sim panel live without polling the unit's state in a loop."""
from __future__ import annotations

import asyncio


class ChangeFeed:
    def __init__(self) -> None:
        self.version = 0
        self.closed = False      # the unit is stopping: every live page's stream ends
        self._moved = asyncio.Event()

    def bump(self) -> None:
        """Something changed. Cheap (runs after every commit): wakes whoever waits, nothing more."""
        self.version += 1
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    def close(self) -> None:
        """No more changes: the unit is stopping. Its HTTP server waits for every answer to end
        before it stops, and a live page's stream would otherwise never end."""
        self.closed = True
        self.bump()

    async def wait_past(self, version: int, timeout_s: float) -> int:
        """The version once it is past `version`, or the current one after `timeout_s`."""
        if self.version == version:
            moved = self._moved
            try:
                await asyncio.wait_for(moved.wait(), timeout_s)
            except TimeoutError:
                pass
        return self.version
