#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The command line around the configuration (spec/config.md): --check-config on the example and on broken
# files (exit 78, the key path on stderr), --version/--help, and the daemon refusing a broken file or a driver
# of the spec is registered. Usage: test-check-config.sh HOMEBATTERY_BINARY SOURCE_ROOT
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-check-config.XXXXXX")
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
        chmod -R u+rwX "$tmp" 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT

# A cross build runs the binary through meson's exe wrapper (qemu-user): meson
# test passes it in MESON_EXE_WRAPPER.
wrap=()
if [ -n "${MESON_EXE_WRAPPER:-}" ]; then
        read -r -a wrap <<<"$MESON_EXE_WRAPPER"
fi

# The daemon must not think it runs under systemd.
unset NOTIFY_SOCKET JOURNAL_STREAM WATCHDOG_USEC WATCHDOG_PID || true

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
        if [ -s "$tmp/out" ]; then
                sed 's/^/#   stdout: /' "$tmp/out"
        fi
        if [ -s "$tmp/err" ]; then
                sed 's/^/#   stderr: /' "$tmp/err"
        fi
}

# run ARGS...: runs the binary (bounded), sets $rc, leaves stdout/stderr in $tmp/out and $tmp/err.
run() {
        set +e
        timeout 30 "${wrap[@]}" "$hb" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
        rc=$?
        set -e
}

# A log line of the running daemon (not under the journal): "HH:MM:SS.mmm level [sender] text".
daemon_logged() {
        grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ' "$tmp/err"
}

# ---- the example, --version, --help ----

run --check-config --config "$src/etc/config.example.json"
if [ "$rc" -eq 0 ] && grep -q 'valid' "$tmp/out"; then
        pass "--check-config accepts etc/config.example.json"
else
        fail "--check-config accepts etc/config.example.json" "exit $rc, want 0"
fi

run --check-config -c "$src/etc/config.example.json"
if [ "$rc" -eq 0 ]; then
        pass "--check-config -c PATH accepts the example"
else
        fail "--check-config -c PATH accepts the example" "exit $rc, want 0"
fi

run --version
if [ "$rc" -eq 0 ] && grep -Eq '^homebattery [0-9]+\.[0-9]+' "$tmp/out"; then
        pass "--version exits 0 and prints the version"
else
        fail "--version exits 0 and prints the version" "exit $rc"
fi

run --help
if [ "$rc" -eq 0 ] && grep -q -- '--check-config' "$tmp/out" && grep -q -- '--config' "$tmp/out"; then
        pass "--help exits 0 and lists the options"
else
        fail "--help exits 0 and lists the options" "exit $rc"
fi
if ! awk 'length($0) > 80 { bad = 1 } END { exit bad }' "$tmp/out"; then
        fail "--help fits 80 columns" "$(awk 'length($0) > 80' "$tmp/out" | head -3)"
else
        pass "--help fits 80 columns"
fi

run --version
if grep -Eq '^compiled with: [+-]gpio' "$tmp/out"; then
        pass "--version lists the optional parts (gpio)"
else
        fail "--version lists the optional parts (gpio)" "$(cat "$tmp/out")"
fi

run --no-such-option
if [ "$rc" -eq 64 ] && grep -q "Try 'homebattery --help'" "$tmp/err"; then
        pass "an unknown option says to try --help (exit 64)"
else
        fail "an unknown option says to try --help (exit 64)" "exit $rc: $(cat "$tmp/err")"
fi

# ---- broken files: exit 78, every problem on stderr naming the file and the key path ----

mqtt='"mqtt": {"host": "127.0.0.1:1"}'
llt='"bat1": {"driver": "lltPowerBmsV4Ble", "mac": "aa:bb:cc:dd:ee:ff"}'
printf '2;30\n100;600\n' >"$tmp/lut.csv"

# broken NAME WANT JSON: WANT must appear on stderr after "<file>: " (for parse errors after "<file>:").
n_broken=0
broken() {
        local name=$1 want=$2 json=$3
        local f="$tmp/broken-$n_broken.json"
        n_broken=$((n_broken + 1))
        printf '%s\n' "$json" >"$f"
        run --check-config --config "$f"
        if [ "$rc" -ne 78 ]; then
                fail "--check-config rejects: $name" "exit $rc, want 78"
        elif ! grep -qF -- "$f:" "$tmp/err" || ! grep -qF -- "$want" "$tmp/err"; then
                fail "--check-config rejects: $name" "stderr lacks '$f:' or '$want'"
        elif [[ "$want" != *"parse error"* ]] && ! grep -qF -- "$f: $want" "$tmp/err"; then
                fail "--check-config rejects: $name" "stderr lacks '$f: $want'"
        elif grep -q 'valid' "$tmp/out"; then
                fail "--check-config rejects: $name" "stdout claims the file is valid"
        else
                pass "--check-config rejects: $name (exit 78, names $want)"
        fi
}

