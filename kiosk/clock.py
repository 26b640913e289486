"""Where events get their times from: wall clock, CLOCK_MONOTONIC, boot id and NTP state.

A unit may boot with no synchronised clock (no RTC on a Pi); it still records, and every event says
whether the wall clock could be trusted. Order is always kept by seq, never by wall time.

Wall times are the hall's: the zone named in the config (`unit.time_zone`, default Asia/Shanghai,
as at the centre), whatever zone the Pi's system is set to. Each event keeps its offset, and what
the unit shows or prints (a ticket's time, the business day, "暂停时间") is read in the hall's zone,
so a time recorded with another offset still shows as the hall's clock showed it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import time
import uuid
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol.times import rfc3339

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
# adjtimex() answers TIME_ERROR when the kernel's clock is not synchronised (STA_UNSYNC).
_TIME_ERROR = 5
_SYNC_CACHE_S = 30.0
DEFAULT_TIME_ZONE = "Asia/Shanghai"   # the centre's default too (reports take months in it)


class Clock(Protocol):
    boot_id: str

    def wall_time(self) -> str: ...
    def monotonic(self) -> float: ...
    def mono_ns(self) -> int: ...
    def clock_synced(self) -> bool: ...


@functools.cache
def hall_zone(name: str = DEFAULT_TIME_ZONE) -> tzinfo:
    """The IANA zone `name` (e.g. Asia/Shanghai); ValueError naming it when this system has no
    such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from None


def in_zone(wall_time: str, zone: tzinfo | None) -> datetime:
    """A recorded RFC 3339 time as the hall's clock showed it (zone None: as recorded)."""
    moment = datetime.fromisoformat(wall_time)
    return moment.astimezone(zone) if zone is not None else moment


def read_boot_id() -> str:
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        # Not Linux (a developer's laptop): any stable string for this process will do.
        return f"nolinux-{uuid.uuid4()}"


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None


def kernel_clock_state() -> int | str:
    """The kernel's clock state as adjtimex(modes=0) reads it: TIME_OK (0) … TIME_ERROR (5, not
    synchronised); or, when it cannot be read, why: the errno's name (EPERM from a seccomp filter
    that lacks clock_adjtime, which glibc's adjtimex() calls) or "no-libc"."""
    libc = _libc()
    if libc is None or not hasattr(libc, "adjtimex"):
        return "no-libc"
    # struct timex is about 208 bytes; its first field `modes` = 0 means "read only".
    buffer = ctypes.create_string_buffer(512)
    state = libc.adjtimex(buffer)
    if state < 0:
        number = ctypes.get_errno()
        return errno.errorcode.get(number, str(number))
    return state


def kernel_clock_synced() -> bool:
    """Ask the kernel (adjtimex, read-only) whether NTP has synchronised the clock."""
    state = kernel_clock_state()
    return isinstance(state, int) and state != _TIME_ERROR


class SystemClock:
    """The real clocks, wall time in the hall's zone. NTP state is cached briefly: it is a
    syscall, and presses are a hot path."""

    def __init__(self, boot_id: str | None = None, synced_probe=kernel_clock_synced,
                 zone: tzinfo | str = DEFAULT_TIME_ZONE) -> None:
        self.boot_id = boot_id or read_boot_id()
        self.zone = hall_zone(zone) if isinstance(zone, str) else zone
        self._synced_probe = synced_probe
        self._synced = False
        self._synced_checked_at = float("-inf")

    def wall_time(self) -> str:
        return rfc3339(datetime.now(self.zone))

    def monotonic(self) -> float:
        return time.monotonic()

    def mono_ns(self) -> int:
        return time.monotonic_ns()

    def clock_synced(self) -> bool:
        now = time.monotonic()
        if now - self._synced_checked_at > _SYNC_CACHE_S:
            self._synced = self._synced_probe()
            self._synced_checked_at = now
        return self._synced
