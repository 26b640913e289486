#!/usr/bin/env bash
# Install the counter kiosk on Raspberry Pi OS / Debian 12 (bookworm), arm64 or x86_64, from the
# source tree this script sits in. Run as root:
#
#   sudo ./deploy.sh                 install or update, enable and start kiosk.service
#   sudo ./deploy.sh --no-systemd    the same without enabling/starting (containers, chroots)
#   sudo ./deploy.sh --uninstall     remove it all but the unit's state (/var/lib/kiosk) and user
#   sudo ./deploy.sh --uninstall --purge   remove the state and the user too
#   sudo ./deploy.sh --hall-display URL    a hall display instead: Chromium in kiosk mode on URL (the host's /hall/)
#
# Every step checks before it changes anything, so a second run changes nothing and says so.
set -euo pipefail
# The ERR trap below also fires inside functions, so no failing step goes unexplained.
set -o errtrace

readonly APP_USER=kiosk
readonly VENV=/opt/kiosk
readonly CONFIG_DIR=/etc/kiosk
readonly CONFIG_FILE=$CONFIG_DIR/kiosk.toml
readonly STATE_DIR=/var/lib/kiosk
readonly UNIT_FILE=/etc/systemd/system/kiosk.service
readonly UDEV_RULE=/etc/udev/rules.d/70-kiosk-printer.rules
readonly DOC_DIR=$VENV/share/doc
# Source hash of what is installed in the venv: the project is reinstalled only when it changed.
readonly SOURCE_STAMP=$VENV/.deployed-source.sha256
# Device groups this script had to create (x86_64 has no gpio group): --purge removes them.
readonly CREATED_GROUPS_FILE=$STATE_DIR/.deploy-created-groups
# Devices the unit uses: GPIO keys, serial printers, USB printers, the display (DRM and its render
# node), a touch panel, and sound. Nothing else.
readonly DEVICE_GROUPS=(gpio dialout lp video render input audio)
# python3-venv: the venv; fonts-noto-cjk + fontconfig: the Chinese screens; espeak-ng: the voice
# clips; libusb: python-escpos' USB printers; ALSA, DRM, GBM, EGL/GLES: what pygame's bundled SDL
# loads at run time for sound and the KMS display; ca-certificates: HTTPS to PyPI and the centre.
# The project's packages (pyproject.toml's packages.find): what pip installs, and what the source
# hash covers.
readonly PACKAGE_DIRS=(protocol kiosk drivers sync centre)
readonly APT_PACKAGES=(python3 python3-venv fonts-noto-cjk fontconfig espeak-ng libusb-1.0-0
                       libasound2 libdrm2 libgbm1 libegl1 libgles2 ca-certificates)

SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SOURCE_DIR
use_systemd=1
mode=install
purge=0
changes=0
service_needs_restart=0
created_groups=()

say() { printf '%s\n' "deploy: $*"; }
# Every change is printed as "changed: …", so a run that prints none changed nothing.
changed() { changes=$((changes + 1)); say "changed: $*"; }
die() { printf '%s\n' "deploy: error: $*" >&2; exit 1; }
trap 'die "step failed at line $LINENO (exit $?): $BASH_COMMAND"' ERR

usage() {
    sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --no-systemd) use_systemd=0 ;;
            --uninstall) mode=uninstall ;;
            --hall-display) mode=hall-display; hall_url=${2:-}; shift $(($# > 1)) ;;
            --purge) purge=1 ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
        shift
    done
    if [ "$purge" -eq 1 ] && [ "$mode" != uninstall ]; then
        die "--purge goes with --uninstall"
    fi
}

