"""`kiosk selftest`: one line per check, non-zero exit when any check fails."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from kiosk.config import Settings
from kiosk.events import EventStore, StoreCorrupt, StoreError, open_readonly, store_in_use, verify_readonly
from kiosk.paths import events_db, state_dir_problem, voice_dir

# Free space under the state dir: below FAIL the event store may soon refuse writes (the unit then
# shows its out-of-order screen); below WARN a technician should look before it gets there.
DISK_FAIL_MB = 64
DISK_WARN_MB = 512


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str


def _check_config(settings: Settings, config_path: Path | None) -> Check:
    source = str(config_path) if config_path else "built-in sim config"
    return Check("config", "ok", f"{source} valid (hash {settings.config_hash()[:12]})")


def _owned_by_someone_else(state_dir: Path) -> bool:
    """Root running selftest on a unit whose state belongs to the service user: writing would
    leave root-owned database files the service can no longer write."""
    try:
        return os.geteuid() == 0 and Path(state_dir).stat().st_uid != 0
    except OSError:
        return False


def _check_store(settings: Settings) -> Check:
    if (problem := state_dir_problem(settings.state_dir)) is not None:
        return Check("storage", "fail", problem)
    db = events_db(settings.state_dir)
    read_only = store_in_use(db) or (db.exists() and _owned_by_someone_else(settings.state_dir))
    if read_only:
        # The running service owns the file (or another user does): read-only, never disturb it.
        why = ("service running, owns the writes" if store_in_use(db)
               else "read-only as root: run as the service user (sudo -u kiosk) to test writes")
        try:
            conn = open_readonly(db)
            try:
                verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
                checked = verify_readonly(conn, db) if verdict == "ok" else 0
            finally:
                conn.close()
        except sqlite3.Error as error:
            return Check("storage", "fail", f"{db}: {error}")
        except StoreCorrupt as error:
            return Check("storage", "fail", str(error))
        if verdict != "ok":
            return Check("storage", "fail", f"{db}: quick_check: {verdict}")
        return Check("storage", "ok", f"{db}: quick_check ok, hash chain of {checked} events verified ({why})")

    async def probe() -> str:
        store = await EventStore.open(db)
        try:
            checked = await store.verify_all()   # opening verified only what was new
            await store.probe_write()
            return (f"{db}: quick_check ok, hash chain of {checked} events verified, writable, "
                    f"{store.head.seq} events, backlog {store.backlog}")
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
    from kiosk.screens.renderer import find_cjk_font, missing_glyphs, screen_strings

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
    texts.update(category.name for category in settings.queue.categories)
    missing = missing_glyphs(texts, font_path, index)
    if missing:
        return Check("font", "fail", f"{font_path} lacks glyphs: {''.join(sorted(missing))}")
    face = "" if index is None else f" (face {index})"
    return Check("font", "ok", f"{font_path}{face} covers all {len(texts)} strings")


def _check_keys(settings: Settings, sim: bool) -> Check:
    if sim:
        return Check("keys", "ok", "simulated keypad")
    from drivers.keypad import check_pins_claimable

    from kiosk.app import keypad_pins

    pins = keypad_pins(settings)
    problems = check_pins_claimable(pins)
    if problems:
        return Check("keys", "fail", "; ".join(problems))
    return Check("keys", "ok", f"pins {sorted(pins.values())} claimable")


def _check_voice(settings: Settings, sim: bool) -> Check:
    if not settings.voice.enabled:
        return Check("voice", "ok", "voice disabled in config")
    from kiosk.voice import missing_clips

    missing = missing_clips(voice_dir(settings.state_dir))
    if not missing:
        return Check("voice", "ok", f"all clips present in {voice_dir(settings.state_dir)}")
    detail = (f"{len(missing)} clips missing in {voice_dir(settings.state_dir)} "
              f"(rendered at start, or: python -m kiosk.voice --out DIR)")
    # The sim speaker only records clip ids, so missing audio cannot hurt a sim unit.
    return Check("voice", "warn" if sim else "fail", detail)


def _check_printer(settings: Settings, sim: bool) -> Check:
    from drivers.printer import NEAR_END, open_printer

    kind = "sim" if sim else settings.printer.kind
    if kind == "none":
        if settings.unit.role == "counter":
            return Check("printer", "ok", "no printer configured (no 一次性告知清单 at this counter)")
        return Check("printer", "fail", f"a {settings.unit.role} unit prints tickets: set printer.kind")
    if store_in_use(events_db(settings.state_dir)):
        # The port is the service's (a serial port is exclusive); it reports the live state.
        return Check("printer", "ok", f"{kind} printer in use by the running service (see GET /v1/state)")
    printer = open_printer(settings.printer, sim=sim)
    try:
        status = printer.status()
    finally:
        printer.close()
    detail = f"{kind} printer: {status.state}" + (f" ({status.detail})" if status.detail else "")
    if status.state == NEAR_END:
        return Check("printer", "warn", detail + ": paper running out")
    return Check("printer", "ok" if status.ready else "fail", detail)


def _check_clock() -> Check:
    from kiosk.clock import kernel_clock_synced

    if kernel_clock_synced():
        return Check("clock", "ok", "synchronised by NTP (events carry clock_synced=true)")
    # A unit without a synchronised clock keeps recording: its events say so, and seq keeps order.
    return Check("clock", "warn", "not synchronised: events are recorded with clock_synced=false "
                 "(check the network and `timedatectl timesync-status`)")


def _check_centre(settings: Settings, sim: bool) -> Check:
    from sync.client import CentreClient, CentreRefused, CentreUnreachable
    from sync.provision import ProvisioningBroken, load_provisioning

    try:
        provisioning = load_provisioning(settings.state_dir)
    except ProvisioningBroken as error:
        return Check("centre", "fail", str(error))
    if provisioning is None:
        # A sim or bench unit works alone; a unit in the field must be provisioned.
        return Check("centre", "warn" if sim else "fail", "not provisioned (run `kiosk provision`)")
    url = provisioning.centre_url
    client = CentreClient(url, unit_id=provisioning.unit_id, unit_token=provisioning.unit_token,
                          ca_file=settings.sync.ca_file or provisioning.ca_file, timeout_s=settings.sync.timeout_s)
    try:
        client.fetch_bundle(None)
    except CentreUnreachable as error:
        return Check("centre", "fail", f"{url}: {error.message}")
    except CentreRefused as error:
        if error.status in (401, 403):
            return Check("centre", "fail", f"{url} refused this unit's token ({error.status} {error.code}); "
                         "provision again")
        if error.status != 404:  # 404 no_bundle: reachable and the token accepted, no bundle yet
            return Check("centre", "fail", f"{url}: HTTP {error.status} {error.code}")
    finally:
        client.close()
    return Check("centre", "ok", f"{url} reachable, accepts unit {provisioning.unit_id}")


def _check_sound(settings: Settings, sim: bool) -> Check:
    if sim:
        return Check("sound", "ok", "simulated speaker")
    if not settings.voice.enabled:
        return Check("sound", "ok", "voice disabled in config")
    import pygame

    try:
        pygame.mixer.init()
        frequency, _, channels = pygame.mixer.get_init()
        pygame.mixer.quit()
    except pygame.error as error:
        return Check("sound", "fail", f"no sound device: {error}")
    return Check("sound", "ok", f"sound device opened ({frequency} Hz, {channels} channels)")


def _check_disk(settings: Settings) -> Check:
    folder = Path(settings.state_dir)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # a state dir not made yet: the disk it will be on
    usage = shutil.disk_usage(folder)
    free_mb = usage.free // (1024 * 1024)
    detail = f"{free_mb} MB free of {usage.total // (1024 * 1024)} MB for {settings.state_dir}"
    if free_mb < DISK_FAIL_MB:
        return Check("disk", "fail", f"{detail} (below {DISK_FAIL_MB} MB)")
    if free_mb < DISK_WARN_MB:
        return Check("disk", "warn", f"{detail} (below {DISK_WARN_MB} MB)")
    return Check("disk", "ok", detail)


def run_checks(settings: Settings, *, sim: bool, config_path: Path | None = None) -> list[Check]:
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("config", lambda: _check_config(settings, config_path)),
        ("storage", lambda: _check_store(settings)),
        ("display", lambda: _check_display(settings, sim)),
        ("font", lambda: _check_font(settings)),
        ("keys", lambda: _check_keys(settings, sim)),
        ("voice", lambda: _check_voice(settings, sim)),
        ("sound", lambda: _check_sound(settings, sim)),
        ("printer", lambda: _check_printer(settings, sim)),
        ("clock", _check_clock),
        ("centre", lambda: _check_centre(settings, sim)),
        ("disk", lambda: _check_disk(settings)),
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
