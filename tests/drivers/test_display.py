import io
import os

import pygame
import pytest

from drivers.display import PygameDisplay, SimDisplay, open_display

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode(png: bytes) -> pygame.Surface:
    assert png.startswith(PNG_SIGNATURE)
    return pygame.image.load(io.BytesIO(png), "snapshot.png")


def frame(size, color):
    surface = pygame.Surface(size, 0, 32)
    surface.fill(color)
    surface.fill((255, 255, 255), pygame.Rect(0, 0, 10, 10))  # a corner mark, to see alignment
    return surface


def test_sim_snapshot_is_the_last_frame_as_png():
    display = open_display((480, 320), fullscreen=True, sim=True)
    assert isinstance(display, SimDisplay)
    display.show(frame((480, 320), (200, 30, 30)))
    display.show(frame((480, 320), (10, 40, 200)))
    shown = decode(display.snapshot_png())
    assert shown.get_size() == (480, 320)
    assert tuple(shown.get_at((100, 100)))[:3] == (10, 40, 200)
    assert tuple(shown.get_at((5, 5)))[:3] == (255, 255, 255)
    display.close()


def test_sim_scales_a_frame_of_another_size():
    display = SimDisplay((800, 480))
    display.show(frame((400, 240), (0, 128, 0)))
    shown = decode(display.snapshot_png())
    assert shown.get_size() == (800, 480)
    assert tuple(shown.get_at((400, 300)))[:3] == (0, 128, 0)


def test_pygame_display_with_dummy_driver():
    assert os.environ["SDL_VIDEODRIVER"] == "dummy"
    display = open_display((800, 480), fullscreen=False, sim=False)
    try:
        assert isinstance(display, PygameDisplay)
        assert pygame.display.get_driver() == "dummy"  # the environment's choice was kept
        assert display.size == (800, 480)
        assert not pygame.mouse.get_visible()
        display.show(frame(display.size, (255, 214, 10)))
        shown = decode(display.snapshot_png())
        assert shown.get_size() == (800, 480)
        assert tuple(shown.get_at((400, 240)))[:3] == (255, 214, 10)
    finally:
        display.close()
        display.close()
    assert not pygame.display.get_init()


def test_pygame_display_failure_names_the_driver(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "no-such-driver")
    with pytest.raises(RuntimeError, match="no-such-driver"):
        PygameDisplay((800, 480), fullscreen=True)
