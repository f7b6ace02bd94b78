# SPDX-License-Identifier: MIT
"""HTTP devices end to end: the real daemon, a real mosquitto and the device
simulators of tests/sim (shelly_sim.py, dtu_sim.py) on free 127.0.0.1 ports.
Mode changes drive the right requests (the on-command carries the auto-off
timer), Gen1/Gen2 auth and generation detection, the dead-man timer after
kill -9, an inverter on, stepped by netzero from an MQTT meter and off, the
restart after the inverter switched itself off, a hanging device that does not
delay the others, 500s and garbage logged and survived, and every device's
last good read, failures and last error in /api/status."""
import json
import os
import signal
import struct
import threading
import time
import unittest

import hbtest
from hbtest import HbTestCase, base_config, wait_for

ROOT = "hbtest"
SERIAL = "114182912345"
# 10 % steps of a 600 W inverter, as the simulated one really is (linear).
LUT = "".join("%d;%d\n" % (p, p * 6) for p in range(10, 101, 10))
ON, OFF, FAULT = b"\x01", b"\x00", b"\xff"
# The DTU simulator runs inverter time 10 times faster: a command arrives
# after 0.3 s, the output settles in 2 s, a restart takes 1 s.
DTU_FAST = ("--speed", "10", "--noise", "0")


def u16(v):
    return struct.pack(">H", v)


