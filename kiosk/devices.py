"""The one place that picks each device's driver: simulated (`--sim`, tests) or real, from the
settings. Everything else gets the devices as `Devices`, typed by the drivers' Protocols."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Hashable

from drivers.badge_reader import BadgeReader, NoBadgeReader, open_badge_reader
from drivers.display import Display, open_display
from drivers.keypad import GpioKeypad, Keypad, SimKeypad
from drivers.printer import Printer, open_printer
from drivers.speaker import Speaker, open_speaker
from kiosk.config import Settings
from kiosk.paths import voice_dir
from kiosk.queue.service import ticket_key_pins

if TYPE_CHECKING:   # the renderer pulls in fonts and pygame drawing; typed here, imported when opened
    from kiosk.screens.renderer import Renderer


@dataclass
class Devices:
    """The hardware the app drives, sim or real."""

    keypad: Keypad
    display: Display
    speaker: Speaker
    renderer: "Renderer"
    printer: Printer      # NoPrinter when the config has none
    badge_reader: BadgeReader = field(default_factory=NoBadgeReader)   # staff cards (kiosk.console)


def keypad_pins(settings: Settings) -> dict[Hashable, int]:
    """Every key this unit's role has, by keypad id: rating keys 1..5, staff keys, ticket keys."""
    role = settings.unit.role
    pins: dict[Hashable, int] = {}
    if role != "dispenser":   # a dispenser's five keys take tickets, not ratings
        pins.update(enumerate(settings.keys.pins, start=1))
    pins.update(settings.keys.staff_pins)
    if role != "counter":
        pins.update(ticket_key_pins(settings))
    return pins


def open_devices(settings: Settings, *, sim: bool, loop: asyncio.AbstractEventLoop) -> Devices:
    from kiosk.screens.renderer import Renderer

    display = open_display((settings.display.width, settings.display.height), settings.display.fullscreen,
                           sim=sim)
    # Fullscreen on KMS may give the panel's own mode: draw for what the display really has.
    renderer = Renderer(display.size, settings.display.font, settings.display.font_index)
    keypad: Keypad = SimKeypad() if sim else GpioKeypad(keypad_pins(settings), loop)
    speaker = open_speaker(enabled=settings.voice.enabled, sim=sim, clip_dir=voice_dir(settings.state_dir),
                           volume=settings.voice.volume)
    badge = settings.badge
    return Devices(keypad=keypad, display=display, speaker=speaker, renderer=renderer,
                   printer=open_printer(settings.printer, sim=sim),
                   badge_reader=open_badge_reader(badge.kind, badge.device, badge.baudrate, sim=sim, loop=loop))
