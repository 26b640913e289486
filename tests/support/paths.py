"""Where things are, for tests wherever they stand in the tree."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"   # ../shared beside the checkout: DESIGN, PROTOCOL and the reference data
