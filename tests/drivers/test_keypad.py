import asyncio
import threading
import time

import pytest
from gpiozero import Button
from gpiozero.pins.mock import MockFactory

from drivers.keypad import GpioKeypad, KeypadError, SimKeypad, check_pins_claimable

RATING_PINS = {1: 5, 2: 6, 3: 13, 4: 19, 5: 26}


@pytest.fixture
def factory():
    pin_factory = MockFactory()
    yield pin_factory
    pin_factory.close()


def test_press_on_another_thread_reaches_handler_on_loop_thread(factory):
    async def scenario():
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        received = []
        arrived = asyncio.Event()

        def handler(key_id, pressed_at):
            received.append((key_id, pressed_at, threading.get_ident()))
            arrived.set()

        keypad = GpioKeypad({**RATING_PINS, "complete": 20}, loop, pin_factory=factory)
        keypad.start(handler)
        edge_times = {}

        def press_key_3():
            # gpiozero runs when_pressed on whichever thread changes the pin: this one.
            edge_times["before"] = time.monotonic()
            factory.pin(13).drive_low()
            edge_times["after"] = time.monotonic()

        presser = threading.Thread(target=press_key_3)
        presser.start()
        # Keep the loop busy while the edge arrives: the press time must still be the edge's.
        time.sleep(0.2)
        presser.join()
        await asyncio.wait_for(arrived.wait(), timeout=5)
        delivered_at = time.monotonic()
        keypad.close()
        return loop_thread, received, edge_times, delivered_at

    loop_thread, received, edge_times, delivered_at = asyncio.run(scenario())
    assert len(received) == 1
    key_id, pressed_at, handler_thread = received[0]
    assert key_id == 3
    assert handler_thread == loop_thread
    assert edge_times["before"] <= pressed_at <= edge_times["after"]
    assert delivered_at - pressed_at >= 0.15


def test_staff_key_and_release_do_not_mix_up(factory):
    async def scenario():
        received = []
        keypad = GpioKeypad({**RATING_PINS, "complete": 20, "pause": 21},
                            asyncio.get_running_loop(), pin_factory=factory)
        keypad.start(lambda key_id, _: received.append(key_id))
        factory.pin(20).drive_low()    # press "complete"
        factory.pin(20).drive_high()   # release: not a press
        factory.pin(5).drive_low()     # press key 1
        await asyncio.sleep(0.05)
        keypad.close()
        return received

    assert asyncio.run(scenario()) == ["complete", 1]


def test_keys_are_active_low_with_pull_up(factory):
    async def scenario():
        keypad = GpioKeypad(RATING_PINS, asyncio.get_running_loop(), pin_factory=factory)
        pulls = {pin: factory.pin(pin).pull for pin in RATING_PINS.values()}
        keypad.close()
        return pulls

    assert set(asyncio.run(scenario()).values()) == {"up"}


def test_no_delivery_after_close(factory):
    async def scenario():
        received = []
        keypad = GpioKeypad(RATING_PINS, asyncio.get_running_loop(), pin_factory=factory)
        keypad.start(lambda key_id, _: received.append(key_id))
        keypad.close()
        keypad.close()
        factory.pin(5).drive_low()
        await asyncio.sleep(0.05)
        return received

    assert asyncio.run(scenario()) == []


def test_busy_pin_error_names_key_and_pin(factory):
    other_device = Button(19, pin_factory=factory)
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(KeypadError) as raised:
            GpioKeypad(RATING_PINS, loop, pin_factory=factory)
        assert "key 4" in str(raised.value) and "GPIO19" in str(raised.value)
        # The keys claimed before the failure were released again.
        Button(5, pin_factory=factory).close()
    finally:
        other_device.close()
        loop.close()


def test_invalid_pin_error_names_key_and_pin(factory):
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(KeypadError, match=r"key 'call_next'.*GPIO99"):
            GpioKeypad({**RATING_PINS, "call_next": 99}, loop, pin_factory=factory)
    finally:
        loop.close()


def test_duplicate_pin_is_refused(factory):
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(KeypadError, match=r"GPIO6.*2.*'pause'"):
            GpioKeypad({**RATING_PINS, "pause": 6}, loop, pin_factory=factory)
    finally:
        loop.close()


def test_check_pins_claimable(factory):
    assert check_pins_claimable(RATING_PINS, pin_factory=factory) == []
    # The check released its claims: the pins can be claimed again.
    assert check_pins_claimable(RATING_PINS, pin_factory=factory) == []
    holder = Button(26, pin_factory=factory)
    try:
        problems = check_pins_claimable({**RATING_PINS, "pause": 99, "complete": 6},
                                        pin_factory=factory)
    finally:
        holder.close()
    assert len(problems) == 3
    joined = "\n".join(problems)
    assert "key 5" in joined and "GPIO26" in joined
    assert "'pause'" in joined and "GPIO99" in joined
    assert "GPIO6 is given to more than one key" in joined


def test_sim_keypad_delivers_presses_in_order():
    received = []
    keypad = SimKeypad()
    keypad.press(1)  # before start: goes nowhere, like a real key
    keypad.start(lambda key_id, pressed_at: received.append((key_id, pressed_at)))
    before = time.monotonic()
    keypad.press(2)
    keypad.press("complete", at=123.5)
    keypad.close()
    keypad.press(3)
    assert [key for key, _ in received] == [2, "complete"]
    assert received[0][1] >= before
    assert received[1][1] == 123.5
