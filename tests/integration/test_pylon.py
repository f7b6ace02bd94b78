# SPDX-License-Identifier: MIT
"""pylonLv end to end: the daemon reads two simulated Pylontech packs
(tests/sim/pylon_sim.py) at addresses 2 and 5 on one RS485 bus (a pty behind
a by-id-like symlink), finds each by its serial number and publishes the
battery topics over a real mosquitto. Decoding, the search, corrupt answers
dropped (no value from them published), a return code logged, silence →
failed reads, unplug/replug without a restart, a serial that is not on the
bus, and --check-config refusing a pylonLv and a genericSolar on one port."""
import json
import os
import re
import subprocess
import time
import unittest

import hbtest
from hbtest import HbTestCase, base_config, wait_for

SERIAL2, SERIAL5 = "PPTAH0000000002", "PPTAH0000000005"
CELLS2 = [3.301 + 0.001 * k for k in range(15)]


def pylon(port, serial, **extra):
    d = {"driver": "pylonLv", "port": port, "serial": serial, "interval": 5}
    d.update(extra)
    return d


class Pylon(HbTestCase):
    def start(self, devices=None):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "hbtest/#")
        self.link = os.path.join(self.workdir, "usb-FTDI_FT232R_USB_UART_B20K5678-if00-port0")
        self.sim = hbtest.SerialSim(self.workdir, "pylon_sim.py", self.link,
                                    ["--pack", "2:" + SERIAL2, "--pack", "5:" + SERIAL5])
        self._hb_stops.append(self.sim.stop)
        self.sim.control(pack=2, values={"cells": CELLS2, "i": -12.5, "v": 49.6, "c": 30.0, "c_full": 50.0, "n": 77,
                                         "temps": [20.0, 20.5, 21.0, 21.5]})
        self.sim.control(pack=5, values={"c": 100.0, "c_full": 100.0})
        devices = devices or {"pack2": pylon(self.link, SERIAL2), "pack5": pylon(self.link, SERIAL5)}
        supervisor = {"battery_offline": {"enabled": True, "threshold": 600}}
        self.d = self.daemon(base_config(self.b.port, devices=devices, supervisor=supervisor))
        self.rec.wait("hbtest/status", b"online")

    def record(self, name, timeout=40, after=None):
        """The next JSON record of name (after `after` records were seen)."""
        topic = "hbtest/bat/dev/%s" % name
        n = len(self.rec.all(topic)) if after is None else after
        wait_for(lambda: len(self.rec.all(topic)) > n, timeout, what="a record of %s" % name)
        return json.loads(self.rec.all(topic)[-1])

    def test_two_packs_on_one_bus(self):
        self.start()
        j = self.record("pack2", after=0)
        self.assertEqual(j["cells"], [round(c, 3) for c in CELLS2])
        self.assertEqual(j["temps"], [20.0, 20.5, 21.0, 21.5])  # the BMS board's is not among them
        self.assertAlmostEqual(j["i"], -12.5)
        self.assertAlmostEqual(j["v"], 49.6)
        self.assertEqual(j["soc"], 60)
        self.assertEqual(j["n"], 77)
        j = self.record("pack5", after=0)
        self.assertEqual(j["soc"], 100)
        self.assertAlmostEqual(j["c_full"], 100.0)  # above 65.535 Ah: the 3-byte fields
        self.assertEqual(len(j["cells"]), 15)
        log = self.d.logtext()
        self.assertIn("[pack2] Serial %s found at address 2" % SERIAL2, log)
        self.assertIn("[pack5] Serial %s found at address 5" % SERIAL5, log)
        self.assertIn("[pack2] Limits: cell 3.650/3.000/2.900 V", log)
        self.assertIn("[pack2] Alarms and states: charge MOSFET on, discharge MOSFET on", log)
        self.assertIn("[pack2] Management: charge up to 53.250 V and 37.0 A", log)
        # The search asked the empty addresses 0 and 1 (and 3, 4 for pack 5) once each per round.
        reqs = self.sim.log()
        self.assertEqual(sorted({e["address"] for e in reqs if e["cid2"] == 0x93}), [0, 1, 2, 3, 4, 5])
        # The next round of reads: 0x42, no search, no 0x47; values follow the pack.
        self.sim.control(pack=2, values={"c": 45.0})
        wait_for(lambda: json.loads(self.rec.last("hbtest/bat/dev/pack2"))["soc"] == 90, 15, what="SoC 90 %")
        reqs = self.sim.log()
        self.assertEqual(len([e for e in reqs if e["cid2"] == 0x47 and e["address"] == 2]), 1)
        # The class sums both packs: 45 + 100 Ah of 150 Ah.
        wait_for(lambda: self.rec.last("hbtest/bat/sum") and
                 round(json.loads(self.rec.last("hbtest/bat/sum"))["soc"]) == 97, 15, what="bat/sum soc 97")

    def test_corrupt_rtn_silence_replug(self):
        self.start()
        self.record("pack2", after=0)
        # Corrupt answers (bad CHKSUM) claiming 99 A: dropped, never published.
        self.sim.control(pack=2, corrupt_next=6, corrupt_values={"i": 99.0})
        wait_for(lambda: self.sim.state()["packs"]["2"]["corrupt_sent"] >= 6, 30, what="6 corrupt answers")
        # Logged once (rate-limited per kind), at whichever request the first one hit.
        wait_for(lambda: re.search(r"\[pack2\] Address 2, [a-z ]+: bad checksum", self.d.logtext()), 10,
                 what="a bad checksum logged")
        self.assertNotIn(99.0, [json.loads(p)["i"] for p in self.rec.all("hbtest/bat/dev/pack2")])
        # A return code: a failed read, logged with the code.
        self.sim.control(pack=2, rtn=6)
        self.d.wait_log("[pack2] Address 2, analog values: return code 06")
        self.sim.control(pack=2, rtn=0)
        # Silence: failed reads (counted, rate-limited), pack 5 goes on.
        self.sim.control(pack=2, silent=True)
        self.d.wait_log("[pack2] Address 2, analog values: no answer within 500 ms", timeout=20)
        n5 = len(self.rec.all("hbtest/bat/dev/pack5"))
        self.record("pack5", after=n5, timeout=20)
        self.sim.control(pack=2, silent=False)
        self.record("pack2", timeout=60)
        # Unplugged and back: both packs come back without a restart.
        pid = self.d.proc.pid
        self.sim.control(vanish=True)
        time.sleep(6)
        self.assertIsNone(self.d.proc.poll())
        self.sim.control(vanish=False)
        n2, n5 = len(self.rec.all("hbtest/bat/dev/pack2")), len(self.rec.all("hbtest/bat/dev/pack5"))
        self.record("pack2", after=n2, timeout=60)
        self.record("pack5", after=n5, timeout=60)
        self.assertEqual(self.d.proc.pid, pid)
        # The warnings were rate-limited: one line per kind, then counts.
        self.assertLessEqual(self.d.logtext().count("[pack2] Address 2, analog values: no answer"), 2)

    def test_serial_not_found(self):
        self.start({"pack9": pylon(os.path.join(self.workdir, "usb-FTDI_FT232R_USB_UART_B20K5678-if00-port0"),
                                   "PPTAH9999999999")})
        self.d.wait_log("[pack9] Battery with serial PPTAH9999999999 not found at addresses 0..15 (3 rounds)",
                        timeout=60)
        self.assertEqual(self.rec.all("hbtest/bat/dev/pack9"), [])
        self.assertIsNone(self.d.proc.poll())

    def test_check_config_refuses_pylon_and_modbus_on_one_port(self):
        port = os.path.join(self.workdir, "ttyUSB1")
        cfg = base_config(1883, devices={"pack": pylon(port, SERIAL2, baud=9600),
                                         "sol": {"driver": "genericSolar", "port": port, "current_range": 100}})
        path = os.path.join(self.workdir, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([hbtest.HB_BINARY, "--check-config", "--config", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 78, p.stdout + p.stderr)
        self.assertIn("devices.sol.port: %s is also used by devices.pack, which speaks Pylontech; genericSolar "
                      "speaks Modbus RTU" % port, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
