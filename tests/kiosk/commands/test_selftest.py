"""`kiosk selftest`'s lines that follow a provisioning: the centre and the disk."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.commands import selftest
from tests.support.sync.fake_centre import FakeCentre
from tests.support.sync.helpers import UNIT_ID, make_settings

pytestmark = pytest.mark.timeout(60)


def test_selftest_centre_line_follows_the_centre(centre: FakeCentre, provisioning, state_dir: Path):
    settings = make_settings(state_dir)
    check = selftest._check_centre(settings, sim=False)
    assert check.status == "ok" and UNIT_ID in check.detail
    centre.close()
    down = selftest._check_centre(settings, sim=False)
    assert down.status == "fail" and centre.url in down.detail


def test_selftest_centre_line_when_not_provisioned(tmp_path: Path):
    settings = make_settings(tmp_path / "fresh")
    assert selftest._check_centre(settings, sim=False).status == "fail"
    assert selftest._check_centre(settings, sim=True).status == "warn"


@pytest.mark.parametrize("free_mb, status", [(10, "fail"), (200, "warn"), (4096, "ok")])
def test_selftest_disk_line(tmp_path: Path, monkeypatch, free_mb: int, status: str):
    mb = 1024 * 1024
    monkeypatch.setattr(selftest.shutil, "disk_usage",
                        lambda path: shutil._ntuple_diskusage(8192 * mb, 8192 * mb - free_mb * mb, free_mb * mb))
    check = selftest._check_disk(make_settings(tmp_path / "state"))
    assert check.status == status and f"{free_mb} MB free" in check.detail