broken "a JSON syntax error" "parse error" '{"mqtt": {"host": "127.0.0.1:1"},}'
broken "trailing garbage" "parse error" "{$mqtt} x"
broken "top level not an object" "expected a JSON object" '["mqtt"]'
broken "missing mqtt section" "mqtt: required section is missing" '{}'
broken "mqtt.host without port" "mqtt.host: expected host:port" '{"mqtt": {"host": "broker"}}'
broken "unknown top-level key" "mqttt: unknown key" "{$mqtt, \"mqttt\": {}}"
broken "number written with a comma" 'supervisor.cell_low.threshold: expected a number, got "3,1"' \
        "{$mqtt, \"supervisor\": {\"cell_low\": {\"enabled\": true, \"threshold\": \"3,1\"}}}"
broken "cell threshold out of range" "supervisor.cell_high.threshold: 3650 out of range" \
        "{$mqtt, \"supervisor\": {\"cell_high\": {\"enabled\": true, \"threshold\": 3650}}}"
broken "netzero without enabled" "netzero.enabled: required boolean is missing" \
        "{$mqtt, \"netzero\": {\"signed\": true}}"
broken "unknown driver" 'devices.bat1.driver: unknown driver "jkBmsBD4"' \
        "{$mqtt, \"devices\": {\"bat1\": {\"driver\": \"jkBmsBD4\", \"mac\": \"aa:bb:cc:dd:ee:ff\"}}}"
broken "bad MAC" "devices.bat1.mac: expected a MAC address" \
        "{$mqtt, \"devices\": {\"bat1\": {\"driver\": \"daly8S24V60A\", \"mac\": \"aa-bb-cc-dd-ee-ff\"}}}"
broken "BLE interval out of range" "devices.bat1.interval: 1 out of range" \
        "{$mqtt, \"devices\": {\"bat1\": {\"driver\": \"jkBmsBd4\", \"mac\": \"aa:bb:cc:dd:ee:ff\", \"interval\": 1}}}"
broken "bad device name" 'devices: invalid device name "bat 1"' \
        "{$mqtt, \"devices\": {\"bat 1\": {\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"aa:bb:cc:dd:ee:ff\"}}}"
broken "missing power LUT file" "devices.inv.power_lut: cannot read file" \
        "{$mqtt, \"general\": {\"inverter_power\": 100}, \"devices\": {\"inv\": {\"driver\": \"ahoyDtu\", \"host\": \"127.0.0.1:80\", \"id\": 0, \"power_lut\": \"no-such-lut.csv\"}}}"
broken "mqtt.root with a wildcard" "mqtt.root: expected a topic" '{"mqtt": {"host": "127.0.0.1:1", "root": "home/#"}}'
broken "http token too short" "http.token: too short" "{$mqtt, \"http\": {\"token\": \"short\"}}"
broken "inverter without netzero and inverter_power" "general.inverter_power: required" \
        "{$mqtt, \"devices\": {\"inv\": {\"driver\": \"ahoyDtu\", \"host\": \"127.0.0.1:80\", \"id\": 0, \"power_lut\": \"lut.csv\"}}}"
broken "netzero without a consumption device" "netzero.enabled: netzero needs at least one consumption device" \
        "{$mqtt, \"netzero\": {\"enabled\": true, \"signed\": true}, \"general\": {\"inverter_power\": 100}, \"devices\": {\"inv\": {\"driver\": \"ahoyDtu\", \"host\": \"127.0.0.1:80\", \"id\": 0, \"power_lut\": \"lut.csv\"}}}"
broken "cell_low not below cell_high" "supervisor.cell_low.threshold: must be below" \
        "{$mqtt, \"supervisor\": {\"cell_low\": {\"enabled\": true, \"threshold\": 3.6}, \"cell_high\": {\"enabled\": true, \"threshold\": 3.5}}}"
