#!/usr/bin/env bash
# Print the path of a cached tarball holding a minimal Debian 12 (bookworm) root, building it with
# debootstrap first if the cache lacks one. The mirror is the one apt on this machine already uses,
# so the test needs no network access beyond the package mirror.
#
#   tests/deploy/debian-root.sh            -> /var/cache/kiosk-deploy-test/bookworm-amd64.tar
#   DEBIAN_ROOT_ARCH=arm64 tests/deploy/debian-root.sh   -> …/bookworm-arm64.tar (a foreign root:
#       needs qemu-user-static and binfmt_misc with qemu-aarch64 registered, flag F)
#   KIOSK_DEPLOY_CACHE=DIR overrides the cache folder; REBUILD=1 rebuilds the tarball.
set -euo pipefail

cache_dir=${KIOSK_DEPLOY_CACHE:-/var/cache/kiosk-deploy-test}
suite=bookworm
arch=${DEBIAN_ROOT_ARCH:-$(dpkg --print-architecture)}
tarball="$cache_dir/$suite-$arch.tar"

die() { echo "debian-root: $*" >&2; exit 1; }

# The first mirror apt uses for the main suite (not -security/-updates), from deb822 .sources
# files or one-line sources.list entries.
apt_mirror() {
    local file uri
    for file in /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        uri=$(awk -v suite="$suite" '
            /^URIs:/ { uris = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
            /^$/ { if (found && uris) { print uris; done = 1; exit } found = 0; uris = "" }
            END { if (!done && found && uris) print uris }' "$file")
        if [ -n "$uri" ]; then echo "$uri"; return; fi
    done
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$file" ] || continue
        uri=$(awk -v suite="$suite" '$1 == "deb" && $0 !~ /\[/ && $3 == suite { print $2; exit }
                                     $1 == "deb" && $0 ~ /\[/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i + 1) == suite) { print $i; exit } break } }' "$file")
        if [ -n "$uri" ]; then echo "$uri"; return; fi
    done
    echo "http://deb.debian.org/debian"
}

if [ -s "$tarball" ] && [ -z "${REBUILD:-}" ]; then
    echo "$tarball"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it)"
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
mkdir -p "$cache_dir"
mirror=$(apt_mirror)
work=$(mktemp -d "$cache_dir/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "debian-root: debootstrap $suite ($arch) from $mirror" >&2
started=$SECONDS
debootstrap --variant=minbase --arch="$arch" "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
# Same mirror inside, so deploy.sh's apt-get reaches it; the security suite is left out because
# only the mirror is known to be reachable from here.
echo "deb $mirror $suite main" >"$work/root/etc/apt/sources.list"
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*_Packages
tar -C "$work/root" -cf "$work/root.tar" .
mv "$work/root.tar" "$tarball"
echo "debian-root: built $tarball in $((SECONDS - started)) s" >&2
echo "$tarball"
