"""Counter kiosk: rating keypad, ticket printer and display service for service halls."""
import os
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("counter-kiosk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

# pygame prints a banner on import; a service's log is no place for it.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
