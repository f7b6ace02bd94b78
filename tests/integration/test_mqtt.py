# SPDX-License-Identifier: MIT
"""MQTT end to end against a real mosquitto: compatibility encodings, locks
driven by an mqttBattery, consumption formats and sums, forwarded batteries
not re-published, TLS, password auth, broker restart, garbage inputs."""
import json
import os
import socket
import struct
import subprocess
import threading
import time
import unittest

import hbtest
from hbtest import HbTestCase, base_config, wait_for

OTHER = "other/bat/dev/b1"


def battery_parts(v=26.4, i=-12.34, soc=55, c=61.2, n=12, cells=(3.3,) * 8, temps=(21.5, -5.0)):
    parts = [("v", struct.pack(">H", round(v * 100))), ("i", struct.pack(">h", round(i * 10))),
             ("soc", struct.pack(">B", soc)), ("c", struct.pack(">H", round(c * 10))), ("n", struct.pack(">H", n))]
    parts += [("cell/%d" % k, struct.pack(">H", round(x * 1000))) for k, x in enumerate(cells)]
    parts += [("temp/%d" % k, struct.pack(">h", round(x * 10))) for k, x in enumerate(temps)]
    return parts


class Mqtt(HbTestCase):
    def config(self, port, **kw):
        c = base_config(port)
        c["supervisor"] = {
            "cell_low": {"enabled": True, "threshold": 3.1, "hysteresis": 0.1},
            "cell_high": {"enabled": True, "threshold": 3.65, "hysteresis": 0.2},
        }
        c["devices"] = {
            "b1": {"driver": "mqttBattery", "root_topic": OTHER, "cells_count": 8, "temperature_count": 2},
            "meter1": {"driver": "mqttConsumption", "topic": "meter/one", "format": "binary"},
            "meter2": {"driver": "mqttConsumption", "topic": "meter/two", "format": {"json": "SML.Power"}},
        }
        c.update(kw)
        return c

    def start(self, env=None, **kw):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "#")
        self.d = self.daemon(self.config(self.b.port, **kw), env=env)
        self.rec.wait("hbtest/status", b"online")
        # Subscriptions are sent right after CONNACK; give the broker a moment.
        time.sleep(0.3)

    def feed_battery(self, **kw):
        for sub, payload in battery_parts(**kw):
            self.rec.publish(OTHER + "/" + sub, payload)

    def test_class_states_on_connect(self):
        self.start()
        for cls in ("cha", "inv", "sol"):
            self.assertEqual(self.rec.wait("hbtest/%s/state" % cls), b"\x00")
            self.assertEqual(json.loads(self.rec.wait("hbtest/%s/sum" % cls)), {"status": "off", "power": None})

    def test_battery_locks_and_sums(self):
        self.start()
        # Before any record the cell checks hold their safe initial state,
        # and startup stays on top of them for the first minute.
        self.rec.wait("hbtest/locked", b"startup")
        locks = [l["name"] for l in json.loads(self.rec.wait("hbtest/locks"))]
        self.assertEqual(locks, ["startup", "cell_high", "cell_low"])
        self.rec.publish("hbtest/mode/set", b"discharge")
        self.rec.wait("hbtest/mode/actual", b"protect")

        self.feed_battery(cells=(3.30,) * 8)
        self.rec.wait("hbtest/locked", b"")
        self.rec.wait("hbtest/mode/actual", b"discharge")
        # Class sums: current -12.34 A → -123 → 0xFF85; capacity 61.2 Ah → 612.
        self.assertEqual(self.rec.wait("hbtest/bat/i"), b"\xff\x85")
        self.assertEqual(self.rec.wait("hbtest/bat/c"), struct.pack(">H", 612))
        s = json.loads(self.rec.wait("hbtest/bat/sum"))
        self.assertAlmostEqual(s["current"], -12.3, places=1)
        self.assertEqual(s["soc"], 55)
        # Forwarded batteries are never re-published under our root.
        self.assertFalse([m for m in self.rec.messages if m[0].startswith("hbtest/bat/dev/")])

        # One cell under cell_low locks the inverter: displayed mode protect.
        self.feed_battery(cells=(3.30,) * 7 + (3.05,))
        self.rec.wait("hbtest/locked", b"cell_low")
        locks = json.loads(self.rec.last("hbtest/locks"))
        self.assertEqual(locks, [{"name": "cell_low", "priority": 32, "locks": ["inverter"]}])
        self.rec.wait("hbtest/mode/actual", b"protect")
        # Hysteresis: 3.15 V is above the threshold but below threshold + 0.1: still locked.
        self.rec.clear()
        self.feed_battery(cells=(3.30,) * 7 + (3.15,))
        time.sleep(1.5)
        self.assertEqual(self.rec.all("hbtest/locked"), [])
        self.feed_battery(cells=(3.30,) * 7 + (3.20,))
        self.rec.wait("hbtest/locked", b"")
        self.rec.wait("hbtest/mode/actual", b"discharge")

        # A cell over cell_high while charging locks charger and solar.
        self.rec.publish("hbtest/mode/set", b"charge")
        self.rec.wait("hbtest/mode/actual", b"charge")
        self.feed_battery(cells=(3.30,) * 7 + (3.70,))
        self.rec.wait("hbtest/locked", b"cell_high")
        self.rec.wait("hbtest/mode/actual", b"protect")

    def test_homeassistant_discovery(self):
        self.start()
        # Retained documents: a late subscriber gets them all.
        ha = self.recorder(self.b.port, "homeassistant/#")
        # mode select, lock sensor, consumption power (the battery is forwarded: no sensors)
        wait_for(lambda: len(ha.messages) >= 3, 10, what="discovery documents")
        time.sleep(0.5)
        docs = {}
        for topic, payload, retain, _ in ha.messages:
            self.assertTrue(retain, topic)
            self.assertTrue(topic.startswith("homeassistant/") and topic.endswith("/config"), topic)
            docs[topic] = json.loads(payload)
        ids = [d["unique_id"] for d in docs.values()]
        self.assertEqual(len(ids), len(set(ids)), "unique_id repeated")
        devices = {json.dumps(d["device"]["identifiers"]) for d in docs.values()}
        self.assertEqual(len(devices), 1, "one Home Assistant device")
        for d in docs.values():
            self.assertEqual(d["availability_topic"], "hbtest/status")
        select = [d for t, d in docs.items() if "/select/" in t]
        self.assertEqual(len(select), 1)
        self.assertEqual(select[0]["command_topic"], "hbtest/mode/set")
        self.assertEqual(select[0]["state_topic"], "hbtest/mode/actual")
        self.assertEqual(sorted(select[0]["options"]), ["charge", "discharge", "idle", "protect"])
        cons = [d for d in docs.values() if d.get("state_topic") == "hbtest/consumption"]
        self.assertTrue(cons and cons[0]["device_class"] == "power" and cons[0]["unit_of_measurement"] == "W")
        # Home Assistant restarting asks for everything again.
        ha.clear()
        self.rec.publish("homeassistant/status", b"online")
        wait_for(lambda: len(ha.messages) >= len(docs), 10, what="documents re-sent after HA restart")

    def test_battery_json_message(self):
        self.start()
        rec = {"v": 26.1, "i": 3.2, "soc": 40, "c": 40.0, "c_full": 100.0, "n": 3, "temps": [20.0, 21.0],
               "cells": [3.262] * 8}
        self.rec.publish(OTHER, json.dumps(rec).encode())
        s = json.loads(self.rec.wait("hbtest/bat/sum"))
        self.assertEqual(s["soc"], 40)
        self.assertEqual(self.rec.wait("hbtest/bat/i"), struct.pack(">h", 32))

    def test_battery_without_temperature_not_fatal(self):
        """A record without temperature while a temperature check is on (a BMS without NTC) used to
        raise the fatal internal lock: watchdog restarts every 30 s. Now the check stays active with
        a reason, the watchdog is still fed, one error line."""
        notify = self.notify_socket()
        sup = dict(self.config(0)["supervisor"], temp_low_charge={"enabled": True, "threshold": 10, "hysteresis": 2})
        http_port = hbtest.free_port()
        self.start(env={"NOTIFY_SOCKET": notify.path}, supervisor=sup,
                   http={"listen": "127.0.0.1:%d" % http_port})
        rec = {"v": 26.1, "i": 3.2, "soc": 40, "c": 40.0, "n": 3, "temps": [], "cells": [3.3] * 8}
        self.rec.publish(OTHER, json.dumps(rec).encode())
        want = {"name": "temp_low_charge", "priority": 33, "locks": ["solar", "charger"],
                "reason": "no temperature sensor on battery b1"}
        # startup stays above it for the first minute; the cell checks are satisfied.
        wait_for(lambda: any([l["name"] for l in json.loads(p)] == ["startup", "temp_low_charge"] and
                             json.loads(p)[1] == want for p in self.rec.all("hbtest/locks")), 10,
                 what="temp_low_charge with its reason")
        t_lock = time.monotonic()
        for _ in range(3):
            self.rec.publish(OTHER, json.dumps(rec).encode())
            time.sleep(0.5)
        wait_for(lambda: len([t for t, _ in notify.lines("WATCHDOG=1") if t > t_lock]) >= 3, 10,
                 what="watchdog pings while the lock is held")
        self.assertFalse([p for p in self.rec.all("hbtest/locks") if b"internal" in p])
        status = hbtest.http_json("http://127.0.0.1:%d/api/status" % http_port)
        self.assertEqual([l.get("reason") for l in status["locks"]], [None, want["reason"]])
        self.assertIsNone(self.d.proc.poll())
        errors = [l for l in self.d.logtext().splitlines() if " error " in l]
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("supervisor.temp_low_charge is enabled, but no battery reports a temperature (b1)", errors[0])

    def test_implausible_battery_record_refused(self):
        """A cell at 5.2 V used to be published and used by the supervisor."""
        self.start()
        self.feed_battery(cells=(3.30,) * 7 + (5.2,))
        self.d.wait_log("Refusing an implausible battery record: cell 8 at 5.2 V, outside 0..5 V")
        time.sleep(0.5)
        self.assertEqual(self.rec.all("hbtest/bat/sum"), [], "an implausible record was used")
        # A plausible record afterwards is used.
        self.feed_battery(cells=(3.30,) * 8)
        self.rec.wait("hbtest/bat/sum")

    def test_consumption_formats_and_sum(self):
        self.start()
        self.rec.publish("meter/one", struct.pack(">h", -120))
        time.sleep(0.2)
        # No total until every meter was heard.
        self.assertEqual(self.rec.all("hbtest/consumption"), [])
        self.rec.publish("meter/two", b'{"SML":{"Power":450.6}}')
        self.assertEqual(json.loads(self.rec.wait("hbtest/consumption")), {"power": 331})
        self.rec.publish("meter/one", struct.pack(">i", 1000))
        self.rec.wait("hbtest/consumption", b'{"power":1451}')

    def test_consumption_text_and_auto(self):
        b = self.broker()
        rec = self.recorder(b.port, "#")
        c = base_config(b.port)
        c["devices"] = {"m": {"driver": "mqttConsumption", "topic": "meter/x"}}
        self.daemon(c)
        rec.wait("hbtest/status", b"online")
        time.sleep(0.3)
        for payload, expect in [(b"-5", -5), (b"123.6", 124), (b"\x01\x00", 256), (b"\xff\xfb", -5),
                                (b"\x00\x01\x00\x00", 65536), (b" 42 ", 42)]:
            rec.clear()
            rec.publish("meter/x", payload)
            self.assertEqual(json.loads(rec.wait("hbtest/consumption")), {"power": expect}, payload)

    def test_garbage_on_every_topic(self):
        self.start()
        garbage = [b"", b"\x00", b"\xff" * 7, b"{", b"nan", "ü".encode(), b"x" * 70000]
        for g in garbage:
            for topic in ("meter/one", "meter/two", OTHER, OTHER + "/v", OTHER + "/cell/99", OTHER + "/temp/x",
                          OTHER + "/soc", "hbtest/reset"):
                self.rec.publish(topic, g)
        time.sleep(1)
        self.assertIsNone(self.d.proc.poll(), "daemon died on garbage")
        log = self.d.logtext()
        self.assertIn("Ignoring", log)
        self.assertIn("expected \"reset\"", log)
        # Still serving: a mode request is answered.
        self.rec.publish("hbtest/mode/set", b"idle")
        self.rec.wait("hbtest/mode/actual")
        # Garbage on mode/set requests protect.
        self.rec.clear()
        self.rec.publish("hbtest/mode/set", b"\xff\xfe")
        self.rec.wait("hbtest/mode/actual", b"protect")

    def test_same_client_id_is_named(self):
        """Two daemons with one client id throw each other off once a second; the log said only
        "Connection reset by peer". Now an error line names mqtt.client_id."""
        self.start()
        other = self.daemon(base_config(self.b.port), args=())
        deadline = time.monotonic() + 20
        found = lambda: "uses the same client id \"hb-under-test\"" in self.d.logtext() + other.logtext()
        wait_for(found, 20, what="the error about the client id")
        self.assertIn("mqtt.client_id", self.d.logtext() + other.logtext())
        self.assertLess(time.monotonic(), deadline)
        other.stop()

    def test_values_from_before_the_first_connect(self):
        """A class power that changed while the broker was away (here: before it ever came) is
        published after the connect, not only at its next change."""
        import hbtest
        port = hbtest.free_port()
        link = os.path.join(self.workdir, "usb-VictronEnergy-if00-port0")
        sim = hbtest.VeDirectSim(self.workdir, link, ["--ppv", "150"])
        self._hb_stops.append(sim.stop)
        c = base_config(port, devices={"mppt": {"driver": "victronMppt", "port": link, "control": "none"}})
        self.d = self.daemon(c)
        self.d.wait_log("Status syncing -> on", timeout=15)
        time.sleep(2)  # the power report (150 W) is in, with no broker to take it
        self.b = self.broker(port=port)
        self.rec = self.recorder(self.b.port, "hbtest/#")
        self.rec.wait("hbtest/status", b"online", timeout=35)
        self.assertEqual(self.rec.wait("hbtest/sol/p", timeout=5), struct.pack(">H", 150))

    def test_broker_restart_same_port(self):
        self.start()
        port = self.b.port
        self.b.stop()
        time.sleep(2)
        b2 = self.broker(port=port)
        rec = self.recorder(b2.port, "hbtest/#")
        t0 = time.monotonic()
        rec.wait("hbtest/status", b"online", timeout=35)
        print("reconnect after broker restart: %.1f s" % (time.monotonic() - t0))
        # Re-subscribed: mode/set works again; class states re-published.
        time.sleep(0.3)
        rec.publish("hbtest/mode/set", b"charge")
        rec.wait("hbtest/mode/actual", b"protect")  # cell checks still hold (no battery data)
        self.assertIsNotNone(rec.wait("hbtest/inv/state"))

    def test_password_auth(self):
        pwfile = os.path.join(self.workdir, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", pwfile, "hb", "s3cret-pass"], check=True,
                       stdout=subprocess.DEVNULL)
        b = self.broker(extra="allow_anonymous false\npassword_file %s\n" % pwfile)
        # The recorder needs credentials too.
        rec = hbtest.Recorder.__new__(hbtest.Recorder)
        import paho.mqtt.client as mqtt
        import threading
        rec.messages, rec.lock, rec.pattern = [], threading.Lock(), "hbtest/#"
        rec.connected = threading.Event()
        rec.client = mqtt.Client(client_id="rec-auth", protocol=mqtt.MQTTv5)
        rec.client.username_pw_set("hb", "s3cret-pass")
        rec.client.on_connect, rec.client.on_message = rec._on_connect, rec._on_message
        rec.client.on_subscribe = rec._on_subscribe
        rec.client.connect("127.0.0.1", b.port)
        rec.client.loop_start()
        self._hb_stops.append(rec.close)
        self.assertTrue(rec.connected.wait(10))

        c = base_config(b.port)
        c["mqtt"].update({"user": "hb", "password": "wrong-pass"})
        d = self.daemon(c)
        d.wait_log("refused", timeout=10)
        self.assertEqual(rec.all("hbtest/status"), [])
        self.assertNotIn("wrong-pass", d.logtext())
        d.kill()

        c["mqtt"]["password"] = "s3cret-pass"
        c["mqtt"]["client_id"] = "hb-under-test-2"
        d2 = hbtest.Daemon(self.workdir, c)
        self._hb_stops.append(d2.kill)
        rec.wait("hbtest/status", b"online")
        self.assertNotIn("s3cret-pass", d2.logtext())


