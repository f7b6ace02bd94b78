# SPDX-License-Identifier: MIT
# Shared by scripts/demo and scripts/test: install what is missing, build.

HB_PACKAGES=(
        meson ninja-build pkg-config gcc clang
        libsystemd-dev libmosquitto-dev libcurl4-openssl-dev libjson-c-dev libmicrohttpd-dev libcmocka-dev libgpiod-dev
        mosquitto mosquitto-clients openssl dbus socat
        python3 python3-paho-mqtt python3-dbus-next python3-aiohttp chromium valgrind
        dpkg-dev debhelper fakeroot lintian groff-base systemd
)

hb_root() {
        cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd
}

# Installs the Debian packages that are not there yet (needs root or sudo).
hb_ensure_packages() {
        local missing=() p
        for p in "${HB_PACKAGES[@]}" "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        echo "Installing missing packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# hb_build DIR [meson options...]: configure once, then build.
hb_build() {
        local dir=$1
        shift
        if [ ! -f "$dir/build.ninja" ]; then
                meson setup "$dir" "$@" >/dev/null
        elif [ $# -gt 0 ]; then
                # An existing tree takes the options of today's script.
                meson configure "$dir" "$@" >/dev/null
        fi
        ninja -C "$dir" >/dev/null
}

hb_free_port() {
        /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
