# SPDX-License-Identifier: MIT
"""Bluetooth LE batteries end to end: the daemon under test talks to the
simulated BlueZ (tests/sim/bluez_sim.py on a private dbus-daemon, see
bluez_harness.py) and publishes to a real mosquitto.

- three simulated BMS (LLT/JBD, Daly, JK) with values chosen here: every
  binary compatibility topic of one battery, the JSON topic of all three and
  the class sums, with exact values;
- the variants: a device BlueZ does not know yet (discovery), Daly on the
  newer ff00 service, JK with two ffe1 characteristics and the 24-cell layout;
- a battery that stops answering: battery_offline at its threshold, all
  classes protected, recovery;
- a cell under cell_low: the inverter is locked, hysteresis, recovery;
- a connect failure (le-connection-abort-by-local twice) is retried while the
  other batteries are read and MQTT requests are answered;
- a stale GATT cache (ServicesResolved never comes): RemoveDevice after
  repeated failures, rediscovery, a good read.

Intervals are 5 s and thresholds short so that the file runs in about 2.5
minutes. HB_KEEP_WORKDIR=1 keeps the logs (daemon, bus, simulator)."""
import json
import math
import struct
import sys
import threading
import time
import unittest

from bluez_harness import start_bluez
from hbtest import HbTestCase, base_config, wait_for

ROOT = "hbtest"
INTERVAL = 5
LLT_MAC, DALY_MAC, JK_MAC = "AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02", "AA:BB:CC:DD:EE:03"
SIM_ARGS = ["--le-connect-timeout", "3", "--temporary-timeout", "20"]

CELL_CHECKS = {
    "cell_low": {"enabled": True, "threshold": 3.1, "hysteresis": 0.1},
    "cell_high": {"enabled": True, "threshold": 3.65, "hysteresis": 0.2},
}
OFFLINE_THRESHOLD = 20
ALL_CLASSES = ["solar", "charger", "inverter"]  # the order of the daemon's class enum

# Values at each protocol's resolution (LLT 10 mV/10 mA/10 mAh/0.1 K, Daly
# 0.1 V/0.1 A/0.1 %/1 degC, JK mV/mA/mAh/0.1 degC), so that the daemon's
# rounding is the only one left.
LLT_VALUES = {"v": 26.44, "i": -12.34, "soc": 57, "c": 31.2, "c_full": 62.0, "n": 28, "temps": [-5.2, 21.5],
              "cells": [3.301, 3.302, 3.303, 3.304, 3.305, 3.306, 3.307, 3.308]}
DALY_VALUES = {"v": 51.4, "i": 4.5, "soc": 73.4, "c": 80.3, "n": 41, "temps": [-3, 18],
               "cells": [round(3.21 + 0.001 * k, 3) for k in range(16)]}
JK_VALUES = {"v": 53.4, "i": -2.37, "soc": 88, "c": 176.5, "c_full": 200.0, "n": 7, "temps": [-1.5, 24.3],
             "cells": [round(3.33 + 0.002 * k, 3) for k in range(16)]}


def topic(*parts):
    return "/".join((ROOT,) + parts)


