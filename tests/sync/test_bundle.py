"""The bundle: ETag refresh, disk cache for offline use, staff photos downloaded once."""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from sync import paths
from sync.bundle import BundleCache, load_cached_bundle
from sync.settings import SyncSettings
from tests.support.sync.fake_centre import BUNDLE_PATH, PHOTO_PATH, PNG_1x1, FakeCentre, sample_bundle
from tests.support.sync.helpers import run_async, sync_settings

pytestmark = pytest.mark.timeout(60)
SETTINGS = SyncSettings(timeout_s=5)


def bundle_gets(centre: FakeCentre) -> list[int]:
    return [r.status for r in centre.requests if BUNDLE_PATH.match(r.path)]


def photo_gets(centre: FakeCentre) -> list[int]:
    return [r.status for r in centre.requests if PHOTO_PATH.match(r.path)]


def test_first_refresh_downloads_caches_and_tells_the_app(centre, provisioning, state_dir):
    updates = []
    cache = BundleCache(state_dir, provisioning, SETTINGS)
    cache.on_update(updates.append)
    assert cache.current is None  # never had one: the app uses its config

    assert run_async(cache.refresh()) is True
    bundle = cache.current
    assert bundle.source == "centre" and bundle.etag == centre.bundle_etag
    assert bundle.data.version == "2026-11-01" and bundle.data.complaint_phone == "12329"
    assert [r.code for r in bundle.data.reasons] == ["510", "511"]
    assert bundle.data.service_items[0].materials == ["身份证原件及复印件", "购房合同"]
    assert updates == [bundle]

    photo = bundle.photo_path("1001")
    assert photo is not None and photo.parent == paths.staff_photos_dir(state_dir) and photo.read_bytes() == PNG_1x1
    assert photo.suffix == ".png" and bundle.photo_path("1002") is None  # 1002 has no photo
    # (How the unit turns this into its own roster and reasons: tests/kiosk/service/test_sync_link.py.)

    cached = json.loads(paths.bundle_cache(state_dir).read_text())
    assert cached["etag"] == centre.bundle_etag and cached["bundle"] == centre.bundle
    # Requests carried the unit token.
    assert all(r.headers.get("Authorization") == f"Bearer {provisioning.unit_token}" for r in centre.requests
               if BUNDLE_PATH.match(r.path))


def test_unchanged_bundle_is_a_304_and_photos_are_not_downloaded_again(centre, provisioning, state_dir):
    updates = []
    cache = BundleCache(state_dir, provisioning, SETTINGS)
    cache.on_update(updates.append)
    run_async(cache.refresh())
    first = cache.current

    assert run_async(cache.refresh()) is True
    assert bundle_gets(centre) == [200, 304]
    assert photo_gets(centre) == [200]  # a 304 bundle does not touch photos already on disk
    assert cache.current.data == first.data and len(updates) == 1

    # A new process starts from the disk cache and revalidates with its ETag.
    restarted = BundleCache(state_dir, provisioning, SETTINGS)
    assert restarted.current.source == "cache" and restarted.current.data == first.data
    assert run_async(restarted.refresh()) is True
    assert bundle_gets(centre) == [200, 304, 304] and restarted.current.source == "centre"


def test_changed_bundle_replaces_the_cache_and_calls_back(centre, provisioning, state_dir):
    updates = []
    cache = BundleCache(state_dir, provisioning, SETTINGS)
    cache.on_update(updates.append)
    run_async(cache.refresh())
    old_photo = cache.current.photo_path("1001")

    centre.bundle = sample_bundle("2026-12-01")
    centre.bundle["reasons"].append({"code": "512", "label": "业务不熟练"})
    centre.bundle_etag = '"b2"'
    centre.photos["1001"] = PNG_1x1 + b"\x00"  # the photo changed too
    assert run_async(cache.refresh()) is True

    assert [u.data.version for u in updates] == ["2026-11-01", "2026-12-01"]
    new_photo = cache.current.photo_path("1001")
    assert new_photo != old_photo and new_photo.read_bytes() == PNG_1x1 + b"\x00"
    assert old_photo.exists()  # kept one more round: the screen may still be drawing it
    assert load_cached_bundle(state_dir).data.version == "2026-12-01"

    centre.bundle_etag = '"b3"'
    centre.photos["1001"] = PNG_1x1 + b"\x01"
    assert run_async(cache.refresh()) is True
    assert not old_photo.exists() and new_photo.exists()  # two rounds old: cleaned away
    assert sorted(p.name for p in paths.staff_photos_dir(state_dir).iterdir()) == sorted(
        [new_photo.name, cache.current.photo_path("1001").name])


