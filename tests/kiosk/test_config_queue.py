"""The [queue] and [printer] sections and the ticket keys: example configs load, old files keep
loading, and mistakes are named clearly."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import ConfigError, builtin_sim_settings, load_settings, settings_from_mapping
from kiosk.queue.service import TicketKey, queue_rules, ticket_key_pins

from tests.support.paths import REPO  # noqa: E402


def test_dispenser_example_is_a_queue_host_with_five_ticket_keys():
    settings = load_settings(REPO / "config" / "dispenser.toml")
    assert settings.unit.role == "dispenser" and settings.queue.host_url is None
    assert [c.letter for c in settings.queue.categories] == ["A", "B", "C", "D", "V"]
    assert settings.queue.reset_minutes == 5 * 60
    assert settings.printer.kind == "usb" and settings.printer.vendor_id == 0x0416
    rules = queue_rules(settings)
    assert rules.priority_interleave == 3 and rules.serves("4", "C") and not rules.serves("4", "A")
    assert ticket_key_pins(settings) == {TicketKey(i): pin for i, pin in enumerate([12, 16, 22, 23, 24], 1)}


def test_counter_example_calls_the_host_and_prints_notices():
    settings = load_settings(REPO / "config" / "counter.toml")
    assert settings.queue.host_url == "http://192.168.10.20:8700"
    assert {"call_next", "recall", "no_show"} <= set(settings.keys.staff_pins)
    assert settings.printer.notice_copies == 2


def test_a_config_without_queue_or_printer_still_loads_with_the_defaults():
    settings = settings_from_mapping({"api": {"token": "t"}}, "old file")
    assert settings.printer.kind == "none"
    assert settings.queue.lockout_s == 3 and settings.queue.no_show_after_recalls == 2
    assert [(c.letter, c.name, c.priority) for c in settings.queue.categories] == [
        ("A", "缴存", False), ("B", "提取", False), ("C", "贷款", False), ("D", "咨询", False),
        ("V", "绿色通道", True)]
    assert settings.printer.encoding == "gb18030"


def test_builtin_sim_config_prints_on_the_sim_printer():
    settings = builtin_sim_settings(Path("/tmp/x"))
    assert settings.printer.kind == "sim" and settings.printer.qr_url


@pytest.mark.parametrize("raw, message", [
    ({"printer": {"kind": "usb"}}, "vendor_id and product_id"),
    ({"printer": {"kind": "network"}}, "needs host"),
    ({"printer": {"paper_width_mm": 60}}, "printer.paper_width_mm"),
    ({"printer": {"encoding": "klingon"}}, "codec"),
    ({"printer": {"profile": "TM-XYZ"}}, "unknown python-escpos profile"),
    ({"printer": {"qr_url": "https://x/{nope}"}}, "{ticket}"),
    ({"queue": {"counters": {"1": ["Q"]}}}, "counters.1 must list known category letters"),
    ({"queue": {"categories": [{"letter": "A", "name": "缴存"}, {"letter": "A", "name": "提取"}]}},
     "each with its own letter"),
    ({"queue": {"reset_time": "25:00"}}, "queue.reset_time"),
    ({"unit": {"role": "dispenser"}, "queue": {"host_url": "http://10.0.0.2:8700"}}, "keeps the queue itself"),
    ({"unit": {"role": "both"}, "keys": {"staff_pins": {"call_next": 22}}}, "ticket_pins must not share"),
    ({"keys": {"ticket_pins": [1, 2, 3]}}, "keys.ticket_pins"),
])
def test_mistakes_are_named(raw, message):
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"api": {"token": "t"}, **raw}, "kiosk.toml")
    assert message in str(caught.value)


def test_a_counter_may_reuse_the_ticket_pins_it_does_not_have():
    settings = settings_from_mapping({"api": {"token": "t"}, "keys": {"staff_pins": {"call_next": 22}}}, "x")
    assert settings.keys.staff_pins["call_next"] == 22
