"""Pages driven in a real headless Chromium: Debian's /usr/bin/chromium through Playwright
(`playwright install` is never run), with the flags that keep it offline and quiet.

A test module takes `browser` by importing it (`from tests.support.chromium import browser`) and
marks itself with `needs_chromium`; `screenshots_dir` is where it saves what a person would see
(the docs folder with SAVE_SCREENSHOTS=1, else the test's own, so a test run leaves the tree as it was)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                    reason=f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)")


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def screenshots_dir(docs_folder: Path, tmp_path: Path) -> Path:
    folder = docs_folder if os.environ.get("SAVE_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
