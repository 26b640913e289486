"""What the queue says, as clip ids for `kiosk.voice` (pure): a call in the hall ("请 A023 号 到 3 号
窗口") and the dispenser's answer to a ticket taken ("您的号码是 A023 号，前面还有 十二 人等候，请取走号票").

Ticket and counter numbers are read character by character, as the hall's callers read them; the
number of people ahead is a quantity and is read as one (十二, 一百零五)."""
from __future__ import annotations

import string

_SPOKEN_CHARACTERS = string.ascii_uppercase + string.digits
# Clip ids of the place values, after the digit clips "0".."9" (零 … 九).
_PLACES = ((1000, "thousand"), (100, "hundred"), (10, "ten"))


def spoken(text: str) -> list[str]:
    """'A023' → ['A', '0', '2', '3']: one clip per letter or digit."""
    return [char for char in text.upper() if char in _SPOKEN_CHARACTERS]


def count_clips(count: int) -> list[str]:
    """A quantity in Chinese: 12 → 十二 (['ten', '2']), 105 → 一百零五, 110 → 一百一十. Past 9999,
    digit by digit."""
    if count < 0 or count > 9999:
        return spoken(str(max(0, count)))
    if count < 10:
        return [str(count)]
    clips: list[str] = []
    rest = count
    gap = False      # a zero place since the last digit said: one 零 before the next
    for value, place in _PLACES:
        digit, rest = divmod(rest, value)
        if digit:
            if gap:
                clips.append("0")
            # 十二, not 一十二, when the number starts with its tens
            if not (place == "ten" and digit == 1 and count < 20):
                clips.append(str(digit))
            clips.append(place)
            gap = False
        elif clips:
            gap = True
    if rest:
        if gap:
            clips.append("0")
        clips.append(str(rest))
    return clips


def call_clips(ticket: str, counter_id: str) -> list[str]:
    """Voice clips for "请 A023 号 到 3 号窗口"."""
    return ["call_please", *spoken(ticket), "call_number", "call_to_window", *spoken(counter_id),
            "call_window"]


def ticket_clips(ticket: str, waiting_ahead: int) -> list[str]:
    """What the dispenser says to the citizen who took `ticket`: the number and how many are ahead."""
    ahead = (["ticket_ahead", *count_clips(waiting_ahead), "ticket_people_waiting"] if waiting_ahead
             else ["ticket_none_ahead"])
    return ["ticket_your_number", *spoken(ticket), "call_number", *ahead, "ticket_take"]
