"""The unit's side of its link to the centre: the centre's bundle as the config's own roster and
reasons (sync hands the bundle over as the centre sent it)."""
from __future__ import annotations

from pathlib import Path

from kiosk.config import Reason, StaffMember
from kiosk.service.sync_link import bundle_reasons, bundle_staff
from sync.bundle import BundleData, CurrentBundle, PhotoRecord
from tests.support.sync.fake_centre import PNG_1x1, sample_bundle


def bundle_in(folder: Path, raw: dict) -> CurrentBundle:
    folder.mkdir()
    (folder / "photo-1001.png").write_bytes(PNG_1x1)
    photos = {"1001": PhotoRecord("http://centre/api/v1/staff/1001/photo", '"p1"', "photo-1001.png")}
    return CurrentBundle(BundleData.model_validate(raw), '"b1"', "2026-11-01T08:00:00.000+08:00", "centre",
                         folder, photos)


def test_the_bundles_roster_and_reasons_in_the_configs_own_types(tmp_path: Path):
    bundle = bundle_in(tmp_path / "photos", sample_bundle())
    photo = bundle.photo_path("1001")
    assert photo is not None and photo.read_bytes() == PNG_1x1

    staff = {member.staff_id: member for member in bundle_staff(bundle)}
    assert all(isinstance(member, StaffMember) for member in staff.values())
    assert staff["1001"].name == "张敏" and staff["1001"].photo == photo and staff["1002"].photo is None
    assert staff["1001"].title == "综合业务岗" and staff["1002"].duties == "贷款受理"
    reasons = bundle_reasons(bundle)
    assert all(isinstance(reason, Reason) for reason in reasons)
    assert [(r.code, r.label) for r in reasons] == [("510", "等待时间长"), ("511", "服务态度差")]


def test_what_the_config_would_refuse_is_left_out(tmp_path: Path):
    raw = sample_bundle()
    raw["staff"].append({"staff_id": "1003", "name": ""})           # the config needs a name
    raw["reasons"].append({"code": "", "label": "无代码"})           # and a code for a reason
    bundle = bundle_in(tmp_path / "photos", raw)
    assert [member.staff_id for member in bundle_staff(bundle)] == ["1001", "1002"]
    assert [reason.code for reason in bundle_reasons(bundle)] == ["510", "511"]


def test_a_pin_hash_comes_with_its_member_and_one_the_unit_cannot_use_is_left_out_alone(tmp_path: Path):
    from protocol.pins import hash_pin, verify_pin

    raw = sample_bundle()
    raw["staff"][0]["pin_hash"] = hash_pin("135790")
    raw["staff"][1]["pin_hash"] = "$scrypt$ln=20,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43   # 128·8·2**20 bytes
    staff = {member.staff_id: member for member in bundle_staff(bundle_in(tmp_path / "photos", raw))}
    assert verify_pin("135790", staff["1001"].pin_hash)
    assert staff["1002"].pin_hash is None and staff["1002"].name      # still on the roster
