"""The unit bundle with its ETag, staff photos, and the sample bundle in config/bundle.toml."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from centre.units.bundle import read_bundle_file
from centre.units.schemas import Bundle

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[3]
SAMPLE_BUNDLE = REPO / "config" / "bundle.toml"
SHARED_SERVICE_ITEMS = REPO.parent / "shared" / "data" / "service_items.toml"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def sample_bundle() -> dict:
    return read_bundle_file(SAMPLE_BUNDLE)


def test_a_unit_gets_the_bundle_with_an_etag_and_304_when_unchanged(centre):
    unit = centre.new_unit()
    bundle_path = f"/api/v1/units/{unit.unit_id}/bundle"
    missing = centre.client.get(bundle_path, headers=unit.auth())
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "no_bundle")

    put = centre.client.put("/api/v1/bundle", json=sample_bundle(), headers=centre.admin())
    assert put.status_code == 200 and put.json()["changed"] is True
    again = centre.client.put("/api/v1/bundle", json=sample_bundle(), headers=centre.admin())
    assert again.json() == {"version": put.json()["version"], "changed": False, "warnings": []}

    response = centre.client.get(bundle_path, headers=unit.auth())
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["version"] == put.json()["version"]
    assert bundle["complaint_phone"] == "12329"
    assert bundle["staff"][0]["staff_id"] == "1001" and bundle["staff"][0]["photo"] is None
    assert {"code": "510", "label": "等待时间长"} in bundle["reasons"]
    etag = response.headers["etag"]
    cached = centre.client.get(bundle_path, headers={**unit.auth(), "If-None-Match": etag})
    assert (cached.status_code, cached.content, cached.headers["etag"]) == (304, b"", etag)

    changed = sample_bundle()
    changed["complaint_phone"] = "0755-12329"
    assert centre.client.put("/api/v1/bundle", json=changed, headers=centre.admin()).json()["changed"]
    fresh = centre.client.get(bundle_path, headers={**unit.auth(), "If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert fresh.json()["complaint_phone"] == "0755-12329"


def test_an_admin_upload_with_more_reasons_than_units_offer_is_stored_with_a_warning(centre):
    bundle = sample_bundle()
    bundle["reasons"] = [{"code": str(700 + n), "label": f"原因{n}"} for n in range(1, 10)]
    answer = centre.client.put("/api/v1/bundle", json=bundle, headers=centre.admin())
    assert answer.status_code == 200 and answer.json()["changed"] is True
    [warning] = answer.json()["warnings"]
    assert warning["code"] == "reasons_not_offered" and warning["reasons"] == [{"code": "709", "label": "原因9"}]
    assert "no citizen can choose them" in warning["message"]
    served = centre.client.get("/api/v1/bundle", headers=centre.admin()).json()
    assert len(served["reasons"]) == 9  # kept whole: the units take what they can offer
    fits = centre.client.put("/api/v1/bundle", json=sample_bundle(), headers=centre.admin())
    assert fits.json()["warnings"] == []


def test_the_bundle_is_only_for_its_own_enrolled_unit(centre):
    mine, theirs = centre.new_unit("counter-01"), centre.new_unit("counter-02")
    centre.client.put("/api/v1/bundle", json=sample_bundle(), headers=centre.admin())
    assert centre.client.get(f"/api/v1/units/{theirs.unit_id}/bundle", headers=mine.auth()).status_code == 403
    assert centre.client.get(f"/api/v1/units/{mine.unit_id}/bundle").status_code == 401


def test_a_photo_appears_in_the_bundle_and_changes_its_etag(centre):
    unit = centre.new_unit()
    centre.client.put("/api/v1/bundle", json=sample_bundle(), headers=centre.admin())
    bundle_path = f"/api/v1/units/{unit.unit_id}/bundle"
    before = centre.client.get(bundle_path, headers=unit.auth())

    put = centre.client.put("/api/v1/staff/1001/photo", content=PNG,
                            headers={**centre.admin(), "Content-Type": "image/png"})
    assert put.status_code == 200 and put.json()["bytes"] == len(PNG)
    after = centre.client.get(bundle_path, headers={**unit.auth(), "If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    photo_path = after.json()["staff"][0]["photo"]
    assert photo_path == "/api/v1/staff/1001/photo"

    photo = centre.client.get(photo_path, headers=unit.auth())
    assert (photo.status_code, photo.content, photo.headers["content-type"]) == (200, PNG, "image/png")
    assert centre.client.get(photo_path, headers={**unit.auth(), "If-None-Match": photo.headers["etag"]}
                             ).status_code == 304
    assert centre.client.get(photo_path, headers=centre.admin()).status_code == 200
    assert centre.client.get(photo_path).status_code == 401
    assert centre.client.get("/api/v1/staff/1002/photo", headers=unit.auth()).status_code == 404

    centre.client.put("/api/v1/staff/1001/photo", content=JPEG,
                      headers={**centre.admin(), "Content-Type": "image/jpeg"})
    replaced = centre.client.get(photo_path, headers={**unit.auth(), "If-None-Match": photo.headers["etag"]})
    assert (replaced.status_code, replaced.content) == (200, JPEG)


@pytest.mark.parametrize("content_type, data, status", [
    ("image/gif", b"GIF89a" + b"\x00" * 10, 415),
    ("image/png", JPEG, 415),
    ("image/jpeg", b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024), 413),
], ids=["gif", "jpeg_sent_as_png", "over_2_MiB"])
def test_a_photo_that_is_not_a_small_png_or_jpeg_is_refused(centre, content_type, data, status):
    response = centre.client.put("/api/v1/staff/1001/photo", content=data,
                                 headers={**centre.admin(), "Content-Type": content_type})
    assert response.status_code == status
    unit = centre.new_unit()
    assert centre.client.get("/api/v1/staff/1001/photo", headers=unit.auth()).status_code == 404


def test_a_bundle_that_does_not_validate_is_refused_naming_the_field(centre):
    bundle = sample_bundle()
    bundle["reasons"].append({"code": "510", "label": "重复"})
    response = centre.client.put("/api/v1/bundle", json=bundle, headers=centre.admin())
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid")
    bundle = sample_bundle()
    del bundle["service_items"][2]["materials"]
    response = centre.client.put("/api/v1/bundle", json=bundle, headers=centre.admin())
    assert response.json()["error"]["field"] == "service_items[2].materials"


def test_the_sample_bundle_is_a_realistic_provident_fund_bundle():
    bundle = Bundle.model_validate(sample_bundle())
    assert bundle.complaint_phone == "12329"
    assert bundle.staff[0].staff_id == "1001"
    assert all(member.name and member.title and member.duties for member in bundle.staff)
    assert {item.category for item in bundle.service_items} == {"缴存", "提取", "贷款", "咨询"}
    assert all(len(item.materials) >= 1 for item in bundle.service_items)
    assert any("身份证原件及复印件" in item.materials for item in bundle.service_items)
    assert [r.label for r in bundle.reasons][-1] == "其他"


@pytest.mark.skipif(not SHARED_SERVICE_ITEMS.exists(), reason="the shared service item list is not here")
def test_the_sample_bundle_has_every_published_service_item_with_its_time_limit():
    published = tomllib.loads(SHARED_SERVICE_ITEMS.read_text(encoding="utf-8"))["item"]
    ours = {(i.category, i.name): i.time_limit for i in Bundle.model_validate(sample_bundle()).service_items}
    for item in published:
        assert ours.get((item["category"], item["name"])) == item["time_limit"], item["name"]
