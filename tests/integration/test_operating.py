# SPDX-License-Identifier: MIT
"""Operating limits end to end (docs/control.md): the real daemon, a real
mosquitto, the AhoyDTU/OpenDTU simulator and an mqttBattery fed by the test.
netzero.max_power caps netzero; supervisor.current_discharge lowers the
inverters by the excess power and lifts the cap again; netzero.fallback holds
the fallback power while the meter is silent; supervisor.soc_low/soc_high and
current_charge lock and unlock (topics and /api/status); limit_refresh
re-sends an unchanged limit; restart_at restarts the inverter and sets the
limit before anything else."""
import json
import os
import struct
import threading
import time
import unittest

import hbtest
from hbtest import HbTestCase, base_config, wait_for

ROOT = "hbtest"
OTHER = "other/bat/dev/b1"
# 10 % steps of a 600 W inverter, as the simulated one really is (linear).
LUT = "".join("%d;%d\n" % (p, p * 6) for p in range(10, 101, 10))
DTU_FAST = ("--speed", "10", "--noise", "0")
CELLS = (3.30, 3.31, 3.29, 3.30)


def battery_parts(v, i, soc):
    parts = [("v", struct.pack(">H", round(v * 100))), ("i", struct.pack(">h", round(i * 10))),
             ("soc", struct.pack(">B", soc)), ("c", struct.pack(">H", 500)), ("n", struct.pack(">H", 3))]
    parts += [("cell/%d" % k, struct.pack(">H", round(x * 1000))) for k, x in enumerate(CELLS)]
    parts += [("temp/0", struct.pack(">h", 200))]
    return parts


