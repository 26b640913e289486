"""The counter's screen. `kiosk.screens` draws each frame onto a pygame Surface; a display only
puts finished frames on the glass and can hand back what it shows as a PNG (sim API, tests,
support photos of a unit in the field)."""
from __future__ import annotations

import io
import logging
import os
from typing import Protocol

import pygame

from drivers.errors import DriverError

log = logging.getLogger(__name__)


class DisplayError(DriverError):
    """The screen cannot be opened; the message says which SDL video driver was tried."""


class Display(Protocol):
    size: tuple[int, int]

    def show(self, surface: pygame.Surface) -> None:
        """Put a finished frame on the screen."""

    def snapshot_png(self) -> bytes:
        """PNG of what is on the screen now."""

    def close(self) -> None:
        """Release the screen. Safe to call twice."""


def encode_png(surface: pygame.Surface) -> bytes:
    buffer = io.BytesIO()
    # The namehint picks the encoder; without ".png" pygame would write TGA.
    pygame.image.save(surface, buffer, ".png")
    return buffer.getvalue()


def _fit(surface: pygame.Surface, size: tuple[int, int]) -> pygame.Surface:
    # Frames are drawn for `size`; a frame of another size (a renderer built before a mode
    # change) is scaled rather than shown cropped.
    if surface.get_size() == size:
        return surface
    return pygame.transform.scale(surface, size)


class PygameDisplay:
    """A real screen through SDL. SDL_VIDEODRIVER is left as the environment sets it (kmsdrm
    on a Pi without a desktop, x11/wayland on a desktop, dummy in tests): the choice belongs to
    whoever starts the service."""

    def __init__(self, size: tuple[int, int], fullscreen: bool) -> None:
        try:
            pygame.display.init()
            flags = pygame.FULLSCREEN if fullscreen else 0
            self._screen = pygame.display.set_mode(size, flags)
        except pygame.error as error:
            driver = os.environ.get("SDL_VIDEODRIVER", "SDL's default")
            pygame.display.quit()
            raise DisplayError(f"cannot open a {size[0]}x{size[1]} screen with the SDL video "
                               f"driver {driver}: {error}") from error
        # Fullscreen on KMS may give the panel's own mode: draw for the size we actually got.
        self.size: tuple[int, int] = self._screen.get_size()
        if self.size != tuple(size):
            log.info("asked for a %dx%d screen, got %dx%d", *size, *self.size)
        pygame.display.set_caption("counter kiosk")
        pygame.mouse.set_visible(False)
        self._open = True

    def show(self, surface: pygame.Surface) -> None:
        # SDL needs its event queue drained now and then or a desktop marks the window as hung.
        pygame.event.pump()
        self._screen.blit(_fit(surface, self.size), (0, 0))
        pygame.display.flip()

    def snapshot_png(self) -> bytes:
        return encode_png(self._screen)

    def close(self) -> None:
        if self._open:
            self._open = False
            pygame.display.quit()


class SimDisplay:
    """No window: the last frame shown is kept off screen for snapshots."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size: tuple[int, int] = (int(size[0]), int(size[1]))
        self._frame = pygame.Surface(self.size, 0, 32)

    def show(self, surface: pygame.Surface) -> None:
        # A reference, not a full-screen copy on every key press: frames from the renderer are
        # never drawn on again, except its countdown scratch surface, and that is redrawn only
        # to be shown next.
        self._frame = surface if surface.get_size() == self.size else _fit(surface, self.size).copy()

    def snapshot_png(self) -> bytes:
        return encode_png(self._frame)

    def close(self) -> None:
        pass


def open_display(size: tuple[int, int], fullscreen: bool, sim: bool) -> Display:
    return SimDisplay(size) if sim else PygameDisplay(size, fullscreen)
