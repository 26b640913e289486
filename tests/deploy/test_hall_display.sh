#!/usr/bin/env bash
# deploy.sh --hall-display for real: a fresh Debian 12 root (tests/deploy/root.sh), deploy.sh run
# inside it with --no-systemd --hall-display, then the packages, the user, the files the display
# starts from (systemd unit, PAM session, the URL it shows), the unit as systemd reads it, a second
# run that changes nothing, a URL it refuses, and --uninstall --purge. Run as root:
#
#   tests/deploy/test_hall_display.sh
#
# Needs debootstrap (or the cached root) and the Debian mirror apt uses (chromium and cage are
# downloaded once into the same cache as test_deploy.sh's packages).
set -euo pipefail

# shellcheck source=tests/deploy/root.sh
. "$(dirname "${BASH_SOURCE[0]}")/root.sh"

[ "$(id -u)" -eq 0 ] || { echo "test_hall_display: run as root (chroot, mounts)" >&2; exit 2; }
trap remove_root EXIT

phase "shellcheck"
check "deploy.sh passes shellcheck" shellcheck "$source_dir/deploy.sh"
check "this test passes shellcheck" shellcheck -x "${BASH_SOURCE[0]}"

phase "Debian 12 root"
make_root "$(dpkg --print-architecture)" kiosk-hall-display-root

phase "deploy.sh --no-systemd --hall-display http://192.0.2.10:8700 (first run)"
if ! in_root "$src_in_root/deploy.sh" --no-systemd --hall-display http://192.0.2.10:8700 >"$root/hall-1.log" 2>&1; then
    cat "$root/hall-1.log" >&2
    fail "first deploy.sh --hall-display run failed"
    exit 1
fi
cat "$root/hall-1.log"

phase "checks"
not() { ! "$@"; }
owner_mode() { in_root stat -c %U:%G:%a "$1" 2>/dev/null; }
expect_owner_mode() { local got; got=$(owner_mode "$1"); check "$1 is $2 (got ${got:-missing})" test "$got" = "$2"; }
expect_owner_mode /etc/systemd/system/hall-display.service root:root:644
expect_owner_mode /etc/pam.d/hall-display root:root:644
expect_owner_mode /etc/default/hall-display root:root:644
check "the unit is the source tree's" cmp -s "$source_dir/systemd/hall-display.service" "$root/etc/systemd/system/hall-display.service"
check "the PAM session is the source tree's" cmp -s "$source_dir/systemd/hall-display.pam" "$root/etc/pam.d/hall-display"
check "a host alone becomes its /hall/" grep -qx 'HALL_URL=http://192.0.2.10:8700/hall/' "$root/etc/default/hall-display"
browser=$(sed -n 's/^CHROMIUM=//p' "$root/etc/default/hall-display")
check "the browser it names is installed ($browser)" test -x "$root$browser"
check "cage is installed" test -x "$root/usr/bin/cage"
check "the Chinese fonts are installed" in_root sh -c 'fc-list :lang=zh family | grep -q "Noto Sans CJK SC"' 
passwd_line=$(in_root getent passwd hall-display || true)
check "user hall-display: a system user without a login shell ($passwd_line)" \
    test "$(cut -d: -f7 <<<"$passwd_line")" = /usr/sbin/nologin -a "$(cut -d: -f3 <<<"$passwd_line")" -lt 1000
check "--no-systemd: hall-display.service not enabled" test ! -e "$root/etc/systemd/system/multi-user.target.wants/hall-display.service"
check "no kiosk was installed" test ! -e "$root/etc/systemd/system/kiosk.service" -a ! -e "$root/opt/kiosk"
if in_root sh -c 'command -v systemd-analyze' >/dev/null; then
    check "systemd reads the installed unit without a complaint" \
        test -z "$(in_root systemd-analyze verify --man=no /etc/systemd/system/hall-display.service 2>&1)"
fi

phase "a second run changes nothing; another URL changes only that"
in_root "$src_in_root/deploy.sh" --no-systemd --hall-display http://192.0.2.10:8700/hall/ >"$root/hall-2.log" 2>&1 \
    || fail "second run failed"
cat "$root/hall-2.log"
check "second run says nothing changed" grep -q "nothing to change: this hall display already shows http://192.0.2.10:8700/hall/" "$root/hall-2.log"
check "second run changed nothing" not grep -q "changed:" "$root/hall-2.log"
in_root "$src_in_root/deploy.sh" --no-systemd --hall-display https://hall.example:8443/hall/ >"$root/hall-3.log" 2>&1 \
    || fail "third run failed"
check "a new URL is one change" test "$(grep -c "changed:" "$root/hall-3.log")" = 1
check "... to the new URL" grep -qx 'HALL_URL=https://hall.example:8443/hall/' "$root/etc/default/hall-display"

phase "refusals"
# shellcheck disable=SC2016  # a $(…) that must stay as written: the URL is refused, never run
for bad in "" "ftp://192.0.2.10/hall/" "http://192.0.2.10/hall/'; reboot" 'http://$(id)/'; do
    if in_root "$src_in_root/deploy.sh" --no-systemd --hall-display "$bad" >"$root/hall-bad.log" 2>&1; then
        fail "--hall-display '$bad' was taken"
    else
        check "--hall-display '$bad' is refused with the form a URL takes" grep -q "needs the hall page's URL" "$root/hall-bad.log"
    fi
done

phase "deploy.sh --uninstall --purge"
in_root "$src_in_root/deploy.sh" --no-systemd --uninstall --purge >"$root/hall-un.log" 2>&1 || fail "uninstall failed"
cat "$root/hall-un.log"
check "the unit, the PAM session and the URL are gone" \
    test ! -e "$root/etc/systemd/system/hall-display.service" -a ! -e "$root/etc/pam.d/hall-display" -a ! -e "$root/etc/default/hall-display"
check "user hall-display removed" not in_root getent passwd hall-display

echo "== done after $((SECONDS - phase_started)) s: $failures failure(s)"
[ "$failures" -eq 0 ]