broken "bad victron control" "devices.mppt.control: expected" \
        "{$mqtt, \"devices\": {\"mppt\": {\"driver\": \"victronMppt\", \"port\": \"/dev/null\", \"control\": \"gpio\"}}}"
broken "wrong type in a check" "supervisor.mqtt_offline.enabled: expected true or false" \
        "{$mqtt, \"supervisor\": {\"mqtt_offline\": {\"enabled\": \"yes\", \"threshold\": 60}}}"
broken "a heater without the heater section" "heater: required section is missing" \
        "{$mqtt, \"devices\": {\"hz\": {\"driver\": \"shellyHeater\", \"host\": \"127.0.0.1:80\"}}}"
broken "heater deactivate not above activate" "heater.deactivate.battery: 5 °C must be above heater.activate.battery" \
        "{$mqtt, \"devices\": {\"hz\": {\"driver\": \"shellyHeater\", \"host\": \"127.0.0.1:80\"}}, \"heater\": {\"activate\": {\"battery\": 8}, \"deactivate\": {\"battery\": 5}}}"

# ---- issue 13: files that passed the check and then broke the daemon ----

broken "a NUL in mqtt.client_id" 'mqtt.client_id: the value contains a NUL character' \
        '{"mqtt": {"host": "127.0.0.1:1", "client_id": "hb\u0000x"}}'
broken "mqtt.root not UTF-8" 'mqtt.root: the value is not valid UTF-8' \
        $'{"mqtt": {"host": "127.0.0.1:1", "root": "home\xffbattery"}}'
broken "a control character in mqtt.user" 'mqtt.user: expected at most 65535 bytes without control' \
        '{"mqtt": {"host": "127.0.0.1:1", "user": "u\u0007"}}'
broken "two meters on one topic" 'devices.m2.topic: MQTT topic "meter/p" overlaps "meter/p" of devices.m1.topic' \
        "{$mqtt, \"devices\": {\"m1\": {\"driver\": \"mqttConsumption\", \"topic\": \"meter/p\"}, \"m2\": {\"driver\": \"mqttConsumption\", \"topic\": \"meter/p\"}}}"
broken "two mqttBattery on one root_topic" 'devices.b2.root_topic: MQTT topic "o/bat/#" overlaps "o/bat/#" of devices.b1.root_topic' \
        "{$mqtt, \"devices\": {\"b1\": {\"driver\": \"mqttBattery\", \"root_topic\": \"o/bat\", \"cells_count\": 8, \"temperature_count\": 1}, \"b2\": {\"driver\": \"mqttBattery\", \"root_topic\": \"o/bat\", \"cells_count\": 8, \"temperature_count\": 1}}}"
broken "a meter on the daemon's own mode/set" 'devices.m.topic: MQTT topic "homebattery/mode/set" overlaps this daemon' \
        "{$mqtt, \"devices\": {\"m\": {\"driver\": \"mqttConsumption\", \"topic\": \"homebattery/mode/set\"}}}"
broken "temperature check, battery without sensors" 'supervisor.temp_low_charge: enabled, but no battery can report a temperature (devices.garage (mqttBattery))' \
        "{$mqtt, \"supervisor\": {\"temp_low_charge\": {\"enabled\": true, \"threshold\": 10}}, \"devices\": {\"garage\": {\"driver\": \"mqttBattery\", \"root_topic\": \"o/bat\", \"cells_count\": 8, \"temperature_count\": 0}}}"
broken "an integer beyond 64 bits" 'netzero.power_offset: 1000000000000000000000000000000 out of range' \
        "{$mqtt, \"netzero\": {\"enabled\": false, \"signed\": true, \"power_offset\": 1000000000000000000000000000000}}"
broken "1e30 where an integer belongs" 'netzero.power_offset: expected an integer, got 1e30' \
        "{$mqtt, \"netzero\": {\"enabled\": false, \"signed\": true, \"power_offset\": 1e30}}"
broken "http.listen with a name" 'http.listen: expected an IP address or localhost' \
        "{$mqtt, \"http\": {\"listen\": \"myhost:8080\"}}"

# A duplicate key is named with the line and column of its second occurrence.
f="$tmp/duplicate.json"
printf '{"mqtt": {"host": "127.0.0.1:1"},\n "supervisor": {"cell_low": {"enabled": true, "threshold": 3.1}},\n "supervisor": {}}\n' >"$f"
run --check-config --config "$f"
if [ "$rc" -eq 78 ] && grep -qxF -- "$f:3:2: duplicate key \"supervisor\"" "$tmp/err"; then
        pass "--check-config rejects a duplicate key with file:line:col"
