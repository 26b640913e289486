"""Fixtures for the unit's sync tests: a fake centre on 127.0.0.1 and a provisioned state dir."""
from tests.support.sync.fixtures import centre, provisioning, state_dir  # noqa: F401 (fixtures)
