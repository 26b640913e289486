"""What the counter shows: views (what to show, `kiosk.screens.views`), the renderer that draws
them on a pygame Surface (`kiosk.screens.renderer`), its fonts, and realistic samples."""
from kiosk.screens.renderer import Renderer, contrast_ratio, screen_strings  # noqa: F401
