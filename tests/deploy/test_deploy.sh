#!/usr/bin/env bash
# deploy.sh for real: a fresh Debian 12 root (debootstrap, cached), deploy.sh run inside it with
# --no-systemd, then the user, files, modes, `kiosk selftest --sim`, a second run that changes
# nothing, --uninstall and --uninstall --purge. Run as root:
#
#   tests/deploy/test_deploy.sh
#
# Needs debootstrap and network access to the Debian mirror apt uses and to PyPI (deploy.sh
# installs the project with pip). apt's .debs and pip's downloads are cached in
# ${KIOSK_DEPLOY_CACHE:-/var/cache/kiosk-deploy-test} between runs. Prints how long each phase took.
set -euo pipefail

# shellcheck source=tests/deploy/root.sh
. "$(dirname "${BASH_SOURCE[0]}")/root.sh"

[ "$(id -u)" -eq 0 ] || { echo "test_deploy: run as root (chroot, mounts)" >&2; exit 2; }
command -v shellcheck >/dev/null || { echo "test_deploy: shellcheck is missing (apt-get install shellcheck)" >&2; exit 2; }

phase "shellcheck deploy.sh"
check "deploy.sh passes shellcheck" shellcheck "$source_dir/deploy.sh"

phase "Debian 12 root"
trap remove_root EXIT
make_root "$(dpkg --print-architecture)" kiosk-deploy-root

phase "deploy.sh --no-systemd (first run)"
first_started=$SECONDS
if ! in_root "$src_in_root/deploy.sh" --no-systemd >"$root/deploy-1.log" 2>&1; then
    cat "$root/deploy-1.log" >&2
    fail "first deploy.sh run failed"
    exit 1
fi
first_took=$((SECONDS - first_started))
cat "$root/deploy-1.log"

phase "checks"
not() { ! "$@"; }
system_user_line() {  # a system uid, home in the state dir, no login shell
    [[ "$1" == kiosk:x:*:*:*:/var/lib/kiosk:/usr/sbin/nologin ]] && [ "$(cut -d: -f3 <<<"$1")" -lt 1000 ]
}
fresh_token() { not grep -q replace-with-a-long-random-token "$1" && grep -Eq '^token = "[0-9a-f]{48}"' "$1"; }
build_litter() { compgen -G "$1/build" >/dev/null || compgen -G "$1/*.egg-info" >/dev/null; }
check "user kiosk exists" in_root id kiosk
passwd_line=$(in_root getent passwd kiosk || true)
check "kiosk: home /var/lib/kiosk, shell nologin, system uid ($passwd_line)" system_user_line "$passwd_line"
groups=$(in_root id -nG kiosk | tr ' ' '\n' | sort | paste -sd' ' -)
check "kiosk's groups are exactly the device groups (got: $groups)" \
    test "$groups" = "audio dialout gpio input kiosk lp render video"

owner_mode() { in_root stat -c %U:%G:%a "$1" 2>/dev/null; }
expect_owner_mode() { local got; got=$(owner_mode "$1"); check "$1 is $2 (got ${got:-missing})" test "$got" = "$2"; }
expect_owner_mode /opt/kiosk/bin/kiosk root:root:755
expect_owner_mode /etc/kiosk root:kiosk:750
expect_owner_mode /etc/kiosk/kiosk.toml root:kiosk:640
expect_owner_mode /var/lib/kiosk kiosk:kiosk:700
expect_owner_mode /var/lib/kiosk/voice kiosk:kiosk:700
expect_owner_mode /var/lib/kiosk/voice/thanks.wav kiosk:kiosk:600
expect_owner_mode /etc/udev/rules.d/70-kiosk-printer.rules root:root:644
expect_owner_mode /etc/systemd/system/kiosk.service root:root:644
check "kiosk.service is the source tree's" cmp -s "$source_dir/systemd/kiosk.service" "$root/etc/systemd/system/kiosk.service"
check "--no-systemd: kiosk.service not enabled" test ! -e "$root/etc/systemd/system/multi-user.target.wants/kiosk.service"
check "config has a fresh API token, not the example's" fresh_token "$root/etc/kiosk/kiosk.toml"
check "udev rule matches printer class 07" grep -q 'ID_USB_INTERFACES}=="\*:07????:\*", OWNER="kiosk"' "$root/etc/udev/rules.d/70-kiosk-printer.rules"
check "no build litter in the source tree" not build_litter "$root$src_in_root"
# espeak-ng's libpulse, run without XDG_RUNTIME_DIR, made ~/.config/pulse/<machine-id>-runtime: a
# link into /tmp, dangling once /tmp is cleared.
pulse_links() { compgen -G "$root/var/lib/kiosk/.config/pulse/*-runtime" || true; }
check "voice rendering left no .config/pulse/*-runtime link in the state dir ($(pulse_links))" test -z "$(pulse_links)"
check "nothing else in the state dir is a dangling link" test -z "$(in_root find /var/lib/kiosk -xtype l)"
locked_requests=$(grep '^requests==' "$source_dir/requirements.lock")
installed_requests=$(in_root /opt/kiosk/bin/python -c 'import importlib.metadata as m; print("requests==" + m.version("requests"))')
check "the unit's venv has the locked versions ($installed_requests, lock $locked_requests)" \
    test "$installed_requests" = "$locked_requests"

