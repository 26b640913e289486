#!/usr/bin/env bash
# CI: the unit under real systemd as PID 1. A fresh Debian 12 root (tests/deploy/debian-root.sh,
# cached) gets systemd and, with the network, deploy.sh --no-systemd and the centre as
# systemd/README.md installs it; then systemd-nspawn boots it with no network but loopback,
# deploy.sh runs again in systemd mode (enable, start), and the checks below run inside through
# nsenter. Run as root:
#
#   .ci/systemd-boot.sh                 this machine's architecture (amd64): every check
#   .ci/systemd-boot.sh --arch arm64    the Pi's CPU under qemu-user: install, READY, watchdog,
#                                       the API calls (qemu applies neither seccomp nor the
#                                       device policy: the sandbox is checked on amd64)
#   KEEP_ROOT=1 …                       leave the root in /var/tmp to look at afterwards
#
# Where the boot is impossible (not root, no systemd-nspawn, no cgroup2, no qemu for arm64) it
# says why and exits 0, or 1 with CI_REQUIRE_SYSTEMD=1. Every mount, container and cgroup it made
# is gone when it ends, however it ends (bound it with `timeout`: SIGTERM cleans up too).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/deploy/root.sh
. "$here/../tests/deploy/root.sh"
checks=(/opt/kiosk/bin/python "$src_in_root/.ci/boot/checks.py")

arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
host_arch=$arch
while [ $# -gt 0 ]; do
    case $1 in
        --arch) arch=${2:?--arch needs amd64 or arm64}; shift ;;
        -h|--help) sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "systemd-boot: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
full=1          # the sandbox checks (seccomp, devices, exposure, clock): native only
box_timeout=60  # one command inside the booted root
if [ "$arch" != "$host_arch" ]; then
    full=0
    box_timeout=300
fi

phase_label=$arch
timings=()
took() { timings+=("$1 $2 s"); }

cannot() {
    echo "systemd-boot: cannot boot the unit under systemd here: $*" >&2
    if [ "${CI_REQUIRE_SYSTEMD:-0}" = 1 ]; then
        echo "systemd-boot: CI_REQUIRE_SYSTEMD=1: that is a failure" >&2
        exit 1
    fi
    exit 0
}

# The cgroup2 hierarchy nspawn is given (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: without it, on a
# hybrid host, the container's systemd silently does not enforce DevicePolicy=).
cgroup2_root() {
    local place
    for place in /sys/fs/cgroup /sys/fs/cgroup/unified; do
        if [ "$(stat -fc %T "$place" 2>/dev/null)" = cgroup2fs ]; then echo "$place"; return; fi
    done
}

preflight() {
    [ "$(id -u)" -eq 0 ] || cannot "not root (chroot, mounts, cgroups)"
    command -v systemd-nspawn >/dev/null || cannot "systemd-nspawn is missing (apt-get install systemd-container)"
    command -v nsenter >/dev/null || cannot "nsenter is missing (util-linux)"
    command -v debootstrap >/dev/null || cannot "debootstrap is missing"
    [ -n "$(cgroup2_root)" ] || cannot "no cgroup2 hierarchy mounted"
    case $arch in
        "$host_arch") ;;
        arm64)
            command -v qemu-aarch64-static >/dev/null || cannot "qemu-aarch64-static is missing (qemu-user-static)"
            if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
                mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || cannot "cannot mount binfmt_misc"
            fi
            if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
                update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || cannot "qemu-aarch64 is not registered with binfmt_misc (binfmt-support)"
            fi
            # F: the kernel opens the interpreter now, so it runs inside a root that lacks it.
            grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
                || cannot "qemu-aarch64's binfmt entry lacks flag F (fix-binary)"
            ;;
        *) cannot "no way to run $arch on $host_arch" ;;
    esac
}

# --- the container and what is left of it --------------------------------------------------------
work=
cgroup_rel=
nspawn_pid=
pid1=

kill_cgroup() {  # every process left in our cgroup tree
    local unified=$1
    [ -d "$unified" ] || return 0
    if [ -e "$unified/cgroup.kill" ]; then
        echo 1 >"$unified/cgroup.kill" 2>/dev/null || true
    else
        local pid
        find "$unified" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
            kill -KILL "$pid" 2>/dev/null || true
        done
    fi
}