def test_offline_the_cached_bundle_and_photos_are_used(centre, provisioning, state_dir):
    run_async(BundleCache(state_dir, provisioning, SETTINGS).refresh())
    centre.close()

    cache = BundleCache(state_dir, provisioning, SETTINGS)
    assert run_async(cache.refresh()) is False
    bundle = cache.current
    assert bundle.source == "cache" and bundle.data.version == "2026-11-01"
    assert bundle.photo_path("1001").read_bytes() == PNG_1x1
    assert "refused" in cache.status()["last_error"]["message"]


def test_never_provisioned_or_never_fetched_gives_none(state_dir, provisioning, centre):
    centre.close()
    assert BundleCache(state_dir, None, SETTINGS).current is None
    offline = BundleCache(state_dir, provisioning, SETTINGS)
    assert run_async(offline.refresh()) is False and offline.current is None


def test_corrupt_cache_file_is_ignored(state_dir: Path):
    state_dir.mkdir(parents=True)
    paths.bundle_cache(state_dir).write_text("{not json")
    assert load_cached_bundle(state_dir) is None
    paths.bundle_cache(state_dir).write_text(json.dumps({"format": 1, "bundle": {"reasons": "x"}}))
    assert load_cached_bundle(state_dir) is None


def test_invalid_bundle_from_the_centre_keeps_the_old_one(centre, provisioning, state_dir):
    cache = BundleCache(state_dir, provisioning, SETTINGS)
    run_async(cache.refresh())
    centre.bundle = {"reasons": [{"code": "1"}]}  # no version, reason without label
    centre.bundle_etag = '"broken"'
    assert run_async(cache.refresh()) is False
    assert cache.current.data.version == "2026-11-01"
    assert "invalid" in cache.status()["last_error"]["message"]


def test_a_photo_that_failed_is_fetched_at_the_next_refresh(centre, provisioning, state_dir):
    centre.photo_failures = 1
    cache = BundleCache(state_dir, provisioning, SETTINGS)
    run_async(cache.refresh())
    assert cache.current.photo_path("1001") is None  # bundle accepted without the photo

    updates = []
    cache.on_update(updates.append)
    run_async(cache.refresh())
    assert bundle_gets(centre) == [200, 304] and photo_gets(centre) == [500, 200]
    assert cache.current.photo_path("1001").read_bytes() == PNG_1x1 and len(updates) == 1


def test_run_refreshes_until_cancelled(centre, provisioning, state_dir):
    settings = sync_settings(bundle_refresh_s=0.05)
    cache = BundleCache(state_dir, provisioning, settings)

    async def scenario():
        task = asyncio.create_task(cache.run())
        while len(bundle_gets(centre)) < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return task.cancelled()

    assert run_async(scenario(), timeout=10)
    assert bundle_gets(centre)[:3] == [200, 304, 304]


def test_a_centre_without_a_bundle_is_an_answer_said_once_not_a_failure_retried(centre, provisioning, state_dir,
                                                                                caplog):
    # Before, each 404 no_bundle was a failure: a warning and a retry backing off from one second,
    # so a unit linked to a new centre logged a warning about every second at first.
    centre.no_bundle = True
    cache = BundleCache(state_dir, provisioning, SETTINGS)
    with caplog.at_level(logging.INFO, logger="sync.bundle"):
        assert run_async(cache.refresh()) is True and run_async(cache.refresh()) is True
    assert cache.current is None and cache.status()["last_error"] is None
    assert cache.status()["last_checked_at"] is not None
    said = [record for record in caplog.records if record.name == "sync.bundle"]
    assert [record.levelno for record in said] == [logging.INFO]
    assert "no bundle yet" in said[0].getMessage()