check_host() {
    [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"
    [ -r /etc/os-release ] || die "/etc/os-release is missing: not a Debian system"
    local id codename
    # shellcheck source=/dev/null
    id=$(. /etc/os-release && echo "${ID:-}")
    # shellcheck source=/dev/null
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    case $id in debian|raspbian) ;; *) die "this is $id; the kiosk is supported on Debian 12 / Raspberry Pi OS only" ;; esac
    [ "$codename" = bookworm ] || die "this is $id $codename; the kiosk needs Debian 12 (bookworm)"
    local arch
    arch=$(dpkg --print-architecture)
    case $arch in arm64|amd64) ;; *) die "architecture $arch is not supported (arm64 or amd64)" ;; esac
    if [ "$use_systemd" -eq 1 ] && [ ! -d /run/systemd/system ]; then
        die "systemd is not running here; use --no-systemd in a container or chroot"
    fi
}

check_source_tree() {
    local needed
    for needed in pyproject.toml README.md protocol kiosk drivers sync centre config/counter.toml systemd/kiosk.service; do
        [ -e "$SOURCE_DIR/$needed" ] || die "$SOURCE_DIR/$needed is missing: run deploy.sh from a complete source tree"
    done
}

install_packages() {
    local missing=() package
    for package in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$package")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        say "apt packages: all present"
        return
    fi
    say "apt packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed: check the network and /etc/apt/sources.list*"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed (see apt's messages above)"
    changed "apt packages: installed ${missing[*]}"
}

ensure_groups_and_user() {
    local group
    for group in "${DEVICE_GROUPS[@]}"; do
        if ! getent group "$group" >/dev/null; then
            groupadd --system "$group" || die "cannot create group $group"
            created_groups+=("$group")
            changed "group $group created (this system had none)"
        fi
    done
    if ! getent group "$APP_USER" >/dev/null; then
        groupadd --system "$APP_USER" || die "cannot create group $APP_USER"
        changed "group $APP_USER created"
    fi
    local wanted
    wanted=$(IFS=,; echo "${DEVICE_GROUPS[*]}")
    if ! id "$APP_USER" >/dev/null 2>&1; then
        useradd --system --gid "$APP_USER" --groups "$wanted" --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "counter kiosk service" "$APP_USER" \
            || die "cannot create user $APP_USER"
        changed "user $APP_USER created (groups $wanted)"
    else
        local current
        current=$(id -nG "$APP_USER" | tr ' ' '\n' | grep -vx "$APP_USER" | sort | paste -sd, -)
        if [ "$current" != "$(tr ',' '\n' <<<"$wanted" | sort | paste -sd, -)" ]; then
            usermod --gid "$APP_USER" --groups "$wanted" "$APP_USER" || die "cannot set the groups of $APP_USER"
            changed "user $APP_USER: groups set to $wanted (were ${current:-none})"
        fi
    fi
}

ensure_state_dir() {
    if [ ! -d "$STATE_DIR" ]; then
        install -d -o "$APP_USER" -g "$APP_USER" -m 0700 "$STATE_DIR"
        changed "state dir $STATE_DIR created"
    fi
    local owner mode
    owner=$(stat -c %U:%G "$STATE_DIR")
    mode=$(stat -c %a "$STATE_DIR")
    if [ "$owner" != "$APP_USER:$APP_USER" ] || [ "$mode" != 700 ]; then
        # A state dir kept from an earlier install may belong to an old uid: give it back whole.
        chown -R "$APP_USER:$APP_USER" "$STATE_DIR"
        chmod 0700 "$STATE_DIR"
        changed "state dir $STATE_DIR: owner/mode set to $APP_USER:$APP_USER 0700 (was $owner $mode)"
    fi
    if [ "${#created_groups[@]}" -gt 0 ]; then
        printf '%s\n' "${created_groups[@]}" >>"$CREATED_GROUPS_FILE"
        chmod 0644 "$CREATED_GROUPS_FILE"
    fi
}

# sha256 over every file pip would install from, so an unchanged tree is not reinstalled.
source_hash() {
    (cd "$SOURCE_DIR" && find pyproject.toml requirements.lock README.md "${PACKAGE_DIRS[@]}" -type f \
        ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) \
        | sha256sum | cut -d' ' -f1
}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
        changed "venv $VENV created"
    fi
    local wanted
    wanted=$(source_hash)
    if [ -f "$SOURCE_STAMP" ] && [ "$(cat "$SOURCE_STAMP")" = "$wanted" ] && [ -x "$VENV/bin/kiosk" ]; then
        say "venv: counter-kiosk already installed from this source"
        return
    fi
    # Build from a copy: pip's in-tree build would leave build/ and *.egg-info in the source tree.
    local build
    build=$(mktemp -d)
    (cd "$SOURCE_DIR" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - \
        pyproject.toml README.md "${PACKAGE_DIRS[@]}") | tar -C "$build" -xf -
    say "venv: installing counter-kiosk into $VENV (pip; this takes a while the first time)"
    # The lock as constraints: the unit runs the library versions CI tested, not whatever is newest.
    if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-warn-script-location \
        -c "$SOURCE_DIR/requirements.lock" "$build"; then
        rm -rf "$build"
        die "pip could not install the project into $VENV (see pip's messages above)"
    fi
    rm -rf "$build"
    echo "$wanted" >"$SOURCE_STAMP"
    service_needs_restart=1
    changed "venv: counter-kiosk installed from $SOURCE_DIR"
}