else
        fail "--check-config rejects a duplicate key with file:line:col" "exit $rc, want 78 and '$f:3:2: duplicate key \"supervisor\"'"
fi

# A password written into the host is not echoed.
f="$tmp/secret-host.json"
printf '%s\n' '{"mqtt": {"host": "user:hunter2-pw@10.0.0.2:1883"}}' >"$f"
run --check-config --config "$f"
if [ "$rc" -eq 78 ] && grep -qF 'mqtt.host: expected host:port' "$tmp/err" && grep -qF '"***@10.0.0.2:1883"' "$tmp/err" &&
        ! grep -qF hunter2 "$tmp/err" "$tmp/out"; then
        pass "--check-config masks user:password@ in mqtt.host"
else
        fail "--check-config masks user:password@ in mqtt.host" "exit $rc, want 78, the host masked"
fi

# GPIO control needs libgpiod in the build: refused at check time, not at start.
f="$tmp/gpio.json"
printf '%s\n' "{$mqtt, \"devices\": {\"mppt\": {\"driver\": \"victronMppt\", \"port\": \"/dev/null\", \"control\": {\"gpio\": {\"line\": 4}}}}}" >"$f"
run --check-config --config "$f"
build_config="$(dirname "$hb")/hb-build-config.h"
if grep -q '#define HAVE_LIBGPIOD 0' "$build_config" 2>/dev/null; then
        if [ "$rc" -eq 78 ] && grep -qF "$f: devices.mppt.control.gpio: this build has no GPIO support" "$tmp/err"; then
                pass "--check-config rejects GPIO control in a build without libgpiod"
        else
                fail "--check-config rejects GPIO control in a build without libgpiod" "exit $rc, want 78"
        fi
elif [ "$rc" -eq 0 ]; then
        pass "--check-config accepts GPIO control in a build with libgpiod"
else
        fail "--check-config accepts GPIO control in a build with libgpiod" "exit $rc, want 0"
fi

# Several mistakes at once: each is listed.
f="$tmp/many.json"
printf '%s\n' "{\"mqtt\": {\"host\": \"broker\", \"root\": \"/x\"}, \"logging\": {\"level\": \"loud\"}, \"devices\": {\"bat1\": {\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"nope\"}}}" >"$f"
run --check-config --config "$f"
missing=""
for key in mqtt.host mqtt.root logging.level devices.bat1.mac; do
        grep -qF -- "$f: $key:" "$tmp/err" || missing="$missing $key"
done
if [ "$rc" -eq 78 ] && [ -z "$missing" ]; then
        pass "--check-config lists every error of a file with four mistakes"
else
        fail "--check-config lists every error of a file with four mistakes" "exit $rc, missing:$missing"
fi

# A secret of the wrong type is not echoed.
f="$tmp/secret.json"
printf '%s\n' '{"mqtt": {"host": "127.0.0.1:1", "user": "u", "password": 73196482}}' >"$f"
run --check-config --config "$f"
if [ "$rc" -eq 78 ] && grep -qF "mqtt.password" "$tmp/err" && ! grep -qF 73196482 "$tmp/err" "$tmp/out"; then
        pass "--check-config does not echo a password"
else
        fail "--check-config does not echo a password" "exit $rc"
fi

# ---- files that cannot be read ----

f="$tmp/does-not-exist.json"
run --check-config --config "$f"
if [ "$rc" -eq 78 ] && grep -qF -- "$f" "$tmp/err"; then
        pass "missing config file exits 78 and names the file"
else
        fail "missing config file exits 78 and names the file" "exit $rc, want 78"
fi

run --check-config --config "$tmp"
if [ "$rc" -eq 78 ] && grep -qF -- "$tmp" "$tmp/err"; then
        pass "a directory as config file exits 78"
else
        fail "a directory as config file exits 78" "exit $rc, want 78"
fi

# A FIFO is refused at once, not waited on (the old code blocked in fopen until a writer came).
mkfifo "$tmp/fifo.json"
set +e
timeout 5 "${wrap[@]}" "$hb" --check-config --config "$tmp/fifo.json" </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
if [ "$rc" -eq 78 ] && grep -qF -- "$tmp/fifo.json: is a FIFO, not a regular file" "$tmp/err"; then
        pass "a FIFO as config file exits 78 at once"
