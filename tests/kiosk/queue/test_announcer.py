"""The hall voice's rule and its pace: who says a call, one call at a time, none dropped, none
said twice (a recall is a call of its own)."""
from __future__ import annotations

import asyncio

from kiosk.queue.announcer import CallAnnouncer, says_call
from kiosk.queue.speech import call_clips


class SlowSpeaker:
    """A speaker that is busy until the test lets it finish, as the real one is while it plays."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self.speaking = False

    def say(self, clip_id: str) -> None:
        self.said.append(clip_id)
        self.speaking = True

    def close(self) -> None:
        pass


def test_the_host_says_every_call_and_a_counter_only_its_own_when_configured():
    # The host: every call in its log, for its counter or another, whatever voice.own_calls says.
    assert says_call(committed_here=True, own_counter=False, own_calls=False)
    assert says_call(committed_here=True, own_counter=True, own_calls=False)
    # A counter calling through the host: silent, unless it is set to say its own calls.
    assert not says_call(committed_here=False, own_counter=True, own_calls=False)
    assert says_call(committed_here=False, own_counter=True, own_calls=True)
    assert not says_call(committed_here=False, own_counter=False, own_calls=True)


def test_calls_wait_for_the_speaker_and_come_out_whole_in_order():
    async def scenario():
        speaker = SlowSpeaker()
        voice = CallAnnouncer(speaker)
        calls = [("A001", "1"), ("B001", "2"), ("A002", "5"), ("A001", "1")]   # the last: a recall
        for ticket, counter in calls:
            voice.announce(ticket, counter)
        # The first call went to the idle speaker at once, twice over; the rest wait for it.
        assert speaker.said == call_clips("A001", "1") * 2 and voice.waiting == 3
        heard: list[list[str]] = [speaker.said]
        for _ in calls[1:]:
            speaker.said, speaker.speaking = [], False       # the speaker has finished
            for _ in range(200):
                await asyncio.sleep(0.01)
                if speaker.said:
                    break
            heard.append(speaker.said)
        assert heard == [call_clips(ticket, counter) * 2 for ticket, counter in calls]
        assert voice.waiting == 0
        await voice.stop()
    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_burst_of_calls_loses_none_of_them():
    async def scenario():
        speaker = SlowSpeaker()
        voice = CallAnnouncer(speaker)
        tickets = [f"A{number:03d}" for number in range(1, 61)]
        for ticket in tickets:
            voice.announce(ticket, "3")
        said: list[str] = []
        while voice.waiting or speaker.said:
            said += speaker.said
            speaker.said, speaker.speaking = [], False
            await asyncio.sleep(0.06)
        assert said == [clip for ticket in tickets for clip in call_clips(ticket, "3") * 2]
        await voice.stop()
    asyncio.run(asyncio.wait_for(scenario(), 60))