# install_file SRC DEST MODE [OWNER:GROUP]: copy when the content, mode or owner differ.
install_file() {
    local src=$1 dest=$2 mode=$3 owner=${4:-root:root}
    if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ] \
        && [ "$(stat -c %U:%G "$dest")" = "$owner" ]; then
        return 1
    fi
    install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest.deploy-new"
    mv -f "$dest.deploy-new" "$dest"
    return 0
}

ensure_config() {
    if [ ! -d "$CONFIG_DIR" ] || [ "$(stat -c %U:%G:%a "$CONFIG_DIR")" != "root:$APP_USER:750" ]; then
        install -d -o root -g "$APP_USER" -m 0750 "$CONFIG_DIR"
        changed "config dir $CONFIG_DIR (root:$APP_USER 0750)"
    fi
    if [ -e "$CONFIG_FILE" ]; then
        say "config: $CONFIG_FILE kept as it is"
        return
    fi
    # The example config with a fresh API token in place of its placeholder: a unit must never
    # run with a token printed in the source tree.
    local token staged
    token=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(24))')
    staged=$(mktemp "$CONFIG_DIR/.kiosk.toml.XXXXXX")
    sed "s/replace-with-a-long-random-token/$token/" "$SOURCE_DIR/config/counter.toml" >"$staged"
    chown "root:$APP_USER" "$staged"
    chmod 0640 "$staged"
    "$VENV/bin/python" -c 'import sys; from kiosk.config import load_settings; load_settings(sys.argv[1])' "$staged" \
        || { rm -f "$staged"; die "the example config does not validate; the source tree is broken"; }
    mv -f "$staged" "$CONFIG_FILE"
    changed "config: example copied to $CONFIG_FILE with a new API token; run \`kiosk provision\` next"
}

ensure_udev_rule() {
    local rule
    rule=$(mktemp)
    cat >"$rule" <<EOF
# Installed by the counter kiosk's deploy.sh: USB printers (interface class 07) belong to the
# kiosk service's user, both as libusb devices (python-escpos) and as usblp nodes.
SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ENV{ID_USB_INTERFACES}=="*:07????:*", OWNER="$APP_USER", GROUP="lp", MODE="0660"
SUBSYSTEM=="usbmisc", KERNEL=="lp[0-9]*", OWNER="$APP_USER", GROUP="lp", MODE="0660"
EOF
    if install_file "$rule" "$UDEV_RULE" 0644; then
        changed "udev rule $UDEV_RULE installed"
        if [ -S /run/udev/control ]; then
            udevadm control --reload-rules
            udevadm trigger --subsystem-match=usb --subsystem-match=usbmisc --action=change
        fi
    fi
    rm -f "$rule"
}

