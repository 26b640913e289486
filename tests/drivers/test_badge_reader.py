"""The staff card reader: a serial line per card (pyserial's loop:// stands in for the device),
only staff-ID-shaped lines handed over, on the loop's thread; a missing device is tried again."""
from __future__ import annotations

import asyncio
import threading

import serial

from drivers.badge_reader import NoBadgeReader, SerialBadgeReader, SimBadgeReader, open_badge_reader


def test_lines_from_the_port_become_staff_ids_on_the_loop():
    async def scenario():
        loop = asyncio.get_running_loop()
        got: list[tuple[str, bool]] = []
        arrived = asyncio.Event()

        def handler(staff_id: str) -> None:
            got.append((staff_id, threading.current_thread() is threading.main_thread()))
            if staff_id == "hall1.c3-007":
                arrived.set()

        reader = SerialBadgeReader("loop://", 9600, loop)
        reader.start(handler)
        try:
            for _ in range(100):              # the thread opens the port
                if reader.port is not None:
                    break
                await asyncio.sleep(0.01)
            reader.port.write(b"1001\r\n" + b"not a staff id\n" + b"x" * 200 + b"\n" + b";6222021234?\n"
                              + b"hall1.c3-007\n")
            await asyncio.wait_for(arrived.wait(), 5)
        finally:
            reader.close()
        assert got == [("1001", True), ("hall1.c3-007", True)]
    asyncio.run(scenario())


def test_a_reader_that_is_not_plugged_in_is_tried_again_and_closes_at_once():
    async def scenario():
        tries = threading.Event()

        def unplugged(*args, **kwargs):
            tries.set()
            raise serial.SerialException("could not open port /dev/ttyACM0")

        reader = SerialBadgeReader("/dev/ttyACM0", 9600, asyncio.get_running_loop(), open_port=unplugged)
        reader.start(lambda staff_id: None)
        assert await asyncio.to_thread(tries.wait, 5)
        await asyncio.to_thread(reader.close)      # does not wait out the retry pause
        assert reader._thread is None
    asyncio.run(scenario())


def test_the_sim_reader_and_none():
    got = []
    sim = SimBadgeReader()
    sim.swipe("1001")                 # before start: nowhere, like a real reader
    sim.start(got.append)
    sim.swipe(" 1002 \r\n")
    sim.swipe("bad id!")
    sim.close()
    sim.swipe("1003")
    assert got == ["1002"]
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(open_badge_reader("serial", "/dev/ttyACM0", 9600, sim=True, loop=loop), SimBadgeReader)
        assert isinstance(open_badge_reader("none", "", 9600, sim=False, loop=loop), NoBadgeReader)
        assert isinstance(open_badge_reader("serial", "loop://", 9600, sim=False, loop=loop), SerialBadgeReader)
    finally:
        loop.close()
