"""The sim panel through the unit's HTTP API (the unit in this process, tests.support.unit_app): no
token, the keys pressed through the sim API's own handlers (the same events), the printer's
switches, what it shows, another site's page refused, and no panel on a unit that is not a sim."""
from __future__ import annotations

from types import SimpleNamespace

from kiosk.api.server import create_api
from tests.kiosk.hall.halls import SIM_TOML
from tests.support.unit_app import UnitApp

NO_TOKEN: dict[str, str] = {}


def panel(unit: UnitApp) -> dict:
    answer = unit.get("/sim/api/panel", headers=NO_TOKEN)
    assert answer.status_code == 200
    return answer.json()


def without_lockout(folder) -> object:
    """The built-in sim config with no lockout between ticket presses (they follow each other here)."""
    path = folder / "sim.toml"
    path.write_text(SIM_TOML.replace("lockout_s = 3", "lockout_s = 0"), encoding="utf-8")
    return path


def test_the_panel_presses_keys_and_throws_switches_without_the_token(tmp_path):
    unit = UnitApp(tmp_path / "sim", config=without_lockout(tmp_path)).start()
    try:
        page = unit.get("/sim/", headers=NO_TOKEN)
        assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers["content-security-policy"]
        shown = panel(unit)
        assert [k["label"] for k in shown["rating_keys"]] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
        assert [k["label"] for k in shown["ticket_keys"]] == ["缴存", "提取", "贷款", "咨询", "绿色通道"]
        assert shown["printer"]["paper"] == "ok" and shown["printer"]["online"] is True
        assert unit.get("/sim/api/screen.png", headers=NO_TOKEN).content.startswith(b"\x89PNG")

        # A ticket key on the panel is a ticket key through the API: the same events.
        pressed = unit.post("/sim/api/ticket-keys/2/press", headers=NO_TOKEN)
        assert pressed.status_code == 200 and pressed.json()["events"] == ["ticket.issued"]
        shown = panel(unit)
        assert [slip["text"] for slip in shown["slips"]] == ["B001"]
        assert unit.get(f"/sim/api/slips/{shown['slips'][0]['id']}", headers=NO_TOKEN).content.startswith(b"\x89PNG")
        assert shown["speech"] == ["您的号码是B001号，前面无人等候，请取走号票，留意叫号"]

        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        unit.post("/v1/queue/call-next")
        unit.post("/v1/transactions/complete", {})
        assert unit.post("/sim/api/keys/1/press", headers=NO_TOKEN).json()["events"] == ["rating.submitted"]
        rating = [e for e in unit.events() if e["type"] == "rating.submitted"][0]["data"]
        assert (rating["level"], rating["ticket"]) == (5, "B001")
        shown = panel(unit)
        assert shown["events"][-1]["type"] == "rating.submitted" and "level=5" in shown["events"][-1]["detail"]
        assert "请B001号到1号窗口" in shown["speech"]

        # The switches: paper out, then the printer off line; a ticket key then uses no number.
        assert unit.post("/sim/api/printer/paper", {"state": "out"}, headers=NO_TOKEN).status_code == 200
        assert panel(unit)["printer"]["paper"] == "out"
        assert unit.post("/sim/api/ticket-keys/1/press", headers=NO_TOKEN).json()["events"] == \
            ["printer.status", "ticket.print_failed"]
        unit.post("/sim/api/printer/paper", {"state": "ok"}, headers=NO_TOKEN)
        assert unit.post("/sim/api/printer/online", {"online": False}, headers=NO_TOKEN).json() == {"online": False}
        assert panel(unit)["printer"]["online"] is False
        failed = [e["data"] for e in unit.events() if e["type"] == "ticket.print_failed"]
        assert failed[0]["category"] == "A" and not [e for e in unit.events()
                                                     if e["type"] == "ticket.issued" and e["data"]["category"] == "A"]
        bad = unit.post("/sim/api/printer/online", {"online": "maybe"}, headers=NO_TOKEN)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"
        unknown = unit.post("/sim/api/keys/9/press", headers=NO_TOKEN)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_key"
    finally:
        unit.stop()


def test_another_sites_page_cannot_press_the_keys(tmp_path):
    unit = UnitApp(tmp_path / "sim").start()
    try:
        before = len(unit.events())
        for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            refused = unit.post("/sim/api/ticket-keys/1/press", headers=headers)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_site"
        assert len(unit.events()) == before
        same = unit.post("/sim/api/ticket-keys/1/press", headers={"Origin": "http://127.0.0.1"})
        assert same.json()["events"] == ["ticket.issued"]
    finally:
        unit.stop()


def test_only_a_sim_unit_has_the_panel():
    for sim in (True, False):
        fake = SimpleNamespace(settings=SimpleNamespace(api=SimpleNamespace(token="t")), sim=sim, queue=None,
                               devices=SimpleNamespace(printer=None))
        paths = {route.path for route in create_api(fake).routes}
        assert any(path.startswith("/sim/") for path in paths) == sim
        assert "/hall/" in paths      # the hall display is every unit's route (the host's page)