ensure_voice_clips() {
    local output runtime_dir status=0
    # espeak-ng loads libpulse, which makes a runtime dir under $XDG_RUNTIME_DIR; without one it
    # leaves ~/.config/pulse/<machine-id>-runtime in the state dir, a link into /tmp that dangles
    # from then on. A throwaway one here (the service has /run/kiosk).
    runtime_dir=$(mktemp -d)
    chown "$APP_USER:$APP_USER" "$runtime_dir"
    # As the service's user and with its umask (kiosk.service: UMask=0077), so the clips are the
    # unit's own files exactly as if the service had rendered them.
    output=$(umask 0077 && runuser -u "$APP_USER" -- env XDG_RUNTIME_DIR="$runtime_dir" \
        "$VENV/bin/python" -m kiosk.voice --out "$STATE_DIR/voice" 2>&1) || status=$?
    rm -rf "$runtime_dir"
    [ "$status" -eq 0 ] || die "voice clips could not be rendered: $output"
    case $output in
        "0 clips rendered"*) say "voice clips: all up to date in $STATE_DIR/voice" ;;
        *) changed "voice clips: $output" ;;
    esac
    remove_pulse_litter
}

# What earlier versions of this script left: libpulse's runtime links (dangling once /tmp was
# cleared) and the folders made only to hold them.
remove_pulse_litter() {
    local link folder
    for link in "$STATE_DIR"/.config/pulse/*-runtime; do
        if [ -L "$link" ] && [ ! -e "$link" ]; then
            rm -f "$link"
            changed "removed $link (a dangling link libpulse left)"
        fi
    done
    for folder in "$STATE_DIR/.config/pulse" "$STATE_DIR/.config"; do
        if [ -d "$folder" ] && [ -z "$(ls -A "$folder")" ]; then
            rmdir "$folder"
            changed "removed $folder (empty)"
        fi
    done
}

ensure_systemd_units() {
    if install_file "$SOURCE_DIR/systemd/kiosk.service" "$UNIT_FILE" 0644; then
        service_needs_restart=1
        changed "systemd unit $UNIT_FILE installed"
        [ "$use_systemd" -eq 0 ] || systemctl daemon-reload
    fi
    if install_file "$SOURCE_DIR/systemd/README.md" "$DOC_DIR/systemd-README.md" 0644; then
        changed "notes on the units, journald and the centre in $DOC_DIR/systemd-README.md"
    fi
    if [ "$use_systemd" -eq 0 ]; then
        say "systemd: --no-systemd, kiosk.service neither enabled nor started"
        return
    fi
    if ! systemctl is-enabled --quiet kiosk.service; then
        systemctl enable --quiet kiosk.service
        changed "kiosk.service enabled"
    fi
    if ! systemctl is-active --quiet kiosk.service; then
        systemctl start kiosk.service || die "kiosk.service did not start: journalctl -u kiosk -n 50"
        changed "kiosk.service started"
    elif [ "$service_needs_restart" -eq 1 ]; then
        systemctl restart kiosk.service || die "kiosk.service did not restart: journalctl -u kiosk -n 50"
        changed "kiosk.service restarted on the new version"
    fi
}

install_all() {
    check_source_tree
    install_packages
    ensure_groups_and_user
    ensure_state_dir
    ensure_venv
    ensure_config
    ensure_udev_rule
    ensure_voice_clips
    ensure_systemd_units
    if [ "$changes" -eq 0 ]; then
        say "nothing to change: this unit is already deployed from $SOURCE_DIR"
    else
        say "done: $changes change(s). Next: sudo $VENV/bin/kiosk provision (then: sudo -u $APP_USER $VENV/bin/kiosk selftest)"
    fi
}

remove_path() {
    if [ -e "$1" ] || [ -L "$1" ]; then
        rm -rf "$1"
        changed "removed $1"
    fi
}

uninstall_all() {
    uninstall_hall_display
    if [ "$use_systemd" -eq 1 ] && [ -f "$UNIT_FILE" ]; then
        systemctl disable --now --quiet kiosk.service || die "could not stop kiosk.service"
        changed "kiosk.service stopped and disabled"
    fi
    remove_path "$UNIT_FILE"
    if [ "$use_systemd" -eq 1 ]; then
        systemctl daemon-reload
    fi
    remove_path "$UDEV_RULE"
    remove_path "$VENV"
    remove_path "$CONFIG_DIR"
    if [ "$purge" -eq 1 ]; then
        local created=()
        if [ -f "$CREATED_GROUPS_FILE" ]; then
            mapfile -t created <"$CREATED_GROUPS_FILE"
        fi
        remove_path "$STATE_DIR"
        if id "$APP_USER" >/dev/null 2>&1; then
            userdel "$APP_USER" || die "cannot remove user $APP_USER"
            changed "user $APP_USER removed"
        fi
        if getent group "$APP_USER" >/dev/null; then
            groupdel "$APP_USER" || die "cannot remove group $APP_USER"
            changed "group $APP_USER removed"
        fi
        local group
        for group in "${created[@]}"; do
            if getent group "$group" >/dev/null; then
                groupdel "$group" || die "cannot remove group $group"
                changed "group $group removed (deploy.sh had created it)"
            fi
        done
    elif [ -d "$STATE_DIR" ]; then
        # The user stays with the state: its files keep an owner a reinstall can use again.
        say "kept $STATE_DIR (events, keys) and user $APP_USER; --uninstall --purge removes them"
    fi
    say "apt packages are left installed (other software may use them)"
    if [ "$changes" -eq 0 ]; then
        say "nothing to remove: the kiosk is not installed"
    else
        say "uninstalled: $changes change(s)"
    fi
}

# --- a hall display (--hall-display URL) -----------------------------------------------------
# A Pi whose screen is the waiting room's TV: Chromium in kiosk mode on the queue host's /hall/,
# started by systemd (systemd/hall-display.service), the screen never blanked. It runs no kiosk.

readonly HALL_USER=hall-display
readonly HALL_UNIT_FILE=/etc/systemd/system/hall-display.service
readonly HALL_PAM_FILE=/etc/pam.d/hall-display
readonly HALL_ENV_FILE=/etc/default/hall-display
# cage: a Wayland compositor that shows one program full screen, nothing else; libpam-systemd:
# the session logind gives the screen and keys to; the Chinese fonts for the page; curl: the
# display waits for the host's page before it opens it. The browser is chromium (Debian; Raspberry
# Pi OS since 2024) or chromium-browser (Raspberry Pi OS before).
readonly HALL_APT_PACKAGES=(cage libpam-systemd fonts-noto-cjk fontconfig curl ca-certificates)
hall_url=

# The page to show: the URL as given, or the host's /hall/ when only the host was given. Only
# the characters a URL needs, so it goes into the environment file and the unit as it is.
hall_display_url() {
    local url=$1 form='^https?://[][A-Za-z0-9.:-]+(/[A-Za-z0-9._~:/?#@!&*+,;=-]*)?$'
    [[ $url =~ $form ]] \
        || die "--hall-display needs the hall page's URL, e.g. http://192.168.1.20:8700/hall/ (got: ${url:-nothing})"
    case $url in
        http://*/*|https://*/*) [ "${url#*://*/}" != "" ] || url=${url}hall/ ;;
        *) url=$url/hall/ ;;
    esac
    printf '%s\n' "$url"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

