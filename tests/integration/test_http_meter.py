# SPDX-License-Identifier: MIT
"""httpConsumption end to end: the real daemon, a real mosquitto and
tests/sim/meter_http_sim.py. Each preset (tasmota, shelly3em, shellyPro3em)
and a generic path reach <root>/consumption; every good poll is one sample
(also when unchanged) and no reading is sent twice; HTTP errors, bad JSON and
paths that find nothing give no sample and a warning that names the failing
path position; user and password (HTTP basic from libcurl's "any"); a hanging meter does not hold up another meter, and never has
more than one request open."""
import json
import os
import re
import time
import unittest

from hbtest import HbTestCase, base_config, wait_for

ROOT = "hbtest"
CONS = ROOT + "/consumption"


class HttpMeter(HbTestCase):
    def start(self, devices, netzero=None, default_mode=None):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, ROOT + "/#")
        c = base_config(self.b.port)
        c["devices"] = devices
        if default_mode:
            c["general"]["default_mode"] = default_mode
        if netzero:
            c["netzero"] = netzero
        self.d = self.daemon(c)
        self.rec.wait(ROOT + "/status", b"online")

    def meter(self, *args, name=None):
        return self.sim("meter_http_sim.py", *args, name=name)

    def powers(self, since=0):
        """The consumption totals published (W), from message index `since` on."""
        return [json.loads(p)["power"] for p in self.rec.all(CONS)[since:]]

    def wait_power(self, w, timeout=10):
        wait_for(lambda: w in self.powers(), timeout, what="consumption %d W (seen %s)" % (w, self.powers()[-5:]))

    def samples(self, name):
        """The daemon's per-device sample lines (debug), as ints."""
        return [int(m) for m in re.findall(r"\[%s\] Consumption (-?\d+) W" % re.escape(name), self.d.logtext())]

    # -- each preset ------------------------------------------------------------------------
    def test_presets_reach_consumption(self):
        sim = self.meter("--power", "130.6")
        self.start({
            "tas": {"driver": "httpConsumption", "host": sim.host, "preset": "tasmota",
                    "path": ["StatusSNS", "SML", "Power_curr"], "interval": 1},
            "em3": {"driver": "httpConsumption", "host": sim.host, "preset": "shelly3em", "interval": 1},
            "pro": {"driver": "httpConsumption", "host": sim.host, "preset": "shellyPro3em", "interval": 1},
            "gen": {"driver": "httpConsumption", "host": sim.host, "query": "/api/meter",
                    "path": ["data", 1, "value"], "factor": -1, "interval": 1},
        })
        # 3 × 131 − 131 (the generic one flips the sign): the total of four meters.
        self.wait_power(262)
        for name in ("tas", "em3", "pro"):
            self.assertIn(131, self.samples(name), name)
        self.assertIn(-131, self.samples("gen"))
        # The queries of the presets, with Accept: application/json.
        reqs = sim.requests()
        seen = {(r["path"], r["query"]) for r in reqs}
        self.assertTrue({("/cm", "cmnd=status%2010"), ("/status", ""), ("/rpc/EM.GetStatus", "id=0"),
                         ("/api/meter", "")} <= seen, seen)
        self.assertTrue(all(r["accept"] == "application/json" for r in reqs), reqs[:3])
        # A new power reaches the total; an unchanged one keeps coming (one sample per poll).
        sim.call("/sim/power", {"power": 1000.4})
        self.wait_power(2000)
        n = len(self.samples("em3"))
        time.sleep(3.2)
        self.assertGreaterEqual(len(self.samples("em3")) - n, 2, "one sample per poll, even when unchanged")
        self.assertEqual(set(self.samples("em3")[n:]), {1000})
        self.assertNotRegex(self.d.logtext(), r" warning +\[(tas|em3|pro|gen)\]")

    # -- no reading twice ---------------------------------------------------------------------
    def test_each_reading_once(self):
        # Every answer carries a new power (+1 W each): a sample sent twice would repeat a value.
        sim = self.meter("--power", "100")
        sim.call("/sim/power", {"step": 1})
        self.start({"m": {"driver": "httpConsumption", "host": sim.host, "preset": "shellyPro3em", "interval": 1}})
        wait_for(lambda: len(self.powers()) >= 6, 15, what="six samples")
        sim.fail("hang")  # freeze: no answer is in flight when we count
        time.sleep(1.5)
        got = self.powers()
        answered = [round(p) for p in sim.state()["answered"]]
        self.assertEqual(len(got), len(set(got)), "a reading was published twice: %s" % got)
        self.assertEqual(got, answered[:len(got)], "samples must be the answers, in order")
        self.assertLessEqual(len(answered) - len(got), 1, "an answer was lost: %s vs %s" % (got, answered))
        self.assertEqual(self.samples("m"), got)
        sim.fail("none")

    # -- failures -------------------------------------------------------------------------------
    def test_errors_give_no_sample_and_a_warning(self):
        sim = self.meter("--power", "250")
        self.start({"m": {"driver": "httpConsumption", "host": sim.host, "preset": "shelly3em", "interval": 1}})
        self.wait_power(250)
        url = "http://%s/status" % sim.host
        cases = [
            ({"mode": "status", "status": 500}, "GET %s: HTTP 500" % url),
            ({"mode": "status", "status": 404}, "GET %s: HTTP 404" % url),
            ({"mode": "garbage"}, "GET %s: no sample: the answer: not JSON" % url),
            ({"mode": "nopath"}, 'GET %s: no sample: path[0] ("emeters"): no such member' % url),
            ({"mode": "null"}, "GET %s: no sample: the value at the end of the path: null instead of a number" % url),
        ]
        for fail, line in cases:
            sim.call("/sim/fail", dict(fail, count=1))
            n = len(self.powers())
            self.d.wait_log(line, 5)
            # The failing answer is in: nothing was published for it.
            wait_for(lambda: sim.state()["fail"]["count_left"] == 0, 5, what="the failing answer")
            self.assertEqual(self.powers()[n:], [], "a sample from a failing poll (%s)" % fail)
            wait_for(lambda: len(self.powers()) > n, 5, what="samples again after %s" % fail)
            self.assertEqual(self.powers()[-1], 250)
        self.assertIn("Readings are back after 1 failed poll(s)", self.d.logtext())
        # Warnings are rate-limited: 5 a minute per meter; 5 more failures add none.
        sim.call("/sim/fail", {"mode": "garbage", "count": 5})
        wait_for(lambda: sim.state()["fail"]["count_left"] == 0, 10, what="five more failing answers")
        time.sleep(1.5)
        warnings = [l for l in self.d.logtext().splitlines() if re.search(r" warning +\[m\] ", l)]
        self.assertEqual(len(warnings), 5, warnings)

    def test_auth(self):
        # libcurl "any" auth: the meter asks for basic, the driver answers with it.
        sim = self.meter("--power", "77", "--user", "reader", "--password", "s3cret", name="auth")
        self.start({
            "ok": {"driver": "httpConsumption", "host": sim.host, "preset": "shellyPro3em", "interval": 1,
                   "user": "reader", "password": "s3cret"},
            "bad": {"driver": "httpConsumption", "host": sim.host, "preset": "shelly3em", "interval": 1,
                    "user": "reader", "password": "wrong"},
        })
        wait_for(lambda: 77 in self.samples("ok"), 10, what="samples with the right password")
        self.d.wait_log("GET http://%s/status: HTTP 401 (check user and password)" % sim.host, 5)
        self.assertEqual(self.samples("bad"), [])
        self.assertEqual(self.powers(), [], "no total while one meter has never been heard")
        self.assertNotIn("s3cret", self.d.logtext())

    def test_hanging_meter_does_not_stall_the_other(self):
        hang = self.meter("--power", "300", name="hang")
        good = self.meter("--power", "50", name="good")
        good.call("/sim/power", {"step": 1})
        self.start({
            "slow": {"driver": "httpConsumption", "host": hang.host, "preset": "shellyPro3em", "interval": 1},
            "fast": {"driver": "httpConsumption", "host": good.host, "preset": "shellyPro3em", "interval": 1},
        })
        wait_for(lambda: len(self.powers()) >= 2, 10, what="totals from both meters")
        hang.fail("hang")
        t0 = time.time()
        n = len(self.powers())
        time.sleep(6)
        # The other meter went on at its 1 s pace, and each of its answers made a total
        # (the hanging meter's last value stays in it).
        times = [r["time"] for r in good.requests() if r["time"] >= t0]
        self.assertGreaterEqual(len(times), 5, times)
        self.assertLess(max(b - a for a, b in zip(times, times[1:])), 1.6, times)
        self.assertGreaterEqual(len(self.powers()) - n, 5)
        # The hanging meter: one request at a time, each given up after 1 s (min(5 s, interval)).
        st = hang.state()
        self.assertEqual(st["in_flight_max"], 1, st)
        self.assertLessEqual(len([r for r in hang.requests() if r["time"] >= t0]), 7)
        self.d.wait_log("GET http://%s/rpc/EM.GetStatus?id=0: no answer" % hang.host, 5)
        # Back: its samples come again.
        hang.fail("none")
        hang.call("/sim/power", {"power": 400})
        wait_for(lambda: 400 in self.samples("slow"), 10, what="the hung meter's samples again")
        self.assertEqual(self.d.stop(), 0)

    def test_netzero_takes_the_samples(self):
        # A house drawing 330 W from the grid (the meter does not see the inverter):
        # netzero raises the inverter up to its max_power, step by step.
        sim = self.meter("--power", "330")
        dtu = self.sim("dtu_sim.py", "--kind", "ahoy", "--speed", "10", "--noise", "0", name="ahoy")
        lut = os.path.join(self.workdir, "hm600.lut")
        with open(lut, "w") as f:
            f.write("# percent;watt\n" + "".join("%d;%d\n" % (p, p * 6) for p in range(10, 101, 10)))
        self.start({
            "m": {"driver": "httpConsumption", "host": sim.host, "preset": "shelly3em", "interval": 1},
            "inv1": {"driver": "ahoyDtu", "host": dtu.host, "id": 0, "power_lut": lut},
        }, netzero={"enabled": True, "signed": True, "maturity_time_span": 2, "max_power": 300},
            default_mode="discharge")
        self.d.wait_log("Set power 300 W (netzero)", 40)
        wait_for(lambda: dtu.state()["inverter"]["limit_pct"] == 50, 10, what="the inverter at 50 %")


if __name__ == "__main__":
    unittest.main()
