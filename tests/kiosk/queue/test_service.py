"""The queue wired into a unit (sim devices, in process): a number is used only when it can be
printed, a broken print voids it, the lockout stops double tickets, the queue survives a restart,
staff keys call with the voice, and a counter whose queue host is away says so and still rates."""
from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from sync import paths
from kiosk.app import KioskApp
from kiosk.devices import open_devices
from kiosk.config import builtin_sim_settings, settings_from_mapping
from kiosk.screens.views import Dispenser, Idle
from kiosk.api.errors import status_for
from kiosk.refusals import QueueRefused
from kiosk.simpanel.escpos import decode


def settings_for(state_dir: Path, **sections):
    raw = builtin_sim_settings(state_dir).model_dump(mode="json")
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return settings_from_mapping(raw, "test")


def run(scenario, state_dir: Path, **sections):
    """Run `scenario(app)` against a started sim unit, then stop it."""
    async def main():
        settings = settings_for(state_dir, **sections)
        app = KioskApp(settings, open_devices(settings, sim=True, loop=asyncio.get_running_loop()), sim=True)
        await app.start()
        try:
            # The printer watcher's first check records the printer as found; wait for it so each
            # scenario starts from a known printer state.
            for _ in range(500):
                if app.queue.printer_health()["checked_at"] or settings.unit.role == "counter":
                    break
                await asyncio.sleep(0.01)
            return await scenario(app)
        finally:
            await app.stop()
    return asyncio.run(asyncio.wait_for(main(), 60))


async def events_of(app: KioskApp, *types: str) -> list[dict]:
    return [e for e in await app.store.read(0, 10_000) if not types or e["type"] in types]


