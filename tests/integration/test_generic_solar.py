# SPDX-License-Identifier: MIT
"""genericSolar end to end: the daemon polls two simulated PZEM-017 meters
(tests/sim/pzem_sim.py) at addresses 1 and 2 on one RS485 bus (a pty behind a
by-id-like symlink) and publishes the solar topics over a real mosquitto.
Decoding, both devices sharing the bus (one request at a time, an idle gap),
corrupt answers dropped, exceptions logged, silence → failed reads and fault,
unplug/replug without a restart, and --check-config refusing two devices that
disagree on the bus settings."""
import json
import os
import struct
import subprocess
import time
import unittest

import hbtest
from hbtest import HbTestCase, base_config, wait_for

ON, OFF, UNKNOWN = b"\x01", b"\x00", b"\xff"  # sol/state: int8, -1 = fault or syncing


def u16(v):
    return struct.pack(">H", v)


class PzemSim(hbtest.SerialSim):
    """tests/sim/pzem_sim.py with meters at these addresses."""

    def __init__(self, workdir, link, meters):
        super().__init__(workdir, "pzem_sim.py", link, [a for m in meters for a in ("--meter", str(m))])

    def meter(self, address):
        return self.state()["meters"][str(address)]


def pzem(port, address, **extra):
    d = {"driver": "genericSolar", "port": port, "address": address, "current_range": 100}
    d.update(extra)
    return d


class GenericSolar(HbTestCase):
    def start(self, sol2=None):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "hbtest/#")
        self.link = os.path.join(self.workdir, "usb-FTDI_FT232R_USB_UART_A10K1234-if00-port0")
        self.sim = PzemSim(self.workdir, self.link, [1, 2])
        self._hb_stops.append(self.sim.stop)
        # Meter 1: the worked example (81.9 W); meter 2: 150.0 W.
        self.sim.control(meter=2, v=2650, i=566, p=1500, e=500)
        devices = {"sol1": pzem(self.link, 1), "sol2": sol2 or pzem(self.link, 2)}
        self.d = self.daemon(base_config(self.b.port, devices=devices))
        self.rec.wait("hbtest/status", b"online")

    def dev_power(self, name):
        return self.rec.last("hbtest/sol/dev/%s/p" % name)

    def wait_dev(self, name, status, power=None, timeout=15):
        def ok():
            raw = self.rec.last("hbtest/sol/dev/%s" % name)
            if not raw:
                return False
            dev = json.loads(raw)
            return dev["status"] == status and (power is None or dev["power"] == power)
        wait_for(ok, timeout, what="%s %s %s (last %r)" % (name, status, power,
                                                            self.rec.last("hbtest/sol/dev/%s" % name)))

    def test_two_meters_on_one_bus(self):
        self.start()
        self.wait_dev("sol1", "on", 82)
        self.wait_dev("sol2", "on", 150)
        wait_for(lambda: self.rec.last("hbtest/sol/state") == ON, 10, what="sol/state on")
        wait_for(lambda: self.rec.last("hbtest/sol/p") == u16(232), 10,
                 what="sol/p = 232 (last %r)" % self.rec.last("hbtest/sol/p"))
        # Each started by reading its current range (holding register 3), then samples.
        log = self.sim.log()
        for a in (1, 2):
            frames = [e["frame"] for e in log if e["address"] == a]
            self.assertEqual(frames[0], "%02x 03 00 03 00 01 %s" % (a, "74 0a" if a == 1 else "74 39"))
            self.assertIn("%02x 04 00 00 00 06" % a, frames[1])
        # One bus: requests never closer than the idle gap (20 ms) plus the answer's time.
        time.sleep(3)
        times = [e["t"] for e in self.sim.log()]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreater(len(gaps), 6)
        self.assertGreaterEqual(min(gaps), 0.018, gaps)
        print("request gaps (s):", " ".join("%.3f" % g for g in gaps))
        # Both polled about once a second.
        self.assertGreaterEqual(self.sim.meter(1)["requests"], 4)
        self.assertGreaterEqual(self.sim.meter(2)["requests"], 4)
        # A new value comes through the 5 s mean.
        self.sim.control(meter=2, p=3000)
        self.wait_dev("sol2", "on", 300, timeout=15)
        self.assertIn("Meter set to 100 A, shunt 100 A", self.d.logtext())

    def test_corrupt_exception_and_silence(self):
        self.start()
        self.wait_dev("sol1", "on", 82)
        self.wait_dev("sol2", "on", 150)
        # Corrupt answers claiming 999.9 W: dropped, never published.
        self.sim.control(meter=1, corrupt_next=4, corrupt_values={"p": 9999})
        wait_for(lambda: self.sim.meter(1)["corrupt_sent"] >= 4, 10, what="4 corrupt answers")
        time.sleep(2)
        self.assertNotIn(u16(1000), self.rec.all("hbtest/sol/dev/sol1/p"))
        self.assertEqual(self.dev_power("sol1"), u16(82))
        self.d.wait_log("[sol1] Read of address 1 failed: bad CRC")

        # Exceptions are failed reads, logged with their code.
        self.sim.control(meter=1, exception=4)
        self.d.wait_log("[sol1] Read of address 1 failed: exception code 04")
        self.sim.control(meter=1, exception=0)

        # Meter 2 falls silent: timeouts, fault with power 0; meter 1 goes on.
        self.sim.control(meter=2, silent=True)
        self.d.wait_log("[sol2] Read of address 2 failed: no answer within 500 ms")
        self.wait_dev("sol2", "fault", 0, timeout=15)
        self.wait_dev("sol1", "on", 82)
        self.sim.control(meter=1, p=1230)
        self.wait_dev("sol1", "on", 123)
        # It answers again: range first, then samples.
        self.sim.control(meter=2, silent=False)
        self.wait_dev("sol2", "on", 150, timeout=15)
        self.assertIsNone(self.d.proc.poll())

    def test_unplug_and_replug(self):
        self.start()
        self.wait_dev("sol1", "on", 82)
        self.wait_dev("sol2", "on", 150)
        pid = self.d.proc.pid
        self.sim.control(vanish=True)
        self.wait_dev("sol1", "fault", 0, timeout=15)
        self.wait_dev("sol2", "fault", 0, timeout=15)
        time.sleep(4)  # reopen attempts against a missing port
        self.assertIsNone(self.d.proc.poll())
        self.sim.control(vanish=False)
        self.sim.control(meter=1, p=500)
        self.wait_dev("sol1", "on", 50, timeout=20)
        self.wait_dev("sol2", "on", 150, timeout=20)
        self.assertEqual(self.d.proc.pid, pid)

    def test_check_config_refuses_disagreeing_devices(self):
        port = os.path.join(self.workdir, "ttyUSB1")
        cfg = base_config(1883, devices={"inv": pzem(port, 1, stop_bits=1), "sol": pzem(port, 2)})
        path = os.path.join(self.workdir, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([hbtest.HB_BINARY, "--check-config", "--config", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 78, p.stdout + p.stderr)
        self.assertIn("devices.sol.port: %s is also used by devices.inv with 9600 8N1; genericSolar needs 9600 8N2"
                      % port, p.stdout + p.stderr)
        # Agreeing devices pass (the missing port is only a warning).
        cfg["devices"]["inv"]["stop_bits"] = 2
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([hbtest.HB_BINARY, "--check-config", "--config", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("does not exist (yet)", p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
