"""The platform's configuration: defaults after real integrations' fields, overrides, clear errors."""
from __future__ import annotations

import pytest

from centre.platform.mapping import DEFAULT_FIELDS, PlatformConfigError, load_config, parse_config

ENV = {"CENTRE_PLATFORM_TOKEN": "s3cret"}


def test_defaults_name_the_fields_real_integrations_send():
    config = parse_config({"platform": {"url": "https://hcp.example/api", "area_code": "440100"}}, ENV)
    assert config.auth == "token" and config.secret == "s3cret"
    record = config.record({"service_item": "TQ01", "level": 4, "rated_at": "2026-12-02 09:00:00",
                            "reason_codes": "R01,R03", "area_code": "440100", "channel": "qr",
                            "counter_id": "3", "staff_id": "1001"})
    assert {record[name] for name in ("taskCode", "alternate", "assessTime", "evalDetail", "areaCode", "pf",
                                      "windowNo", "staffNo")} == {"TQ01", 4, "2026-12-02 09:00:00", "R01,R03",
                                                                  "440100", "3", "1001"}
    assert set(record) == set(DEFAULT_FIELDS)


def test_fields_and_channels_are_configured_and_an_empty_one_is_not_sent():
    config = parse_config({"platform": {"url": "http://p/", "auth": "hmac", "token": "k",
                                        "fields": {"itemNo": "service_item", "staffNo": ""},
                                        "channels": {"keypad": "PAD"}}}, {})
    record = config.record({"service_item": "X", "channel": "keypad"})
    assert record["itemNo"] == "X" and record["pf"] == "PAD" and "staffNo" not in record


@pytest.mark.parametrize("section, message", [
    ({}, "platform.url"),
    ({"url": "ftp://x"}, "platform.url"),
    ({"url": "http://x", "auth": "basic"}, "platform.auth"),
    ({"url": "http://x", "token_env": "NOPE"}, "set $NOPE"),
    ({"url": "http://x", "timeout_s": 0}, "platform.timeout_s"),
    ({"url": "http://x", "fields": {"a": "salary"}}, "does not have: salary"),
])
def test_a_wrong_setting_is_named(section, message):
    with pytest.raises(PlatformConfigError, match=message.replace("$", r"\$")):
        parse_config({"platform": section}, ENV)


def test_a_file_that_is_not_toml_says_so(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("[platform\n", encoding="utf-8")
    with pytest.raises(PlatformConfigError, match="is not TOML"):
        load_config(path, ENV)