ensure_hall_packages() {
    local missing=() package
    for package in "${HALL_APT_PACKAGES[@]}"; do
        installed "$package" || missing+=("$package")
    done
    installed chromium || installed chromium-browser || missing+=(chromium)
    if [ "${#missing[@]}" -eq 0 ]; then
        say "apt packages: all present"
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed: check the network and /etc/apt/sources.list*"
    if [[ " ${missing[*]} " == *" chromium "* ]] && ! apt-cache show chromium >/dev/null 2>&1; then
        missing=("${missing[@]/#chromium/chromium-browser}")
    fi
    say "apt packages: installing ${missing[*]} (the browser is large; this takes a while)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed (see apt's messages above)"
    changed "apt packages: installed ${missing[*]}"
}

ensure_hall_user() {
    local groups=() group
    for group in video render input; do
        getent group "$group" >/dev/null && groups+=("$group")
    done
    local options=(--system --user-group --home-dir /run/hall-display --no-create-home --shell /usr/sbin/nologin
                   --comment "hall display")
    [ "${#groups[@]}" -eq 0 ] || options+=(--groups "$(IFS=,; echo "${groups[*]}")")
    if ! id "$HALL_USER" >/dev/null 2>&1; then
        useradd "${options[@]}" "$HALL_USER" || die "cannot create user $HALL_USER"
        changed "user $HALL_USER created"
    fi
}

