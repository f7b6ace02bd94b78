#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Prints the daemon's MQTT traffic readably: binary compatibility payloads are
decoded by their topic (mqtt.md), text and JSON are shown as they are."""
import argparse
import struct
import sys
import time

import paho.mqtt.client as mqtt

# topic suffix -> (struct format, scale, unit)
BINARY = {
    "state": (">b", 1, ""),
    "p": (">H", 1, "W"),
    "e": (">H", 1, "Wh"),
    "i": (">h", 10, "A"),
    "c": (">H", 10, "Ah"),
    "v": (">H", 100, "V"),
    "soc": (">B", 1, "%"),
    "n": (">H", 1, "cycles"),
}


def decode(topic, payload):
    parts = topic.split("/")
    key = parts[-1]
    if len(parts) >= 2 and parts[-2] == "cell":
        return "%.3f V" % (struct.unpack(">H", payload)[0] / 1000) if len(payload) == 2 else payload.hex()
    if len(parts) >= 2 and parts[-2] == "temp":
        return "%.1f °C" % (struct.unpack(">h", payload)[0] / 10) if len(payload) == 2 else payload.hex()
    if key in BINARY and parts[1] in ("bat", "cha", "inv", "sol") and key != "set":
        fmt, scale, unit = BINARY[key]
        if len(payload) == struct.calcsize(fmt):
            v = struct.unpack(fmt, payload)[0]
            return ("%g %s" % (v / scale, unit)).strip()
    try:
        return payload.decode("utf-8") if payload else "(empty)"
    except UnicodeDecodeError:
        return payload.hex()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", default="homebattery")
    ap.add_argument("--for", dest="duration", type=float, default=0)
    args = ap.parse_args()

    c = mqtt.Client(client_id="homebattery-monitor", protocol=mqtt.MQTTv5)

    def on_connect(client, userdata, flags, rc, props=None):
        client.subscribe(args.root + "/#")

    def on_message(client, userdata, msg):
        print("%s  %-40s %s" % (time.strftime("%H:%M:%S"), msg.topic, decode(msg.topic, msg.payload)), flush=True)

    c.on_connect = on_connect
    c.on_message = on_message
    c.connect(args.host, args.port)
    start = time.monotonic()
    while not args.duration or time.monotonic() - start < args.duration:
        c.loop(timeout=0.2)
    c.disconnect()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