class MqttTls(HbTestCase):
    def make_ca(self, cn="127.0.0.1"):
        w = self.workdir
        run = lambda *a: subprocess.run(a, check=True, cwd=w, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=hbtest CA",
            "-keyout", "ca.key", "-out", "ca.pem")
        with open(os.path.join(w, "ext.cnf"), "w") as f:
            f.write("subjectAltName=IP:%s\n" % cn if cn[0].isdigit() else "subjectAltName=DNS:%s\n" % cn)
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % cn, "-keyout", "server.key",
            "-out", "server.csr")
        run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem")
        return os.path.join(w, "ca.pem")

    def tls_broker(self):
        w = self.workdir
        tls_port = hbtest.free_port()
        extra = ("allow_anonymous true\nlistener %d 127.0.0.1\ncafile %s/ca.pem\ncertfile %s/server.pem\n"
                 "keyfile %s/server.key\nallow_anonymous true\n" % (tls_port, w, w, w))
        b = self.broker(extra=extra)
        wait_for(lambda: subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" % tls_port]).returncode == 0,
                 10, what="TLS listener")
        return b, tls_port

    def test_tls_verified(self):
        ca = self.make_ca("127.0.0.1")
        b, tls_port = self.tls_broker()
        rec = self.recorder(b.port, "hbtest/#")  # plain listener, same broker
        c = base_config(tls_port)
        c["mqtt"]["ca"] = ca
        self.daemon(c)
        rec.wait("hbtest/status", b"online", timeout=15)

    def test_tls_wrong_name_refused_unless_insecure(self):
        ca = self.make_ca("broker.invalid")
        b, tls_port = self.tls_broker()
        rec = self.recorder(b.port, "hbtest/#")
        c = base_config(tls_port)
        c["mqtt"]["ca"] = ca
        d = self.daemon(c)
        time.sleep(3)
        self.assertEqual(rec.all("hbtest/status"), [], "connected despite a certificate for another name")
        d.kill()
        c["mqtt"]["tls_insecure"] = True
        c["mqtt"]["client_id"] = "hb-insecure"
        d2 = hbtest.Daemon(self.workdir, c)
        self._hb_stops.append(d2.kill)
        rec.wait("hbtest/status", b"online", timeout=15)


