#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated grid meter read over HTTP (JSON) for the httpConsumption driver:
the answers of Tasmota with an SML script, Shelly 3EM (Gen1), Shelly Pro 3EM
(Gen2+ RPC) and a generic JSON shape, all from one power value. A /sim/
control API sets the power and makes answers fail (HTTP errors, bad JSON,
hang, slow). Python standard library only. See README.md in this directory.
"""
import argparse
import base64
import collections
import hmac
import json
import logging
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("meter-sim")

FAIL_MODES = ("none", "status", "garbage", "hang", "slow", "nopath", "null")
# Per-phase shares of the power for the three-phase meters (they sum to 1).
SHARES = (0.5, 0.3, 0.2)


def shapes(power):
    """Path (query) -> answer object for one total power in W."""
    phases = [round(power * s, 1) for s in SHARES]
    phases[2] = round(power - phases[0] - phases[1], 1)
    return {
        # Tasmota with an SML script: the meter "SML", field "Power_curr" (W).
        "/cm": {"StatusSNS": {"Time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                              "SML": {"Total_in": 1234.5, "Power_curr": power}}},
        # Shelly 3EM: the driver sums emeters[*].power.
        "/status": {"wifi_sta": {"connected": True, "ssid": "sim", "rssi": -60},
                    "emeters": [{"power": p, "pf": 0.9, "current": round(abs(p) / 230, 2), "voltage": 230.1,
                                 "is_valid": True, "total": 1000.0, "total_returned": 10.0} for p in phases],
                    "total_power": round(power, 1)},
        # Shelly Pro 3EM: total_act_power.
        "/rpc/EM.GetStatus": {"id": 0, "a_current": 1.0, "a_voltage": 230.1, "a_act_power": phases[0],
                              "b_act_power": phases[1], "c_act_power": phases[2],
                              "total_current": 3.0, "total_act_power": round(power, 1), "user_calibrated_phase": []},
        # Generic: data[1].value (a string, as some meters send it).
        "/api/meter": {"data": [{"name": "import", "value": 1}, {"name": "power", "value": "%.1f" % power}]},
    }


class Meter:
    """The meter's state and its request log; every method is thread-safe."""

    def __init__(self, power, user, password):
        self.lock = threading.Lock()
        self.power = float(power)
        self.step = 0.0               # added to the power after each good answer (distinct readings)
        self.user, self.password = user, password
        self.fail_mode, self.fail_status, self.fail_count, self.delay = "none", 500, None, 0.0
        self.release = threading.Event()
        self.requests = collections.deque(maxlen=500)
        self.total = 0
        self.in_flight = 0            # device requests being answered now
        self.spans = collections.deque(maxlen=500)   # [arrival, end or None] of each device request
        self.answered = []            # the power of every good answer, in order (last 500)

    def set_fail(self, mode, status=500, count=None, delay=2.0):
        if mode not in FAIL_MODES:
            raise ValueError("mode must be one of " + "|".join(FAIL_MODES))
        with self.lock:
            self.release.set()        # requests hung so far go on
            self.release = threading.Event()
            self.fail_mode, self.fail_status = mode, int(status)
            self.fail_count = None if count is None else int(count)
            self.delay = float(delay)
        log.info("fail mode %s", mode)

    def take_fail(self):
        with self.lock:
            mode = self.fail_mode
            if mode != "none" and self.fail_count is not None:
                if self.fail_count <= 0:
                    mode = self.fail_mode = "none"
                else:
                    self.fail_count -= 1
            return mode, self.fail_status, self.delay, self.release

    def answer(self, path):
        """The body for a good answer, and the power it carries; the step applies after it."""
        with self.lock:
            power = self.power
            self.power = round(self.power + self.step, 3)
            self.answered.append(power)
            del self.answered[:-500]
        return shapes(power).get(path), power

    def overlap(self):
        """The most device requests open at once, each counted from 50 ms after it arrived: a
        client's close and its next request may cross on the way (call with the lock held)."""
        now = time.monotonic()
        events = []
        for start, end in self.spans:
            end = now if end is None else end
            if end > start + 0.05:
                events += [(start + 0.05, 1), (end, -1)]
        best = cur = 0
        for _, d in sorted(events, key=lambda e: (e[0], e[1])):
            cur += d
            best = max(best, cur)
        return best

    def state(self):
        with self.lock:
            return {"power": self.power, "step": self.step, "requests_total": self.total,
                    "in_flight": self.in_flight, "in_flight_max": self.overlap(),
                    "answered": list(self.answered),
                    "fail": {"mode": self.fail_mode, "status": self.fail_status, "count_left": self.fail_count,
                             "delay": self.delay}}


