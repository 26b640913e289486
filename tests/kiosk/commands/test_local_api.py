"""Where `kiosk status` and `kiosk sync --once` find the running service's API."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.commands.local_api import local_api_url, running_api_url
from kiosk.paths import api_url_file
from tests.support.sync.helpers import make_settings


@pytest.mark.parametrize("listen, url", [
    ("127.0.0.1:8700", "http://127.0.0.1:8700"),
    ("0.0.0.0:8700", "http://127.0.0.1:8700"),     # every address: reached on loopback
    ("[::]:8700", "http://[::1]:8700"),
    ("[fe80::1]:8701", "http://[fe80::1]:8701"),
    ("kiosk.local:80", "http://kiosk.local:80"),
])
def test_the_configured_listen_address_as_a_url(listen: str, url: str):
    assert local_api_url(listen) == url


def test_the_address_the_service_announced_wins(tmp_path: Path):
    settings = make_settings(tmp_path, listen="127.0.0.1:1")
    assert running_api_url(settings) == "http://127.0.0.1:1"  # nothing announced: the config
    api_url_file(tmp_path).write_text("http://127.0.0.1:8711/\n", encoding="ascii")
    assert running_api_url(settings) == "http://127.0.0.1:8711"
    api_url_file(tmp_path).write_text("", encoding="ascii")  # an empty announcement is no address
    assert running_api_url(settings) == "http://127.0.0.1:1"
