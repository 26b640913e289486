"""The counter's keys: five rating keys (ids 1..5, 1 = leftmost) and optional staff keys
(string ids such as "complete", "pause", "call_next").

Every key is a push button between a GPIO pin and ground, read with the pin's pull-up (active
low). Debouncing is not done here: gpiozero's MockPin ignores `bounce_time`, so relying on it
would make tests and hardware disagree; `kiosk.presses` filters the raw presses in pure code.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

from gpiozero import Button

from drivers.errors import DriverError

log = logging.getLogger(__name__)

KeyHandler = Callable[[Hashable, float], None]
"""handler(key_id, press_time): press_time is time.monotonic() taken when the edge arrived."""


class KeypadError(DriverError):
    """A key cannot be used; the message names the key and its pin."""


class Keypad(Protocol):
    def start(self, handler: KeyHandler) -> None:
        """Begin delivering presses; the handler always runs on the asyncio loop's thread."""

    def close(self) -> None:
        """Stop delivering presses and release the hardware. Safe to call twice."""


def _duplicate_pin_problems(pins: Mapping[Hashable, int]) -> list[str]:
    keys_by_pin: dict[int, list[Hashable]] = {}
    for key_id, pin in pins.items():
        keys_by_pin.setdefault(pin, []).append(key_id)
    return [
        f"GPIO{pin} is given to more than one key: {', '.join(repr(k) for k in keys)}"
        for pin, keys in keys_by_pin.items()
        if len(keys) > 1
    ]


def _claim_button(key_id: Hashable, pin: int, pin_factory: Any) -> Button:
    try:
        return Button(pin, pull_up=True, pin_factory=pin_factory)
    except Exception as error:  # gpiozero, lgpio and the kernel each raise their own types
        raise KeypadError(f"key {key_id!r}: cannot use GPIO{pin}: {error}") from error


class GpioKeypad:
    """Keys on GPIO pins via gpiozero. Pins are claimed in the constructor so a busy or invalid
    pin stops start-up with a message naming the key, instead of a key that silently never works."""

    def __init__(self, pins: Mapping[Hashable, int], loop: asyncio.AbstractEventLoop,
                 pin_factory: Any = None) -> None:
        problems = _duplicate_pin_problems(pins)
        if problems:
            raise KeypadError("; ".join(problems))
        self._loop = loop
        self._handler: KeyHandler | None = None
        self._buttons: dict[Hashable, Button] = {}
        try:
            for key_id, pin in pins.items():
                self._buttons[key_id] = _claim_button(key_id, pin, pin_factory)
        except KeypadError:
            self.close()
            raise

    def start(self, handler: KeyHandler) -> None:
        self._handler = handler
        for key_id, button in self._buttons.items():
            button.when_pressed = self._edge_callback(key_id)

    def _edge_callback(self, key_id: Hashable) -> Callable[[], None]:
        # Runs on gpiozero's callback thread: take the time here, where the edge happened, and
        # let the loop thread do everything else.
        def on_edge() -> None:
            pressed_at = time.monotonic()
            try:
                self._loop.call_soon_threadsafe(self._deliver, key_id, pressed_at)
            except RuntimeError:
                log.debug("key %r pressed while the event loop is closed; ignored", key_id)
        return on_edge

    def _deliver(self, key_id: Hashable, pressed_at: float) -> None:
        if self._handler is not None:
            self._handler(key_id, pressed_at)

    def close(self) -> None:
        self._handler = None
        buttons, self._buttons = self._buttons, {}
        for button in buttons.values():
            if button.when_pressed is not None:  # gpiozero warns about clearing an unset one
                button.when_pressed = None
            button.close()


class SimKeypad:
    """Keys pressed by code (the sim API, tests). The caller is on the loop thread already."""

    def __init__(self) -> None:
        self._handler: KeyHandler | None = None

    def start(self, handler: KeyHandler) -> None:
        self._handler = handler

    def press(self, key_id: Hashable, at: float | None = None) -> None:
        """Press a key now (or at monotonic time `at`). Like a real key, a press before start()
        or after close() goes nowhere."""
        if self._handler is not None:
            self._handler(key_id, time.monotonic() if at is None else at)

    def close(self) -> None:
        self._handler = None


def check_pins_claimable(pins: Mapping[Hashable, int], pin_factory: Any = None) -> list[str]:
    """For `kiosk selftest`: the problems that would stop GpioKeypad(pins), empty when none.
    Every pin is tried (not just up to the first failure) and released again."""
    problems = _duplicate_pin_problems(pins)
    claimed: list[Button] = []
    tried: set[int] = set()
    try:
        for key_id, pin in pins.items():
            if pin in tried:  # already reported as a duplicate
                continue
            tried.add(pin)
            try:
                claimed.append(_claim_button(key_id, pin, pin_factory))
            except KeypadError as error:
                problems.append(str(error))
    finally:
        for button in claimed:
            button.close()
    return problems
