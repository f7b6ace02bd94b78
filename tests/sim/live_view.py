#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Live view of the demo: what the daemon publishes (MQTT, binary and JSON
topics) next to what the simulated home (home.py) really does, refreshed
every second. On a terminal the screen is redrawn; otherwise (a pipe, a log
file, --plain) one line is printed per second. --for SECONDS stops it by
itself; at the end (also on Ctrl-C or SIGTERM) it prints a summary: energy
imported and exported at the grid meter, commands the devices received."""
import argparse
import json
import os
import signal
import struct
import sys
import threading
import time
import urllib.request

import paho.mqtt.client as mqtt

KINDS = {"lltPowerBmsV4Ble": "llt", "daly8S24V60A": "daly", "jkBmsBd4": "jk", "mqttBattery": "mqtt",
         "pylonLv": "pylon", "victronSmartShunt": "shunt"}
CLASSES = (("inv", "inverter"), ("sol", "solar"), ("cha", "charger"))
STATE = {1: "on", 0: "off", -1: "fault/syncing"}
CS_NAMES = {0: "off", 2: "fault", 3: "bulk", 4: "absorption", 5: "float", 7: "equalize", 245: "starting",
            247: "equalize", 252: "ext. control"}


class Daemon:
    """The daemon's topics as last received."""

    def __init__(self, root):
        self.root = root
        self.lock = threading.Lock()
        self.v = {}
        self.bats = {}
        self.subscribed = threading.Event()
        self.connected = False

    def on_message(self, topic, payload):
        r = self.root + "/"
        if not topic.startswith(r):
            return
        t = topic[len(r):]
        parts = t.split("/")
        with self.lock:
            try:
                if t in ("mode/actual", "locked", "status"):
                    self.v[t] = payload.decode("utf-8", "replace")
                elif t in ("locks", "consumption", "bat/sum"):
                    self.v[t] = json.loads(payload)
                elif len(parts) == 2 and parts[0] in ("inv", "sol", "cha") and parts[1] == "state" and len(payload) == 1:
                    self.v[t] = struct.unpack(">b", payload)[0]
                elif len(parts) == 2 and parts[0] in ("inv", "sol", "cha") and parts[1] == "p" and len(payload) == 2:
                    self.v[t] = struct.unpack(">H", payload)[0]
                elif len(parts) == 2 and parts[0] in ("inv", "sol", "cha") and parts[1] == "sum":
                    self.v[t] = json.loads(payload)
                elif t == "bat/i" and len(payload) == 2:
                    self.v[t] = struct.unpack(">h", payload)[0] / 10.0
                elif len(parts) == 3 and parts[:2] == ["bat", "dev"]:
                    self.bats.setdefault(parts[2], {})["json"] = json.loads(payload)
                    self.bats[parts[2]]["t"] = time.monotonic()
                elif len(parts) == 4 and parts[:2] == ["bat", "dev"] and parts[3] == "soc" and len(payload) == 1:
                    self.bats.setdefault(parts[2], {})["soc"] = payload[0]
            except (ValueError, struct.error):
                pass

    def get(self, key, default=None):
        with self.lock:
            return self.v.get(key, default)

    def batteries(self):
        with self.lock:
            return {k: dict(v) for k, v in self.bats.items()}