def c_round(x):
    """C's round(): half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def daemon_json(values):
    """What <root>/bat/dev/<name> must carry for these values: v, i, c and c_full 2 decimals (null without
    c_full: Daly), soc and temps 1, cells 3 (the daemon prints with %.Nf; Python's % rounds the same way)."""
    f = lambda x, n: float("%.*f" % (n, x))  # noqa: E731
    return {"v": f(values["v"], 2), "i": f(values["i"], 2), "soc": f(values["soc"], 1), "c": f(values["c"], 2),
            "c_full": f(values["c_full"], 2) if "c_full" in values else None, "n": values["n"],
            "temps": [f(t, 1) for t in values["temps"]], "cells": [f(x, 3) for x in values["cells"]]}


def ble_device(driver, mac, **kw):
    return dict({"driver": driver, "mac": mac, "interval": INTERVAL}, **kw)


class BleTestCase(HbTestCase):
    def start(self, devices, config_devices, setup=None, supervisor=None, sim_args=()):
        """Broker, recorder, simulated BlueZ with devices (--device specs), setup {mac: control body} applied
        before the daemon starts, then the daemon with config_devices."""
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "#")
        self.sim = start_bluez(self, devices, SIM_ARGS + list(sim_args))
        for mac, body in (setup or {}).items():
            self.sim.set(mac, **body)
        c = base_config(self.b.port)
        c["devices"] = config_devices
        if supervisor:
            c["supervisor"] = supervisor
        self.t0 = time.monotonic()
        self.d = self.daemon(c, env=self.sim.env())
        self.rec.wait(topic("status"), b"online")
        time.sleep(0.3)  # the daemon's subscriptions

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not outcome.success and getattr(self, "d", None):
            sys.stderr.write("\n---- daemon log (tail) ----\n%s\n" % self.d.logtext()[-6000:])
            sys.stderr.write("---- simulator log (tail) ----\n%s\n" % self.sim.logtext()[-3000:])
        super().tearDown()

    # ---- battery records ----

    def records(self, name):
        """(arrival time, decoded JSON) of every <root>/bat/dev/<name>."""
        t = topic("bat", "dev", name)
        with self.rec.lock:
            return [(m[3], json.loads(m[1])) for m in self.rec.messages if m[0] == t]

    def wait_record(self, name, count=1, timeout=30, where=None):
        """Waits for the count-th record of name (that satisfies where, if given); returns (time, record)."""
        def check():
            r = [x for x in self.records(name) if where is None or where(x[1])]
            return r[count - 1] if len(r) >= count else None
        return wait_for(check, timeout, interval=0.1, what="record %d of %s" % (count, name))

    def wait_topic_after(self, t, payload, after, timeout):
        """The arrival time of the first message on t with payload after the time after."""
        def check():
            with self.rec.lock:
                for m in self.rec.messages:
                    if m[0] == t and m[1] == payload and m[3] > after:
                        return m[3]
            return None
        return wait_for(check, timeout, interval=0.05, what="%s = %r" % (t, payload))

    def wait_unlocked(self):
        """No lock any more, and the mode it held has given way to the default (idle): a mode request
        made now gets its own answer, not the daemon's report of the release (in the same pass as
        locked = "", but a separate message that may arrive after the request is sent)."""
        self.rec.wait(topic("locked"), b"")
        wait_for(lambda: self.rec.last(topic("mode", "actual")) == b"idle", 5, what="mode/actual idle")

    def last_locks(self):
        return json.loads(self.rec.last(topic("locks")))

    def request_mode(self, mode, timeout=1.0):
        """Publishes mode/set and returns (latency, answer) of the next mode/actual."""
        t = topic("mode", "actual")
        n = len(self.rec.all(t))
        t0 = time.monotonic()
        self.rec.publish(topic("mode", "set"), mode.encode())
        wait_for(lambda: len(self.rec.all(t)) > n, timeout, interval=0.01, what="mode/actual after %s" % mode)
        return time.monotonic() - t0, self.rec.all(t)[n]

    def stop_daemon(self):
        """An orderly stop (also in the middle of a BLE read): exit status 0, nothing from the sanitizers."""
        self.assertEqual(self.d.stop(), 0)
        self.assertNotIn("Sanitizer", self.d.logtext())

    def assert_link_released(self, mac):
        """After a read the BMS is free again: disconnected, no notify session left on."""
        s = self.sim.wait_state(mac, 5, state="disconnected")
        self.assertFalse(s["connected"])
        self.assertFalse(any(s["notifying"].values()), s["notifying"])