async def until(predicate, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def printed_tickets(app: KioskApp) -> list[str]:
    """Ticket numbers on the paper: the lines printed at the large size."""
    return [line.text for line in decode(app.devices.printer.output()).lines if line.width >= 4]


def test_paper_out_uses_no_number_and_the_screen_says_why(tmp_path):
    async def scenario(app: KioskApp):
        printer = app.devices.printer
        printer.paper = "out"
        assert await app.queue.press_ticket_key(1, at=100.0) == ["printer.status", "ticket.print_failed"]
        view = app.current_view()
        assert isinstance(view, Dispenser) and view.problem == "打印机缺纸"
        assert printer.output() == b""
        failed = (await events_of(app, "ticket.print_failed"))[0]["data"]
        assert failed == {"category": "A", "why": "paper_out"}
        assert (await events_of(app, "printer.status"))[-1]["data"] == {"paper": "out", "online": False}
        with pytest.raises(QueueRefused) as refused:
            await app.queue.issue_ticket("B")
        assert (status_for(refused.value.code), refused.value.code) == (503, "printer_unavailable")
        printer.paper = "ok"
        assert await app.queue.press_ticket_key(1, at=110.0) == ["printer.status", "ticket.issued"]
        assert printed_tickets(app) == ["A001"]          # the number was not used up
        assert app.state()["printer"]["paper"] == "ok"
    run(scenario, tmp_path / "state")


@pytest.mark.parametrize("breakage, why", [("offline", "offline"), ("silent", "unknown")])
def test_offline_or_unanswered_printer_issues_nothing(tmp_path, breakage, why):
    async def scenario(app: KioskApp):
        printer = app.devices.printer
        if breakage == "offline":
            printer.online = False
        else:
            printer.answers = False
        assert "ticket.print_failed" in await app.queue.press_ticket_key(2, at=100.0)
        assert (await events_of(app, "ticket.print_failed"))[0]["data"] == {"category": "B", "why": why}
        assert not await events_of(app, "ticket.issued")
        assert app.current_view().problem in ("打印机未连接或离线", "打印机无应答")
        assert app.state()["printer"]["online"] is False
    run(scenario, tmp_path / "state")


def test_a_print_that_breaks_off_voids_its_number_which_is_never_called(tmp_path):
    async def scenario(app: KioskApp):
        await app.sign_in("1001")
        printer = app.devices.printer
        printer.fail_after_bytes = 40
        assert await app.queue.press_ticket_key(1, at=100.0) == ["ticket.issued", "ticket.voided"]
        assert len(printer.output()) == 40
        assert app.current_view().problem == "打印失败，号码已作废，请重新取号"
        voided = (await events_of(app, "ticket.voided"))[0]["data"]
        assert voided == {"ticket": "A001", "category": "A", "why": "print_failed"}
        assert await app.queue.press_ticket_key(1, at=110.0) == ["ticket.issued"]
        assert (await app.queue.act("call_next"))["ticket"] == "A002"
        with pytest.raises(QueueRefused) as empty:
            await app.queue.act("call_next")
        assert empty.value.code == "queue_empty"
        with pytest.raises(QueueRefused) as refused:
            printer.fail_after_bytes = 10
            await app.queue.issue_ticket("B")
        assert (refused.value.code, refused.value.detail["ticket"]) == ("print_failed", "B001")
    run(scenario, tmp_path / "state")


def test_double_taps_within_the_lockout_print_one_ticket(tmp_path):
    async def scenario(app: KioskApp):
        queue = app.queue
        # Two presses at once (a finger that bounces): they queue on the lock; one ticket.
        first, second = await asyncio.gather(queue.press_ticket_key(1, at=100.0),
                                             queue.press_ticket_key(1, at=100.02))
        assert sorted([first, second]) == [[], ["ticket.issued"]]
        assert await queue.press_ticket_key(3, at=102.9) == []       # another key, still locked
        assert await queue.press_ticket_key(1, at=103.0) == ["ticket.issued"]
        assert printed_tickets(app) == ["A001", "A002"]
        assert [e["data"]["ticket"] for e in await events_of(app, "ticket.issued")] == ["A001", "A002"]
        # The API is a staff front end: no lockout there.
        assert [(await queue.issue_ticket("C"))["ticket"] for _ in range(2)] == ["C001", "C002"]
    run(scenario, tmp_path / "state", queue={"lockout_s": 3})


def test_serving_ticket_from_queue_events_goes_on_card_and_into_transaction(tmp_path):
    # Moved from the rating machine's tests: the queue is the one owner of "which ticket this
    # counter serves"; the card shows it and a completed transaction carries it.
    async def scenario(app: KioskApp):
        await app.sign_in("1001")
        await app.queue.issue_ticket("A")
        assert (await app.queue.act("call_next"))["ticket"] == "A001"
        assert app.current_view().card.serving_ticket == "A001"
        await app.complete_transaction()
        completed = (await events_of(app, "transaction.completed"))[-1]
        assert completed["data"]["ticket"] == "A001"
    run(scenario, tmp_path / "state")


def test_queue_survives_a_restart_mid_day(tmp_path):
    state = tmp_path / "state"

    async def before(app: KioskApp):
        await app.sign_in("1001")
        for key, at in ((1, 100.0), (5, 104.0), (1, 108.0), (2, 112.0)):
            await app.queue.press_ticket_key(key, at=at)
        assert (await app.queue.act("call_next"))["ticket"] == "V001"
        return await app.queue.snapshot()

    async def after(app: KioskApp):
        assert app.queue.serving_ticket() == "V001"
        assert isinstance(app.current_view(), Idle) and app.current_view().card.serving_ticket == "V001"
        assert (await app.queue.issue_ticket("A"))["ticket"] == "A003"
        assert (await app.queue.act("call_next"))["ticket"] == "A001"
        return await app.queue.snapshot()

    snapshot = run(before, state)
    assert snapshot["waiting"] == {"A": 2, "B": 1, "C": 0, "D": 0, "V": 0}
    resumed = run(after, state)
    assert resumed["waiting"] == {"A": 2, "B": 1, "C": 0, "D": 0, "V": 0}
    assert [c["ticket"] for c in resumed["last_called"]] == ["A001", "V001"]


def test_staff_keys_call_with_the_voice_and_completion_carries_the_ticket(tmp_path):
    async def scenario(app: KioskApp):
        await app.queue.issue_ticket("B")
        app._on_key("call_next", 0.0)          # as the keypad driver delivers it
        await asyncio.sleep(0.05)
        said = app.devices.speaker.said
        assert said == [] and app.queue.serving_ticket() is None   # nobody signed in: nothing
        await app.sign_in("1001")
        app._on_key("call_next", 0.0)
        await until(lambda: app.queue.serving_ticket() == "B001")
        call = ["call_please", "B", "0", "0", "1", "call_number", "call_to_window", "1", "call_window"]
        assert said == call * 2
        transaction = await app.complete_transaction()
        completed = (await events_of(app, "transaction.completed"))[0]["data"]
        assert completed["transaction_id"] == transaction
        assert (completed["ticket"], completed["service_item"]) == ("B001", "提取")
        assert await app.press_rating_key(1) == ["rating.submitted"]
        rating = (await events_of(app, "rating.submitted"))[0]["data"]
        assert (rating["ticket"], rating["service_item"]) == ("B001", "提取")
        app._on_key("recall", 0.0)
        await until(lambda: len(said) == 38)
        assert said == call * 2 + ["rate_prompt", "thanks"] + call * 2
    run(scenario, tmp_path / "state")


def test_notice_from_the_cached_bundle_else_the_shipped_items(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    paths.bundle_cache(state).write_text(json.dumps({"format": 1, "etag": "x", "fetched_at": "", "photos": {},
        "bundle": {"version": "v7", "service_items": [{"code": "X01", "name": "测试事项", "category": "提取",
                                                       "time_limit": "3个工作日", "materials": ["甲材料", "乙材料"]}]}},
        ensure_ascii=False), encoding="utf-8")

    async def scenario(app: KioskApp):
        with pytest.raises(QueueRefused) as refused:
            await app.queue.print_notice("X01")
        assert refused.value.code == "not_signed_in"
        await app.sign_in("1001")
        answer = await app.queue.print_notice("X01", copies=1)
        assert answer == {"service_item": "X01", "name": "测试事项", "copies": 1, "source": "bundle v7"}
        texts = decode(app.devices.printer.output()).texts
        assert {"办理事项：测试事项", "承诺时限：3个工作日", "1. 甲材料", "2. 乙材料"} <= set(texts)
        with pytest.raises(QueueRefused) as unknown:
            await app.queue.print_notice("TQ01")        # only in the shipped list, not in this bundle
        assert (status_for(unknown.value.code), unknown.value.code) == (404, "unknown_item")
        data = (await events_of(app, "notice.printed"))[0]["data"]
        assert data == {"service_item": "X01", "counter_id": "1", "staff_id": "1001", "copies": 1}
        paths.bundle_cache(state).unlink()
        assert (await app.queue.print_notice("TQ01"))["source"] == "shipped"
        app.devices.printer.paper = "out"
        with pytest.raises(QueueRefused) as no_paper:
            await app.queue.print_notice("TQ01")
        assert (status_for(no_paper.value.code), no_paper.value.code) == (503, "printer_unavailable")
        assert len(await events_of(app, "notice.printed")) == 2
    run(scenario, state)


def test_surge_is_on_the_screen_the_ticket_and_in_health(tmp_path):
    async def scenario(app: KioskApp):
        for _ in range(3):
            await app.queue.issue_ticket("A")
        assert app.state()["queue"]["surge"] is False
        fourth = await app.queue.issue_ticket("A")       # 3 ahead x 5 min (default) = 15: not over
        assert (fourth["estimated_wait_min"], fourth["surge"]) == (15, False)
        assert app.state()["queue"]["surge"] is True     # the next one would wait 20
        fifth = await app.queue.issue_ticket("A")
        assert (fifth["estimated_wait_min"], fifth["surge"]) == (20, True)
        assert "当前办理人数较多，等候时间较长，请耐心等候" in decode(app.devices.printer.output()).texts
        await app.queue.press_ticket_key(1, at=100.0)
        assert app.current_view().surge is True
        issued = (await events_of(app, "ticket.issued"))[-1]["data"]
        assert issued["surge"] is True and issued["estimated_wait_min"] == 25
    run(scenario, tmp_path / "state", queue={"surge_wait_min": 15})


def closed_port() -> int:
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()
    return port


def test_counter_without_its_queue_host_says_so_and_still_rates(tmp_path):
    async def scenario(app: KioskApp):
        await app.sign_in("1001")
        with pytest.raises(QueueRefused) as refused:
            await app.queue.act("call_next")
        assert (status_for(refused.value.code), refused.value.code) == (503, "queue_host_unreachable")
        view = app.current_view()
        assert isinstance(view, Idle) and view.card.queue_offline
        assert app.state()["queue"]["link"] == "down"
        with pytest.raises(QueueRefused) as not_host:
            await app.queue.issue_ticket("A")
        assert not_host.value.code == "not_queue_host"
        await app.complete_transaction()
        assert await app.press_rating_key(2) == ["rating.submitted"]
        assert not await events_of(app, "ticket.called")
    run(scenario, tmp_path / "state", unit={"role": "counter"},
        queue={"host_url": f"http://127.0.0.1:{closed_port()}", "host_timeout_s": 0.5})
