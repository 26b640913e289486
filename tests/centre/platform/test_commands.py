"""`centre serve --platform-config` forwards while it runs; `centre platform status|send|resend`;
the ledger's rectification and callback follow their rating."""
from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from centre.ledger.entries import record_callback, rectify, sync_ledger
from centre.storage.models import LedgerEntry
from protocol.events import EventType
from tests.support.centre.fake_platform import fake_platform
from tests.support.centre.fixtures import centre, db_url, served_centre  # noqa: F401 (fixtures)
from tests.support.centre.process import CentreProcess
from tests.support.centre.testkit import HTTP_TIMEOUT_S, SimulatedUnit, cli, enrolment_token, now_utc

pytestmark = pytest.mark.timeout(120)


def write_config(path, platform, **extra) -> str:
    settings = {"url": platform.url, "area_code": "440100", "auth": "hmac", "timeout_s": 0.5,
                "reason_wait_s": 0, "poll_s": 0.05, "backoff_base_s": 0.01, "backoff_max_s": 0.1, **extra}
    lines = ["[platform]"] + [f"{name} = {json.dumps(value)}" for name, value in settings.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def rated(unit: SimulatedUnit, level: int) -> dict:
    return unit.record(EventType.RATING_SUBMITTED, {
        "transaction_id": str(uuid.uuid4()), "level": level, "staff_id": "1001", "counter_id": "3",
        "service_item": "TQ01"})


@pytest.mark.slow
def test_centre_serve_forwards_what_units_upload(db_url, tmp_path, monkeypatch):
    unit = SimulatedUnit("counter-03")
    token = enrolment_token(db_url, unit.unit_id, counter="3")
    with fake_platform(misbehave=0.3, late_s=0.8) as platform:
        monkeypatch.setenv("CENTRE_PLATFORM_TOKEN", platform.secret)
        config = write_config(tmp_path / "platform.toml", platform)
        with CentreProcess(db_url, extra_args=("--platform-config", config)) as served, \
                httpx.Client(base_url=served.url, timeout=HTTP_TIMEOUT_S) as client:
            enrolled = client.post("/api/v1/enrol", json={"token": token, "unit_id": unit.unit_id,
                                                          "public_key": unit.public_key})
            unit.token = enrolled.json()["unit_token"]
            events = [rated(unit, level) for level in (5, 4, 3, 5, 4, 3, 5, 4)]
            assert client.post(f"/api/v1/units/{unit.unit_id}/events", json=unit.batch(events),
                               headers=unit.auth()).status_code == 200
            deadline = time.monotonic() + 60
            while len(platform.keys) < len(events) and time.monotonic() < deadline:
                time.sleep(0.05)
        assert "好差评 platform forwarding to" in served.output()
    assert [record["evaluationId"] for record in platform.accepted] == [e["event_id"] for e in events]


def test_status_send_and_resend_from_the_command_line(centre, tmp_path, capsys, monkeypatch):
    unit = centre.new_unit(counter="3")
    events = [rated(unit, 5), rated(unit, 4)]
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    code, out, _ = cli(capsys, "platform", "status", "--json", "--db", centre.db.url)
    assert code == 0 and json.loads(out)["counts"]["pending"] == 2

    code, _, err = cli(capsys, "platform", "send", "--db", centre.db.url)
    assert code == 1 and "no platform configuration" in err
    with fake_platform(auth="token", refuse_keys=frozenset({events[0]["event_id"]})) as platform:
        monkeypatch.setenv("CENTRE_PLATFORM_TOKEN", platform.secret)
        monkeypatch.setenv("CENTRE_PLATFORM_CONFIG", write_config(tmp_path / "p.toml", platform, auth="token"))
        code, out, _ = cli(capsys, "platform", "send", "--db", centre.db.url)
        assert code == 1 and "sent 1, failed tries 1; pending 0, dead 1" in out
    code, out, _ = cli(capsys, "platform", "status", "--db", centre.db.url)
    assert "dead             1  发送失败" in out and f"dead     {events[0]['event_id']}" in out and "HTTP 400" in out

    assert cli(capsys, "platform", "resend", "--dead", "--db", centre.db.url)[:2] == (0, "1 records to send again\n")
    with fake_platform(auth="token") as platform:
        monkeypatch.setenv("CENTRE_PLATFORM_TOKEN", platform.secret)
        monkeypatch.setenv("CENTRE_PLATFORM_CONFIG", write_config(tmp_path / "p.toml", platform, auth="token"))
        code, out, _ = cli(capsys, "platform", "send", "--db", centre.db.url)
        assert code == 0 and "sent 1, failed tries 0; pending 0, dead 0" in out
    assert [r["evaluationId"] for r in platform.accepted] == [events[0]["event_id"]]


def test_a_rectification_and_a_callback_follow_their_rating(centre, tmp_path, capsys, monkeypatch):
    unit = centre.new_unit(counter="3")
    bad = rated(unit, 1)
    assert centre.upload(unit, unit.batch([bad])).status_code == 200
    with centre.db.transaction() as session:
        sync_ledger(session, now_utc())
        entry_id = session.query(LedgerEntry.id).scalar()
        rectify(session, entry_id, "已约谈并整改", "主管", now_utc())
        record_callback(session, entry_id, "群众表示满意", "主管", now_utc())
    with fake_platform() as platform:
        monkeypatch.setenv("CENTRE_PLATFORM_TOKEN", platform.secret)
        config = write_config(tmp_path / "p.toml", platform)
        code, out, _ = cli(capsys, "platform", "send", "--platform-config", config, "--db", centre.db.url)
        assert code == 0, out
    kinds = [(r["dataType"], r["evaluationId"], r["handleNote"]) for r in platform.accepted]
    assert kinds == [("rating", bad["event_id"], ""),
                     ("rectification", f"{bad['event_id']}:rectification", "已约谈并整改"),
                     ("callback", f"{bad['event_id']}:callback", "群众表示满意")]
    assert platform.accepted[1]["projectNo"] == bad["data"]["transaction_id"]