class Values(BleTestCase):
    def test_three_batteries_topics_and_sums(self):
        """One BMS of each kind (LLT 8 cells, Daly 16 cells, JK 16 cells in the 32-cell layout): every binary
        compatibility topic of the LLT, the JSON of all three, bat/i, bat/c and bat/sum."""
        self.start(["llt:" + LLT_MAC, "daly:" + DALY_MAC, "jk:" + JK_MAC],
                   {"bat_llt": ble_device("lltPowerBmsV4Ble", LLT_MAC.lower()),
                    "bat_daly": ble_device("daly8S24V60A", DALY_MAC),
                    "bat_jk": ble_device("jkBmsBd4", JK_MAC)},
                   setup={LLT_MAC: {"values": LLT_VALUES}, DALY_MAC: {"values": DALY_VALUES},
                          JK_MAC: {"values": JK_VALUES}})
        _, llt = self.wait_record("bat_llt")
        _, daly = self.wait_record("bat_daly")
        _, jk = self.wait_record("bat_jk")
        print("first round of three BLE reads: %.1f s" % (time.monotonic() - self.t0))

        self.assertEqual(llt, {"v": 26.44, "i": -12.34, "soc": 57.0, "c": 31.2, "c_full": 62.0, "n": 28,
                               "temps": [-5.2, 21.5],
                               "cells": [3.301, 3.302, 3.303, 3.304, 3.305, 3.306, 3.307, 3.308]})
        self.assertEqual(llt, daemon_json(LLT_VALUES))
        # Daly: no full capacity in the frame (null); SoC 73.4 % keeps its 0.1 % resolution.
        self.assertEqual(daly, {"v": 51.4, "i": 4.5, "soc": 73.4, "c": 80.3, "c_full": None, "n": 41,
                                "temps": [-3.0, 18.0], "cells": DALY_VALUES["cells"]})
        self.assertEqual(len(daly["cells"]), 16)
        self.assertEqual(jk, {"v": 53.4, "i": -2.37, "soc": 88.0, "c": 176.5, "c_full": 200.0, "n": 7,
                              "temps": [-1.5, 24.3], "cells": JK_VALUES["cells"]})
        self.assertEqual(self.sim.device(JK_MAC)["layout"], "32s")

        # Every binary compatibility topic of the LLT (mqtt.md), exact bytes.
        base = topic("bat", "dev", "bat_llt")
        want = {
            "v": struct.pack(">H", 2644),          # 26.44 V, u16 V/100
            "i": b"\xff\x85",                      # -12.34 A -> round(-123.4) = -123, s16 A/10
            "soc": b"\x39",                        # 57 %, u8
            "c": struct.pack(">H", 312),           # 31.2 Ah, u16 Ah/10
            "n": struct.pack(">H", 28),            # cycles, u16
            "temp/0": b"\xff\xcc",                 # -5.2 degC -> -52, s16 degC/10
            "temp/1": struct.pack(">h", 215),
        }
        for k, mv in enumerate(LLT_VALUES["cells"]):
            want["cell/%d" % k] = struct.pack(">H", round(mv * 1000))  # u16 mV
        for sub, payload in want.items():
            self.assertEqual(self.rec.last(base + "/" + sub), payload, sub)
        published = {m[0][len(base) + 1:] for m in self.rec.messages if m[0].startswith(base + "/")}
        self.assertEqual(published, set(want), "exactly these sub-topics, no cell/8 or temp/2")
        self.assertEqual(self.rec.last(topic("bat", "dev", "bat_jk", "cell", "15")), struct.pack(">H", 3360))
        self.assertIsNone(self.rec.last(topic("bat", "dev", "bat_jk", "cell", "16")))
        self.assertEqual(self.rec.last(topic("bat", "dev", "bat_daly", "temp", "0")), struct.pack(">h", -30))

        # Class sums, once every battery has a record (the last one read completes them).
        i_sum = -12.34 + 4.5 + -2.37
        c_sum = 31.2 + 80.3 + 176.5
        weights = [62.0, 80.3 * 100 / 73.4, 200.0]  # full capacity, or remaining / SoC (Daly)
        soc = (weights[0] * 57 + weights[1] * 73.4 + weights[2] * 88) / sum(weights)
        self.assertEqual(json.loads(self.rec.wait(topic("bat", "sum"))),
                         {"current": -10.2, "capacity": 288.0, "soc": round(soc)})
        self.assertEqual(round(soc), 79)
        self.assertEqual(self.rec.wait(topic("bat", "i")), struct.pack(">h", c_round(i_sum * 10)))
        self.assertEqual(self.rec.last(topic("bat", "i")), b"\xff\x9a")  # -102
        self.assertEqual(self.rec.last(topic("bat", "c")), struct.pack(">H", c_round(c_sum * 10)))

        # Each read leaves the BMS free for its phone app, and the BMS saw the real requests.
        for mac in (LLT_MAC, DALY_MAC, JK_MAC):
            self.assert_link_released(mac)
        writes = [w["hex"] for w in self.sim.log(LLT_MAC)["write_log"]]
        self.assertEqual(writes[:2], ["dda50300fffd77", "dda50400fffc77"])
        self.assertEqual(self.sim.log(DALY_MAC)["write_log"][0]["hex"], "d203000000 3ed7b9".replace(" ", ""))

        # A changed value shows up at the next read.
        self.sim.values(LLT_MAC, i=7.77, temps=[-0.4, 3.0])
        after = time.monotonic()
        _, rec = self.wait_record("bat_llt", where=lambda r: r["i"] == 7.77, timeout=25)
        self.assertEqual(rec["temps"], [-0.4, 3.0])
        self.wait_topic_after(base + "/i", struct.pack(">h", 78), after, 5)
        self.wait_topic_after(base + "/temp/0", struct.pack(">h", -4), after, 5)
        self.stop_daemon()


