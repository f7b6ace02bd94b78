# SPDX-License-Identifier: MIT
"""victronMppt end to end: the daemon reads a simulated SmartSolar over a pty
(tests/sim/vedirect_sim.py) through a /dev/serial/by-id-like symlink and
publishes over a real mosquitto. Power and state, switching through HEX
(echo, retries, re-assert after drift, no periodic writes), corrupt blocks
and interleaved HEX frames, unplug/replug without a restart."""
import json
import os
import struct
import time
import unittest

import hbtest
from hbtest import HbTestCase, base_config, wait_for

SET_ON = ":8000200014A"
SET_OFF = ":80002000447"
ON, OFF, UNKNOWN = b"\x01", b"\x00", b"\xff"  # sol/state: int8, -1 = fault or syncing


def u16(v):
    return struct.pack(">H", v)


VeDirectSim = hbtest.VeDirectSim


class Victron(HbTestCase):
    def start(self, sim_args=(), **device):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "hbtest/#")
        self.link = os.path.join(self.workdir, "usb-VictronEnergy_BV_VE_Direct_cable_VE1234-if00-port0")
        self.sim = VeDirectSim(self.workdir, self.link, sim_args)
        self._hb_stops.append(self.sim.stop)
        dev = {"driver": "victronMppt", "port": self.link}
        dev.update(device)
        self.d = self.daemon(base_config(self.b.port, devices={"mppt": dev}))
        self.rec.wait("hbtest/status", b"online")

    def wait_state(self, payload, timeout=10):
        """Waits until the latest sol/state is payload."""
        wait_for(lambda: self.rec.last("hbtest/sol/state") == payload, timeout,
                 what="sol/state = %r (last %r)" % (payload, self.rec.last("hbtest/sol/state")))

    def wait_power(self, watts, timeout=10):
        wait_for(lambda: self.rec.last("hbtest/sol/p") == u16(watts) and
                 self.rec.last("hbtest/sol/dev/mppt/p") == u16(watts), timeout,
                 what="sol/p = %d (last %r)" % (watts, self.rec.last("hbtest/sol/p")))

    def wait_frame(self, frame, count=1, timeout=10):
        wait_for(lambda: self.sim.frames().count(frame) >= count, timeout,
                 what="%d x %s at the simulator (got %r)" % (count, frame, self.sim.frames()))

    def mode(self, m):
        self.rec.publish("hbtest/mode/set", m.encode(), qos=2)
        self.rec.wait("hbtest/mode/actual", m.encode())

    def test_power_state_and_switching(self):
        # The charger is off (mode 4) when the daemon starts; "idle" wants solar on.
        self.start(sim_args=["--mode", "4", "--ppv", "150", "--h20", "250"])
        self.wait_frame(SET_ON)
        self.wait_state(ON)
        self.wait_power(150)
        self.assertEqual(self.sim.state()["cs"], 3)
        dev = json.loads(self.rec.last("hbtest/sol/dev/mppt"))
        self.assertEqual(dev, {"status": "on", "power": 150})

        # Below the hysteresis (2 W): nothing new; above: published.
        self.sim.control(ppv=151)
        blocks = self.sim.state()["blocks_sent"]
        wait_for(lambda: self.sim.state()["blocks_sent"] >= blocks + 2, 5, what="two more blocks")
        self.assertEqual(self.rec.last("hbtest/sol/dev/mppt/p"), u16(150))
        self.sim.control(ppv=420)
        self.wait_power(420)

        # protect: HEX set to mode 4, the charger stops, state 0, power 0.
        self.mode("protect")
        self.wait_frame(SET_OFF)
        self.wait_state(OFF)
        wait_for(lambda: self.rec.last("hbtest/sol/dev/mppt/p") == u16(0), 5, what="device power 0")
        self.assertEqual(self.sim.state()["mode"], 4)

        # idle again: mode 1, back on.
        self.mode("idle")
        self.wait_frame(SET_ON, count=2)
        self.wait_state(ON)
        self.wait_power(420)

        # In sync: no writes at all, not even periodically (the re-assert
        # limit is 10 s, so wait longer than that).
        n = len(self.sim.log())
        time.sleep(12)
        self.assertEqual(len(self.sim.log()), n, self.sim.frames())
        for e in self.sim.log():
            self.assertEqual(e["answer"], e["frame"])  # every command was well-formed and echoed
        self.assertIn("Device mode 1 confirmed", self.d.logtext())

    def test_corrupt_blocks_and_interleaved_hex(self):
        self.start(sim_args=["--ppv", "200"])
        self.wait_state(ON)
        self.wait_power(200)

        # Corrupt blocks claiming a fault and other power change nothing.
        n_states = len(self.rec.all("hbtest/sol/state"))
        self.sim.control(corrupt_next=3, corrupt_values={"ppv": 777, "cs": 2, "h20": 5})
        wait_for(lambda: self.sim.state()["corrupt_sent"] >= 3, 10, what="3 corrupt blocks")
        blocks = self.sim.state()["blocks_sent"]
        wait_for(lambda: self.sim.state()["blocks_sent"] >= blocks + 2, 5, what="two good blocks")
        self.assertNotIn(u16(777), self.rec.all("hbtest/sol/p"))
        self.assertEqual(self.rec.all("hbtest/sol/state")[n_states:], [])
        self.assertEqual(self.rec.last("hbtest/sol/state"), ON)
        self.assertIn("Dropped a block: wrong checksum", self.d.logtext())

        # :A frames between fields and right after the checksum byte, and
        # garbage between blocks: the blocks still count.
        self.sim.control(interleave_hex=True, ppv=333, garbage="\x00\xff:zz\r\nnoise")
        self.wait_power(333)
        self.sim.control(ppv=90)
        self.wait_power(90)
        self.assertEqual(self.rec.last("hbtest/sol/state"), ON)
        self.assertIsNone(self.d.proc.poll())

    def test_unplug_and_replug(self):
        self.start(sim_args=["--ppv", "180"])
        self.wait_state(ON)
        self.wait_power(180)
        pid = self.d.proc.pid

        self.sim.control(vanish=True)
        self.assertFalse(os.path.lexists(self.link))
        self.wait_state(UNKNOWN)
        self.assertEqual(json.loads(self.rec.last("hbtest/sol/dev/mppt"))["status"], "syncing")
        time.sleep(4)  # a few reopen attempts against a missing port
        self.assertIsNone(self.d.proc.poll())

        self.sim.control(vanish=False, ppv=160)
        self.assertTrue(os.path.lexists(self.link))
        self.wait_state(ON, timeout=15)
        self.wait_power(160)
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(self.d.proc.pid, pid)

        # Still switchable on the new pty.
        self.mode("protect")
        self.wait_frame(SET_OFF)
        self.wait_state(OFF)

    def test_reassert_after_drift(self):
        self.start(sim_args=["--ppv", "250"])
        self.wait_state(ON)
        # Someone switches the charger off in VictronConnect: OR says "device
        # mode register", so the daemon switches it on again (rate-limited).
        first_on = self.sim.frames().count(SET_ON)
        self.sim.control(mode=4)
        self.wait_state(OFF)
        # The re-assert is rate-limited to one round per 10 s after the last command.
        self.wait_frame(SET_ON, count=first_on + 1, timeout=15)
        self.wait_state(ON, timeout=5)
        self.assertIn("should be on: switching again", self.d.logtext())

    def test_retries_without_echo(self):
        self.start(sim_args=["--ppv", "250"])
        self.wait_state(ON)
        self.sim.control(mute_hex=True)
        self.mode("protect")
        # 3 tries 2 s apart, then a pause.
        self.wait_frame(SET_OFF, count=3, timeout=10)
        t3 = time.monotonic()
        time.sleep(3)
        self.assertEqual(self.sim.frames().count(SET_OFF), 3)
        self.assertIn("failed 3 times", self.d.logtext())
        self.assertEqual(self.rec.last("hbtest/sol/state"), ON)
        # The charger answers again: the next round (≥ 10 s after the last
        # try, with the next block) switches it off.
        self.sim.control(mute_hex=False)
        self.wait_frame(SET_OFF, count=4, timeout=15)
        self.assertGreaterEqual(time.monotonic() - t3, 5)
        self.wait_state(OFF)

    def test_control_none_never_writes(self):
        self.start(sim_args=["--ppv", "250"], control="none")
        self.wait_state(ON)
        self.mode("protect")
        self.mode("idle")
        time.sleep(3)
        self.assertEqual(self.sim.log(), [])
        self.assertEqual(self.rec.last("hbtest/sol/state"), ON)

    def test_missing_gpio_chip_is_a_fault_not_an_exit(self):
        """A GPIO chip that does not exist used to end the start with exit 1, which systemd
        repeats forever. Now the daemon runs: one error line, the charger in fault (state -1)
        while its data is still read, no exit."""
        self.start(sim_args=["--ppv", "120"], control={"gpio": {"chip": "gpiochip97", "line": 3}})
        self.d.wait_log("the charger cannot be switched")
        self.wait_state(UNKNOWN)
        time.sleep(3)
        self.assertIsNone(self.d.proc.poll(), "the daemon exited")
        self.assertEqual(self.d.logtext().count("the charger cannot be switched"), 1)
        self.assertEqual(self.rec.last("hbtest/sol/state"), UNKNOWN)


if __name__ == "__main__":
    unittest.main()
