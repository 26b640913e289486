#!/usr/bin/env bash
# The unit on the Pi's CPU: a Debian 12 arm64 root (debootstrap --arch=arm64 --variant=minbase,
# cached beside the amd64 one) booted with systemd as PID 1 under qemu-user, with the same script
# and checks as CI's amd64 boot (.ci/systemd-boot.sh --arch arm64): deploy.sh's install, READY=1,
# the watchdog restarting a SIGSTOPped unit, sign-in, complete and a key press through a restart.
# Prints each phase's time. Not part of .ci/run: under emulation it takes several minutes (the
# first run another 4 for debootstrap), beyond what CI's run has to spare. Run as root:
#
#   bench/arm64_boot.sh
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "arm64_boot: run as root" >&2; exit 2; }
missing=()
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
command -v update-binfmts >/dev/null || missing+=(binfmt-support)
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
started=$SECONDS
status=0
CI_REQUIRE_SYSTEMD=1 timeout --kill-after=30 3600 .ci/systemd-boot.sh --arch arm64 || status=$?
echo "== arm64 boot bench: $((SECONDS - started)) s in all (exit $status; the timings line above has each phase)"
exit "$status"
