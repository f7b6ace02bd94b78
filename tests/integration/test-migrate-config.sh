#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# homebattery --migrate-config end to end: every config of the original firmware under tests/data/upstream
# is migrated, the result is saved next to the old file and must pass --check-config of this build; plus the
# exit statuses, --port, and the jkBmsBd alias in --check-config and --decode.
# Usage: test-migrate-config.sh HOMEBATTERY_BINARY SOURCE_ROOT
set -euo pipefail

if [ $# -ne 2 ]; then
        echo "usage: $0 HOMEBATTERY_BINARY SOURCE_ROOT" >&2
        exit 2
fi
hb=$1
src=$2
if [ ! -x "$hb" ]; then
        echo "not ok - $hb is not an executable" >&2
        exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-migrate.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# A cross build runs the binary through meson's exe wrapper (qemu-user).
wrap=()
if [ -n "${MESON_EXE_WRAPPER:-}" ]; then
        read -r -a wrap <<<"$MESON_EXE_WRAPPER"
fi
unset NOTIFY_SOCKET JOURNAL_STREAM WATCHDOG_USEC WATCHDOG_PID || true
# The shipped LUT (hm600-lut.csv) is found in the source tree, as an installed one would be.
export HOMEBATTERY_DATADIR="$src/etc"

failures=0
checks=0

pass() {
        checks=$((checks + 1))
        echo "ok - $1"
}

fail() {
        checks=$((checks + 1))
        failures=$((failures + 1))
        echo "not ok - $1"
        shift
        for detail in "$@"; do
                echo "#   $detail"
        done
        [ -s "$tmp/out" ] && sed 's/^/#   stdout: /' "$tmp/out" | head -40
        [ -s "$tmp/err" ] && sed 's/^/#   stderr: /' "$tmp/err" | head -40
        return 0
}

# run ARGS...: runs the binary (bounded), sets $rc, leaves stdout/stderr in $tmp/out and $tmp/err.
run() {
        set +e
        timeout 30 "${wrap[@]}" "$hb" "$@" <"${stdin:-/dev/null}" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        set -e
}

# ---- every upstream config: migrate, save next to the old file, check ----

mkdir "$tmp/old"
cp "$src"/tests/data/upstream/*.json "$tmp/old/"
# The 1.x example names a CA file; only its readability is checked.
: >"$tmp/old/ca.der"
n=0
for old in "$tmp"/old/config-*.json; do
        case "$old" in *.new.json) continue ;; esac
        n=$((n + 1))
        name=$(basename "$old" .json)
        new="$tmp/old/$name.new.json"
        run --migrate-config "$old" --port ext2=/dev/null
        if [ "$rc" -ne 0 ] || [ ! -s "$tmp/out" ]; then
                fail "$name: --migrate-config exits 0 with a configuration" "exit $rc"
                continue
        fi
        pass "$name: --migrate-config exits 0"
        cp "$tmp/out" "$new"
        if ! grep -q '^  "mqtt": {$' "$new"; then
                fail "$name: the output is 2-space indented JSON with an mqtt section"
        fi
        if grep -Eq '^(warning|note): ' "$tmp/err" && ! grep -Evq '^(warning|note): [^:]+: ' "$tmp/err"; then
                pass "$name: stderr holds only 'warning: KEY: ...' / 'note: KEY: ...' lines"
        else
                fail "$name: stderr holds only 'warning: KEY: ...' / 'note: KEY: ...' lines"
        fi
        run --check-config --config "$new"
        if [ "$rc" -eq 0 ]; then
                pass "$name: the migrated file passes --check-config"
        else
                fail "$name: the migrated file passes --check-config" "exit $rc, want 0"
        fi
done
if [ "$n" -ge 3 ]; then
        pass "$n upstream configs migrated"
else
        fail "at least 3 upstream configs under tests/data/upstream" "found $n"
fi

# What the 1.x example must show.
run --migrate-config "$tmp/old/config-1x.json"
for want in 'warning: devices.sol2: /dev/ttyUSB1 is also used by devices.bat4, which speaks Pylontech; genericSolar speaks Modbus RTU: device dropped' \
        'warning: devices.wallbox: driver heidelbergWallbox is not in this build' \
        'warning: devices.sol1.port: ext1 became /dev/ttyUSB0' \
        'note: devices.bat3: driver jkBmsBd is now called jkBmsBd4' \
        'openssl x509 -inform der -in ca.der -out ca.pem' \
        'warning: devices.garage bat: renamed to garage_bat'; do
        if grep -qF -- "$want" "$tmp/err"; then
                pass "1.x example: stderr says \"$want\""
        else
                fail "1.x example: stderr says \"$want\""
        fi
done

# ---- exit statuses and usage ----

run --migrate-config "$tmp/no-such-file.json"
if [ "$rc" -eq 66 ] && [ ! -s "$tmp/out" ]; then
        pass "a missing file: exit 66, nothing on stdout"
else
        fail "a missing file: exit 66, nothing on stdout" "exit $rc"
fi
printf '{"mqtt": ' >"$tmp/broken.json"
run --migrate-config "$tmp/broken.json"
if [ "$rc" -eq 78 ]; then pass "not JSON: exit 78"; else fail "not JSON: exit 78" "exit $rc"; fi
printf '[1, 2]\n' >"$tmp/array.json"
run --migrate-config "$tmp/array.json"
if [ "$rc" -eq 78 ]; then pass "not an object: exit 78"; else fail "not an object: exit 78" "exit $rc"; fi
run --migrate-config "$tmp/old/config-1x.json" --port ext3=/dev/x
if [ "$rc" -eq 64 ]; then pass "--port ext3=...: exit 64"; else fail "--port ext3=...: exit 64" "exit $rc"; fi
run --port ext1=/dev/x
if [ "$rc" -eq 64 ]; then pass "--port without --migrate-config: exit 64"; else fail "--port alone: exit 64" "exit $rc"; fi
before=$(find "$tmp" | sort | md5sum)
run --migrate-config "$tmp/old/config-0x.json" --port ext1=/dev/serial/by-id/usb-mppt
after=$(find "$tmp" | sort | md5sum)
if [ "$rc" -eq 0 ] && grep -q '"port": "/dev/serial/by-id/usb-mppt"' "$tmp/out" && [ "$before" = "$after" ]; then
        pass "--port ext1=PATH is used, and no file is written"
else
        fail "--port ext1=PATH is used, and no file is written" "exit $rc"
fi

# ---- the jkBmsBd alias ----

cat >"$tmp/alias.json" <<'EOF'
{"mqtt": {"host": "127.0.0.1:1883"}, "devices": {"bat": {"driver": "jkBmsBd", "mac": "c8:47:8c:00:00:03"}}}
EOF
run --check-config --config "$tmp/alias.json"
if [ "$rc" -eq 0 ] && grep -q '^note: .*devices.bat: driver jkBmsBd is now called jkBmsBd4$' "$tmp/err"; then
        pass "--check-config accepts jkBmsBd with one note"
else
        fail "--check-config accepts jkBmsBd with one note" "exit $rc"
fi
if [ "$(grep -c 'is now called' "$tmp/err")" -eq 1 ]; then
        pass "one note per alias used"
else
        fail "one note per alias used"
fi
printf '# nothing\n' >"$tmp/empty.hex"
stdin="$tmp/empty.hex" run --decode jkBmsBd
if [ "$rc" -eq 0 ]; then pass "--decode jkBmsBd is accepted"; else fail "--decode jkBmsBd is accepted" "exit $rc"; fi

echo "# $checks checks, $failures failed"
[ "$failures" -eq 0 ]
