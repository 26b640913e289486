"""`unit`: a sim unit in this process whose console runs on a clock the test moves (ConsoleUnit)."""
from __future__ import annotations

import pytest

from tests.kiosk.console.console_unit import ConsoleUnit


@pytest.fixture
def unit(tmp_path):
    started = ConsoleUnit(tmp_path / "unit").start()
    yield started
    started.stop()