class Variants(BleTestCase):
    def test_discovery_daly_ff00_jk_two_characteristics(self):
        """One read each: an LLT BlueZ does not know yet (found by discovery), a Daly with the newer firmware
        (service ff00, no fff0) and a JK with two ffe1 characteristics (picked by Flags) whose firmware 10.09
        selects the 24-cell layout."""
        llt = dict(LLT_VALUES, i=1.23, temps=[0.1])
        daly = dict(DALY_VALUES, cells=[3.3, 3.301, 3.302, 3.303, 3.304, 3.305, 3.306, 3.307], v=26.4, temps=[25])
        jk = dict(JK_VALUES, cells=[round(3.25 + 0.001 * k, 3) for k in range(24)], v=78.3)
        self.start(["llt:%s:unknown" % LLT_MAC, "daly:%s:ff00" % DALY_MAC, "jk:%s:2char:sw=10.09" % JK_MAC],
                   {"new_llt": ble_device("lltPowerBmsV4Ble", LLT_MAC),
                    "daly_ff00": ble_device("daly8S24V60A", DALY_MAC),
                    "jk_2char": ble_device("jkBmsBd4", JK_MAC)},
                   setup={LLT_MAC: {"values": llt}, DALY_MAC: {"values": daly}, JK_MAC: {"values": jk}})
        self.assertFalse(self.sim.device(LLT_MAC)["known"])
        self.assertEqual(self.wait_record("new_llt")[1], daemon_json(llt))
        self.assertEqual(self.wait_record("daly_ff00")[1], daemon_json(daly))
        self.assertEqual(self.wait_record("jk_2char")[1], daemon_json(jk))

        s = self.sim.device(LLT_MAC)
        self.assertTrue(s["known"])
        self.assertFalse(s["temporary"], "connected once: no longer a temporary device")
        c = self.sim.counters(LLT_MAC)
        self.assertEqual((c["discovered"], c["connect_failures"]), (1, 0))
        self.assertIn("discovered " + LLT_MAC, self.d.logtext())
        self.assertFalse(self.sim.adapter()["discovering"], "discovery stopped after the device appeared")

        s = self.sim.device(DALY_MAC)
        self.assertEqual(s["variant"], "daly-ff00")
        self.assertTrue(all("/service000c/" in p for p in s["notifying"]))

        s = self.sim.device(JK_MAC)
        self.assertEqual((s["variant"], s["layout"]), ("jk-2char", "24s"))
        notify_chars = set(s["notifying"])
        writes = self.sim.log(JK_MAC)["write_log"]
        self.assertTrue(writes)
        for w in writes:
            self.assertNotIn(w["char"], notify_chars, "written to the write characteristic, not the notify one")
            self.assertEqual(w["type"], "command")
        self.assertEqual(writes[0]["hex"][:12], "aa5590eb9700")
        for mac in (LLT_MAC, DALY_MAC, JK_MAC):
            self.assert_link_released(mac)
        self.stop_daemon()