class TakeoverBroker:
    """A minimal MQTT v5 "broker" that accepts every CONNECT and, 0.3 s after
    the CONNACK, hands the session to "another client": DISCONNECT with reason
    0x8E (session taken over), as MQTT v5 brokers other than mosquitto 2.0 do."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connects = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5)
                    conn.recv(4096)  # CONNECT: its content does not matter here
                    conn.sendall(b"\x20\x03\x00\x00\x00")  # CONNACK v5: success, no properties
                    self.connects += 1
                    time.sleep(0.3)
                    conn.sendall(b"\xe0\x02\x8e\x00")  # DISCONNECT: session taken over
                    time.sleep(0.2)
                except OSError:
                    pass

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class MqttTakeover(HbTestCase):
    def test_session_taken_over_v5(self):
        """An MQTT v5 broker that says "session taken over": the daemon names the client id at
        error level, and reconnects (it used to miss a broker's DISCONNECT and stay "connected")."""
        fake = TakeoverBroker()
        self._hb_stops.append(fake.close)
        d = self.daemon(base_config(fake.port))
        d.wait_log('Another client uses the same client id "hb-under-test"', timeout=10)
        self.assertIn("disconnected us: Session taken over", d.logtext())
        wait_for(lambda: fake.connects >= 2, 10, what="a reconnect after the takeover")
        self.assertIsNone(d.proc.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
