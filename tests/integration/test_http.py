# SPDX-License-Identifier: MIT
"""The HTTP server against the real daemon and a real mosquitto: /api/status
fields and values (an mqttBattery and an mqttConsumption fed by the test),
/metrics parsed as the Prometheus text format, POST /api/mode with and without
the token (and its answer on MQTT), the limits (400, 404, 405, 413, idle
connections, slow clients from several loopback addresses), /api/history, the
page, the listening address, and that no token or password ever shows in a
response or the log."""
import http.client
import json
import math
import re
import select
import socket
import struct
import threading
import time
import unittest
import urllib.request

import hbtest
from hbtest import HbTestCase, base_config, wait_for

TOKEN = "tok-3f9a7c21d4e85b60aa17"
MQTT_PASSWORD = "mqtt-pass-8c1e44b2"
OTHER = "other/bat/dev/b1"
MODES = ("charge", "discharge", "idle", "protect")
CELLS = (3.301, 3.298, 3.305, 3.290, 3.300, 3.302, 3.299, 3.310)
TEMPS = (21.5, 19.0)


def battery_parts(v=26.41, i=-12.3, soc=55, c=61.2, n=12, cells=CELLS, temps=TEMPS):
    parts = [("v", struct.pack(">H", round(v * 100))), ("i", struct.pack(">h", round(i * 10))),
             ("soc", struct.pack(">B", soc)), ("c", struct.pack(">H", round(c * 10))), ("n", struct.pack(">H", n))]
    parts += [("cell/%d" % k, struct.pack(">H", round(x * 1000))) for k, x in enumerate(cells)]
    parts += [("temp/%d" % k, struct.pack(">h", round(x * 10))) for k, x in enumerate(temps)]
    return parts


METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')


def parse_prometheus(text):
    """Parses text format 0.0.4 strictly enough for a test: returns {family: {"type", "help", "samples":
    [(name, labels, value)]}}; raises AssertionError on anything malformed."""
    families, seen_samples = {}, set()
    assert text.endswith("\n"), "exposition must end with a newline"
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d: %r" % (n, line)
        assert line.strip(), "empty line at " + where
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert METRIC_NAME.match(name), "bad name at " + where
                assert name not in seen_samples, "%s after samples of %s at %s" % (parts[1], name, where)
                fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
                key = parts[1].lower()
                assert fam[key] is None, "second %s at %s" % (parts[1], where)
                fam[key] = parts[3] if len(parts) > 3 else ""
                if key == "type":
                    assert fam["type"] in ("counter", "gauge", "histogram", "summary", "untyped"), where
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( -?\d+)?$", line)
        assert m, "malformed sample at " + where
        name, labeltext, value = m.group(1), m.group(3), m.group(4)
        labels, rest = {}, labeltext or ""
        while rest:
            lm = LABEL.match(rest)
            assert lm, "malformed labels at " + where
            assert lm.group(1) not in labels, "duplicate label at " + where
            labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
            rest = rest[lm.end():]
        v = float(value)  # raises on garbage; also takes NaN, +Inf, -Inf
        assert value in ("NaN", "+Inf", "-Inf") or math.isfinite(v), where
        fam = name
        for suffix in ("_total", "_count", "_sum", "_bucket"):
            if name not in families and name.endswith(suffix) and name[:-len(suffix)] in families:
                fam = name[:-len(suffix)]
        assert fam in families and families[fam]["type"], "sample without TYPE at " + where
        seen_samples.add(fam)
        families[fam]["samples"].append((name, labels, v))
    return families