class Offline(BleTestCase):
    def test_silent_battery_raises_battery_offline_and_recovers(self):
        """A BMS that connects but stops answering: battery_offline when its last good read is older than the
        threshold, everything in protect, and back when it answers again."""
        sup = dict(CELL_CHECKS, battery_offline={"enabled": True, "threshold": OFFLINE_THRESHOLD})
        self.start(["llt:" + LLT_MAC, "jk:" + JK_MAC],
                   {"bat_llt": ble_device("lltPowerBmsV4Ble", LLT_MAC), "bat_jk": ble_device("jkBmsBd4", JK_MAC)},
                   setup={LLT_MAC: {"values": LLT_VALUES}}, supervisor=sup)
        self.wait_record("bat_llt")
        self.sim.fault(LLT_MAC, "silent")  # from the next connection on
        self.wait_record("bat_jk")
        self.wait_unlocked()
        latency, answer = self.request_mode("discharge")
        self.assertEqual(answer, b"discharge")

        t_lock = self.wait_topic_after(topic("locked"), b"battery_offline", 0, OFFLINE_THRESHOLD + 20)
        t_last = max(t for t, _ in self.records("bat_llt") if t < t_lock)
        dt = t_lock - t_last
        print("battery_offline %.1f s after the last good read (threshold %d s)" % (dt, OFFLINE_THRESHOLD))
        self.assertGreaterEqual(dt, OFFLINE_THRESHOLD - 0.5)
        self.assertLessEqual(dt, OFFLINE_THRESHOLD + INTERVAL + 3)
        self.assertEqual(self.last_locks(), [{"name": "battery_offline", "priority": 30, "locks": ALL_CLASSES}])
        self.wait_topic_after(topic("mode", "actual"), b"protect", t_lock - 0.1, 3)
        latency, answer = self.request_mode("charge")
        self.assertEqual(answer, b"protect", "every class is locked")
        c = self.sim.counters(LLT_MAC)
        self.assertGreater(c.get("answers_suppressed", 0), 0, "the BMS was asked and kept silent")
        self.wait_record("bat_jk", count=2, timeout=15)  # the other battery is still read
        self.assertIn("Read failed", self.d.logtext())

        # The BMS answers again: the next read clears the lock and the requested mode comes back.
        self.sim.fault(LLT_MAC, None)
        t_free = self.wait_topic_after(topic("locked"), b"", t_lock, 40)
        self.assertGreater(max(t for t, _ in self.records("bat_llt")), t_lock)
        self.assertEqual(self.last_locks(), [])
        self.wait_topic_after(topic("mode", "actual"), b"charge", t_free - 0.1, 3)
        self.assert_link_released(LLT_MAC)
        self.stop_daemon()