phase "kiosk selftest --sim, as the kiosk user, on the deployed config and state dir"
if in_root runuser -u kiosk -- env SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy \
        /opt/kiosk/bin/kiosk selftest --sim --config /etc/kiosk/kiosk.toml >"$root/selftest.log" 2>&1; then
    pass "kiosk selftest --sim passes"
else
    fail "kiosk selftest --sim failed"
fi
cat "$root/selftest.log"
check "the event store selftest made belongs to kiosk" test "$(in_root stat -c %U:%G /var/lib/kiosk/events.db)" = kiosk:kiosk

phase "deploy.sh --no-systemd (second run: nothing to change)"
second_started=$SECONDS
in_root "$src_in_root/deploy.sh" --no-systemd >"$root/deploy-2.log" 2>&1 || fail "second deploy.sh run failed"
second_took=$((SECONDS - second_started))
cat "$root/deploy-2.log"
check "second run says nothing changed" grep -q "nothing to change" "$root/deploy-2.log"
check "second run changed nothing" not grep -q "changed:" "$root/deploy-2.log"
check "first run reported its changes" grep -q "changed: user kiosk created" "$root/deploy-1.log"

phase "deploy.sh --no-systemd over what earlier versions left (libpulse's dangling link)"
in_root runuser -u kiosk -- sh -c 'mkdir -p /var/lib/kiosk/.config/pulse && ln -s /tmp/pulse-gone /var/lib/kiosk/.config/pulse/0123abcd-runtime'
in_root "$src_in_root/deploy.sh" --no-systemd >"$root/deploy-litter.log" 2>&1 || fail "deploy.sh over the old litter failed"
cat "$root/deploy-litter.log"
check "the dangling link is removed, and deploy.sh says so" \
    grep -q "changed: removed /var/lib/kiosk/.config/pulse/0123abcd-runtime" "$root/deploy-litter.log"
check "so are the folders made only to hold it" test ! -e "$root/var/lib/kiosk/.config"

phase "failures are clear: an unknown option"
if in_root "$src_in_root/deploy.sh" --bogus >"$root/deploy-bad.log" 2>&1; then
    fail "deploy.sh --bogus succeeded"
else
    check "unknown option is named" grep -q "unknown option: --bogus" "$root/deploy-bad.log"
fi

phase "deploy.sh --uninstall --no-systemd"
in_root "$src_in_root/deploy.sh" --uninstall --no-systemd >"$root/uninstall.log" 2>&1 || fail "--uninstall failed"
cat "$root/uninstall.log"
for gone in /opt/kiosk /etc/kiosk /etc/udev/rules.d/70-kiosk-printer.rules /etc/systemd/system/kiosk.service; do
    check "$gone removed" test ! -e "$root$gone"
done
check "state kept: /var/lib/kiosk/events.db" test -f "$root/var/lib/kiosk/events.db"
check "user kiosk kept with the state" in_root id kiosk

phase "deploy.sh --uninstall --purge --no-systemd"
in_root "$src_in_root/deploy.sh" --uninstall --purge --no-systemd >"$root/purge.log" 2>&1 || fail "--purge failed"
cat "$root/purge.log"
check "state removed" test ! -e "$root/var/lib/kiosk"
check "user kiosk removed" not in_root getent passwd kiosk
check "group gpio (created by deploy.sh) removed" not in_root getent group gpio
check "group dialout (Debian's own) kept" in_root getent group dialout

echo "== timings: first deploy ${first_took} s, second deploy ${second_took} s, whole test $((SECONDS - phase_started)) s"
if [ "$failures" -gt 0 ]; then
    echo "test_deploy: $failures check(s) failed" >&2
    exit 1
fi
echo "test_deploy: all checks passed"
