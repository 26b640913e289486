"""`kiosk selftest`: one line per check, non-zero exit when any check fails."""
from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .config import Settings
from .events import EventStore, StoreError, open_readonly, store_in_use
from .paths import events_db, voice_dir


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str


def _check_config(settings: Settings, config_path: Path | None) -> Check:
    source = str(config_path) if config_path else "built-in sim config"
    return Check("config", "ok", f"{source} valid (hash {settings.config_hash()[:12]})")


def _check_store(settings: Settings) -> Check:
    db = events_db(settings.state_dir)
    if store_in_use(db):
        # The running service owns the file: a read-only quick_check must not disturb it.
        try:
            conn = open_readonly(db)
            try:
                verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as error:
            return Check("storage", "fail", f"{db}: {error}")
        if verdict != "ok":
            return Check("storage", "fail", f"{db}: quick_check: {verdict}")
        return Check("storage", "ok", f"{db}: quick_check ok (service running, owns the writes)")

    async def probe() -> str:
        store = await EventStore.open(db)
        try:
            await store.probe_write()
            return f"{db}: quick_check ok, writable, {store.head.seq} events, backlog {store.backlog}"
        finally:
            await store.close()

    try:
        return Check("storage", "ok", asyncio.run(probe()))
    except (StoreError, OSError) as error:
        return Check("storage", "fail", f"{db}: {error}")


def _check_display(settings: Settings, sim: bool) -> Check:
    from drivers.display import open_display

    size = (settings.display.width, settings.display.height)
    try:
        display = open_display(size, settings.display.fullscreen, sim=sim)
        display.close()
    except Exception as error:  # SDL reports every failure as its own error type
        return Check("display", "fail", f"{size[0]}x{size[1]}: {error}")
    return Check("display", "ok", f"{size[0]}x{size[1]} opened" + (" (sim)" if sim else ""))


def _check_font(settings: Settings) -> Check:
    from .screens import find_cjk_font, missing_glyphs, screen_strings

    try:
        if settings.display.font is not None:
            font_path, index = settings.display.font, settings.display.font_index
        else:
            font_path, index = find_cjk_font()
    except Exception as error:
        return Check("font", "fail", str(error))
    texts = set(screen_strings())
    texts.update([settings.unit.centre_name, settings.complaint_phone])
    for member in settings.staff:
        texts.update([member.name, member.title, member.duties])
    texts.update(reason.label for reason in settings.reasons)
    missing = missing_glyphs(texts, font_path, index)
    if missing:
        return Check("font", "fail", f"{font_path} lacks glyphs: {''.join(sorted(missing))}")
    face = "" if index is None else f" (face {index})"
    return Check("font", "ok", f"{font_path}{face} covers all {len(texts)} strings")


def _check_keys(settings: Settings, sim: bool) -> Check:
    if sim:
        return Check("keys", "ok", "simulated keypad")
    from drivers.keypad import check_pins_claimable

    pins = {key: pin for key, pin in enumerate(settings.keys.pins, start=1)}
    pins.update(settings.keys.staff_pins)
    problems = check_pins_claimable(pins)
    if problems:
        return Check("keys", "fail", "; ".join(problems))
    return Check("keys", "ok", f"pins {sorted(pins.values())} claimable")


def _check_voice(settings: Settings, sim: bool) -> Check:
    if not settings.voice.enabled:
        return Check("voice", "ok", "voice disabled in config")
    from .voice import missing_clips

    missing = missing_clips(voice_dir(settings.state_dir))
    if not missing:
        return Check("voice", "ok", f"all clips present in {voice_dir(settings.state_dir)}")
    detail = (f"{len(missing)} clips missing in {voice_dir(settings.state_dir)} "
              f"(rendered at start, or: python -m kiosk.voice --out DIR)")
    # The sim speaker only records clip ids, so missing audio cannot hurt a sim unit.
    return Check("voice", "warn" if sim else "fail", detail)


def run_checks(settings: Settings, *, sim: bool, config_path: Path | None = None) -> list[Check]:
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("config", lambda: _check_config(settings, config_path)),
        ("storage", lambda: _check_store(settings)),
        ("display", lambda: _check_display(settings, sim)),
        ("font", lambda: _check_font(settings)),
        ("keys", lambda: _check_keys(settings, sim)),
        ("voice", lambda: _check_voice(settings, sim)),
    ]
    results = []
    for name, step in steps:
        try:
            results.append(step())
        except Exception as error:  # a check that crashes is a failed check, never a traceback
            results.append(Check(name, "fail", f"check crashed: {error!r}"))
    return results


def selftest_command(settings: Settings, *, sim: bool, as_json: bool = False,
                     config_path: Path | None = None) -> int:
    results = run_checks(settings, sim=sim, config_path=config_path)
    failed = any(check.status == "fail" for check in results)
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in results]}, ensure_ascii=False))
    else:
        for check in results:
            print(f"{check.status.upper():<4}  {check.name:<8} {check.detail}")
    return 1 if failed else 0
