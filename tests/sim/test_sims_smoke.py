#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Smoke test of the HTTP device simulators (shelly_sim.py, dtu_sim.py, meter_http_sim.py):
starts each one, drives it with urllib like a driver would, stops it.
Run: /usr/bin/python3 tests/sim/test_sims_smoke.py [-v]"""
import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
SERIAL = "114182912345"


class Sim:
    """One simulator process; stop() checks it exits cleanly on SIGTERM."""

    def __init__(self, script, *args):
        self.proc = subprocess.Popen([PY, os.path.join(HERE, script), "--port", "0"] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)$", line.strip())
        if not m:
            self.proc.kill()
            raise AssertionError("no 'listening on' line, got %r; stderr: %s" % (line, self.proc.stderr.read()))
        self.port = int(m.group(1))
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("simulator did not exit on SIGTERM")
        self.stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        if "Traceback" in self.stderr or " ERROR " in self.stderr:
            raise AssertionError("simulator logged an error:\n" + self.stderr)
        return rc

    # -- HTTP helpers --------------------------------------------------------------------
    def request(self, path, method="GET", body=None, headers=None, timeout=5, ctype=None):
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else body.encode("utf-8")
            hdrs.setdefault("Content-Type", ctype or "application/json")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def get_json(self, path, **kw):
        status, body, _ = self.request(path, **kw)
        if status != 200:
            raise AssertionError("%s -> HTTP %d %r" % (path, status, body))
        return json.loads(body)

    def post_json(self, path, obj, **kw):
        status, body, _ = self.request(path, "POST", json.dumps(obj), **kw)
        if status != 200:
            raise AssertionError("%s -> HTTP %d %r" % (path, status, body))
        return json.loads(body)

    def state(self):
        return self.get_json("/sim/state")

    def fail(self, mode, **kw):
        kw["mode"] = mode
        return self.post_json("/sim/fail", kw)


def basic(user, pw):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}


class Digest:
    """A minimal RFC 7616 client (qop=auth, SHA-256), independent of the sim."""

    def __init__(self, user, pw):
        self.user, self.pw = user, pw
        self.chal = None
        self.nc = 0

    def header(self, method, uri, nc=None):
        c = self.chal
        self.nc += 1
        nc_s = "%08x" % (self.nc if nc is None else nc)
        cnonce = secrets.token_hex(8)
        h = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
        ha1 = h("%s:%s:%s" % (self.user, c["realm"], self.pw))
        ha2 = h("%s:%s" % (method, uri))
        resp = h("%s:%s:%s:%s:auth:%s" % (ha1, c["nonce"], nc_s, cnonce, ha2))
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=SHA-256, qop=auth, '
                'nc=%s, cnonce="%s", response="%s"' % (self.user, c["realm"], c["nonce"], uri, nc_s, cnonce, resp))

    def learn(self, www):
        self.chal = dict(re.findall(r'(\w+)="?([^",]*)"?', www))
        self.nc = 0

    def get(self, sim, uri):
        if self.chal is None:
            status, body, hdrs = sim.request(uri)
            if status != 401:
                return status, body, hdrs
            self.learn(hdrs["WWW-Authenticate"])
        status, body, hdrs = sim.request(uri, headers={"Authorization": self.header("GET", uri)})
        if status == 401 and "stale=true" in hdrs.get("WWW-Authenticate", ""):
            self.learn(hdrs["WWW-Authenticate"])
            status, body, hdrs = sim.request(uri, headers={"Authorization": self.header("GET", uri)})
        return status, body, hdrs


def wait_until(cond, timeout, interval=0.1, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


class FailModes:
    """Mixed into each test class: exercises /sim/fail on self.sim at self.fail_path."""

    def check_fail_modes(self, path):
        sim = self.sim
        self.assertEqual(sim.fail("500")["fail"]["mode"], "500")
        status, body, _ = sim.request(path)
        self.assertEqual(status, 500)
        sim.fail("garbage")
        status, body, _ = sim.request(path)
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(body)
        sim.fail("close")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
            sim.request(path)
        sim.fail("hang", seconds=1.5)
        t0 = time.monotonic()
        with self.assertRaises((socket.timeout, TimeoutError, urllib.error.URLError)):
            sim.request(path, timeout=0.5)
        self.assertLess(time.monotonic() - t0, 1.4)
        # the window ends: answers again
        wait_until(lambda: sim.state()["fail"]["mode"] == "none", 3, what="hang window to end")
        self.assertEqual(sim.request(path)[0], 200)
        # hang until released by the next /sim/fail, answered late then
        sim.fail("hang")
        with self.assertRaises((socket.timeout, TimeoutError, urllib.error.URLError)):
            sim.request(path, timeout=0.5)
        sim.fail("none")
        self.assertEqual(sim.request(path)[0], 200)
        # only the next N requests
        sim.fail("500", count=1)
        self.assertEqual(sim.request(path)[0], 500)
        self.assertEqual(sim.request(path)[0], 200)
        failed = sim.state()["fail"]["failed"]
        for m in ("500", "garbage", "close", "hang"):
            self.assertGreaterEqual(failed.get(m, 0), 1, m)
        reqs = sim.get_json("/sim/requests")
        self.assertLessEqual(len(reqs), 200)
        self.assertTrue(all(set(r) >= {"method", "path", "query", "time"} for r in reqs))
        self.assertFalse(any(r["path"].startswith("/sim/") for r in reqs))


class ShellyGen1(unittest.TestCase, FailModes):
    def setUp(self):
        self.sim = Sim("shelly_sim.py", "--gen", "1", "--user", "admin", "--password", "pw", "--power", "600")
        self.auth = basic("admin", "pw")

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)

    def relay(self, q=""):
        return self.sim.get_json("/relay/0" + q, headers=self.auth)

    def test_identity_and_auth(self):
        info = self.sim.get_json("/shelly")       # never protected
        self.assertEqual(info["type"], "SHPLG-S")
        self.assertNotIn("gen", info)
        self.assertIs(info["auth"], True)
        status, _, hdrs = self.sim.request("/relay/0")
        self.assertEqual(status, 401)
        self.assertTrue(hdrs["WWW-Authenticate"].startswith("Basic "))
        self.assertEqual(self.sim.request("/relay/0", headers=basic("admin", "wrong"))[0], 401)
        self.assertEqual(self.sim.request("/meter/0")[0], 401)
        self.assertEqual(self.sim.request("/relay/0", headers=self.auth)[0], 200)
        self.assertEqual(self.sim.request("/relay/5", headers=self.auth)[0], 404)

    def test_on_off_timer_meter(self):
        r = self.relay("?turn=on&timer=2")
        self.assertTrue(r["ison"])
        self.assertTrue(r["has_timer"])
        self.assertEqual(r["timer_duration"], 2)
        self.assertEqual(r["source"], "http")
        m = self.sim.get_json("/meter/0", headers=self.auth)
        self.assertEqual(m["power"], 600)
        self.assertTrue(m["is_valid"])
        time.sleep(1.2)
        # a new on-command restarts the timer
        self.assertTrue(self.relay("?turn=on&timer=2")["ison"])
        time.sleep(1.2)
        self.assertTrue(self.relay()["ison"], "timer was not restarted")
        wait_until(lambda: not self.relay()["ison"], 2, what="timer expiry")
        r = self.relay()
        self.assertFalse(r["has_timer"])
        st = self.sim.state()["relays"][0]
        self.assertEqual(st["timer_expiries"], 1)
        self.assertEqual(st["on_cmds"], 2)
        # ~3.4 s at 600 W = ~0.57 Wh = ~34 watt-minutes
        m = self.sim.get_json("/meter/0", headers=self.auth)
        self.assertEqual(m["power"], 0)
        self.assertTrue(25 <= m["total"] <= 45, m)
        self.assertTrue(0.4 < st["energy_wh"] < 0.75, st)
        # off without timer, counter reset
        self.assertFalse(self.relay("?turn=on")["has_timer"])
        self.assertFalse(self.relay("?turn=off")["ison"])
        self.sim.post_json("/sim/reset_counter", {})
        self.assertEqual(self.sim.get_json("/meter/0", headers=self.auth)["total"], 0)
        counts = self.sim.state()["counts"]
        self.assertGreaterEqual(counts["/relay/0"], 6)

    def test_fail_modes(self):
        self.check_fail_modes("/shelly")


class ShellyStateFile(unittest.TestCase):
    def test_state_survives_restart_and_sigint(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "state.json")
            sim = Sim("shelly_sim.py", "--gen", "1", "--state-file", path)
            try:
                sim.get_json("/relay/0?turn=on")
                time.sleep(0.5)
            finally:
                sim.proc.send_signal(signal.SIGINT)
                self.assertEqual(sim.proc.wait(10), 0)
                sim.proc.stdout.close()
                sim.proc.stderr.close()
            with open(path) as f:
                saved = json.load(f)
            self.assertTrue(saved["relays"][0]["on"])
            wh = saved["relays"][0]["energy_wh"]
            self.assertGreater(wh, 0.05)
            sim = Sim("shelly_sim.py", "--gen", "1", "--state-file", path)
            try:
                self.assertTrue(sim.get_json("/relay/0")["ison"])
                self.assertGreaterEqual(sim.get_json("/meter/0")["total"], int(wh * 60))
            finally:
                self.assertEqual(sim.stop(), 0)


class ShellyGen2(unittest.TestCase, FailModes):
    def setUp(self):
        self.sim = Sim("shelly_sim.py", "--gen", "2", "--password", "pw", "--timer-scale", "0.01",
                       "--relays", "2")
        self.dg = Digest("admin", "pw")

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)

    def rpc(self, q):
        status, body, _ = self.dg.get(self.sim, "/rpc/" + q)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_identity_and_digest(self):
        info = self.sim.get_json("/shelly")
        self.assertEqual(info["gen"], 2)
        self.assertEqual(info["model"], "SNSW-102P16EU")
        self.assertIs(info["auth_en"], True)
        status, _, hdrs = self.sim.request("/rpc/Switch.GetStatus?id=0")
        self.assertEqual(status, 401)
        www = hdrs["WWW-Authenticate"]
        self.assertIn('qop="auth"', www)
        self.assertIn("algorithm=SHA-256", www)
        self.assertIn('realm="%s"' % info["id"], www)
        st = self.rpc("Switch.GetStatus?id=0")
        self.assertEqual(st["id"], 0)
        self.assertFalse(st["output"])
        # wrong password
        bad = Digest("admin", "nope")
        self.assertEqual(bad.get(self.sim, "/rpc/Switch.GetStatus?id=0")[0], 401)
        # a replayed nc is refused as stale
        uri = "/rpc/Switch.GetStatus?id=0"
        status, _, hdrs = self.sim.request(uri, headers={"Authorization": self.dg.header("GET", uri, nc=1)})
        self.assertEqual(status, 401)
        self.assertIn("stale=true", hdrs["WWW-Authenticate"])
        # signed for another uri
        status, _, _ = self.sim.request(uri, headers={"Authorization": self.dg.header("GET", "/rpc/X")})
        self.assertEqual(status, 401)
        auth = self.sim.state()["auth"]
        self.assertGreaterEqual(auth["rejected"], 2)
        if shutil.which("curl"):
            out = subprocess.run(["curl", "-s", "--digest", "-u", "admin:pw",
                                  self.sim.base + "/rpc/Switch.GetStatus?id=1"], capture_output=True, text=True,
                                 timeout=10)
            self.assertEqual(json.loads(out.stdout)["id"], 1)

    def test_switch_timer_energy(self):
        r = self.rpc("Switch.Set?id=0&on=true&toggle_after=300")   # 3 s with --timer-scale 0.01
        self.assertEqual(r, {"was_on": False})
        st = self.rpc("Switch.GetStatus?id=0")
        self.assertTrue(st["output"])
        self.assertEqual(st["apower"], 800)
        self.assertEqual(st["timer_duration"], 300)
        self.assertIn("total", st["aenergy"])
        self.assertEqual(self.rpc("Switch.GetStatus?id=1")["output"], False)
        time.sleep(1.5)
        self.assertEqual(self.rpc("Switch.Set?id=0&on=true&toggle_after=300"), {"was_on": True})
        time.sleep(2.0)
        self.assertTrue(self.rpc("Switch.GetStatus?id=0")["output"], "toggle_after was not restarted")
        wait_until(lambda: not self.rpc("Switch.GetStatus?id=0")["output"], 2.5, what="toggle_after expiry")
        st = self.rpc("Switch.GetStatus?id=0")
        self.assertEqual(st["apower"], 0)
        self.assertNotIn("timer_duration", st)
        # ~5 s at 800 W = ~1.1 Wh
        self.assertTrue(0.8 < st["aenergy"]["total"] < 1.5, st)
        status, body, _ = self.dg.get(self.sim, "/rpc/Switch.GetStatus?id=7")
        self.assertEqual(status, 500)
        self.assertEqual(json.loads(body)["code"], -105)
        self.assertEqual(self.rpc("Switch.Set?id=0&on=false"), {"was_on": False})

    def test_fail_modes(self):
        self.check_fail_modes("/shelly")


class ShellyGen2NoMeter(unittest.TestCase):
    def test_no_meter(self):
        sim = Sim("shelly_sim.py", "--gen", "2", "--no-meter")
        try:
            self.assertIs(sim.get_json("/shelly")["auth_en"], False)
            self.assertEqual(sim.get_json("/rpc/Switch.Set?id=0&on=true"), {"was_on": False})
            st = sim.get_json("/rpc/Switch.GetStatus?id=0")
            self.assertTrue(st["output"])
            self.assertNotIn("apower", st)
            self.assertNotIn("aenergy", st)
        finally:
            self.assertEqual(sim.stop(), 0)


class AhoyDtu(unittest.TestCase, FailModes):
    def setUp(self):
        self.sim = Sim("dtu_sim.py", "--kind", "ahoy", "--password", "pw", "--ack-delay", "1", "--settle", "1.5",
                       "--noise", "0", "--start-delay", "0.5", "--restart-time", "1", "--token-ttl", "2")
        self.token = None

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)

    def inv(self):
        return self.sim.get_json("/api/inverter/id/0")

    def ctrl(self, obj):
        return self.sim.post_json("/api/ctrl", obj)

    def login(self):
        r = self.ctrl({"auth": "pw"})
        self.assertTrue(r["success"])
        self.token = r["token"]

    def cmd(self, relogin=True, **kw):
        """A command like the driver sends it: log in again on ERR_PROTECTED."""
        kw.setdefault("id", 0)
        kw["token"] = self.token
        r = self.ctrl(kw)
        if relogin and r.get("error") == "ERR_PROTECTED":
            self.login()
            kw["token"] = self.token
            r = self.ctrl(kw)
        return r

    def test_state_limit_ack(self):
        d = self.inv()
        for k in ("id", "enabled", "name", "serial", "version", "power_limit_read", "power_limit_ack", "max_pwr",
                  "ts_last_success", "status", "alarm_cnt", "rssi", "ch", "ch_name"):
            self.assertIn(k, d)
        self.assertEqual((d["serial"], d["max_pwr"], d["status"], d["power_limit_read"]), (SERIAL, 600, 2, 100))
        self.assertEqual(d["ch"][0][2], 600)            # P_AC, no noise
        self.assertEqual(len(d["ch"]), 3)               # AC + 2 DC inputs
        self.assertEqual(self.sim.get_json("/api/inverter/id/5"), {"error": "inverter not found!"})
        # protected
        self.assertEqual(self.ctrl({"id": 0, "cmd": "limit_nonpersistent_relative", "val": 50}),
                         {"success": False, "error": "ERR_PROTECTED"})
        self.assertEqual(self.ctrl({"auth": "wrong"}), {"success": False, "error": "ERR_AUTH"})
        self.login()
        self.assertEqual(self.cmd(cmd="limit_nonpersistent_relative", val=50), {"success": True, "id": 0})
        d = self.inv()
        self.assertFalse(d["power_limit_ack"])
        self.assertEqual(d["power_limit_read"], 100)
        wait_until(lambda: self.inv()["power_limit_ack"], 2, what="limit ack")
        t_ack = time.monotonic()
        d = self.inv()
        self.assertEqual(d["power_limit_read"], 50)
        self.assertGreater(d["ch"][0][2], 320)          # still settling
        wait_until(lambda: abs(self.inv()["ch"][0][2] - 300) < 15, 3, what="output to settle at 300 W")
        self.assertGreater(time.monotonic() - t_ack, 0.3)
        # a decimal
        self.assertTrue(self.cmd(cmd="limit_nonpersistent_relative", val=33.35)["success"])
        wait_until(lambda: self.inv()["power_limit_ack"], 2, what="limit ack")
        self.assertEqual(self.inv()["power_limit_read"], 33.3)
        # token expires after 2 s without use
        self.assertTrue(self.cmd(relogin=False, cmd="power", val=1)["success"])
        time.sleep(1.5)
        self.assertTrue(self.cmd(relogin=False, cmd="power", val=1)["success"])   # use renews it
        time.sleep(2.3)
        self.assertEqual(self.cmd(relogin=False, cmd="power", val=1), {"success": False, "error": "ERR_PROTECTED"})
        self.login()
        self.assertTrue(self.cmd(cmd="power", val=1)["success"])
        self.assertEqual(self.cmd(cmd="bogus"), {"success": False, "error": "ERR_UNKNOWN_CMD", "id": 0})
        self.assertEqual(self.cmd(id=3, cmd="power", val=1), {"success": False, "error": "ERR_INDEX"})

    def test_power_restart_fault_unreachable(self):
        self.login()
        self.assertTrue(self.cmd(cmd="power", val=0)["success"])
        wait_until(lambda: self.inv()["status"] == 3, 2, what="off (status 3)")
        self.assertEqual(self.inv()["ch"][0][2], 0)
        self.assertTrue(self.cmd(cmd="limit_nonpersistent_relative", val=40)["success"])
        wait_until(lambda: self.inv()["power_limit_ack"], 2, what="limit ack")
        self.assertTrue(self.cmd(cmd="power", val=1)["success"])
        wait_until(lambda: self.inv()["status"] == 2, 3, what="producing")
        wait_until(lambda: abs(self.inv()["ch"][0][2] - 240) < 10, 3, what="240 W")
        # restart: away for a while, the limit is lost
        self.assertTrue(self.cmd(cmd="restart")["success"])
        d = wait_until(lambda: (lambda d: d if d["status"] in (0, 4) else None)(self.inv()), 2, what="rebooting")
        self.assertEqual(d["power_limit_read"], 65535)
        wait_until(lambda: self.inv()["status"] == 2, 4, what="producing after restart")
        self.assertEqual(self.inv()["power_limit_read"], 100)
        # the inverter switches itself off; "on" does not help, restart does
        self.sim.post_json("/sim/inverter", {"fault": True})
        self.assertEqual(self.inv()["status"], 3)
        self.assertTrue(self.cmd(cmd="power", val=1)["success"])
        time.sleep(1.8)
        self.assertEqual(self.inv()["status"], 3)
        self.assertTrue(self.cmd(cmd="restart")["success"])
        wait_until(lambda: self.inv()["status"] == 2, 5, what="producing after fault + restart")
        # unreachable: commands are refused, status "was on"
        self.sim.post_json("/sim/inverter", {"reachable": False})
        d = self.inv()
        self.assertEqual(d["status"], 4)
        self.assertEqual(self.cmd(cmd="power", val=0), {"success": False, "error": "ERR_LIMIT_NOT_ACCEPT", "id": 0})
        self.sim.post_json("/sim/inverter", {"reachable": True, "dc_w": 150})
        wait_until(lambda: abs(self.inv()["ch"][0][2] - 150) < 8, 3, what="DC-limited output")
        st = self.sim.state()
        self.assertEqual(st["inverter"]["restarts"], 2)
        self.assertGreater(st["inverter"]["energy_wh"], 0)
        self.assertGreaterEqual(st["counts"]["/api/ctrl"], 8)

    def test_fail_modes(self):
        self.check_fail_modes("/api/inverter/id/0")


class OpenDtu(unittest.TestCase, FailModes):
    def setUp(self):
        self.sim = Sim("dtu_sim.py", "--kind", "opendtu", "--password", "pw", "--ack-delay", "1", "--settle", "1.5",
                       "--noise", "0", "--start-delay", "0.5", "--restart-time", "1", "--cmd-timeout", "1.5")
        self.auth = basic("admin", "pw")

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)

    def post(self, path, data, auth=True):
        body = urllib.parse.urlencode({"data": json.dumps(data)})
        status, raw, _ = self.sim.request(path, "POST", body, headers=self.auth if auth else None,
                                          ctype="application/x-www-form-urlencoded")
        return status, (json.loads(raw) if status == 200 else raw)

    def live(self):
        return self.sim.get_json("/api/livedata/status?inv=" + SERIAL)["inverters"][0]

    def limit_status(self):
        return self.sim.get_json("/api/limit/status")[SERIAL]

    def test_limit_power_restart(self):
        inv = self.live()
        self.assertEqual((inv["serial"], inv["reachable"], inv["producing"], inv["limit_relative"]),
                         (SERIAL, True, True, 100))
        self.assertEqual(inv["AC"]["0"]["Power"], {"v": 600, "u": "W", "d": 1})
        self.assertEqual(self.sim.get_json("/api/livedata/status?inv=999")["inverters"], [])
        self.assertEqual(self.limit_status(), {"limit_relative": 100, "max_power": 600, "limit_set_status": "Unknown"})
        # basic auth on the POSTs only
        status, _ = self.post("/api/limit/config", {"serial": SERIAL, "limit_type": 1, "limit_value": 50}, auth=False)
        self.assertEqual(status, 401)
        status, r = self.post("/api/limit/config", {"serial": SERIAL, "limit_type": 1, "limit_value": 50})
        self.assertEqual((status, r["type"], r["code"]), (200, "success", 1001))
        self.assertEqual(self.limit_status()["limit_set_status"], "Pending")
        self.assertEqual(self.limit_status()["limit_relative"], 100)
        wait_until(lambda: self.limit_status()["limit_set_status"] == "Ok", 2, what="limit Ok")
        self.assertEqual(self.live()["limit_relative"], 50)
        wait_until(lambda: abs(self.live()["AC"]["0"]["Power"]["v"] - 300) < 15, 3, what="300 W")
        # errors
        self.assertEqual(self.post("/api/limit/config", {"serial": SERIAL})[1]["code"], 1005)
        self.assertEqual(self.post("/api/limit/config", {"serial": "777", "limit_type": 1,
                                                         "limit_value": 5})[1]["code"], 5004)
        self.assertEqual(self.post("/api/limit/config", {"serial": SERIAL, "limit_type": 7,
                                                         "limit_value": 5})[1]["code"], 5003)
        # off / on / restart
        status, r = self.post("/api/power/config", {"serial": SERIAL, "power": False})
        self.assertEqual(r["type"], "success")
        wait_until(lambda: not self.live()["producing"], 2, what="not producing")
        self.post("/api/power/config", {"serial": SERIAL, "power": True})
        wait_until(lambda: self.live()["producing"], 3, what="producing")
        self.post("/api/power/config", {"serial": SERIAL, "restart": True})
        wait_until(lambda: not self.live()["reachable"], 2, what="unreachable while restarting")
        wait_until(lambda: self.live()["reachable"] and self.live()["limit_relative"] == 100, 3,
                   what="back with 100 %")
        self.assertEqual(self.sim.get_json("/api/power/status")[SERIAL]["power_set_status"], "Ok")
        # unreachable: a limit fails after --cmd-timeout
        self.sim.post_json("/sim/inverter", {"reachable": False})
        self.assertEqual(self.post("/api/limit/config", {"serial": SERIAL, "limit_type": 1,
                                                         "limit_value": 20})[1]["type"], "success")
        self.assertEqual(self.limit_status()["limit_set_status"], "Pending")
        wait_until(lambda: self.limit_status()["limit_set_status"] == "Failure", 3, what="limit Failure")
        st = self.sim.state()
        self.assertFalse(st["inverter"]["reachable"])
        self.assertEqual(st["auth"]["rejected"], 0)     # no credentials at all is not a rejection

    def test_fault(self):
        self.sim.post_json("/sim/inverter", {"fault": True})
        inv = self.live()
        self.assertTrue(inv["reachable"])
        self.assertFalse(inv["producing"])
        self.assertTrue(self.sim.state()["inverter"]["fault"])

    def test_fail_modes(self):
        self.check_fail_modes("/api/limit/status")


class MeterHttp(unittest.TestCase):
    """meter_http_sim.py: the four answer shapes from one power, auth, control and fail modes."""

    def setUp(self):
        self.sim = Sim("meter_http_sim.py", "--power", "130.6", "--password", "pw")
        self.auth = basic("admin", "pw")

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)

    def get(self, q, **kw):
        return self.sim.get_json(q, headers=self.auth, **kw)

    def test_shapes_auth_control(self):
        sim = self.sim
        self.assertEqual(sim.request("/status")[0], 401)
        self.assertEqual(self.get("/cm?cmnd=status%2010")["StatusSNS"]["SML"]["Power_curr"], 130.6)
        self.assertAlmostEqual(sum(e["power"] for e in self.get("/status")["emeters"]), 130.6, places=6)
        self.assertEqual(self.get("/rpc/EM.GetStatus?id=0")["total_act_power"], 130.6)
        self.assertEqual(self.get("/api/meter")["data"][1]["value"], "130.6")
        sim.post_json("/sim/power", {"power": -250.4, "step": 1})
        self.assertEqual(self.get("/api/meter")["data"][1]["value"], "-250.4")
        self.assertEqual(self.get("/rpc/EM.GetStatus")["total_act_power"], -249.4)
        st = sim.state()
        self.assertEqual(st["answered"][-2:], [-250.4, -249.4])
        reqs = sim.get_json("/sim/requests")
        self.assertEqual(reqs[-1]["path"], "/rpc/EM.GetStatus")
        self.assertFalse(any(r["path"].startswith("/sim/") for r in reqs))

    def test_fail_modes(self):
        sim = self.sim
        sim.fail("status", status=503, count=1)
        self.assertEqual(sim.request("/status", headers=self.auth)[0], 503)
        self.assertEqual(sim.request("/status", headers=self.auth)[0], 200)
        sim.fail("garbage")
        status, body, _ = sim.request("/status", headers=self.auth)
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(body)
        sim.fail("nopath")
        self.assertNotIn("emeters", self.get("/status"))
        sim.fail("null")
        self.assertIsNone(self.get("/status")["emeters"][0]["power"])
        sim.fail("slow", delay=1.0)
        t0 = time.monotonic()
        self.get("/status")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        sim.fail("hang")
        with self.assertRaises((socket.timeout, TimeoutError, urllib.error.URLError)):
            sim.request("/status", headers=self.auth, timeout=0.5)
        sim.fail("none")
        self.assertEqual(self.get("/status")["total_power"], 130.6)


class HoymilesModel(unittest.TestCase):
    """The inverter model alone, on a fake clock (deterministic)."""

    def test_model(self):
        sys.path.insert(0, HERE)
        import hoymiles
        now = [0.0]
        inv = hoymiles.Inverter(max_w=800, noise=0, speed=10, clock=lambda: now[0],
                                lut=[(10, 60), (50, 350), (100, 800)])
        self.assertEqual(inv.power_at(30), 205)
        self.assertTrue(inv.set_limit(50))
        now[0] = 0.29                                   # 2.9 s simulated: not yet
        inv.advance()
        self.assertFalse(inv.limit_ack)
        now[0] = 0.31
        inv.advance()
        self.assertTrue(inv.limit_ack)
        self.assertEqual(inv.limit_pct, 50)
        now[0] = 0.3 + 2.0                              # settle (20 s) later: within 5 %
        inv.advance()
        self.assertLess(abs(inv.output_w - 350), 0.05 * 450 + 1)
        inv.set_dc(100)
        now[0] += 6.0                                   # 60 s simulated
        inv.advance()
        self.assertAlmostEqual(inv.output_w, 100, delta=1)
        inv.restart()
        now[0] += 0.4
        inv.advance()
        self.assertFalse(inv.reachable)
        now[0] += 1.5
        inv.advance()
        self.assertEqual((inv.phase, inv.limit_pct), ("producing", 100))
        inv.fault()
        inv.set_power(True)
        now[0] += 1.0
        inv.advance()
        self.assertEqual(inv.phase, "off")
        self.assertGreater(inv.energy_wh, 0)


if __name__ == "__main__":
    unittest.main()
