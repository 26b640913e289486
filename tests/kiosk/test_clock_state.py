"""kernel_clock_state: the clock state adjtimex reads, or why it could not be read. A refused call
(EPERM: kiosk.service's seccomp filter before it allowed clock_adjtime) is not "synchronised"; the
booted-root check in .ci/systemd-boot.sh compares the state under the service's sandbox with the
state outside it."""
from __future__ import annotations

import ctypes
import errno

from kiosk import clock


class RefusingLibc:
    """A libc whose adjtimex fails as a seccomp filter makes it fail."""

    def adjtimex(self, buffer) -> int:
        ctypes.set_errno(errno.EPERM)
        return -1


def test_this_machine_reads_a_clock_state():
    assert clock.kernel_clock_state() in range(6)


def test_a_refused_call_says_why_and_is_not_synced(monkeypatch):
    monkeypatch.setattr(clock, "_libc", lambda: RefusingLibc())
    assert clock.kernel_clock_state() == "EPERM"
    assert clock.kernel_clock_synced() is False


def test_time_error_is_not_synced_and_time_ok_is(monkeypatch):
    for state, synced in ((5, False), (0, True), (1, True)):
        monkeypatch.setattr(clock, "kernel_clock_state", lambda state=state: state)
        assert clock.kernel_clock_synced() is synced