class Handler(BaseHTTPRequestHandler):
    server_version = "meter-sim/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.address_string(), *args)

    def send(self, status, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass                      # the client gave up (timeout): nothing to do

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/sim/"):
            return self.control_get(url.path)
        m = self.server.meter
        span = [time.monotonic(), None]
        with m.lock:
            m.in_flight += 1
            m.spans.append(span)
        try:
            self.device(url)
        finally:
            with m.lock:
                m.in_flight -= 1
                span[1] = time.monotonic()

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            out = self.control_post(url.path, body)
        except (ValueError, TypeError) as e:
            return self.send(400, json.dumps({"ok": False, "error": str(e)}))
        if out is None:
            return self.send(404, json.dumps({"ok": False, "error": "unknown"}))
        self.send(200, json.dumps(out))

    # -- the device ---------------------------------------------------------------------
    def client_gone(self, wait):
        """True once the client closed its end (a timed-out request); waits up to `wait` s for it."""
        try:
            r, _, _ = select.select([self.connection], [], [], wait)
            return bool(r) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def authorized(self):
        m = self.server.meter
        if not m.password:
            return True
        h = self.headers.get("Authorization", "")
        if h[:6].lower() == "basic ":
            try:
                user, _, pw = base64.b64decode(h[6:].strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return user == m.user and hmac.compare_digest(pw, m.password)
        return False

    def device(self, url):
        m = self.server.meter
        entry = {"path": url.path, "query": url.query, "accept": self.headers.get("Accept"),
                 "time": round(time.time(), 3), "status": None, "power": None}
        with m.lock:
            m.requests.append(entry)
            m.total += 1
        if not self.authorized():
            entry["status"] = 401
            return self.send(401, "401 Unauthorized\n", "text/plain", {"WWW-Authenticate": 'Basic realm="meter"'})
        if url.path not in shapes(0):
            entry["status"] = 404
            return self.send(404, "404 Not Found\n", "text/plain")
        mode, status, delay, release = m.take_fail()
        entry["fail"] = None if mode == "none" else mode
        if mode == "hang":
            # Until the next /sim/fail, or until the client gives up (closes).
            while not release.is_set() and not self.client_gone(0.02):
                pass
            entry["status"] = "dropped"
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(delay)
        if mode == "status":
            entry["status"] = status
            return self.send(status, json.dumps({"code": status, "message": "simulated error"}))
        if mode == "garbage":
            entry["status"] = 200
            return self.send(200, b"<html>\x00{\"emeters\": [garbage")
        obj, power = m.answer(url.path)
        if mode in ("nopath", "null"):
            # A 200 with JSON in which the driver's path finds nothing usable: no reading.
            obj = {"unexpected": True} if mode == "nopath" else null_out(obj)
            power = None
            with m.lock:
                m.answered.pop()
        entry["status"], entry["power"] = 200, power
        self.send(200, json.dumps(obj, separators=(",", ":")))

    # -- control -------------------------------------------------------------------------
    def control_get(self, path):
        m = self.server.meter
        if path == "/sim/state":
            return self.send(200, json.dumps(m.state()))
        if path == "/sim/requests":
            with m.lock:
                return self.send(200, json.dumps(list(m.requests)))
        self.send(404, json.dumps({"ok": False}))

    def control_post(self, path, body):
        m = self.server.meter
        if path == "/sim/power":
            with m.lock:
                if "power" in body:
                    m.power = float(body["power"])
                if "step" in body:
                    m.step = float(body["step"])
            log.info("power %s W, step %s W", m.power, m.step)
            return {"ok": True}
        if path == "/sim/fail":
            m.set_fail(str(body.get("mode", "none")), body.get("status", 500), body.get("count"),
                       body.get("delay", 2.0))
            return {"ok": True, "fail": m.state()["fail"]}
        if path == "/sim/clear_requests":
            with m.lock:
                m.requests.clear()
                m.answered.clear()
                m.total = 0
                m.spans.clear()
            return {"ok": True}
        return None


def null_out(obj):
    """Every number of the answer replaced by null (a meter that lost its reading)."""
    if isinstance(obj, dict):
        return {k: null_out(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [null_out(v) for v in obj]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return None
    return obj


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--power", type=float, default=500.0, help="W, positive = drawn from the grid")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", help="turns HTTP basic auth on")
    ap.add_argument("-v", action="store_true", help="log every request")
    a = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if a.v else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.meter = Meter(a.power, a.user, a.password)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    th.start()
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    log.info("listening on 127.0.0.1:%d", srv.server_address[1])
    while not stop.wait(0.2):
        pass
    log.info("stopping")
    srv.meter.release.set()           # hung requests end
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