class CellLow(BleTestCase):
    def test_cell_low_locks_inverter_with_hysteresis(self):
        """The lowest cell under cell_low (3.1 V) locks the inverter only; 3.15 V (above the threshold but
        under threshold + hysteresis) keeps it locked; 3.25 V releases it."""
        cells = [3.3] * 8
        self.start(["llt:" + LLT_MAC], {"bat_llt": ble_device("lltPowerBmsV4Ble", LLT_MAC)},
                   setup={LLT_MAC: {"values": dict(LLT_VALUES, cells=cells, v=26.4)}}, supervisor=CELL_CHECKS)
        self.wait_record("bat_llt")
        self.wait_unlocked()
        self.assertEqual(self.request_mode("discharge")[1], b"discharge")

        self.sim.values(LLT_MAC, cells=cells[:7] + [3.05], v=26.15)
        _, r = self.wait_record("bat_llt", where=lambda r: r["cells"][7] == 3.05, timeout=20)
        self.rec.wait(topic("locked"), b"cell_low", timeout=3)
        self.assertEqual(self.last_locks(), [{"name": "cell_low", "priority": 32, "locks": ["inverter"]}])
        self.rec.wait(topic("mode", "actual"), b"protect", timeout=3)
        self.assertEqual(self.rec.last(topic("bat", "dev", "bat_llt", "cell", "7")), struct.pack(">H", 3050))
        # The charger side is not locked: charge is allowed.
        self.assertEqual(self.request_mode("charge")[1], b"charge")
        self.assertEqual(self.request_mode("discharge")[1], b"protect")

        # 3.15 V: over the threshold, under threshold + hysteresis (3.2 V): still locked.
        self.sim.values(LLT_MAC, cells=cells[:7] + [3.15], v=26.25)
        t, _ = self.wait_record("bat_llt", where=lambda r: r["cells"][7] == 3.15, timeout=20)
        time.sleep(1.5)  # one supervisor pass after the record
        self.assertEqual(self.rec.last(topic("locked")), b"cell_low")
        self.assertEqual(self.last_locks()[0]["name"], "cell_low")

        # 3.25 V: released, the inverter may run again.
        self.sim.values(LLT_MAC, cells=cells[:7] + [3.25], v=26.35)
        t, _ = self.wait_record("bat_llt", where=lambda r: r["cells"][7] == 3.25, timeout=20)
        self.wait_topic_after(topic("locked"), b"", t - 0.5, 3)
        self.assertEqual(self.last_locks(), [])
        self.wait_topic_after(topic("mode", "actual"), b"discharge", t - 0.5, 3)
        self.stop_daemon()


class ConnectFailure(BleTestCase):
    def test_connect_abort_retried_without_blocking(self):
        """Connect fails twice with le-connection-abort-by-local (the daemon drops the device, discovers it
        again, tries once more, gives up on this read): the next read of it succeeds, the other batteries are
        read meanwhile and MQTT mode requests are answered within 1 s all along."""
        self.start(["llt:" + LLT_MAC, "daly:" + DALY_MAC, "jk:" + JK_MAC],
                   {"flaky": ble_device("lltPowerBmsV4Ble", LLT_MAC),
                    "bat_daly": ble_device("daly8S24V60A", DALY_MAC),
                    "bat_jk": ble_device("jkBmsBd4", JK_MAC)},
                   setup={LLT_MAC: {"values": LLT_VALUES, "fault": "connect-abort", "fault_count": 2,
                                    "adv_delay": 3.0},
                          DALY_MAC: {"values": DALY_VALUES}, JK_MAC: {"values": JK_VALUES}})
        latencies, stop = [], threading.Event()

        def probe():
            modes = ["idle", "discharge", "charge"]
            k = 0
            while not stop.is_set():
                latencies.append((time.monotonic(), self.request_mode(modes[k % 3])[0]))
                k += 1
                time.sleep(0.2)
        errors = []

        def run_probe():
            try:
                probe()
            except AssertionError as e:  # a request not answered within 1 s
                errors.append(e)
        th = threading.Thread(target=run_probe, daemon=True)
        th.start()
        try:
            self.sim.wait_counter(LLT_MAC, "connect_failures", 2, timeout=15)
            t_failed = time.monotonic()
            t_ok, rec = self.wait_record("flaky", timeout=30)
        finally:
            stop.set()
            th.join(5)
        self.assertEqual(errors, [])
        during = [lat for t, lat in latencies if t <= t_failed]
        print("mode requests during the failing read: %d, slowest %.3f s; overall slowest %.3f s"
              % (len(during), max(during, default=0), max(lat for _, lat in latencies)))
        self.assertGreaterEqual(len(during), 3, "requests were made while the connect failed")
        self.assertLess(max(lat for _, lat in latencies), 1.0)

        self.assertEqual(rec, daemon_json(LLT_VALUES))
        c = self.sim.counters(LLT_MAC)
        self.assertEqual((c["connect_attempts"], c["connect_failures"], c["connects"]), (3, 2, 1))
        self.assertEqual(c["removed"], 1, "forgotten after the first abort")
        self.assertEqual(c["discovered"], 1, "and found again by a discovery")
        log = self.d.logtext()
        self.assertIn("connect failed (le-connection-abort-by-local): discovering again and retrying", log)
        self.assertIn("le-connection-abort-by-local", log[log.index("Read failed"):])
        # Read in turns: the other two were read before the retry of the flaky one.
        self.assertLess(self.wait_record("bat_daly")[0], t_ok)
        self.assertLess(self.wait_record("bat_jk")[0], t_ok)
        self.assertEqual(self.wait_record("bat_daly")[1], daemon_json(DALY_VALUES))
        self.assertEqual(self.wait_record("bat_jk")[1], daemon_json(JK_VALUES))
        # ... and keep being read after it.
        self.wait_record("bat_daly", count=2, timeout=20)
        self.assert_link_released(LLT_MAC)
        self.stop_daemon()


