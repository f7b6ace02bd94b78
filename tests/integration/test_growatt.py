# SPDX-License-Identifier: MIT
"""growattInverterModbus end to end: a MIC TL-X (address 3, 1500 W) and an
xx00-S (address 4, 1000 W) simulated on one RS485 bus
(tests/sim/growatt_sim.py), an mqttBattery and a grid meter fed by the test,
the daemon in discharge with netzero. Both are switched on with H2 := 0 once,
netzero's limits (H3) follow the meter up and down, corrupt answers are
dropped, an exception is logged with its code, silence makes a fault that
clears, an unplugged adapter comes back, the upstream name is accepted with
a note, and --check-config refuses the inverter on a victronMppt's port."""
import json
import os
import subprocess
import threading
import time
import unittest

import hbtest
from hbtest import HbTestCase, base_config, wait_for
from test_operating import OTHER, battery_parts

ROOT = "hbtest"


def growatt(port, address, family, **extra):
    d = {"driver": "growattInverterModbus", "port": port, "address": address, "family": family}
    d.update(extra)
    return d


class Growatt(HbTestCase):
    def start(self, house_w=900):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, ROOT + "/#")
        self.link = os.path.join(self.workdir, "usb-FTDI_FT232R_USB_UART_C30K9012-if00-port0")
        self.sim = hbtest.SerialSim(self.workdir, "growatt_sim.py", self.link,
                                    ["--inverter", "3:TL-X:1500", "--inverter", "4:xx00-S:1000"])
        self._hb_stops.append(self.sim.stop)
        c = base_config(self.b.port, devices={
            "inv3": growatt(self.link, 3, "TL-X"),
            "inv4": growatt(self.link, 4, "xx00-S"),
            "meter": {"driver": "mqttConsumption", "topic": "meter/power", "format": "text"},
            "b1": {"driver": "mqttBattery", "root_topic": OTHER, "cells_count": 4, "temperature_count": 1},
        })
        c["general"]["default_mode"] = "discharge"
        c["netzero"] = {"enabled": True, "signed": True, "maturity_time_span": 2, "evaluated_time_span": 6,
                        "algorithm": os.environ.get("HB_GROWATT_ALGORITHM", "direct"),
                        "power_offset": 0, "power_hysteresis": 10, "power_change_upwards": 400,
                        "power_change_downwards": 400}
        self.house = {"w": house_w, "on": True}
        self.d = self.daemon(c)
        self.rec.wait(ROOT + "/status", b"online")
        time.sleep(0.3)
        for sub, payload in battery_parts(50.0, -5.0, 60):
            self.rec.publish(OTHER + "/" + sub, payload)
        self.meter()

    def meter(self):
        """The grid meter once a second: the house minus what both inverters really produce."""
        stop = threading.Event()

        def run():
            while not stop.is_set():
                if self.house["on"]:
                    try:
                        out = sum(i["output_w"] for i in self.sim.state()["inverters"].values())
                        self.rec.client.publish("meter/power", b"%d" % round(self.house["w"] - out), qos=0)
                    except Exception:  # noqa: BLE001 - the sim may be stopping
                        pass
                stop.wait(1.0)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        self._hb_stops.append(lambda: (stop.set(), th.join(5)))

    def inv(self, address):
        return self.sim.state()["inverters"][str(address)]

    def output(self):
        return sum(i["output_w"] for i in self.sim.state()["inverters"].values())

    def limit_writes(self, address):
        """The H3 values written to address, oldest first."""
        out = []
        for e in self.sim.log():
            b = bytes.fromhex(e["frame"])
            if b[0] == address and b[1] == 6 and b[3] == 3:
                out.append(b[5])
        return out

    def dev(self, name):
        raw = self.rec.last("%s/inv/dev/%s" % (ROOT, name))
        return json.loads(raw) if raw else {}

    def wait_netzero(self, cond, timeout, what):
        """wait_for, and on a timeout the netzero and limit lines of the daemon's log with the failure."""
        try:
            wait_for(cond, timeout, what=what)
        except AssertionError as e:
            lines = [ln for ln in self.d.logtext().splitlines()
                     if "[netzero]" in ln or "Set power" in ln or "] Limit" in ln]
            raise AssertionError("%s\nlast netzero lines:\n%s" % (e, "\n".join(lines[-40:]))) from None

    def test_netzero_drives_both(self):
        self.start(house_w=900)
        wait_for(lambda: self.inv(3)["on"] and self.inv(4)["on"], 40, what="both inverters switched on")
        self.wait_netzero(lambda: abs(self.output() - 900) <= 60, 60, "the inverters near the house's 900 W")
        for a in (3, 4):
            st = self.inv(a)
            self.assertEqual(st["memory"], 0, "H2 := 0: volatile limits")
            self.assertEqual(st["writes"]["memory"], 1, "H2 written once after connect")
            self.assertTrue(self.limit_writes(a), "no limit (H3) written to %d" % a)
        wait_for(lambda: self.dev("inv3").get("status") == "on" and self.dev("inv4").get("status") == "on", 20,
                 what="inv/dev/inv3 and inv4 on")
        up = self.limit_writes(3)[-1] + self.limit_writes(4)[-1]
        # The house needs less: the limits come down.
        self.house["w"] = 300
        self.wait_netzero(lambda: abs(self.output() - 300) <= 60, 60, "the inverters near 300 W")
        down = self.limit_writes(3)[-1] + self.limit_writes(4)[-1]
        self.assertLess(down, up)
        print("limits (H3) written: inv3 %s, inv4 %s" % (self.limit_writes(3), self.limit_writes(4)))
        # The xx00-S was switched with upstream's 0x0101.
        frames = [e["frame"] for e in self.sim.log()]
        self.assertIn("04 06 00 00 01 01 49 cf", frames)
        self.assertIn("03 06 00 00 00 01 49 e8", frames)

    def test_corrupt_exception_silence_replug(self):
        self.start(house_w=600)
        wait_for(lambda: self.inv(3)["on"], 40, what="inv3 on")
        self.sim.control(inverter=3, corrupt_next=3)
        self.d.wait_log("of address 3 failed: bad CRC", 15)
        self.sim.control(inverter=4, exception=4)
        self.d.wait_log("of address 4 failed: exception code 04", 15)
        self.sim.control(inverter=4, exception=0)
        # Silence: a fault (two failures in a row), then back.
        self.sim.control(inverter=3, silent=True)
        wait_for(lambda: self.dev("inv3").get("status") == "fault", 20, what="inv3 fault")
        self.sim.control(inverter=3, silent=False)
        wait_for(lambda: self.dev("inv3").get("status") == "on", 30, what="inv3 on again")
        # Unplugged: faults, no restart; plugged in: on again, H2 written again.
        pid = self.d.proc.pid
        self.sim.control(vanish=True)
        wait_for(lambda: self.dev("inv3").get("status") == "fault" and self.dev("inv4").get("status") == "fault", 20,
                 what="both fault while unplugged")
        time.sleep(4)
        self.sim.control(vanish=False)
        wait_for(lambda: self.dev("inv3").get("status") == "on" and self.dev("inv4").get("status") == "on", 40,
                 what="both on after the replug")
        self.assertEqual(self.d.proc.pid, pid)
        self.assertGreaterEqual(self.inv(3)["writes"]["memory"], 2, "H2 again after the reconnect")

    def test_alias_and_port_rules(self):
        port = os.path.join(self.workdir, "ttyUSB3")
        cfg = base_config(1883, devices={"inv": growatt(port, 1, "TL-X", driver="growattinvertermodbus")},
                          general={"inverter_power": 300})
        path = os.path.join(self.workdir, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([hbtest.HB_BINARY, "--check-config", "--config", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("driver growattinvertermodbus is now called growattInverterModbus", p.stdout + p.stderr)
        cfg["devices"]["mppt"] = {"driver": "victronMppt", "port": port, "control": "hex"}
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([hbtest.HB_BINARY, "--check-config", "--config", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 78, p.stdout + p.stderr)
        self.assertIn("devices.mppt.port: %s is also used by devices.inv" % port, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
