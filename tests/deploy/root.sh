# shellcheck shell=bash
# Sourced by tests/deploy/test_deploy.sh and .ci/systemd-boot.sh: a fresh Debian 12 root from the
# cached tarball (debian-root.sh) with this source tree in it, commands run in it with chroot, the
# tally of checks, and a clean-up that never deletes through a mount that is still there.
#
#   make_root ARCH NAME [APT_CACHE]   $root: the root, with /proc, /sys, /dev and the caches
#                          mounted; apt's .debs in $cache_dir/APT_CACHE (default apt-archives)
#   in_root COMMAND…       COMMAND in the root, with a clean environment
#   unmount_root           the mounts made for chroot, before systemd-nspawn boots the root
#   remove_root            at the end (from a trap): unmount what is left, delete the root

deploy_test_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$deploy_test_dir/../.." && pwd)
cache_dir=${KIOSK_DEPLOY_CACHE:-/var/cache/kiosk-deploy-test}
export KIOSK_DEPLOY_CACHE=$cache_dir
src_in_root=/usr/local/src/counter-kiosk

failures=0
phase_started=$SECONDS
phase_label=
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
phase() { echo "== ${phase_label:+[$phase_label] }$* (after $((SECONDS - phase_started)) s)"; }

root=
mounts=()
pip_env=()

bind() {  # bind SOURCE TARGET_IN_ROOT
    mkdir -p "$root$2"
    mount --bind "$1" "$root$2"
    mounts+=("$root$2")
}

make_root() {
    local arch=$1 name=$2 archives=$cache_dir/${3:-apt-archives} tarball host_ca
    tarball=$(DEBIAN_ROOT_ARCH=$arch "$deploy_test_dir/debian-root.sh")
    root=$(mktemp -d "/var/tmp/$name.XXXXXX")
    tar -C "$root" -xf "$tarball"
    mount -t proc proc "$root/proc"; mounts+=("$root/proc")
    mount -t sysfs sysfs "$root/sys"; mounts+=("$root/sys")
    bind /dev /dev
    bind /dev/pts /dev/pts
    mkdir -p "$archives/partial" "$cache_dir/pip"
    bind "$archives" /var/cache/apt/archives
    bind "$cache_dir/pip" /root/.cache/pip
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # As in any chroot: packages must not try to start services.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 0755 "$root/usr/sbin/policy-rc.d"
    mkdir -p "$root$src_in_root"
    # ./build: a developer's tree may hold an old one; what is checked is that deploy.sh makes none.
    (cd "$source_dir" && tar --exclude=.git --exclude=.venv --exclude=__pycache__ --exclude='*.egg-info' \
        --exclude=.pytest_cache --exclude=./build -cf - .) | tar -C "$root$src_in_root" -xf -
    # Where this machine reaches PyPI through a proxy with its own CA, pip in the root must trust the
    # same bundle the host's pip trusts; deploy.sh itself needs nothing of the kind on a unit.
    host_ca=${PIP_CERT:-${SSL_CERT_FILE:-}}
    if [ -n "$host_ca" ] && [ -f "$host_ca" ]; then
        cp "$host_ca" "$root/etc/host-ca-bundle.crt"
        pip_env=(PIP_CERT=/etc/host-ca-bundle.crt)
    fi
}

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${pip_env[@]}" "$@"; }

unmount_root() {
    local index
    for ((index = ${#mounts[@]} - 1; index >= 0; index--)); do
        umount "${mounts[index]}"
    done
    mounts=()
    rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/host-ca-bundle.crt"
}

remove_root() {
    local index
    for ((index = ${#mounts[@]} - 1; index >= 0; index--)); do
        umount -l "${mounts[index]}" 2>/dev/null || true
    done
    [ -n "$root" ] && [ -d "$root" ] || return 0
    # Never delete through a mount that is still there: /dev and the caches are the host's.
    if findmnt -rn -o TARGET | grep -q "^$root"; then
        echo "mounts remain under $root; not deleting it" >&2
    elif [ "${KEEP_ROOT:-0}" = 1 ]; then
        echo "KEEP_ROOT=1: the root stays in $root"
    else
        rm -rf "$root"
    fi
}