class Http(HbTestCase):
    def start(self, token=TOKEN, supervisor=None, mqtt_password=None):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "#")
        self.port = hbtest.free_port()
        c = base_config(self.b.port)
        if mqtt_password:
            c["mqtt"]["user"] = "hb"
            c["mqtt"]["password"] = mqtt_password
        c["devices"] = {
            "b1": {"driver": "mqttBattery", "root_topic": OTHER, "cells_count": 8, "temperature_count": 2},
            "meter1": {"driver": "mqttConsumption", "topic": "meter/one", "format": "text"},
        }
        if supervisor:
            c["supervisor"] = supervisor
        c["http"] = {"listen": "127.0.0.1:%d" % self.port}
        if token:
            c["http"]["token"] = token
        self.d = self.daemon(c)
        self.rec.wait("hbtest/status", b"online")
        wait_for(self._listening, 10, what="the HTTP server")
        time.sleep(0.3)  # the daemon's subscriptions reach the broker
        self.responses = []

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None, chunked=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        self.responses.append((r.status, str(r.headers), data))
        return r.status, r.headers, data

    def get_json(self, path):
        status, headers, data = self.request("GET", path)
        self.assertEqual(status, 200, data)
        self.assertEqual(headers["Content-Type"], "application/json")
        return json.loads(data)

    def post_mode(self, body, token=None, scheme="Bearer"):
        headers = {"Content-Type": "text/plain"}
        if token is not None:
            headers["Authorization"] = "%s %s" % (scheme, token)
        return self.request("POST", "/api/mode", body=body, headers=headers)

    def feed(self, consumption=331):
        for sub, payload in battery_parts():
            self.rec.publish(OTHER + "/" + sub, payload)
        self.rec.publish("meter/one", str(consumption).encode())

    def assert_error(self, status, headers, data, expected):
        self.assertEqual(status, expected, data)
        self.assertEqual(headers["Content-Type"], "application/json")
        j = json.loads(data)
        self.assertEqual(list(j), ["error"])
        self.assertIsInstance(j["error"], str)
        self.assertTrue(j["error"])

    def assert_no_secret(self, *secrets):
        for status, headers, data in self.responses:
            for s in secrets:
                self.assertNotIn(s.encode(), data)
                self.assertNotIn(s, headers)
        for s in secrets:
            self.assertNotIn(s, self.d.logtext())

    def wait_status(self, cond, what, timeout=10):
        found = []

        def check():
            s = self.get_json("/api/status")
            if cond(s):
                found.append(s)
                return True
            return False
        wait_for(check, timeout, interval=0.2, what=what)
        return found[0]

    def test_status_fields(self):
        self.start(mqtt_password=MQTT_PASSWORD)
        self.feed()
        s = self.wait_status(lambda s: s["classes"]["battery"]["soc"] is not None and
                             s["classes"]["consumption"]["power"] is not None, "battery and consumption data")
        self.assertTrue(s["version"])
        self.assertIsInstance(s["uptime_s"], int)
        self.assertGreaterEqual(s["uptime_s"], 0)
        self.assertAlmostEqual(s["time"], time.time(), delta=5)
        self.assertEqual(s["mode"], {"requested": "idle", "displayed": "idle"})
        self.assertEqual(s["locks"], [])
        self.assertIsNone(s["top_lock"])
        self.assertEqual(set(s["classes"]), {"battery", "solar", "charger", "inverter", "consumption", "heater"})
        for cls in ("solar", "charger", "inverter", "heater"):
            self.assertEqual(s["classes"][cls], {"devices": 0, "status": "off", "power": None,
                                                 "energy_today_wh": 0.0})
        self.assertEqual(s["classes"]["consumption"], {"devices": 1, "power": 331})
        bat = s["classes"]["battery"]
        self.assertEqual(bat["devices"], 1)
        self.assertAlmostEqual(bat["soc"], 55.0)
        self.assertAlmostEqual(bat["current"], -12.3)
        self.assertAlmostEqual(bat["capacity"], 61.2)

        devs = {d["name"]: d for d in s["devices"]}
        self.assertEqual(set(devs), {"b1", "meter1"})
        b1 = devs["b1"]
        self.assertEqual(b1["driver"], "mqttBattery")
        self.assertEqual(b1["classes"], ["battery"])
        self.assertTrue(b1["forwarded"])
        # The record in the shape of the MQTT JSON topic (mqtt.md).
        self.assertEqual(b1["battery"], {"v": 26.41, "i": -12.3, "soc": 55, "c": 61.2, "c_full": None, "n": 12,
                                         "temps": list(TEMPS), "cells": list(CELLS)})
        self.assertLess(b1["last_good_read_age_s"], 5)
        self.assertEqual(b1["read_failures"], 0)
        self.assertIsNone(b1["last_error"])
        m1 = devs["meter1"]
        self.assertEqual(m1["driver"], "mqttConsumption")
        self.assertEqual(m1["consumption_w"], 331)
        self.assertLess(m1["last_good_read_age_s"], 5)
        self.assertEqual(m1["status"], {})
        self.assertEqual(m1["read_failures"], 0)

        self.assertEqual(s["netzero"], {"enabled": False, "commands": 0, "last_evaluation": None})
        self.assertTrue(s["mqtt"]["connected"])
        self.assertGreaterEqual(s["mqtt"]["connects"], 1)
        self.assertEqual(set(s["loop_latency_ms"]), {"last", "max", "max_minute"})
        self.assertLess(s["loop_latency_ms"]["max"], 1000)
        self.assert_no_secret(TOKEN, MQTT_PASSWORD)
        # A meter value that does not decode is a failed read.
        self.rec.publish("meter/one", b"lots")
        m1 = {d["name"]: d for d in self.wait_status(
            lambda s: s["devices"][1]["read_failures"] == 1, "a failed meter read")["devices"]}["meter1"]
        self.assertEqual(m1["last_error"], "payload: Bad message")
        self.assertEqual(m1["consumption_w"], 331)

    def test_locks_in_status_and_metrics(self):
        self.start(supervisor={"cell_low": {"enabled": True, "threshold": 3.295, "hysteresis": 0.05}})
        self.feed()  # one cell at 3.290 V
        s = self.wait_status(lambda s: "cell_low" in [l["name"] for l in s["locks"]], "the cell_low lock")
        locks = {l["name"]: l for l in s["locks"]}
        self.assertEqual(locks["cell_low"]["classes"], ["inverter"])
        if "startup" in locks:  # the first minute after start
            self.assertEqual(sorted(locks["startup"]["classes"]), ["charger", "inverter", "solar"])
        for l in s["locks"]:
            self.assertEqual(set(l), {"name", "priority", "classes"})
            self.assertIsInstance(l["priority"], int)
        # Most important (smallest priority) first; the top one is "top_lock".
        self.assertEqual([l["priority"] for l in s["locks"]], sorted(l["priority"] for l in s["locks"]))
        self.assertEqual(s["top_lock"], s["locks"][0]["name"])
        fams = parse_prometheus(self.request("GET", "/metrics")[2].decode())
        active = {l["name"]: v for _, l, v in fams["homebattery_lock_active"]["samples"]}
        self.assertEqual(active["cell_low"], 1)
        self.assertEqual(active["cell_high"], 0)
        self.assertEqual(sum(active.values()), len(s["locks"]))

    def test_metrics(self):
        self.start()
        self.feed()
        self.wait_status(lambda s: s["classes"]["battery"]["soc"] is not None and
                         s["classes"]["consumption"]["power"] is not None, "battery and consumption data")
        status, headers, data = self.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        fams = parse_prometheus(data.decode("utf-8"))

        def values(name):
            self.assertIn(name, fams)
            self.assertTrue(fams[name]["help"])
            return {tuple(sorted(l.items())): v for _, l, v in fams[name]["samples"]}

        mode = values("homebattery_mode")
        self.assertEqual(len(mode), 8)
        self.assertEqual(mode[(("kind", "requested"), ("mode", "idle"))], 1)
        self.assertEqual(mode[(("kind", "displayed"), ("mode", "idle"))], 1)
        self.assertEqual(sum(mode.values()), 2)
        self.assertEqual(len(values("homebattery_lock_active")), 15)  # one per lock
        self.assertEqual(values("homebattery_battery_soc_percent"), {(("device", "b1"),): 55})
        self.assertAlmostEqual(values("homebattery_battery_voltage_volts")[(("device", "b1"),)], 26.41)
        self.assertAlmostEqual(values("homebattery_battery_current_amperes")[(("device", "b1"),)], -12.3)
        cells = values("homebattery_battery_cell_volts")
        self.assertEqual(len(cells), 8)
        self.assertAlmostEqual(cells[(("cell", "7"), ("device", "b1"))], 3.31)
        temps = values("homebattery_battery_temperature_celsius")
        self.assertEqual(temps, {(("device", "b1"), ("sensor", "0")): 21.5, (("device", "b1"), ("sensor", "1")): 19.0})
        self.assertEqual(values("homebattery_device_read_failures_total"),
                         {(("device", "b1"),): 0, (("device", "meter1"),): 0})
        self.assertEqual(values("homebattery_consumption_watts"), {(): 331})
        self.assertEqual(values("homebattery_mqtt_connected"), {(): 1})
        self.assertGreaterEqual(values("homebattery_mqtt_connects_total")[()], 1)
        self.assertEqual(values("homebattery_netzero_commands_total"), {(): 0})
        self.assertEqual(set(values("homebattery_loop_latency_seconds")),
                         {(("kind", k),) for k in ("last", "max", "max_minute")})
        self.assertGreaterEqual(values("homebattery_uptime_seconds")[()], 0)
        for name in ("homebattery_class_power_watts", "homebattery_class_status"):
            self.assertIn(name, fams)
        self.assertEqual(fams["homebattery_mqtt_connects_total"]["type"], "counter")
        self.assertEqual(fams["homebattery_battery_soc_percent"]["type"], "gauge")

    def test_prometheus_parser_rejects_garbage(self):
        # The parser above must be able to fail, or the metrics test proves nothing.
        for bad in ("x 1\n", "# TYPE x gauge\nx{a=b} 1\n", "# TYPE x gauge\nx 1 2 3\n", "# TYPE 1x gauge\n1x 1\n",
                    "# TYPE x gauge\nx one\n", "# TYPE x gauge\nx 1\n# HELP x late\n", "# TYPE x gauge\nx 1"):
            with self.assertRaises((AssertionError, ValueError), msg=bad):
                parse_prometheus(bad)
        parse_prometheus('# HELP x h\n# TYPE x gauge\nx{a="q\\"uote",b="\\\\"} 1.5\nx NaN\n')

    def test_mode_requires_token(self):
        self.start()
        self.assert_error(*self.post_mode(b"discharge"), 401)
        status, headers, _ = self.post_mode(b"discharge", token="tok-wrong-wrong-wrong-00")
        self.assertEqual(status, 401)
        self.assertEqual(headers["WWW-Authenticate"], "Bearer")
        self.assertEqual(self.post_mode(b"discharge", token=TOKEN[:-1])[0], 401)
        self.assertEqual(self.post_mode(b"discharge", token=TOKEN + "0")[0], 401)
        self.assertEqual(self.post_mode(b"discharge", token=TOKEN, scheme="Basic")[0], 401)
        self.assertEqual(self.get_json("/api/status")["mode"]["requested"], "idle")
        self.assertEqual(self.rec.all("hbtest/mode/actual").count(b"discharge"), 0)

        self.rec.clear()
        status, headers, data = self.post_mode(b"discharge", token=TOKEN)
        self.assertEqual(status, 200, data)
        self.assertEqual(headers["Content-Type"], "application/json")
        j = json.loads(data)
        self.assertEqual(j["requested"], "discharge")
        self.assertIn(j["displayed"], MODES)
        # The same path as an MQTT request: answered on <root>/mode/actual.
        self.assertEqual(self.rec.wait("hbtest/mode/actual"), j["displayed"].encode())
        self.assertEqual(self.get_json("/api/status")["mode"]["requested"], "discharge")
        # A trailing newline (echo | curl --data-binary @-) is forgiven.
        self.assertEqual(self.post_mode(b"idle\n", token=TOKEN)[0], 200)
        self.rec.wait("hbtest/mode/actual", b"idle")
        self.assert_no_secret(TOKEN)

    def test_mode_refused_without_configured_token(self):
        self.start(token=None)
        for token in (None, "", "anything-at-all-123456", TOKEN):
            self.assert_error(*self.post_mode(b"charge", token=token), 401)
        self.assertEqual(self.get_json("/api/status")["mode"]["requested"], "idle")
        self.assertIn("read-only", self.d.logtext())

    def test_bad_requests(self):
        self.start()
        for body in (b"", b"Charge", b"charge now", b"charge\x00", b"\xff\xfe", b"discharge;idle"):
            self.assert_error(*self.post_mode(body, token=TOKEN), 400)
        self.assertEqual(self.get_json("/api/status")["mode"]["requested"], "idle")
        big = b"charge" + b" " * 2000
        self.assert_error(*self.post_mode(big, token=TOKEN), 413)
        self.assert_error(*self.request("POST", "/api/mode", body=iter([b"x" * 600, b"y" * 600]),
                                        headers={"Authorization": "Bearer " + TOKEN}, chunked=True), 413)
        self.assert_error(*self.post_mode(b"x" * 1025, token=TOKEN), 413)
        # Exactly the limit is read (and refused only as a bad mode).
        self.assert_error(*self.post_mode(b"x" * 1024, token=TOKEN), 400)
        for method in ("PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
            status, headers, data = self.request(method, "/api/mode", body=b"charge" if method != "HEAD" else None)
            self.assertEqual(status, 405, method)
            self.assertEqual(headers["Allow"], "GET, POST")
            if method != "HEAD":
                self.assert_error(status, headers, data, 405)
        self.assert_error(*self.request("GET", "/api/mode"), 405)
        self.assert_error(*self.request("POST", "/api/status", body=b"x"), 405)
        for path in ("/nope", "/api", "/api/status/", "/metrics.txt", "/index.html"):
            self.assert_error(*self.request("GET", path), 404)
        # Request line and headers fit in about 16 KiB (half the connection's memory), else 431.
        self.assertEqual(self.request("GET", "/api/status", headers={"Cookie": "a=" + "x" * 12000})[0], 200)
        self.assertEqual(self.request("GET", "/api/status", headers={"Cookie": "a=" + "x" * 20000})[0], 431)
        # The query string is not part of the path.
        self.assertEqual(self.request("GET", "/api/status?x=1")[0], 200)
        self.assertEqual(self.get_json("/api/status")["mode"]["requested"], "idle")
        self.assert_no_secret(TOKEN)

    # -- slow clients (docs/http.md "Errors and limits") --------------------------------------

    def slow_client(self, source, line=b"X-Slow: 1\r\n"):
        """A connection from source (a loopback address) that sends a request line and one header line,
        never the end of the headers."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(2)
            s.bind((source, 0))
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n" + line)
        except OSError:
            s.close()
            raise
        return s

    @staticmethod
    def closed_by_server(socks):
        """The sockets of socks the server has closed (end of stream or reset)."""
        readable = select.select(socks, [], [], 0)[0]
        closed = []
        for s in readable:
            try:
                if s.recv(4096) == b"":
                    closed.append(s)
            except OSError:
                closed.append(s)
        return closed

    def served_within(self, limit_s, what):
        """A normal client (urllib, from 127.0.0.1) gets /api/status within limit_s; returns the time it took."""
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/api/status" % self.port, timeout=limit_s) as r:
                self.assertEqual(r.status, 200)
                json.loads(r.read())
        except OSError as e:
            self.fail("%s: /api/status not served within %.1f s (%s)" % (what, limit_s, e))
        took = time.monotonic() - t0
        self.assertLess(took, limit_s, what)
        return took

    def slowloris(self, sources, rounds, probe):
        """Every source keeps its connections trickling one header line a second; a connection the server
        closes is opened again at once (as an attacker would). probe(round) runs once a round.
        Returns how many connections the server closed."""
        conns = []  # [source, socket]
        closed = 0
        try:
            for src in sources:
                conns.append([src, self.slow_client(src)])
            for n in range(rounds):
                t_round = time.monotonic()
                gone = self.closed_by_server([s for _, s in conns])
                for c in conns:
                    if c[1] not in gone:
                        try:
                            c[1].sendall(b"X-Slow-%d: %d\r\n" % (n, n))
                            continue
                        except OSError:
                            pass
                    closed += 1
                    c[1].close()
                    c[1] = self.slow_client(c[0])
                probe(n)
                time.sleep(max(0.0, 1.0 - (time.monotonic() - t_round)))
        finally:
            for _, s in conns:
                s.close()
        return closed

    def test_idle_connections_do_not_block(self):
        self.start()
        # Requests that never end, from one address: it gets 6 connections
        # (HTTP_CONNECTIONS_PER_IP), the others are closed at once.
        socks = []
        try:
            t0 = time.monotonic()
            for _ in range(10):
                socks.append(self.slow_client("127.0.0.2"))
            # The loop goes on: an MQTT request is answered at once.
            self.rec.clear()
            self.rec.publish("hbtest/mode/set", b"protect")
            self.rec.wait("hbtest/mode/actual", b"protect", timeout=3)
            refused = []
            wait_for(lambda: refused.extend(self.closed_by_server([s for s in socks if s not in refused])) or
                     len(refused) >= 4, 3, interval=0.1, what="the connections over the per-address limit closed")
            time.sleep(0.5)
            self.assertEqual(len(refused + self.closed_by_server([s for s in socks if s not in refused])), 4)
            # Another address is served at once.
            self.served_within(1.0, "beside 6 idle connections")
            # The 6 held ones are closed by the request timeout (5 s).
            held = [s for s in socks if s not in refused]
            wait_for(lambda: refused.extend(self.closed_by_server([s for s in held if s not in refused])) or
                     len(refused) == 10, 10, interval=0.1, what="the idle connections closed")
            self.assertGreater(time.monotonic() - t0, 4, "closed before the request timeout")
            self.d.wait_log("Closing a connection from 127.0.0.2: no complete request within 5 s")
        finally:
            for s in socks:
                s.close()

    def test_slowloris(self):
        """40 connections from 8 addresses trickling one header line a second (libmicrohttpd's own timeout
        restarts with every byte): a normal client is still served within 1 s, every round, for longer than
        the request timeout, and the trickling connections are closed by it."""
        self.start()
        sources = ["127.0.0.%d" % (2 + k % 8) for k in range(40)]
        took = []
        closed = self.slowloris(sources, 9, lambda n: took.append(self.served_within(1.0, "round %d" % n)))
        print("served in %.0f..%.0f ms during the attack; %d slow connections closed by the server" % (
            min(took) * 1000, max(took) * 1000, closed))
        # Each was closed after 5 s and opened again: at least once each.
        self.assertGreaterEqual(closed, 40)
        self.assertIsNone(self.d.proc.poll())

    def test_slowloris_over_the_connection_limit(self):
        """80 connections from 16 addresses: more than the 64 the server holds. A normal client waits in the
        backlog, but gets a connection once the request timeout (5 s) closes the slow ones, although they
        are opened again at once."""
        self.start()
        sources = ["127.0.0.%d" % (2 + k % 16) for k in range(80)]
        took, failed = [], []

        def client():
            try:
                took.append(self.served_within(8.0, "over the connection limit"))
            except AssertionError as e:
                failed.append(str(e))
        th = threading.Thread(target=client)
        self.slowloris(sources, 10, lambda n: th.start() if n == 1 else None)
        th.join(10)
        self.assertEqual(failed, [])
        print("served after %.1f s with 80 slow connections" % took[0])
        self.served_within(1.0, "after the attack")

    def test_history(self):
        self.start()
        self.feed(consumption=420)
        h = self.get_json("/api/history")
        self.assertEqual(h["interval_s"], 10)
        self.assertEqual(h["capacity"], 6 * 360)
        self.assertEqual(h["fields"], ["time", "grid", "inverter", "solar", "charger", "soc"])
        h = {}

        def sampled():
            h.update(self.get_json("/api/history"))
            return h["samples"]
        wait_for(sampled, 15, interval=0.5, what="a history sample")
        t, grid, inverter, solar, charger, soc = h["samples"][0]
        self.assertAlmostEqual(t, time.time(), delta=15)
        self.assertEqual(grid, 420)
        self.assertEqual((inverter, solar, charger), (None, None, None))  # no such devices
        self.assertAlmostEqual(soc, 55.0)

    def test_page(self):
        self.start()
        status, headers, data = self.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        self.assertIn("default-src 'none'", headers["Content-Security-Policy"])
        page = data.decode("utf-8")
        for needle in ("id='mode'", "id='locks'", "id='chart'", "/api/status", "/api/history", "/api/mode",
                       "sessionStorage"):
            self.assertIn(needle, page)
        # Self-contained: nothing is loaded from elsewhere (the SVG namespace is a name, not a fetch).
        urls = set(re.findall(r"(?:https?:)?//[a-zA-Z0-9.-]+\.[a-z]{2,}[^\s'\"]*", page))
        self.assertEqual(urls, {"http://www.w3.org/2000/svg"})
        self.assertNotRegex(page, r"<(script|link|img|iframe)[^>]+(src|href)=")

    def test_listens_on_loopback_only(self):
        self.start()
        listening = []
        for path, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
            try:
                with open(path) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                local, state = row.split()[1], row.split()[3]
                addr, port = local.split(":")
                if state == "0A" and int(port, 16) == self.port:
                    raw = bytes.fromhex(addr)
                    if family == socket.AF_INET:
                        raw = raw[::-1]
                    else:  # four host-order 32-bit words
                        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    listening.append(socket.inet_ntop(family, raw))
        self.assertEqual(listening, ["127.0.0.1"])
        # Not reachable on another address of this host, if it has one.
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing address
                other = u.getsockname()[0]
        except OSError:
            other = None
        if other and not other.startswith("127."):
            with self.assertRaises(OSError):
                socket.create_connection((other, self.port), timeout=2).close()


if __name__ == "__main__":
    unittest.main()