def fetch(url, timeout=1.5):
    """home.py's /state, or None."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            st = json.loads(r.read())
    except (OSError, ValueError):
        return None
    return st if isinstance(st, dict) and "battery" in st and "energy" in st else None


def fmt_w(w, signed=False):
    if w is None:
        return "   ? W"
    return ("%+5d W" if signed else "%5d W") % round(w)


def hms(s):
    s = int(max(0, s))
    return "%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) if s >= 3600 else "%02d:%02d" % (s // 60, s % 60)


class View:
    def __init__(self, args):
        self.args = args
        self.cfg = {}
        if args.config:
            with open(args.config) as f:
                self.cfg = json.load(f)
        self.root = args.root or self.cfg.get("mqtt", {}).get("root", "homebattery")
        self.kinds = {n: KINDS.get(d.get("driver"), "?") for n, d in self.cfg.get("devices", {}).items()
                      if d.get("driver") in KINDS and d.get("driver") != "mqttBattery"}
        self.offset = self.cfg.get("netzero", {}).get("power_offset", 10) if self.cfg.get("netzero") else None
        self.http = None
        if "http" in self.cfg:
            listen = self.cfg["http"].get("listen", "127.0.0.1:8080")
            self.http = "http://%s/" % listen
        self.home = "http://" + args.home
        self.daemon = Daemon(self.root)
        self.t0 = time.monotonic()
        self.first = None
        self.last = None
        self.tty = sys.stdout.isatty() and not args.plain
        self.stopping = False

    # ---------------------------------------------------------------- mqtt
    def connect(self):
        host, _, port = self.args.broker.rpartition(":")
        c = mqtt.Client(client_id="homebattery-live-view-%d" % os.getpid())
        d = self.daemon

        def on_connect(client, userdata, flags, rc):
            d.connected = rc == 0
            if rc == 0:
                client.subscribe(self.root + "/#", qos=1)

        def on_disconnect(client, userdata, rc):
            d.connected = False

        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        c.on_subscribe = lambda *a: d.subscribed.set()
        c.on_message = lambda client, userdata, msg: d.on_message(msg.topic, bytes(msg.payload))
        c.reconnect_delay_set(1, 5)
        c.connect_async(host, int(port))
        c.loop_start()
        self.client = c
        if not d.subscribed.wait(10):
            raise SystemExit("live view: cannot subscribe on %s" % self.args.broker)
        if self.args.ready_file:
            with open(self.args.ready_file, "w") as f:
                f.write("subscribed\n")

    # -------------------------------------------------------------- render
    def lines(self, st):
        d = self.daemon
        out = []
        up = time.monotonic() - self.t0
        mode = d.get("mode/actual") or "?"
        status = d.get("status") or "?"
        if st:
            head = "homebattery demo  %s  (plant time %s, speed ×%g)" % (hms(up), hms(st["plant_time_s"]), st["speed"])
        else:
            head = "homebattery demo  %s  (the simulated home does not answer)" % hms(up)
        out.append(head)
        if self.http:
            out.append("status page  %s" % self.http)
        locks = d.get("locks")
        if locks is None:
            lock_txt = d.get("locked") or "?"
        else:
            lock_txt = ", ".join("%s (%s)" % (l["name"], "+".join(l.get("locks", []))) for l in locks) or "none"
        out.append("mode         %-10s  daemon %s, MQTT %s" % (mode, status, "ok" if d.connected else "down"))
        out.append("locks        %s" % lock_txt)
        if not st:
            return out
        cons = d.get("consumption") or {}
        target = "" if self.offset is None else "  target %+d W" % self.offset
        out.append("grid       %s  %s%s   (daemon's total %s)" % (
            fmt_w(st["meter_w"], True), "import" if (st["meter_w"] or 0) > 0 else "export", target,
            fmt_w(cons.get("power"), True).strip()))
        out.append("load       %s" % fmt_w(st["load_w"]))
        inv = st["inverter"]
        lim = inv.get("limit_pct")
        inv_dev = "%s, limit %s%s" % (inv["phase"], "?" if lim is None else "%g %%" % lim,
                                      "" if inv.get("limit_ack", True) else " (not acked)")
        mp = st.get("mppt") or {}
        sol_dev = st.get("solar_dev") or "MPPT %s, CS %s" % ("on" if mp.get("on") else "off",
                                                             CS_NAMES.get(mp.get("cs"), mp.get("cs")))
        cha_dev = "relay %s" % ("on" if st["charger"]["on"] else "off")
        truth = {"inv": (st["inverter_w"], inv_dev), "sol": (st["solar_w"], sol_dev), "cha": (st["charger_w"], cha_dev)}
        for key, name in CLASSES:
            w, dev = truth[key]
            s = d.get(key + "/sum") or {}
            state = STATE.get(d.get(key + "/state"), "?")
            p = d.get(key + "/p")
            out.append("%-10s %s  %-28s daemon: %-13s %s" % (
                name, fmt_w(w), dev, s.get("status", state), fmt_w(s.get("power", p)).strip()))
        b = st["battery"]
        bs = d.get("bat/sum") or {}
        out.append("battery    SoC %5.1f %%  %6.2f V  %+6.1f A     daemon: SoC %s %%, %s A" % (
            b["soc"], b["voltage"], b["current_a"], bs.get("soc", "?"),
            "?" if bs.get("current") is None else "%+.1f" % bs["current"]))
        bats = d.batteries()
        for name in sorted(set(self.kinds) | set(bats)):
            rec = bats.get(name, {})
            j = rec.get("json")
            kind = self.kinds.get(name, "?")
            if not j:
                out.append("  %-6s %-5s (not read yet)" % (name, kind))
                continue
            age = time.monotonic() - rec.get("t", time.monotonic())
            cells = " ".join("%.3f" % c for c in j.get("cells", []))
            temps = "/".join("%.1f" % t for t in j.get("temps", []))
            out.append("  %-6s %-5s SoC %3s %%  %5.2f V %+6.1f A  %s °C  cells %s  (%ds ago)" % (
                name, kind, rec.get("soc", j.get("soc")), j.get("v", 0), j.get("i", 0), temps or "-", cells, age))
        e = st["energy"]
        out.append("energy     imported %.2f Wh, exported %.2f Wh at the meter; inverter %.2f Wh" % (
            e["imported_wh"], e["exported_wh"], e["inverter_wh"]))
        out.append("commands   %s" % (self.command_text(st["commands"]["counts"]) or "none yet"))
        return out

    @staticmethod
    def command_text(counts):
        return ", ".join("%s %d" % (k, v) for k, v in sorted(counts.items()) if v)

    def plain(self, st):
        d = self.daemon
        up = time.monotonic() - self.t0
        locks = d.get("locks")
        lock_txt = ",".join(l["name"] for l in locks) if locks is not None else (d.get("locked") or "?")
        if not st:
            return "%s mode=%s locks=%s home=down" % (hms(up), d.get("mode/actual") or "?", lock_txt or "-")
        b = st["battery"]
        cells = []
        for name, rec in sorted(d.batteries().items()):
            j = rec.get("json") or {}
            if j.get("cells"):
                cells.append("%s=%.3f-%.3fV" % (name, min(j["cells"]), max(j["cells"])))
        return ("%s mode=%s locks=%s grid=%+dW load=%dW inv=%dW(%s) sol=%dW cha=%dW soc=%.1f%% %s" % (
            hms(up), d.get("mode/actual") or "?", lock_txt or "-", st["meter_w"] or 0, st["load_w"],
            st["inverter_w"], STATE.get(d.get("inv/state"), "?"), st["solar_w"], st["charger_w"], b["soc"],
            " ".join(cells))).rstrip()

    def draw(self, st):
        if self.tty:
            text = "\x1b[H" + "".join(line + "\x1b[K\n" for line in self.lines(st)) + "\x1b[J"
            sys.stdout.write(text)
        else:
            sys.stdout.write(self.plain(st) + "\n")
        sys.stdout.flush()

    def summary(self):
        st = fetch(self.home + "/state", timeout=3)
        out = ["", "--- summary after %s" % hms(time.monotonic() - self.t0)]
        if not st or not self.first:
            out.append("the simulated home does not answer: no figures")
            return "\n".join(out)
        e0, e1 = self.first["energy"], st["energy"]
        de = {k: e1[k] - e0.get(k, 0.0) for k in e1}
        c0, c1 = self.first["commands"]["counts"], st["commands"]["counts"]
        dc = {k: v - c0.get(k, 0) for k, v in c1.items()}
        d = self.daemon
        locks = d.get("locks")
        out.append("plant time      %s at speed ×%g" % (hms(st["plant_time_s"] - self.first["plant_time_s"]), st["speed"]))
        out.append("grid meter      imported %.2f Wh, exported %.2f Wh" % (de["imported_wh"], de["exported_wh"]))
        out.append("inverter        produced %.2f Wh, %.2f Wh of it above the house load" % (
            de["inverter_wh"], de["inverter_over_load_wh"]))
        out.append("solar, charger  solar %.2f Wh, grid charger %.2f Wh" % (de["solar_wh"], de["charger_wh"]))
        out.append("battery         SoC %.1f %% -> %.1f %%" % (self.first["battery"]["soc"], st["battery"]["soc"]))
        out.append("commands sent   %d: %s (as the devices received them; reads not counted)" % (
            sum(dc.values()), self.command_text(dc) or "none"))
        out.append("daemon          mode %s, locks %s" % (
            d.get("mode/actual") or "?",
            "?" if locks is None else (", ".join(l["name"] for l in locks) or "none")))
        if self.http:
            out.append("status page     %s" % self.http)
        return "\n".join(out)

    def run(self):
        self.connect()
        end = self.t0 + self.args.duration if self.args.duration else None
        if self.tty:
            sys.stdout.write("\x1b[?25l\x1b[2J")      # hide the cursor, clear
        try:
            while not self.stopping:
                st = fetch(self.home + "/state")
                if st and self.first is None:
                    self.first = st
                self.draw(st)
                now = time.monotonic()
                if end is not None and now >= end:
                    break
                next_t = self.t0 + (int((now - self.t0) / 1.0) + 1) * 1.0
                while not self.stopping and time.monotonic() < next_t:
                    time.sleep(min(0.1, max(0.0, next_t - time.monotonic())))
        except KeyboardInterrupt:
            pass
        finally:
            if self.tty:
                sys.stdout.write("\x1b[?25h")
            print(self.summary(), flush=True)
            self.client.loop_stop()
            self.client.disconnect()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", required=True, help="MQTT broker HOST:PORT")
    ap.add_argument("--home", required=True, help="home.py's control API HOST:PORT")
    ap.add_argument("--config", help="the daemon's config (root topic, battery names, status page address)")
    ap.add_argument("--root", help="the daemon's root topic (default from --config, else homebattery)")
    ap.add_argument("--for", dest="duration", type=float, default=0, help="stop after SECONDS, print the summary")
    ap.add_argument("--plain", action="store_true", help="one line per second, no redrawing")
    ap.add_argument("--ready-file", help="written once subscribed (start the daemon after that)")
    args = ap.parse_args()
    view = View(args)

    def stop(signum, frame):
        view.stopping = True

    signal.signal(signal.SIGTERM, stop)
    view.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
