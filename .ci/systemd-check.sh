#!/usr/bin/env bash
# CI: check the unit files in systemd/ the way systemd reads them, and print their security
# exposure. Fails if a unit does not verify or kiosk.service's exposure is above the target.
#   .ci/systemd-check.sh            (root, or sudo for installing systemd's tools if absent)
#   .ci/systemd-check.sh --exposure kiosk.service   only that unit's offline exposure figure
#                                   (.ci/systemd-boot.sh compares it with systemd's own, booted)
set -euo pipefail
cd "$(dirname "$0")/.."

max_exposure=${MAX_EXPOSURE:-2.0}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v systemd-analyze >/dev/null; then
    echo "== installing systemd's tools (systemd-analyze)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# `verify` insists that ExecStart's program exists. On a unit it is the venv deploy.sh made
# (/opt/kiosk, /opt/centre); here the copies point at a program that exists instead, and
# everything else in them is checked as written.
stand_in=$(command -v true)
for unit in systemd/*.service; do
    sed -E "s#^ExecStart=/opt/(kiosk|centre)/bin/[a-z]+#ExecStart=$stand_in#" "$unit" >"$work/$(basename "$unit")"
done

offline_exposure() {  # offline_exposure NAME: the figure, or nothing
    systemd-analyze security --offline=true --no-pager "$work/$1" 2>/dev/null \
        | sed -nE 's/.*Overall exposure level for [^:]+: ([0-9.]+).*/\1/p'
}

if [ "${1:-}" = --exposure ]; then
    [ -f "$work/${2:-}" ] || { echo "systemd-check: no unit systemd/${2:-} (--exposure NAME.service)" >&2; exit 2; }
    figure=$(offline_exposure "$2")
    [ -n "$figure" ] || { echo "systemd-check: no exposure level for $2" >&2; exit 1; }
    echo "$figure"
    exit 0
fi

status=0
for unit in systemd/*.service; do
    name=$(basename "$unit")
    echo "== systemd-analyze verify $name"
    # verify prints problems but exits 0 for some of them (unknown keys, bad values): any output
    # about this unit counts as a failure.
    if ! output=$(systemd-analyze verify --man=no "$work/$name" 2>&1); then
        status=1
    fi
    relevant=$(printf '%s\n' "$output" | grep -F "$name" || true)
    if [ -n "$relevant" ]; then
        printf '%s\n' "$relevant" >&2
        status=1
    else
        echo "ok"
    fi
done

for unit in systemd/*.service; do
    name=$(basename "$unit")
    exposure=$(offline_exposure "$name")
    if [ -z "$exposure" ]; then
        echo "systemd-analyze security gave no exposure level for $name" >&2
        status=1
        continue
    fi
    echo "== exposure $name: $exposure (target <= $max_exposure)"
    if [ "$name" = kiosk.service ] && awk -v got="$exposure" -v max="$max_exposure" 'BEGIN { exit !(got > max) }'; then
        echo "$name: exposure $exposure is above $max_exposure" >&2
        status=1
    fi
done
exit "$status"