class Operating(HbTestCase):
    def start(self, devices, general=None, netzero=None, supervisor=None, http_port=None, env=None):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, ROOT + "/#")
        c = base_config(self.b.port)
        c["devices"] = devices
        c["general"].update(general or {})
        if netzero:
            c["netzero"] = netzero
        if supervisor:
            c["supervisor"] = supervisor
        if http_port:
            c["http"] = {"listen": "127.0.0.1:%d" % http_port}
        self.d = self.daemon(c, env=env)
        self.rec.wait(ROOT + "/status", b"online")
        time.sleep(0.3)  # the daemon's subscriptions reach the broker

    def lut(self):
        path = os.path.join(self.workdir, "hm600.lut")
        with open(path, "w") as f:
            f.write("# percent;watt\n" + LUT)
        return path

    def battery(self, v=50.0, i=-5.0, soc=50):
        for sub, payload in battery_parts(v, i, soc):
            self.rec.publish(OTHER + "/" + sub, payload)

    def meter(self, dtu, house):
        """Publishes the grid meter every second while house["on"]: house["w"] minus the simulated
        inverter's output."""
        stop = threading.Event()

        def run():
            while not stop.is_set():
                if house.get("on", True):
                    try:
                        out = dtu.state()["inverter"]["output_w"]
                        self.rec.client.publish("meter/power", b"%d" % round(house["w"] - out), qos=0)
                    except Exception:  # noqa: BLE001 - the sim may be stopping
                        pass
                stop.wait(1.0)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        self._hb_stops.append(lambda: (stop.set(), th.join(5)))

    @staticmethod
    def commands(dtu):
        return [what for _, what in dtu.state()["inverter"]["commands"]]

    def wait_limit(self, dtu, pct, timeout=30):
        wait_for(lambda: dtu.state()["inverter"]["limit_pct"] == pct, timeout,
                 what="inverter limit %s %% (now %s, commands %s)" % (
                     pct, dtu.state()["inverter"]["limit_pct"], self.commands(dtu)[-6:]))

    def test_max_power_current_cap_and_fallback(self):
        dtu = self.sim("dtu_sim.py", "--kind", "ahoy", *DTU_FAST, name="ahoy")
        house = {"w": 1000, "on": True}
        self.start({
            "inv1": {"driver": "ahoyDtu", "host": dtu.host, "id": 0, "power_lut": self.lut()},
            "meter": {"driver": "mqttConsumption", "topic": "meter/power", "format": "text"},
            "b1": {"driver": "mqttBattery", "root_topic": OTHER, "cells_count": 4, "temperature_count": 1},
        }, general={"default_mode": "discharge"},
            netzero={"enabled": True, "signed": True, "maturity_time_span": 2, "max_power": 300,
                     "fallback": {"after": 5, "power": 120}},
            supervisor={"current_discharge": {"enabled": True, "threshold": 20, "hysteresis": 5}})
        self.battery(i=-5.0)
        self.meter(dtu, house)
        # max_power: the house wants 1000 W, netzero stops at 300 W (50 %).
        self.wait_limit(dtu, 50, timeout=40)
        self.d.wait_log("Set power 300 W (netzero)", 10)
        time.sleep(5)
        self.assertEqual(dtu.state()["inverter"]["limit_pct"], 50)
        self.assertNotIn("limit 60", self.commands(dtu))

        # The battery discharges 24 A (threshold 20 A) at 50 V: 200 W less, 100 W → the 60 W step.
        self.battery(i=-24.0)
        self.d.wait_log("Reducing the inverters to 100 W: battery b1 discharges 4.0 A above", 15)
        self.wait_limit(dtu, 10)
        time.sleep(3)
        self.assertEqual(dtu.state()["inverter"]["limit_pct"], 10, "netzero must not lift the cap")
        # 14 A: below threshold - hysteresis: the cap goes, netzero climbs to max_power again.
        self.battery(i=-14.0)
        self.d.wait_log("the cap is lifted", 45)
        self.wait_limit(dtu, 50, timeout=40)

        # The meter goes silent: after 5 s the fallback power (120 W, 20 %), held.
        house["on"] = False
        self.d.wait_log("No consumption reading for 5 s while the inverters are on", 20)
        self.wait_limit(dtu, 20)
        time.sleep(4)
        self.assertEqual(dtu.state()["inverter"]["limit_pct"], 20)
        house["on"] = True
        self.d.wait_log("Consumption readings are back", 10)
        self.wait_limit(dtu, 50, timeout=40)
        log = self.d.logtext()
        self.assertEqual(log.count("No consumption reading for"), 1, "logged once each way")
        self.assertEqual(log.count("Consumption readings are back"), 1)

    def test_soc_and_current_charge_locks(self):
        dtu = self.sim("dtu_sim.py", "--kind", "ahoy", *DTU_FAST, name="ahoy")
        port = hbtest.free_port()
        self.start({
            "inv1": {"driver": "ahoyDtu", "host": dtu.host, "id": 0, "power_lut": self.lut()},
            "b1": {"driver": "mqttBattery", "root_topic": OTHER, "cells_count": 4, "temperature_count": 1},
        }, general={"default_mode": "discharge", "inverter_power": 300},
            supervisor={"soc_low": {"enabled": True, "threshold": 20, "hysteresis": 5},
                        "soc_high": {"enabled": True, "threshold": 90, "hysteresis": 5},
                        "current_charge": {"enabled": True, "threshold": 30, "hysteresis": 5}},
            http_port=port)

        def locks():
            last = self.rec.last(ROOT + "/locks")
            return json.loads(last) if last else None

        def api_locks():
            return [lk["name"] if isinstance(lk, dict) else lk
                    for lk in hbtest.http_json("http://127.0.0.1:%d/api/status" % port)["locks"]]

        self.battery(soc=50)
        wait_for(lambda: dtu.state()["inverter"]["producing"], 30, what="the inverter on")
        self.battery(soc=15)
        wait_for(lambda: "soc_low" in str(locks()), 15, what="soc_low in %s/locks (%s)" % (ROOT, locks()))
        self.rec.wait(ROOT + "/locked", b"soc_low", timeout=10)
        self.assertIn("soc_low", api_locks())
        wait_for(lambda: not dtu.state()["inverter"]["on"], 15, what="the inverter off")
        # 24 % is still below threshold + hysteresis; 25 % clears it.
        self.battery(soc=24)
        time.sleep(3)
        self.assertIn("soc_low", str(locks()))
        self.battery(soc=25)
        wait_for(lambda: "soc_low" not in str(locks()), 15, what="soc_low cleared (%s)" % locks())
        wait_for(lambda: dtu.state()["inverter"]["on"], 30, what="the inverter on again")
        # Full and charging hard: the charger's locks.
        self.battery(soc=95, i=35.0)
        wait_for(lambda: "soc_high" in str(locks()) and "current_charge" in str(locks()), 15,
                 what="soc_high and current_charge (%s)" % locks())
        self.assertIn("soc_high", api_locks())
        self.assertIn("current_charge", api_locks())

    def test_limit_refresh_opendtu(self):
        dtu = self.sim("dtu_sim.py", "--kind", "opendtu", *DTU_FAST, name="opendtu")
        self.start({"inv1": {"driver": "openDtu", "host": dtu.host, "serial": "114182912345",
                             "power_lut": self.lut(), "limit_refresh": 10}},
                   general={"default_mode": "discharge", "inverter_power": 300})
        wait_for(lambda: "limit 50" in self.commands(dtu), 30, what="the limit (%s)" % self.commands(dtu))
        wait_for(lambda: self.commands(dtu).count("limit 50") >= 3, 40,
                 what="the unchanged limit sent again every 10 s (%s)" % self.commands(dtu))
        times = [t for t, what in dtu.state()["inverter"]["commands"] if what == "limit 50"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        print("refresh gaps %s" % gaps)
        # The simulator's time runs 10 times faster: 10 s are 100 of its seconds.
        for g in gaps:
            self.assertGreater(g, 90)

    def test_restart_at(self):
        dtu = self.sim("dtu_sim.py", "--kind", "ahoy", *DTU_FAST, name="ahoy")
        # The next minute in UTC, at least 15 s away, so that the inverter is on before it.
        t = time.gmtime(time.time() + 75)
        at = "%02d:%02d" % (t.tm_hour, t.tm_min)
        self.start({"inv1": {"driver": "ahoyDtu", "host": dtu.host, "id": 0, "power_lut": self.lut(),
                             "restart_at": at}},
                   general={"default_mode": "discharge", "inverter_power": 300}, env={"TZ": "UTC"})
        wait_for(lambda: "restart" in self.commands(dtu), 100,
                 what="the restart at %s UTC (%s)" % (at, self.commands(dtu)))
        self.d.wait_log("Daily restart (restart_at %s)" % at, 5)
        wait_for(lambda: len(self.commands(dtu)) > self.commands(dtu).index("restart") + 1, 30,
                 what="a command after the restart (%s)" % self.commands(dtu))
        after = self.commands(dtu)[self.commands(dtu).index("restart") + 1:]
        print("after the restart: %s" % after)
        self.assertEqual(after[0], "limit 50", "the limit goes first after the restart")
        self.assertNotIn("on", after[:1])
        wait_for(lambda: dtu.state()["inverter"]["producing"] and dtu.state()["inverter"]["limit_pct"] == 50, 30,
                 what="producing again at 50 %% (%s)" % dtu.state()["inverter"])
        self.assertNotIn("Status fault", self.d.logtext().split("Daily restart")[1], "a planned restart is no fault")
        self.assertNotIn("class fault", self.d.logtext().split("Daily restart")[1])
        self.assertEqual(self.commands(dtu).count("restart"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