cleanup() {
    local status=$? unified hierarchy waited
    set +e
    trap - EXIT TERM INT
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid" 2>/dev/null   # nspawn asks the container's systemd to power off
        for ((waited = 0; waited < 150; waited++)); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    fi
    if [ -n "$cgroup_rel" ]; then
        unified=$(cgroup2_root)/$cgroup_rel
        kill_cgroup "$unified"
        for ((waited = 0; waited < 50; waited++)); do
            [ -z "$(find "$unified" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
            sleep 0.2
        done
        # nspawn mirrors the tree in the named v1 hierarchy of a hybrid host.
        for hierarchy in "$(cgroup2_root)" /sys/fs/cgroup/systemd; do
            [ -d "$hierarchy/$cgroup_rel" ] && find "$hierarchy/$cgroup_rel" -depth -type d -exec rmdir {} + 2>/dev/null
            [ -d "$hierarchy/$cgroup_rel" ] && echo "systemd-boot: cgroup $hierarchy/$cgroup_rel is still there" >&2
        done
    fi
    [ -n "$nspawn_pid" ] && wait "$nspawn_pid" 2>/dev/null
    remove_root
    [ -n "$work" ] && rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Inside the booted root: every namespace of its PID 1, as root with all capabilities, outside
# any service's sandbox.
in_box() { timeout "$box_timeout" nsenter -t "$pid1" -a /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

prepare_root() {
    phase "Debian 12 root ($arch)"
    local step
    work=$(mktemp -d)
    # Its own folder of .debs: apt in a root fails at once (it does not wait) on a folder whose
    # lock another run holds, and tests/deploy, or a bench beside CI, may be running.
    make_root "$arch" "kiosk-boot-$arch" "apt-archives-boot-$arch"

    step=$SECONDS
    in_root sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd systemd-sysv dbus >/dev/null' \
        >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "systemd could not be installed in the root"; exit 1; }
    took "apt-get install systemd" $((SECONDS - step))

    phase "deploy.sh --no-systemd in the root, with the network"
    step=$SECONDS
    if ! in_root "$src_in_root/deploy.sh" --no-systemd >"$work/deploy-offline.log" 2>&1; then
        cat "$work/deploy-offline.log" >&2
        fail "deploy.sh --no-systemd failed"
        exit 1
    fi
    took "deploy.sh --no-systemd (apt, pip, voice)" $((SECONDS - step))
    pass "deploy.sh --no-systemd installed the unit"
    # The queue host: nothing listens there. The counter says so at warning level, which is what
    # the journal's priorities are checked on.
    sed -i 's|^host_url = .*|host_url = "http://127.0.0.1:8799"|' "$root/etc/kiosk/kiosk.toml"
    install -D -m 0644 "$here/boot/kiosk-sim.conf" "$root/etc/systemd/system/kiosk.service.d/ci-sim.conf"

    if [ "$full" -eq 1 ]; then
        phase "the centre in the root, as systemd/README.md installs it (SQLite)"
        step=$SECONDS
        in_root bash -s "$src_in_root" >"$work/centre-install.log" 2>&1 <<'INSTALL' || { cat "$work/centre-install.log" >&2; fail "the centre could not be installed"; exit 1; }
set -euo pipefail
src=$1
id centre >/dev/null 2>&1 || useradd --system --home-dir /var/lib/centre --no-create-home --shell /usr/sbin/nologin centre
[ -x /opt/centre/bin/python ] || python3 -m venv /opt/centre
build=$(mktemp -d)
(cd "$src" && tar -cf - pyproject.toml README.md protocol kiosk drivers sync centre) | tar -C "$build" -xf -
/opt/centre/bin/pip install --quiet --disable-pip-version-check -c "$src/requirements.lock" "$build[centre]"
rm -rf "$build"
install -d -m 0750 -o root -g centre /etc/centre
printf 'CENTRE_DB=sqlite:////var/lib/centre/centre.db\nCENTRE_ADMIN_TOKEN=%s\n' \
    "$(python3 -c 'import secrets; print(secrets.token_hex(32))')" >/etc/centre/centre.env
chown root:centre /etc/centre/centre.env
chmod 0640 /etc/centre/centre.env
install -m 0644 "$src/systemd/centre.service" /etc/systemd/system/centre.service
install -D -m 0644 "$src/systemd/README.md" /opt/centre/share/doc/systemd-README.md
INSTALL
        took "centre install (pip)" $((SECONDS - step))
    fi
    unmount_root
}

boot() {
    phase "systemd-nspawn -b (systemd as PID 1, loopback only)"
    local unified machine step waited
    machine="kiosk-ci-$arch-$$"
    unified=$(cgroup2_root)
    cgroup_rel=$machine
    mkdir "$unified/$cgroup_rel"
    step=$SECONDS
    # --keep-unit --register=no: no systemd or D-Bus on the host. --system-call-filter: nspawn's
    # own filter refuses clock_adjtime (the unit reads the clock state with it) and bpf (the
    # container's systemd enforces DevicePolicy= with it). --private-network: nothing a config
    # points at leaves the machine.
    (
        echo "$BASHPID" >"$unified/$cgroup_rel/cgroup.procs"
        SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec systemd-nspawn --quiet -b -D "$root" --machine="$machine" \
            --keep-unit --register=no --private-network --system-call-filter='clock_adjtime bpf' \
            --console=read-only
    ) >"$work/console.log" 2>&1 </dev/null &
    nspawn_pid=$!
    for ((waited = 0; waited < 600; waited++)); do
        pid1=$(head -n 1 "$unified/$cgroup_rel/payload/init.scope/cgroup.procs" 2>/dev/null || true)
        [ -n "$pid1" ] && break
        kill -0 "$nspawn_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$pid1" ]; then
        cat "$work/console.log" >&2
        fail "the container's systemd did not start"
        exit 1
    fi
    # Until its private socket is up, systemctl cannot ask; then --wait waits out the start-up.
    local state=
    for ((waited = 0; waited < 300; waited++)); do
        state=$(in_box systemctl is-system-running --wait 2>/dev/null || true)
        case $state in running|degraded|maintenance|stopping) break ;; esac
        sleep 0.2
    done
    took "boot to $state" $((SECONDS - step))
    if [ "$full" -eq 1 ]; then
        check "booted: systemd says $state" test "$state" = running
    else
        # Under qemu-user systemd-sysctl, -sysusers and -tmpfiles fail (calls qemu does not
        # emulate); nothing the unit needs depends on them.
        check "booted: systemd says $state (degraded allowed under emulation)" test "$state" = running -o "$state" = degraded
    fi
    if [ "$state" != running ]; then in_box systemctl --failed --no-pager --no-legend || true; fi
}

journal_of() { in_box journalctl -b -u "$1" -o cat --no-pager; }
show() { in_box systemctl show -P "$2" "$1"; }

# READY=1 came after ExecStart by this many ms (systemd's own monotonic stamps).
ready_after_ms() {
    local exec_start active
    exec_start=$(show "$1" ExecMainStartTimestampMonotonic)
    active=$(show "$1" ActiveEnterTimestampMonotonic)
    echo $(((active - exec_start) / 1000))
}

deploy_in_box() {
    phase "deploy.sh in systemd mode, inside the booted root"
    local step=$SECONDS
    if ! in_box "$src_in_root/deploy.sh" >"$work/deploy-boot.log" 2>&1; then
        cat "$work/deploy-boot.log" >&2
        journal_of kiosk | tail -n 40 >&2 || true
        fail "deploy.sh (systemd) failed"
        exit 1
    fi
    took "deploy.sh (systemd: enable, start until READY)" $((SECONDS - step))
    cat "$work/deploy-boot.log"
    check "deploy.sh enabled kiosk.service" grep -q "changed: kiosk.service enabled" "$work/deploy-boot.log"
    check "deploy.sh started kiosk.service" grep -q "changed: kiosk.service started" "$work/deploy-boot.log"
}

check_active() {  # check_active UNIT: running, and (Type=notify) said READY=1
    local unit=$1 type status
    check "$unit is active" test "$(show "$unit" ActiveState)/$(show "$unit" SubState)" = active/running
    type=$(show "$unit" Type)
    if [ "$type" = notify ]; then
        status=$(show "$unit" StatusText)
        check "$unit sent READY=1 and its status (\"$status\")" grep -q '^API on http://' <<<"$status"
        local ready_ms
        ready_ms=$(ready_after_ms "$unit")
        echo "      READY=1 came ${ready_ms} ms after ExecStart"
        took "$unit READY=1 after ExecStart" "$(awk -v ms="$ready_ms" 'BEGIN { printf "%.1f", ms / 1000 }')"
    fi
}

no_permission_errors() {  # in UNIT's journal for this boot
    local found
    found=$(journal_of "$1" | grep -Ei 'permission denied|operation not permitted|read-only file system|EACCES|EPERM' || true)
    [ -z "$found" ] || { printf '%s\n' "$found" >&2; return 1; }
}

check_exposure() {  # systemd's figure for the running unit, booted, against the offline one
    local unit=$1 offline booted
    offline=$("$here/systemd-check.sh" --exposure "$unit")
    booted=$(in_box systemd-analyze security --no-pager "$unit" 2>/dev/null \
        | sed -nE 's/.*Overall exposure level for [^:]+: ([0-9.]+).*/\1/p')
    check "systemd-analyze security $unit booted ($booted) equals the offline figure ($offline)" \
        test -n "$booted" -a "$booted" = "$offline"
}

clock_probe='from kiosk.clock import kernel_clock_state; print(kernel_clock_state())'
check_clock() {
    phase "clock state under the service's sandbox and outside it"
    local inside outside
    # Logged by the drop-in's ExecStartPost=, which runs under kiosk.service's own sandbox.
    inside=$(journal_of kiosk | sed -n 's/^clock-probe state=//p' | tail -n 1)
    outside=$(in_box runuser -u kiosk -- /opt/kiosk/bin/python -c "$clock_probe")
    check "kiosk.service's sandbox reads the kernel clock state (${inside:-no probe line}) as outside it does ($outside)" \
        test -n "$inside" -a "$inside" = "$outside"
}

clock_synced_outside() {
    in_box runuser -u kiosk -- /opt/kiosk/bin/python -c \
        'from kiosk.clock import kernel_clock_synced; print("yes" if kernel_clock_synced() else "no")'
}

check_priorities() {
    phase "journal priorities (journalctl -u kiosk -p warning)"
    local warnings
    warnings=$(in_box journalctl -b -u kiosk -p warning _TRANSPORT=stdout -o cat --no-pager || true)
    check "journalctl -u kiosk -p warning shows the unit's warnings" grep -q '^level=warning ' <<<"$warnings"
    printf '%s\n' "$warnings" | head -n 2 | cut -c 1-150 | sed 's/^/      /'
    in_box journalctl -b -u kiosk _TRANSPORT=stdout -o json --no-pager >"$work/journal.json" \
        || fail "journalctl -o json failed"
    check "every line of the unit is stored at its level's priority, without the prefix" \
        in_box "${checks[@]}" priorities <"$work/journal.json"
}

check_state_dir_tidy() {
    local dangling
    dangling=$(in_box find /var/lib/kiosk -xtype l)
    check "no dangling link in /var/lib/kiosk (${dangling:-none})" test -z "$dangling"
    check "no .config/pulse in /var/lib/kiosk" in_box test ! -e /var/lib/kiosk/.config/pulse
    check "no core file in /var/lib/kiosk" test -z "$(in_box find /var/lib/kiosk -maxdepth 1 -name 'core*')"
}

restart_and_wait() {  # systemctl restart UNIT returns once it is up again (READY=1 for kiosk)
    in_box systemctl restart "$1"
}

wait_http() {  # wait_http URL: until it answers (bounded)
    local waited
    for ((waited = 0; waited < 100; waited++)); do
        if in_box /opt/kiosk/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" \
            2>/dev/null; then
            return 0
        fi
        sleep 0.3
    done
    return 1
}

start_centre() {
    phase "centre.service"
    local step=$SECONDS
    in_box systemctl enable --now --quiet centre.service || fail "systemctl enable --now centre failed"
    check "the centre answers /healthz" wait_http http://127.0.0.1:8800/healthz
    took "centre.service start to /healthz" $((SECONDS - step))
    check_active centre.service
}

provision_unit() {
    phase "kiosk provision against the centre in the root"
    local answer token unit_id
    unit_id=$(sed -n 's/^id = "\(.*\)"/\1/p' "$root/etc/kiosk/kiosk.toml" | head -n 1)
    # shellcheck disable=SC2016  # $1 is the inner shell's
    answer=$(in_box runuser -u centre -- sh -c 'set -a; . /etc/centre/centre.env; exec /opt/centre/bin/centre unit add "$1" --role counter --counter 3' \
        sh "$unit_id") || { fail "centre unit add failed: $answer"; return; }
    token=$(sed -n 's/^token: //p' <<<"$answer")
    if in_box /opt/kiosk/bin/kiosk provision --centre http://127.0.0.1:8800 --unit-id "$unit_id" --token="$token" \
        >"$work/provision.log" 2>&1; then
        pass "kiosk provision enrolled $unit_id with the centre"
    else
        cat "$work/provision.log" >&2
        fail "kiosk provision failed"
    fi
    restart_and_wait kiosk.service || fail "kiosk.service did not restart after provisioning"
}

api_round() {  # sign-in, complete, a key press; recorded after a restart, chain valid
    phase "API: sign-in, complete, a key press; then a restart"
    local synced_arg=()
    if ! in_box "${checks[@]}" record >"$work/acked.json"; then
        fail "the API calls failed"
        return
    fi
    pass "sign-in, complete and a key press acknowledged: $(cat "$work/acked.json")"
    in_box sh -c 'cat >/root/acked.json' <"$work/acked.json"
    if [ "$full" -eq 1 ]; then
        check "the unit uploaded its events to the centre" in_box "${checks[@]}" drain
        synced_arg=(--clock-synced "$(clock_synced_outside)")
    fi
    restart_and_wait kiosk.service || fail "kiosk.service did not restart"
    check "after a restart, the unit's log holds them with a valid chain" in_box "${checks[@]}" unit-log /root/acked.json "${synced_arg[@]}"
    if [ "$full" -eq 1 ]; then
        restart_and_wait centre.service || fail "centre.service did not restart"
        wait_http http://127.0.0.1:8800/healthz || fail "the centre did not come back after a restart"
        check "after a restart, the centre holds them with a valid chain" in_box "${checks[@]}" centre-log /root/acked.json
    fi
}

check_watchdog() {
    phase "watchdog: SIGSTOP the unit"
    local before old_pid limit_s waited step=$SECONDS restarts state new_pid
    before=$(show kiosk NRestarts)
    old_pid=$(show kiosk MainPID)
    # WatchdogSec, then the abort timeout (TimeoutStopSec) for a process that ignores SIGABRT, then
    # RestartSec and a start to READY: twice that is the bound.
    limit_s=$((2 * (30 + 20 + 3 + 30)))
    in_box systemctl kill --kill-whom=main --signal=SIGSTOP kiosk.service
    for ((waited = 0; waited < limit_s; waited++)); do
        restarts=$(show kiosk NRestarts)
        state=$(show kiosk ActiveState)/$(show kiosk SubState)
        new_pid=$(show kiosk MainPID)
        if [ "$restarts" -gt "$before" ] && [ "$state" = active/running ] && [ "$new_pid" != "$old_pid" ]; then
            break
        fi
        sleep 1
    done
    took "watchdog: SIGSTOP to running again" $((SECONDS - step))
    check "the watchdog restarted the stopped unit once (NRestarts $before -> $restarts, pid $old_pid -> $new_pid, $state)" \
        test "$restarts" -eq $((before + 1)) -a "$state" = active/running -a "$new_pid" != "$old_pid"
    check "systemd says why: a watchdog timeout" grep -q 'Watchdog timeout' <<<"$(journal_of kiosk)"
    watchdog_restarts=$restarts
}
watchdog_restarts=

run_checks() {
    deploy_in_box
    phase "kiosk.service"
    check_active kiosk.service
    if [ "$full" -eq 1 ]; then
        check_exposure kiosk.service
        check_clock
        start_centre
        check_exposure centre.service
        provision_unit
        check_active kiosk.service
    fi
    api_round
    check_watchdog
    phase "after all that"
    check "kiosk.service restarted by the watchdog only once (NRestarts $(show kiosk NRestarts))" \
        test "$(show kiosk NRestarts)" = "$watchdog_restarts"
    check_active kiosk.service
    if [ "$full" -eq 1 ]; then
        check "no permission errors in kiosk.service's journal" no_permission_errors kiosk.service
        check "no permission errors in centre.service's journal" no_permission_errors centre.service
        check_priorities
    fi
    check_state_dir_tidy
}

preflight
prepare_root
boot
run_checks
phase "power off"
step=$SECONDS
kill -TERM "$nspawn_pid"
# Under emulation the halt never finishes (below): no use waiting the full 30 s for it.
for ((waited = 0; waited < (full ? 300 : 50); waited++)); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
took "power off" $((SECONDS - step))
if kill -0 "$nspawn_pid" 2>/dev/null; then
    if [ "$full" -eq 1 ]; then
        fail "the container did not power off within 30 s"
    else
        # Under qemu-user the container's halt ends in rescue mode; nspawn's second SIGTERM ends
        # it at once (the clean-up makes sure of it).
        echo "      (under emulation the halt does not finish: ended by nspawn's second SIGTERM)"
        kill -TERM "$nspawn_pid"
    fi
fi

echo "== [$arch] timings: ${timings[*]/%/;} whole step $((SECONDS - phase_started)) s"
if [ "$failures" -gt 0 ]; then
    echo "== [$arch] systemd boot: $failures check(s) failed (console: last lines below)" >&2
    tail -n 20 "$work/console.log" >&2
    exit 1
fi
echo "== [$arch] systemd boot: all checks passed"
