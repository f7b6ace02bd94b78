# SPDX-License-Identifier: MIT
"""The serial profile of the simulated home end to end (what
`scripts/demo --profile serial` runs), in real time: tests/sim/home.py
--serial-dir (two Pylontech packs on one RS485 pty, a PZEM-017 solar meter
and a Growatt MIC TL-X inverter sharing a second one, a Shelly charger, the
grid meter on MQTT) against the unmodified daemon with etc/demo-serial.json
(netzero spans shortened to 12/6 s, no http).

1. --check-config accepts the rewritten etc/demo-serial.json;
2. both packs are found by serial number and read (15 cells each), the PZEM's
   solar power reaches sol/p;
3. discharge: the Growatt is switched on (H0) and netzero sets its limit
   (H3 writes) so that the grid converges near power_offset after a load step;
4. protect switches the Growatt off (H0 write) and the output drops."""
import json
import os
import subprocess
import sys
import time
import unittest

import hbtest
from hbtest import HbTestCase, wait_for
from test_home import Home, wait_converged

DEMO_SERIAL = os.path.join(hbtest.HB_SOURCE, "etc", "demo-serial.json")
SOLAR_W = 150               # constant PV power during the test
LOAD_START_W = 400
LOAD_STEP_W = 700
# The Growatt's limit has 1 % steps of its 1500 W: 15 W. Measured with the
# shortened spans: within 40 W (10 s mean) about 40-60 s after the step.
GRID_BOUND_W = 50
CONVERGE_S = 100
SPAN_S, MATURITY_S = 12, 6


def log(msg):
    print("[%7.1f s] %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


T0 = time.monotonic()


class SerialHome(HbTestCase):
    def setUp(self):
        super().setUp()
        global T0
        T0 = time.monotonic()
        self.b = self.broker()
        self.home = Home(self.workdir, self.b.port, None,
                         ["--load", str(LOAD_START_W), "--solar", str(SOLAR_W), "--seed", "7"], config=DEMO_SERIAL)
        self._hb_stops.append(self.home.stop)
        with open(self.home.config_path) as f:
            cfg = json.load(f)
        self.offset = cfg["netzero"]["power_offset"]
        cfg.pop("http", None)                  # no fixed port in a test
        cfg["logging"]["level"] = "debug"
        cfg["netzero"].update({"evaluated_time_span": SPAN_S, "maturity_time_span": MATURITY_S})
        self.cfg = cfg
        self.root = cfg["mqtt"]["root"]
        self.rec = self.recorder(self.b.port, self.root + "/#")

    def topic(self, t):
        return "%s/%s" % (self.root, t)

    def request(self, mode):
        self.rec.clear()
        self.rec.publish(self.topic("mode/set"), mode.encode(), qos=2)

    def seen(self, since, kind):
        return [c for c in self.home.commands(since) if c["device"] == "inverter" and c["kind"] == kind]

    def wait_converged(self, since, timeout, bound):
        return wait_converged(self.home, self.offset, since, timeout, bound)

    def test_serial_home(self):
        path = os.path.join(self.workdir, "serial.json")
        with open(path, "w") as f:
            json.dump(self.cfg, f)
        r = subprocess.run([hbtest.HB_BINARY, "--check-config", "--config", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.d = self.daemon(self.cfg)
        try:
            self.serial_home()
        except BaseException:
            sys.stderr.write("--- daemon log (end)\n%s\n--- home.py log (end)\n%s\n" % (
                self.d.logtext()[-8000:], self.home.logtext()[-4000:]))
            raise

    def serial_home(self):
        rec, home = self.rec, self.home
        rec.wait(self.topic("status"), b"online", timeout=20)

        # 2. both packs and the solar meter
        for name in ("pack1", "pack2"):
            j = json.loads(rec.wait(self.topic("bat/dev/%s" % name), timeout=40))
            self.assertEqual(len(j["cells"]), 15, j)
            self.assertTrue(all(3.0 < c < 3.6 for c in j["cells"]), j)
        st = home.state()
        pack1 = st["battery"]["packs"][0]
        self.assertAlmostEqual(j["v"], st["battery"]["packs"][1]["v"], delta=0.5)
        self.assertGreater(pack1["v"], 45)
        sol = wait_for(lambda: (lambda p: p if p and abs(p - SOLAR_W) <= 5 else None)(self.sol_w()), 30,
                       what="sol/p near %d W" % SOLAR_W)
        log("packs read (15 cells each), sol/p %d W" % sol)

        # 3. discharge: the Growatt on, netzero drives its limit
        t = time.time()
        self.request("discharge")
        rec.wait(self.topic("mode/actual"), b"discharge", timeout=30)
        rec.wait(self.topic("inv/state"), b"\x01", timeout=40)
        self.assertTrue(self.seen(t, "on"), "no H0 'on' write reached the Growatt")
        took, err = self.wait_converged(t, 90, 60)
        log("discharge: grid within 60 W of the target after %.0f s (mean error %.1f W)" % (took, err))
        step = time.time()
        home.set(load_w=LOAD_STEP_W)
        took, err = self.wait_converged(step, CONVERGE_S + 2, GRID_BOUND_W)
        st = home.state()
        limits = self.seen(step, "limit")
        log("load step %d -> %d W: mean |grid - %d W| = %.1f W after %.0f s; inverter %.0f W (limit %s %%), "
            "%d limit writes" % (LOAD_START_W, LOAD_STEP_W, self.offset, err, took, st["inverter_w"],
                                 st["inverter"]["limit_pct"], len(limits)))
        self.assertTrue(limits, "netzero wrote no limit (H3) after the load step")
        self.assertGreater(st["inverter_w"], LOAD_STEP_W - SOLAR_W - 2 * GRID_BOUND_W)

        # 4. protect: the Growatt off
        t = time.time()
        self.request("protect")
        rec.wait(self.topic("mode/actual"), b"protect", timeout=10)
        wait_for(lambda: self.seen(t, "off"), 20, what="an H0 'off' write")
        wait_for(lambda: home.state()["inverter_w"] < 1, 10, what="the Growatt's output to drop")
        log("protect: Growatt off after %.1f s" % (time.time() - t))

    def sol_w(self):
        p = self.rec.last(self.topic("sol/p"))
        return None if p is None or len(p) != 2 else int.from_bytes(p, "big")


if __name__ == "__main__":
    unittest.main()
