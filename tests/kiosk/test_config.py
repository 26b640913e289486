"""Config files: valid examples load, bad ones give one clear message naming file, key and rule."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import ConfigError, builtin_sim_settings, load_settings, with_overrides

from tests.support.paths import REPO  # noqa: E402


@pytest.mark.parametrize("name", ["counter.toml", "sim.toml"])
def test_example_configs_load(name):
    settings = load_settings(REPO / "config" / name)
    assert settings.keys.levels == [5, 4, 3, 2, 1]
    assert settings.rating.window_s == 20


def test_builtin_sim_config_matches_design(tmp_path):
    settings = builtin_sim_settings(tmp_path)
    assert settings.api.token == "sim"
    assert settings.unit.role == "both"
    assert settings.unit.counter_id == "1"
    assert settings.staff[0].staff_id == "1001"
    assert settings.reasons and settings.state_dir == tmp_path
    assert settings.keys.debounce_ms == 50


def write(tmp_path, text):
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path):
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_unknown_key_names_file_key_and_allowed(tmp_path):
    path = write(tmp_path, '[api]\ntoken = "t"\n[rating]\nwindow = 20\n')
    message = error_of(path)
    assert str(path) in message
    assert "rating.window: unknown key" in message
    assert "window_s" in message and "reason_window_s" in message


def test_bad_value_names_allowed_values(tmp_path):
    message = error_of(write(tmp_path, '[api]\ntoken = "t"\n[unit]\nrole = "kiosk"\n'))
    assert "unit.role" in message and "'counter', 'dispenser' or 'both'" in message and "'kiosk'" in message


def test_out_of_range_number(tmp_path):
    message = error_of(write(tmp_path, '[api]\ntoken = "t"\n[keys]\ndebounce_ms = -5\n'))
    assert "keys.debounce_ms" in message and "greater than or equal to 0" in message


def test_levels_must_be_a_permutation(tmp_path):
    message = error_of(write(tmp_path, '[api]\ntoken = "t"\n[keys]\nlevels = [5, 5, 3, 2, 1]\n'))
    assert "keys.levels" in message and "each level 1..5 once" in message


def test_pins_must_be_distinct_and_not_shared_with_staff_keys(tmp_path):
    assert "five different" in error_of(write(tmp_path, '[api]\ntoken="t"\n[keys]\npins=[5,5,6,7,8]\n'))
    message = error_of(write(tmp_path, '[api]\ntoken="t"\n[keys]\npins=[5,6,7,8,9]\n[keys.staff_pins]\n'
                                        'complete = 5\n'))
    assert "must not share a pin" in message


def test_unknown_staff_key_name(tmp_path):
    message = error_of(write(tmp_path, '[api]\ntoken="t"\n[keys.staff_pins]\nteleport = 4\n'))
    assert "keys.staff_pins.teleport" in message


def test_missing_token(tmp_path):
    assert "api: required but missing" in error_of(write(tmp_path, "[unit]\nid = 'a'\n"))


def test_duplicate_staff_ids(tmp_path):
    text = '[api]\ntoken="t"\n[[staff]]\nstaff_id="1"\nname="甲"\n[[staff]]\nstaff_id="1"\nname="乙"\n'
    assert "unique" in error_of(write(tmp_path, text))


def test_not_toml_and_missing_file(tmp_path):
    assert "not valid TOML" in error_of(write(tmp_path, "[api\n"))
    assert "not found" in error_of(tmp_path / "nope.toml")


def test_bad_listen_override(tmp_path):
    settings = builtin_sim_settings(tmp_path)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        with_overrides(settings, listen="8700")
    assert with_overrides(settings, listen="127.0.0.1:9000").api.listen == "127.0.0.1:9000"


def test_config_hash_changes_with_content(tmp_path):
    a = builtin_sim_settings(tmp_path)
    b = with_overrides(a, listen="127.0.0.1:9000")
    assert a.config_hash() != b.config_hash() and len(a.config_hash()) == 64
