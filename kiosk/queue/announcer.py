"""Hall voice: who says a call, and saying the calls one at a time.

The rule, here and nowhere else (`says_call`): the unit that keeps the hall's queue (the queue
host) says every call committed in its log — `ticket.called` and `ticket.recalled`, whichever
counter made it, through its own keys, its API or a counter calling through it — on the hall's
speaker. A counter that calls through the host says nothing of it on its own speaker, unless its
config sets `voice.own_calls` (a counter in a room of its own, out of the hall speaker's reach):
then it says its own calls as well.

Each committed call event is said once (CALL_REPEATS times over, as hall callers do); a recall is
its own event and is said again. Calls wait their turn: the next call starts only once the
speaker has finished everything before it, so two counters calling at the same moment are heard
one after the other, never mixed, and a burst of calls never overflows the speaker's own queue
(which gives up clips beyond a few calls' worth).
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque

from drivers.speaker import Speaker
from kiosk.queue.speech import call_clips

log = logging.getLogger(__name__)

CALL_REPEATS = 2               # "请 A023 号 到 3 号窗口" is said twice
# Far beyond any hall (a call takes some 8 s to say twice): only a broken speaker that never
# finishes lets calls pile up this high; the oldest is then given up, said in the log.
MAX_WAITING_CALLS = 500
IDLE_CHECK_S = 0.05            # how often a busy speaker is asked whether it has finished


def says_call(*, committed_here: bool, own_counter: bool, own_calls: bool) -> bool:
    """Whether this unit says a call. `committed_here`: the call is in this unit's log (it keeps
    the queue); `own_counter`: the call is for this unit's counter; `own_calls`: voice.own_calls."""
    return committed_here or (own_counter and own_calls)


class CallAnnouncer:
    """Says queued calls on `speaker`, one call (both repeats) at a time, in the order made."""

    def __init__(self, speaker: Speaker, repeats: int = CALL_REPEATS,
                 max_waiting: int = MAX_WAITING_CALLS) -> None:
        self._speaker = speaker
        self._repeats = repeats
        self._waiting: deque[tuple[str, str]] = deque()
        self._max_waiting = max_waiting
        self._task: asyncio.Task | None = None

    @property
    def waiting(self) -> int:
        """Calls not yet handed to the speaker."""
        return len(self._waiting)

    def announce(self, ticket: str, counter_id: str) -> None:
        """Say "请{ticket}号到{counter_id}号窗口" as soon as the speaker is free (at once if it is)."""
        if len(self._waiting) >= self._max_waiting:
            given_up = self._waiting.popleft()
            log.error("hall voice: %d calls waiting for the speaker; call %s → %s given up",
                      len(self._waiting) + 1, *given_up)
        self._waiting.append((ticket, counter_id))
        self._say_while_idle()
        if self._waiting:
            self._start_waiting()

    def _speaker_busy(self) -> bool:
        # The real speaker knows (drivers.speaker.PygameSpeaker.speaking); the sim and the silent
        # ones say everything at once.
        return bool(getattr(self._speaker, "speaking", False))

    def _say_while_idle(self) -> None:
        while self._waiting and not self._speaker_busy():
            ticket, counter_id = self._waiting.popleft()
            # One call's clips are queued in one go: nothing else said can come between them.
            for clip in call_clips(ticket, counter_id) * self._repeats:
                self._speaker.say(clip)

    def _start_waiting(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._wait_for_speaker(),
                                                                name="hall-voice")

    async def _wait_for_speaker(self) -> None:
        while self._waiting:
            await asyncio.sleep(IDLE_CHECK_S)
            self._say_while_idle()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._waiting:
            log.info("hall voice: %d calls not said (the unit is stopping)", len(self._waiting))
            self._waiting.clear()