class LinkFaults(BleTestCase):
    def test_drop_and_corrupt_then_good_read(self):
        """The BMS drops the link in the middle of its answer, then answers with bad checksums: each read
        fails with its reason, nothing is published from it, and the next good read has exact values (no
        leftover bytes from the broken ones)."""
        self.start(["llt:" + LLT_MAC], {"bat_llt": ble_device("lltPowerBmsV4Ble", LLT_MAC)},
                   setup={LLT_MAC: {"values": LLT_VALUES, "fault": "drop", "fault_count": 1, "drop_after": 1}})
        self.sim.wait_counter(LLT_MAC, "drops", 1, timeout=10)
        self.d.wait_log("link dropped (Connected=false)", timeout=5)
        self.assertEqual(self.records("bat_llt"), [])
        self.sim.fault(LLT_MAC, "corrupt", count=1)
        self.d.wait_log("Frame rejected: bad checksum", timeout=20)
        values = dict(LLT_VALUES, i=0.5, cells=[3.2] * 8, v=25.6)
        self.sim.values(LLT_MAC, **values)
        _, rec = self.wait_record("bat_llt", timeout=30)
        self.assertEqual(rec, daemon_json(values))
        self.assertEqual(len(self.records("bat_llt")), 1)
        self.assertIn("Read failed at no answer to the basic info request", self.d.logtext())
        self.assert_link_released(LLT_MAC)
        self.stop_daemon()


class StaleCache(BleTestCase):
    def test_stale_cache_removed_and_rediscovered(self):
        """BlueZ's cache is stale: Connected comes, ServicesResolved never does and Connect is never answered.
        Each read gives up on it, the third one removes the device from BlueZ (RemoveDevice), and the next
        read discovers it again and reads it."""
        self.start(["llt:%s:fault=stale-cache" % LLT_MAC], {"stale": ble_device("lltPowerBmsV4Ble", LLT_MAC)},
                   setup={LLT_MAC: {"values": LLT_VALUES}})
        t, rec = self.wait_record("stale", timeout=75)
        print("read after the stale cache: %.1f s after start" % (t - self.t0))
        self.assertEqual(rec, daemon_json(LLT_VALUES))
        c = self.sim.counters(LLT_MAC)
        self.assertEqual(c["removed"], 1)
        self.assertEqual(c["discovered"], 1)
        self.assertEqual(c["connect_attempts"], 4, "three that never resolved, one good")
        log = self.d.logtext()
        self.assertEqual(log.count("services never resolved"), 3)
        self.assertIn("removing %s from BlueZ's cache" % LLT_MAC, log)
        self.assertEqual(self.sim.device(LLT_MAC)["fault"], "none")
        self.assert_link_released(LLT_MAC)
        self.stop_daemon()


if __name__ == "__main__":
    unittest.main()
