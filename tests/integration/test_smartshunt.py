# SPDX-License-Identifier: MIT
"""victronSmartShunt end to end: the daemon reads a simulated SmartShunt
(tests/sim/smartshunt_sim.py) on a pty and publishes the battery topics over
a real mosquitto: a record without cells ("cells": [], no cell/<k> topics),
the capacity asked from the shunt (HEX 0x1000), the aux temperature only
when sent, an unsynchronised shunt (SOC ---), a corrupt block dropped,
silence → failed reads, unplug/replug without a restart, and --check-config
refusing a cell check that only a shunt would have to serve."""
import json
import os
import subprocess
import time
import unittest

import hbtest
from hbtest import HbTestCase, base_config, wait_for

LINK = "usb-VictronEnergy_BV_VE_Direct_cable_VE5678-if00-port0"


class SmartShunt(HbTestCase):
    def start(self, **dev):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "hbtest/#")
        self.sim = hbtest.SerialSim(self.workdir, "smartshunt_sim.py", os.path.join(self.workdir, LINK))
        self._hb_stops.append(self.sim.stop)
        device = {"driver": "victronSmartShunt", "port": self.sim.link, "interval": 1}
        device.update(dev)
        sup = {"cell_low": {"enabled": False}, "battery_offline": {"enabled": True, "threshold": 600}}
        self.d = self.daemon(base_config(self.b.port, devices={"shunt": device}, supervisor=sup))
        self.rec.wait("hbtest/status", b"online")

    def last(self):
        raw = self.rec.last("hbtest/bat/dev/shunt")
        return json.loads(raw) if raw else None

    def wait_record(self, cond, timeout=20, what="a record"):
        return wait_for(lambda: (lambda j: j if j and cond(j) else None)(self.last()), timeout, what=what)

    def test_records(self):
        self.start()
        j = self.wait_record(lambda j: j.get("c_full") == 200, what="a record with the shunt's 200 Ah")
        self.assertEqual(j["cells"], [])
        self.assertAlmostEqual(j["v"], 26.78)
        self.assertAlmostEqual(j["i"], -4.2)
        self.assertAlmostEqual(j["soc"], 87.3)
        self.assertAlmostEqual(j["c"], 174.6, places=1)
        self.assertEqual(j["n"], 57)
        self.assertEqual(j.get("temps", []), [])
        self.assertEqual([t for t in self.rec.topics() if "/cell/" in t or "/temp/" in t], [])
        self.assertGreaterEqual(self.sim.state()["capacity_asked"], 1)
        self.d.wait_log("[shunt] Battery capacity 200 Ah (set in the shunt)")
        # The aux input measures a temperature: it appears.
        self.sim.control(t=23)
        self.wait_record(lambda j: j.get("temps") == [23], what="temps [23]")
        self.rec.wait("hbtest/bat/dev/shunt/temp/0", timeout=10)
        # Not synchronised: SoC 0, logged once; the record still counts.
        self.sim.control(soc=None)
        self.wait_record(lambda j: j["soc"] == 0, what="SoC 0")
        time.sleep(2)
        self.assertEqual(self.d.logtext().count("not synchronised"), 1)
        self.sim.control(soc=500)
        self.wait_record(lambda j: j["soc"] == 50, what="SoC 50")
        # An alarm is logged when it comes.
        self.sim.control(alarm=True, ar=2)
        self.d.wait_log("[shunt] Alarm on: high voltage")

    def test_corrupt_silence_replug(self):
        self.start(capacity=280)
        self.wait_record(lambda j: j["c_full"] == 280, what="a record with the configured 280 Ah")
        self.assertEqual(self.sim.state()["capacity_asked"], 0)
        # Corrupt blocks claiming 99 A: dropped.
        self.sim.control(corrupt_next=3, corrupt_values={"i": 99000})
        wait_for(lambda: self.sim.state()["corrupt_sent"] >= 3, 10, what="3 corrupt blocks")
        time.sleep(1.5)
        self.assertNotIn(99.0, [json.loads(p)["i"] for p in self.rec.all("hbtest/bat/dev/shunt")])
        self.d.wait_log("[shunt] Dropped a block")
        # Silence: after 10 s the reads fail; records again when it talks.
        self.sim.control(silent=True)
        self.d.wait_log("no valid block for 10 s", timeout=20)
        self.sim.control(silent=False, i=-1500)
        self.wait_record(lambda j: j["i"] == -1.5, what="I -1.5 A after the silence")
        # Unplugged and back: no restart.
        pid = self.d.proc.pid
        self.sim.control(vanish=True)
        time.sleep(4)
        self.sim.control(vanish=False, i=-2500)
        self.wait_record(lambda j: j["i"] == -2.5, timeout=30, what="I -2.5 A after the replug")
        self.assertEqual(self.d.proc.pid, pid)

    def test_check_config(self):
        port = os.path.join(self.workdir, "ttyUSB5")
        cfg = base_config(1883, devices={"shunt": {"driver": "victronSmartShunt", "port": port}},
                          supervisor={"cell_low": {"enabled": True, "threshold": 3.0}})
        path = os.path.join(self.workdir, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([hbtest.HB_BINARY, "--check-config", "--config", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 78, p.stdout + p.stderr)
        self.assertIn("supervisor.cell_low: enabled, but no battery can report cell voltages (devices.shunt "
                      "(victronSmartShunt))", p.stdout + p.stderr)
        cfg["supervisor"]["cell_low"] = {"enabled": False}
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([hbtest.HB_BINARY, "--check-config", "--config", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
