"""Fixtures for the unit's sync tests: a fake centre on 127.0.0.1 and a provisioned state dir.
A conftest.py makes them its own by importing them."""
from __future__ import annotations

from pathlib import Path

import pytest

from sync.provision import Provisioning, load_provisioning, provision_unit
from tests.support.sync.fake_centre import FakeCentre
from tests.support.sync.helpers import UNIT_ID


@pytest.fixture
def centre():
    fake = FakeCentre()
    yield fake
    fake.close()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def provisioning(centre: FakeCentre, state_dir: Path) -> Provisioning:
    provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID))
    loaded = load_provisioning(state_dir)
    assert loaded is not None
    return loaded
