#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The layer rules of docs/architecture.md, checked on the sources' #include
# lines: drivers see only the public headers, their own headers, libc and
# json-c; the control core sees no loop, socket or client library; src/
# never includes a driver header except where the daemon wires drivers in.
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[1])
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)

CONTROL = {"battery.c", "class.c", "consumption.c", "control.c", "energy.c", "heater.c", "inverter.c", "lut.c", "mode.c",
           "netzero.c", "netzero-pulse.c", "output-limits.c", "supervisor.c"}
CONTROL_HEADERS = {"class.h", "control.h", "heater.h", "mode.h", "netzero.h", "netzero-pulse.h", "output-limits.h", "supervisor.h", "outputs.h", "config.h"}
# Whatever pulls in an event loop, a bus, a socket API or a client library.
LOOP_LIBS = ("systemd/", "curl/", "mosquitto", "microhttpd", "sys/socket.h", "netinet/", "arpa/", "sys/epoll.h",
             "gpiod.h")
# Where src/ may name a driver header: the registry and the --decode option.
SRC_MAY_INCLUDE_DRIVERS = {"registry.c": {"drivers.h"}, "main.c": {"bms-decode-tool.h"}}


def includes(path):
    return [(m.group(1), m.group(2)) for m in INCLUDE.finditer(path.read_text())]


def main():
    problems = []
    driver_headers = {p.name for p in (ROOT / "drivers").glob("*.h")}
    public = {"homebattery/" + p.name for p in (ROOT / "include" / "homebattery").glob("*.h")}

    for path in sorted((ROOT / "drivers").glob("*.[ch]")):
        for kind, name in includes(path):
            if kind == "<":
                if name.startswith("json-c/") or "/" not in name or name.startswith("sys/"):
                    if not name.startswith(LOOP_LIBS):
                        continue
                if name == "gpiod.h" and path.name == "victron-mppt.c":
                    continue  # the GPIO line of the MPPT's remote input (optional)
                problems.append(f"drivers/{path.name}: includes <{name}>")
            elif name not in public and name not in driver_headers and name != "hb-build-config.h":
                problems.append(f"drivers/{path.name}: includes \"{name}\" (not public, not a driver header)")

    for name in sorted(CONTROL):
        path = ROOT / "src" / name
        for kind, inc in includes(path):
            if kind == "<" and inc.startswith(LOOP_LIBS):
                problems.append(f"src/{name}: control core includes <{inc}>")
            elif kind == '"' and inc not in public and inc not in CONTROL_HEADERS:
                problems.append(f"src/{name}: control core includes \"{inc}\"")

    for path in sorted((ROOT / "src").glob("*.[ch]")):
        allowed = SRC_MAY_INCLUDE_DRIVERS.get(path.name, set())
        for kind, inc in includes(path):
            if kind == '"' and inc in driver_headers and inc not in allowed and not (ROOT / "src" / inc).exists():
                problems.append(f"src/{path.name}: includes the driver header \"{inc}\"")

    for p in problems:
        print(p)
    print(f"layers: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
