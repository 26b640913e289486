"""`python -m kiosk.screens --out DIR`: every screen at every supported size, as PNG files."""
import sys

from kiosk.screens.renderer import main

sys.exit(main())