install_hall_display() {
    local url browser staged restart=0
    url=$(hall_display_url "$hall_url")
    if [ -f "$UNIT_FILE" ]; then
        die "this Pi runs kiosk.service, which draws on the screen itself; a hall display is a Pi of its own (or the TV's own browser on $url)"
    fi
    for staged in systemd/hall-display.service systemd/hall-display.pam; do
        [ -e "$SOURCE_DIR/$staged" ] || die "$SOURCE_DIR/$staged is missing: run deploy.sh from a complete source tree"
    done
    ensure_hall_packages
    ensure_hall_user
    browser=$(command -v chromium || command -v chromium-browser) || die "chromium is not installed"
    staged=$(mktemp)
    printf '# Written by deploy.sh --hall-display: the page this display shows, and its browser.\nHALL_URL=%s\nCHROMIUM=%s\n' \
        "$url" "$browser" >"$staged"
    if install_file "$staged" "$HALL_ENV_FILE" 0644; then
        restart=1
        changed "$HALL_ENV_FILE: shows $url"
    fi
    rm -f "$staged"
    if install_file "$SOURCE_DIR/systemd/hall-display.pam" "$HALL_PAM_FILE" 0644; then
        changed "PAM session $HALL_PAM_FILE installed"
    fi
    if install_file "$SOURCE_DIR/systemd/hall-display.service" "$HALL_UNIT_FILE" 0644; then
        restart=1
        changed "systemd unit $HALL_UNIT_FILE installed"
        [ "$use_systemd" -eq 0 ] || systemctl daemon-reload
    fi
    if [ "$use_systemd" -eq 0 ]; then
        say "systemd: --no-systemd, hall-display.service neither enabled nor started"
    else
        if ! systemctl is-enabled --quiet hall-display.service; then
            systemctl enable --quiet hall-display.service
            changed "hall-display.service enabled (it replaces the text login on tty1)"
        fi
        if ! systemctl is-active --quiet hall-display.service; then
            systemctl start hall-display.service || die "hall-display.service did not start: journalctl -u hall-display -n 50"
            changed "hall-display.service started"
        elif [ "$restart" -eq 1 ]; then
            systemctl restart hall-display.service || die "hall-display.service did not restart: journalctl -u hall-display -n 50"
            changed "hall-display.service restarted"
        fi
    fi
    if [ "$changes" -eq 0 ]; then
        say "nothing to change: this hall display already shows $url"
    else
        say "done: $changes change(s). The screen shows $url once the host answers (journalctl -u hall-display -f)"
    fi
}

uninstall_hall_display() {
    if [ "$use_systemd" -eq 1 ] && [ -f "$HALL_UNIT_FILE" ]; then
        systemctl disable --now --quiet hall-display.service || die "could not stop hall-display.service"
        changed "hall-display.service stopped and disabled"
    fi
    remove_path "$HALL_UNIT_FILE"
    remove_path "$HALL_PAM_FILE"
    remove_path "$HALL_ENV_FILE"
    if [ "$purge" -eq 1 ] && id "$HALL_USER" >/dev/null 2>&1; then
        userdel "$HALL_USER" || die "cannot remove user $HALL_USER"
        changed "user $HALL_USER removed"
    fi
}

main() {
    parse_args "$@"
    check_host
    if [ "$mode" = uninstall ]; then
        uninstall_all
    elif [ "$mode" = hall-display ]; then
        install_hall_display
    else
        install_all
    fi
}

main "$@"