class HttpDevices(HbTestCase):
    # -- helpers ---------------------------------------------------------------------------
    def start(self, devices, general=None, netzero=None, http_port=None):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, ROOT + "/#")
        c = base_config(self.b.port)
        c["devices"] = devices
        c["general"].update(general or {})
        if netzero:
            c["netzero"] = netzero
        if http_port:
            c["http"] = {"listen": "127.0.0.1:%d" % http_port}
        self.d = self.daemon(c)
        self.rec.wait(ROOT + "/status", b"online")
        # Subscriptions are sent right after CONNACK; give the broker a moment.
        time.sleep(0.3)

    def lut(self):
        path = os.path.join(self.workdir, "hm600.lut")
        with open(path, "w") as f:
            f.write("# percent;watt\n" + LUT)
        return path

    def mode(self, m):
        """Requests a mode and waits for its answer; returns (wall time of the request, s until the answer)."""
        n = len(self.rec.all(ROOT + "/mode/actual"))
        t_wall, t0 = time.time(), time.monotonic()
        self.rec.publish(ROOT + "/mode/set", m.encode())
        wait_for(lambda: len(self.rec.all(ROOT + "/mode/actual")) > n, 5, what="answer to mode %s" % m)
        with self.rec.lock:
            t_answer = [t for topic, _, _, t in self.rec.messages if topic == ROOT + "/mode/actual"][n]
        return t_wall, t_answer - t0

    def wait_state(self, cls, value, timeout=10):
        wait_for(lambda: self.rec.last("%s/%s/state" % (ROOT, cls)) == value, timeout,
                 what="%s/state = %r (last %r)" % (cls, value, self.rec.last("%s/%s/state" % (ROOT, cls))))

    def status(self, topic):
        """The "status" of the last JSON message on cha/sum, inv/dev/<name>, ..."""
        last = self.rec.last("%s/%s" % (ROOT, topic))
        return json.loads(last)["status"] if last else None

    def wait_status(self, topic, status, timeout=10):
        """Waits for a status in cha/sum, inv/dev/<name>, ...: the int8 state
        topics say 0xFF for both syncing and fault, the JSON ones tell them apart."""
        wait_for(lambda: self.status(topic) == status, timeout,
                 what="%s status %s (last %s)" % (topic, status, self.status(topic)))

    def wait_new(self, topic, payload, timeout=10):
        """Waits for a message on topic with that payload that arrives from now on."""
        n = len(self.rec.all(topic))
        wait_for(lambda: payload in self.rec.all(topic)[n:], timeout,
                 what="%s = %r (seen %r)" % (topic, payload, self.rec.all(topic)[n:]))

    @staticmethod
    def reqs(sim, path, query=None, since=0.0):
        return [r for r in sim.requests()
                if r["path"] == path and (query is None or r["query"] == query) and r["time"] >= since]

    def wait_req(self, sim, path, query=None, since=0.0, timeout=10):
        """Waits for a device request; returns the first one (its time is unix time of arrival)."""
        return wait_for(lambda: self.reqs(sim, path, query, since), timeout,
                        what="%s %s?%s (seen: %s)" % (sim.name, path, query or "*",
                                                      [(r["path"], r["query"]) for r in sim.requests()[-8:]]))[0]

    @staticmethod
    def relay(sim):
        return sim.state()["relays"][0]

    # -- Shelly ------------------------------------------------------------------------------
    def test_shelly_modes_auth_and_detection(self):
        # Gen1 with basic auth; Gen2 with digest auth and no `generation`
        # (detected); Gen1 without auth and without `generation` (detected).
        g1 = self.sim("shelly_sim.py", "--gen", "1", "--user", "admin", "--password", "pw-gen1", name="g1")
        g2 = self.sim("shelly_sim.py", "--gen", "2", "--password", "pw-gen2", name="g2")
        g1d = self.sim("shelly_sim.py", "--gen", "1", name="g1d")
        self.start({
            "sh1": {"driver": "shellyCharger", "host": g1.host, "relay_id": 0, "generation": 1, "user": "admin",
                    "password": "pw-gen1"},
            "sh2": {"driver": "shellyCharger", "host": g2.host, "relay_id": 0, "password": "pw-gen2"},
            "sh3": {"driver": "shellyCharger", "host": g1d.host, "relay_id": 0},
        })
        on1, off1 = ("/relay/0", "turn=on&timer=300"), ("/relay/0", "turn=off")
        on2, off2 = ("/rpc/Switch.Set", "id=0&on=true&toggle_after=300"), ("/rpc/Switch.Set", "id=0&on=false")
        # At start every charger is switched off (a previous run may have left it on).
        for sim, off in ((g1, off1), (g2, off2), (g1d, off1)):
            self.wait_req(sim, *off)
        self.wait_state("cha", OFF)
        # Detection only where `generation` is absent; /shelly is never protected.
        self.assertEqual(self.reqs(g1, "/shelly"), [])
        self.assertTrue(self.reqs(g2, "/shelly"))
        self.assertTrue(self.reqs(g1d, "/shelly"))
        self.d.wait_log("Detected a Shelly Gen2")
        self.d.wait_log("Detected a Shelly Gen1")

        t, answer = self.mode("charge")
        self.assertLess(answer, 1.0)
        for sim, on in ((g1, on1), (g2, on2), (g1d, on1)):
            self.wait_req(sim, *on, since=t)
        self.wait_state("cha", ON)
        for sim in (g1, g2, g1d):
            r = self.relay(sim)
            self.assertTrue(r["on"], sim.name)
            # The on-command carried the timer: the device counts down 300 s.
            self.assertEqual(r["timer_duration"], 300, sim.name)
            self.assertGreater(r["timer_remaining"], 290, sim.name)
        # Power from the meters: 800 W each.
        wait_for(lambda: json.loads(self.rec.last(ROOT + "/cha/sum") or "{}").get("power") == 2400, 10,
                 what="charger power 2400 W")

        t, _ = self.mode("idle")
        for sim, off in ((g1, off1), (g2, off2), (g1d, off1)):
            self.wait_req(sim, *off, since=t)
        self.wait_state("cha", OFF)
        self.assertFalse(any(self.relay(s)["on"] for s in (g1, g2, g1d)))

        self.mode("charge")
        self.wait_state("cha", ON)
        t, _ = self.mode("protect")
        for sim, off in ((g1, off1), (g2, off2), (g1d, off1)):
            self.wait_req(sim, *off, since=t)
        self.wait_state("cha", OFF)

        # Auth: Gen1 sends basic credentials at once, Gen2 answers digest
        # challenges; no request was refused in the end, none came back 401
        # but the challenges.
        st2 = g2.state()
        self.assertGreater(st2["auth"]["challenges"], 0)
        self.assertEqual(st2["auth"]["rejected"], 0)
        self.assertNotIn("401", g1.state()["status_counts"])
        log = self.d.logtext()
        self.assertNotIn("pw-gen1", log)
        self.assertNotIn("pw-gen2", log)

    def test_shelly_switches_itself_off_after_kill(self):
        # 300 s device timer = 3 s here.
        g1 = self.sim("shelly_sim.py", "--gen", "1", "--timer-scale", "0.01", name="g1")
        g2 = self.sim("shelly_sim.py", "--gen", "2", "--timer-scale", "0.01", name="g2")
        self.start({
            "sh1": {"driver": "shellyCharger", "host": g1.host, "generation": 1},
            "sh2": {"driver": "shellyCharger", "host": g2.host, "generation": 2},
        })
        self.wait_state("cha", OFF)
        self.mode("charge")
        wait_for(lambda: self.relay(g1)["on"] and self.relay(g2)["on"], 2, what="both relays on")
        off_cmds = [self.relay(s)["off_cmds"] for s in (g1, g2)]
        t0 = time.monotonic()
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        wait_for(lambda: not self.relay(g1)["on"] and not self.relay(g2)["on"], 6, what="both relays off")
        elapsed = time.monotonic() - t0
        for sim, n in zip((g1, g2), off_cmds):
            r = self.relay(sim)
            # Off by its own timer, not by a command.
            self.assertEqual(r["off_cmds"], n, sim.name)
            self.assertEqual(r["timer_expiries"], 1, sim.name)
        print("relays off %.1f s after kill -9 (timer 300 s x 0.01)" % elapsed)

    # -- DTU -------------------------------------------------------------------------------------
    def meter(self, dtu, house_w):
        """Publishes the grid meter once a second: house load minus what the
        simulated inverter really feeds in (signed, text). house_w is a
        one-element list the test may change."""
        stop = threading.Event()

        def run():
            while not stop.is_set():
                try:
                    out = dtu.state()["inverter"]["output_w"]
                    self.rec.client.publish("meter/power", b"%d" % round(house_w[0] - out), qos=0)
                except Exception:  # noqa: BLE001 - the sim may be stopping
                    pass
                stop.wait(1.0)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        self._hb_stops.append(lambda: (stop.set(), th.join(3)))

    def limits(self, dtu):
        """The commands the simulated inverter received, e.g. ["limit 10", "on"]."""
        return [what for _, what in dtu.state()["inverter"]["commands"]]

    def test_ahoy_on_netzero_steps_off(self):
        dtu = self.sim("dtu_sim.py", "--kind", "ahoy", "--password", "dtu-secret", "--start-off", *DTU_FAST,
                       name="ahoy")
        house = [330]
        self.start({
            "inv1": {"driver": "ahoyDtu", "host": dtu.host, "id": 0, "power_lut": self.lut(),
                     "password": "dtu-secret"},
            "meter": {"driver": "mqttConsumption", "topic": "meter/power", "format": "text"},
        }, netzero={"enabled": True, "signed": True, "evaluated_time_span": 10, "maturity_time_span": 5,
                    "power_offset": 10, "power_hysteresis": 5, "power_change_upwards": 150,
                    "power_change_downwards": 50})
        self.meter(dtu, house)
        self.wait_state("inv", OFF)
        t0 = time.monotonic()
        self.mode("discharge")
        # Off at start (state unknown); then the LUT's start percent first, then on.
        self.wait_state("inv", ON, timeout=15)
        print("inverter on after %.1f s" % (time.monotonic() - t0))
        self.assertEqual(self.limits(dtu), ["off", "limit 10", "on"])
        # Netzero steps up: 60 W + 150 → 180 W (30 %), + 140 → 300 W (50 %), then it holds.
        self.rec.wait(ROOT + "/inv/p", u16(300), timeout=30)
        print("up to 300 W after %.1f s" % (time.monotonic() - t0))
        time.sleep(4)
        # House load drops: steps down by at most 50 W: 250 → 240 W (40 %), 190 → 180 W (30 %).
        house[0] = 200
        self.wait_new(ROOT + "/inv/p", u16(180), timeout=20)
        print("down to 180 W after %.1f s" % (time.monotonic() - t0))
        self.assertEqual(self.limits(dtu), ["off", "limit 10", "on", "limit 30", "limit 50", "limit 40", "limit 30"])
        # (The 0 W of the start is published only when MQTT was up before the first read.)
        powers = self.rec.all(ROOT + "/inv/dev/inv1/p")
        self.assertEqual(powers[1:] if powers[:1] == [u16(0)] else powers,
                         [u16(w) for w in (60, 180, 300, 240, 180)])
        st = dtu.state()
        self.assertEqual(st["inverter"]["limit_pct"], 30)
        self.assertTrue(st["inverter"]["producing"])
        self.assertGreaterEqual(st["auth"]["logins"], 1)

        self.mode("idle")
        self.wait_state("inv", OFF)
        self.assertEqual(self.limits(dtu)[-1], "off")
        self.assertFalse(dtu.state()["inverter"]["on"])
        self.assertEqual(self.rec.last(ROOT + "/inv/p"), u16(0))
        self.assertNotIn("dtu-secret", self.d.logtext())

    def test_ahoy_fault_and_restart(self):
        dtu = self.sim("dtu_sim.py", "--kind", "ahoy", *DTU_FAST, name="ahoy")
        self.start({"inv1": {"driver": "ahoyDtu", "host": dtu.host, "id": 0, "power_lut": self.lut()}},
                   general={"inverter_power": 300})
        self.mode("discharge")
        self.wait_state("inv", ON, timeout=15)
        # The inverter switches itself off (and ignores "on" until restarted).
        # Now, while the daemon still syncs the limit for inverter_power and
        # reads every second; once synced it reads every 30 s.
        t0 = time.monotonic()
        dtu.call("/sim/inverter", {"fault": True})
        self.wait_status("inv/dev/inv1", "fault", timeout=35)
        self.assertEqual(self.rec.last(ROOT + "/inv/state"), FAULT)
        print("fault reported after %.1f s" % (time.monotonic() - t0))
        wait_for(lambda: "restart" in self.limits(dtu), 10, what="a restart (commands %s)" % self.limits(dtu))
        self.wait_state("inv", ON, timeout=20)
        print("on again after %.1f s" % (time.monotonic() - t0))
        self.wait_new(ROOT + "/inv/p", u16(300), timeout=10)
        st = dtu.state()["inverter"]
        self.assertEqual(st["restarts"], 1)
        self.assertFalse(st["fault"])
        self.assertEqual(st["limit_pct"], 50)
        cmds = self.limits(dtu)
        self.assertEqual(cmds[:3], ["off", "limit 10", "on"])
        # The limit for inverter_power goes out as soon as the class is on, so
        # it may come before or after the fault; the restart comes after it.
        self.assertIn("fault", cmds[3:5])
        self.assertIn("restart", cmds[cmds.index("fault"):])

    def test_opendtu_on_limit_fault_restart_off(self):
        dtu = self.sim("dtu_sim.py", "--kind", "opendtu", "--serial", SERIAL, "--password", "odtu-pw", *DTU_FAST,
                       name="opendtu")
        self.start({"inv1": {"driver": "openDtu", "host": dtu.host, "serial": SERIAL, "power_lut": self.lut(),
                             "password": "odtu-pw"}},
                   general={"inverter_power": 300})
        self.wait_state("inv", OFF)
        t, _ = self.mode("discharge")
        self.wait_state("inv", ON, timeout=15)
        self.wait_req(dtu, "/api/limit/config", since=t)
        self.wait_req(dtu, "/api/power/config", since=t)
        dtu.call("/sim/inverter", {"fault": True})
        self.wait_status("inv/dev/inv1", "fault", timeout=35)
        self.assertEqual(self.rec.last(ROOT + "/inv/state"), FAULT)
        self.wait_state("inv", ON, timeout=20)
        wait_for(lambda: dtu.state()["inverter"]["limit_pct"] == 50, 10, what="limit 50 %")
        wait_for(lambda: self.rec.last(ROOT + "/inv/p") == u16(300), 5, what="inv/p 300 W")
        t, _ = self.mode("idle")
        self.wait_state("inv", OFF)
        self.wait_req(dtu, "/api/power/config", since=t)
        st = dtu.state()
        self.assertEqual(self.limits(dtu)[:3], ["off", "limit 10", "on"])
        self.assertIn("restart", self.limits(dtu))
        self.assertEqual(self.limits(dtu)[-1], "off")
        self.assertEqual(st["inverter"]["restarts"], 1)
        self.assertFalse(st["inverter"]["on"])
        # Basic auth sent with every POST: none refused.
        self.assertEqual(st["auth"]["rejected"], 0)
        self.assertNotIn("401", st["status_counts"])
        self.assertNotIn("odtu-pw", self.d.logtext())

    # -- failures -------------------------------------------------------------------------------
    def test_hanging_device_does_not_delay_the_others(self):
        hang = self.sim("shelly_sim.py", "--gen", "1", name="hanging")
        other = self.sim("shelly_sim.py", "--gen", "2", name="other")
        dtu = self.sim("dtu_sim.py", "--kind", "ahoy", *DTU_FAST, name="ahoy")
        self.start({
            "sh1": {"driver": "shellyCharger", "host": hang.host, "generation": 1},
            "sh2": {"driver": "shellyCharger", "host": other.host, "generation": 2},
            "inv1": {"driver": "ahoyDtu", "host": dtu.host, "id": 0, "power_lut": self.lut()},
        }, general={"inverter_power": 300})
        self.wait_state("cha", OFF)
        self.wait_state("inv", OFF, timeout=15)
        hang.fail("hang", seconds=60)
        lat = {}
        t, lat["mode charge"] = self.mode("charge")
        r = self.wait_req(other, "/rpc/Switch.Set", "id=0&on=true&toggle_after=300", since=t)
        lat["other on"] = r["time"] - t
        self.wait_req(hang, "/relay/0", "turn=on&timer=300", since=t)  # it hangs
        t, lat["mode discharge"] = self.mode("discharge")
        r = self.wait_req(other, "/rpc/Switch.Set", "id=0&on=false", since=t)
        lat["other off"] = r["time"] - t
        r = self.wait_req(dtu, "/api/ctrl", since=t)
        lat["dtu command"] = r["time"] - t
        self.wait_state("inv", ON, timeout=15)
        t, lat["mode idle"] = self.mode("idle")
        r = self.wait_req(dtu, "/api/ctrl", since=t)
        lat["dtu off"] = r["time"] - t
        self.wait_state("inv", OFF, timeout=10)
        print("during the hang: " + ", ".join("%s %.0f ms" % (k, v * 1000) for k, v in lat.items()))
        for k, v in lat.items():
            self.assertLess(v, 1.0, k)
        # The hanging Shelly: 3 attempts of 5 s, then fault; the class says so.
        self.wait_status("cha/dev/sh1", "fault", timeout=25)
        self.wait_status("cha/sum", "fault")
        self.assertIn("[sh1] Switching on failed after 3 attempt(s): Connection timed out", self.d.logtext())
        # Healthy again: it recovers to what the mode wants (off).
        hang.fail("none")
        self.wait_state("cha", OFF, timeout=10)
        self.assertFalse(self.relay(hang)["on"])
        self.assertIsNone(self.d.proc.poll())

    def test_500_and_garbage_logged_and_survived(self):
        sh = self.sim("shelly_sim.py", "--gen", "2", "--password", "pw", name="shelly")
        dtu = self.sim("dtu_sim.py", "--kind", "opendtu", "--serial", SERIAL, *DTU_FAST, name="opendtu")
        self.start({
            "sh1": {"driver": "shellyCharger", "host": sh.host, "password": "pw"},
            "inv1": {"driver": "openDtu", "host": dtu.host, "serial": SERIAL, "power_lut": self.lut()},
        }, general={"inverter_power": 300})
        self.wait_state("cha", OFF)
        self.wait_state("inv", OFF, timeout=15)
        # Round 1 (Shelly 500, DTU garbage): charge, then discharge while both fail.
        # Round 2 (Shelly garbage, DTU 500): from discharge to charge.
        for sh_mode, dtu_mode, modes, cha, inv in (("500", "garbage", ("charge", "discharge"), OFF, ON),
                                                   ("garbage", "500", ("charge",), ON, OFF)):
            log0 = len(self.d.logtext())
            sh.fail(sh_mode, seconds=4)
            dtu.fail(dtu_mode, seconds=4)
            t0 = time.monotonic()
            self.mode(modes[0])
            self.wait_status("cha/dev/sh1", "fault", timeout=10)
            for m in modes[1:]:
                self.mode(m)
            self.assertIsNone(self.d.proc.poll(), "daemon died")
            # Healthy again after the 4 s: the mode is reached (the DTU
            # driver retries a failed command after 10 s).
            self.wait_state("cha", cha, timeout=15)
            self.wait_state("inv", inv, timeout=20)
            log = self.d.logtext()[log0:]
            warn = [l for l in log.splitlines() if " warning " in l]
            print("%s/%s: %s reached after %.1f s, %d warnings:\n  %s" % (
                sh_mode, dtu_mode, modes[-1], time.monotonic() - t0, len(warn), "\n  ".join(warn)))
            self.assertTrue([l for l in warn if "[sh1]" in l], "no warning about the Shelly")
            self.assertTrue([l for l in warn if "[inv1]" in l], "no warning about the DTU")
        # Rate-limited: the Shelly at most 3 lines a minute, the DTU 5 in 5 minutes.
        log = self.d.logtext()
        self.assertLessEqual(len([l for l in log.splitlines() if " warning [sh1]" in l]), 3)
        self.assertLessEqual(len([l for l in log.splitlines() if " warning [inv1]" in l]), 5)
        self.assertIn("HTTP 500", log)
        self.assertIn("unexpected answer", log)
        self.assertIsNone(self.d.proc.poll(), "daemon died")

    def test_wrong_credentials_and_ids_are_logged(self):
        sh = self.sim("shelly_sim.py", "--gen", "2", "--password", "right", name="shelly")
        ahoy = self.sim("dtu_sim.py", "--kind", "ahoy", "--password", "right", *DTU_FAST, name="ahoy")
        odtu = self.sim("dtu_sim.py", "--kind", "opendtu", "--serial", SERIAL, *DTU_FAST, name="opendtu")
        self.start({
            "sh1": {"driver": "shellyCharger", "host": sh.host, "generation": 2, "password": "wrong"},
            "inv1": {"driver": "ahoyDtu", "host": ahoy.host, "id": 0, "power_lut": self.lut(), "password": "wrong"},
            "inv2": {"driver": "openDtu", "host": odtu.host, "serial": "114100000000", "power_lut": self.lut()},
        }, general={"inverter_power": 300})
        self.d.wait_log("[sh1] Switching off failed after 1 attempt(s): HTTP 401 (check user and password)")
        self.d.wait_log("[inv1] AhoyDTU refused the login: ERR_AUTH")
        self.d.wait_log("[inv2] No valid answer from OpenDTU to the state read: Bad message")
        # (Before MQTT is up, so not necessarily on the device topics.)
        self.d.wait_log("[sh1] Status syncing -> fault")
        self.d.wait_log("[inv2] Status syncing (state unknown")
        log = self.d.logtext()
        self.assertNotIn("wrong", log.replace("Switching", ""))
        self.assertIsNone(self.d.proc.poll())

    # -- the status page's device table --------------------------------------------------------
    def test_status_shows_every_devices_reads(self):
        """/api/status (the page's device table) shows the last good read, the failures and the last
        error of a Shelly, a DTU and an MPPT as it does for batteries and meters."""
        sh = self.sim("shelly_sim.py", "--gen", "2", name="shelly")
        dtu = self.sim("dtu_sim.py", "--kind", "ahoy", *DTU_FAST, name="ahoy")
        link = os.path.join(self.workdir, "usb-VictronEnergy_BV_VE_Direct_cable_VE1234-if00-port0")
        mppt = hbtest.VeDirectSim(self.workdir, link, ["--ppv", "150"])
        self._hb_stops.append(mppt.stop)
        port = hbtest.free_port()
        self.start({
            "sh1": {"driver": "shellyCharger", "host": sh.host, "generation": 2},
            "inv1": {"driver": "ahoyDtu", "host": dtu.host, "id": 0, "power_lut": self.lut()},
            "mppt": {"driver": "victronMppt", "port": link},
        }, general={"inverter_power": 300}, http_port=port)
        seen = {}

        def devices():
            seen.update({d["name"]: d for d in hbtest.http_json("http://127.0.0.1:%d/api/status" % port)["devices"]})
            return seen

        def summary():
            return {n: (d["last_good_read_age_s"], d["read_failures"], d["last_error"]) for n, d in seen.items()}

        def wait_devices(cond, what, timeout):
            try:
                wait_for(lambda: cond(devices()), timeout, interval=0.2, what=what)
            except AssertionError as e:
                raise AssertionError("%s; (last good read age, failures, last error): %s" % (e, summary()))

        wait_devices(lambda ds: all(ds[n]["last_good_read_age_s"] is not None for n in ("sh1", "inv1", "mppt")),
                     "a last good read of every device", 20)
        for n in ("sh1", "inv1", "mppt"):
            self.assertEqual(seen[n]["read_failures"], 0, n)
            self.assertIsNone(seen[n]["last_error"], n)
        # The MPPT sends the same values every second: each block is a good read.
        time.sleep(3)
        self.assertLess(devices()["mppt"]["last_good_read_age_s"], 2.5)

        # Failures are counted with their step, as for batteries.
        sh.fail("500", seconds=4)
        dtu.fail("garbage", seconds=4)
        mppt.control(corrupt_next=3)
        self.mode("charge")
        self.mode("discharge")
        wait_devices(lambda ds: ds["sh1"]["read_failures"] > 0 and ds["inv1"]["read_failures"] > 0 and
                     ds["mppt"]["read_failures"] >= 3, "failures of every device", 15)
        self.assertRegex(seen["sh1"]["last_error"], r"^Switching (on|off): ")
        self.assertRegex(seen["inv1"]["last_error"], r"^(state read|command): ")
        self.assertEqual(seen["mppt"]["last_error"], "block: Bad message")
        # Healthy again: read again.
        wait_devices(lambda ds: all(ds[n]["last_good_read_age_s"] < 2 for n in ("sh1", "inv1", "mppt")),
                     "good reads again", 20)

    def test_limit_goes_out_on_the_reading(self):
        """A limit that netzero decides on a meter reading goes to the DTU at once, not at the driver's
        next 1 s tick. Meter messages come at random phases, so a tick-driven limit would leave 0-1 s
        after them (median about 0.5 s, plus up to 250 ms when the curl timer is coalesced); at once it
        leaves within milliseconds. The bound is 100 ms on the median: a mechanism check with a wide
        margin, not a speed target (that is bench/latency)."""
        import random
        dtu = self.sim("dtu_sim.py", "--kind", "ahoy", *DTU_FAST, name="ahoy")
        self.start({
            "inv1": {"driver": "ahoyDtu", "host": dtu.host, "id": 0, "power_lut": self.lut()},
            "meter": {"driver": "mqttConsumption", "topic": "meter/power", "format": "text"},
        }, general={"default_mode": "discharge"}, netzero={"enabled": True, "signed": True,
                                                           "maturity_time_span": 2})
        self.d.wait_log("Status on", 30)
        rnd = random.Random(7)
        publishes, house, t_end = [], 150, time.monotonic() + 36
        next_jump = time.monotonic()
        while time.monotonic() < t_end:
            if time.monotonic() >= next_jump:
                house = 450 if house == 150 else 150
                next_jump = time.monotonic() + 4
            out = dtu.state()["inverter"]["output_w"]
            t = time.monotonic()
            self.rec.client.publish("meter/power", b"%d" % round(house - out), qos=0)
            publishes.append(t)
            time.sleep(rnd.uniform(0.55, 1.45))
        lat = []
        for r in dtu.requests():
            if r["method"] == "POST" and r["path"] == "/api/ctrl" and r["mono"] > publishes[0]:
                lat.append(r["mono"] - [p for p in publishes if p <= r["mono"]][-1])
        lat.sort()
        print("limit commands after a meter reading: %d, latencies %s s" % (len(lat), ["%.3f" % x for x in lat]))
        self.assertGreaterEqual(len(lat), 5, "too few limit commands to judge")
        self.assertLess(lat[len(lat) // 2], 0.1, "limits leave at the tick, not on the reading: %s" % lat)


if __name__ == "__main__":
    unittest.main(verbosity=2)
