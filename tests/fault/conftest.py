"""The fault tests' centre runs on SQLite and, when CENTRE_TEST_PG_URL is set, on PostgreSQL, with
the same per-test database fixture as the centre's own tests."""
from __future__ import annotations

import os
import random

import pytest

from tests.support.centre.fixtures import db_url  # noqa: F401  (a fixture, used by name)

SEED_ENV = "FAULT_SEED"


@pytest.fixture
def fault_seed() -> int:
    """FAULT_SEED replays a run; otherwise every run explores a new seed, printed so a failure
    can be replayed."""
    text = os.environ.get(SEED_ENV)
    seed = int(text) if text else random.SystemRandom().randrange(2**32)
    print(f"{SEED_ENV}={seed}")
    return seed
