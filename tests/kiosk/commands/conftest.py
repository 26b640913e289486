"""Fixtures for the commands that talk to the centre: a fake centre on 127.0.0.1 and a provisioned state dir."""
from tests.support.sync.fixtures import centre, provisioning, state_dir  # noqa: F401 (fixtures)