else
        fail "a FIFO as config file exits 78 at once" "exit $rc, want 78 (124: it hung)"
fi

run --check-config --config /dev/null
if [ "$rc" -eq 78 ] && grep -qF -- "/dev/null: is a character device, not a regular file" "$tmp/err"; then
        pass "a device as config file exits 78"
else
        fail "a device as config file exits 78" "exit $rc, want 78"
fi

truncate -s 2M "$tmp/big.json"
run --check-config --config "$tmp/big.json"
if [ "$rc" -eq 78 ] && grep -qF -- "$tmp/big.json: too large (2097152 bytes): a configuration file is at most 1 MiB" "$tmp/err"; then
        pass "a config file over 1 MiB exits 78 with the size"
else
        fail "a config file over 1 MiB exits 78 with the size" "exit $rc, want 78"
fi

# A FIFO named inside the file (a power LUT) is refused too, not read.
mkfifo "$tmp/lut-fifo.csv"
printf '%s\n' "{$mqtt, \"general\": {\"inverter_power\": 100}, \"devices\": {\"inv\": {\"driver\": \"ahoyDtu\", \"host\": \"127.0.0.1:80\", \"id\": 0, \"power_lut\": \"lut-fifo.csv\"}}}" >"$tmp/lut-fifo.json"
set +e
timeout 5 "${wrap[@]}" "$hb" --check-config --config "$tmp/lut-fifo.json" </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
if [ "$rc" -eq 78 ] && grep -qF -- "devices.inv.power_lut: \"$tmp/lut-fifo.csv\" is not a regular file" "$tmp/err"; then
        pass "a FIFO as power LUT exits 78 at once"
else
        fail "a FIFO as power LUT exits 78 at once" "exit $rc, want 78 (124: it hung)"
fi

if [ "$(id -u)" -eq 0 ]; then
        echo "ok - unreadable config file exits 78 # SKIP running as root (root can read a mode 000 file)"
else
        f="$tmp/unreadable.json"
        printf '{%s}\n' "$mqtt" >"$f"
        chmod 000 "$f"
        run --check-config --config "$f"
        if [ "$rc" -eq 78 ] && grep -qF -- "$f" "$tmp/err"; then
                pass "unreadable config file exits 78 and names the file"
        else
                fail "unreadable config file exits 78 and names the file" "exit $rc, want 78"
        fi
        chmod 600 "$f"
fi

# ---- the daemon itself ----

f="$tmp/daemon-broken.json"
printf '%s\n' "{$mqtt, \"devices\": {$llt}, \"supervisor\": {\"cell_low\": {\"enabled\": true, \"threshold\": \"3,1\"}}}" >"$f"
run --config "$f"
if [ "$rc" -ne 78 ]; then
        fail "the daemon exits 78 on a broken file" "exit $rc, want 78"
elif ! grep -qF -- "$f: supervisor.cell_low.threshold" "$tmp/err"; then
        fail "the daemon exits 78 on a broken file" "the key path is not on stderr"
elif daemon_logged; then
        fail "the daemon exits 78 on a broken file" "it logged as a running daemon: it started something"
else
        pass "the daemon exits 78 on a broken file before starting anything"
fi

run --config "$tmp/does-not-exist.json"
if [ "$rc" -eq 78 ] && ! daemon_logged; then
        pass "the daemon exits 78 on a missing file"
else
        fail "the daemon exits 78 on a missing file" "exit $rc, want 78"
fi

# Every one of the nine drivers of the spec is registered (and, since all
# transports exist, none is refused as "not implemented" any more).
run --help
for d in lltPowerBmsV4Ble daly8S24V60A jkBmsBd4 mqttBattery victronMppt shellyCharger ahoyDtu openDtu mqttConsumption; do
        if grep -qF "$d" "$tmp/out"; then
                pass "--help lists driver $d"
        else
                fail "--help lists driver $d" "not in the driver list"
        fi
done

# ---- usage errors are not config errors ----

run --no-such-option
if [ "$rc" -ne 0 ] && [ "$rc" -ne 78 ]; then
        pass "an unknown option is a usage error (exit $rc)"
else
        fail "an unknown option is a usage error" "exit $rc"
fi

echo "# $checks checks, $failures failed"
if [ "$failures" -ne 0 ]; then
        exit 1
fi
exit 0
