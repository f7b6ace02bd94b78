# SPDX-License-Identifier: MIT
"""The heater end to end (docs/control.md "Heater"): the real daemon, a real
mosquitto, a Shelly simulator as shellyHeater and an mqttBattery whose
temperature the test publishes. The heater switches on at or below
heater.activate.battery, off at or above heater.deactivate.battery, keeps its
state in the band, whatever the mode and the locks; it goes off 300 s after
the temperatures stop, and on SIGTERM. hea/sum and hea/dev/<name> (JSON even
with mqtt.json false), /api/status and /metrics show it."""
import json
import threading
import time
import unittest
import urllib.request

import paho.mqtt.client as mqtt

import hbtest
from hbtest import HbTestCase, base_config, free_port, wait_for

ROOT = "hbtest"
OTHER = "other/bat/dev/b1"
ACTIVATE, DEACTIVATE = 5, 10
LOAD_W = 35


class Heater(HbTestCase):
    def start(self, json_topics=True):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, ROOT + "/#")
        self.sh = self.sim("shelly_sim.py", "--gen", "2", "--power", str(LOAD_W), name="heater")
        self.http_port = free_port()
        c = base_config(self.b.port)
        c["mqtt"]["json"] = json_topics
        c["devices"] = {
            "hz": {"driver": "shellyHeater", "host": self.sh.host, "generation": 2},
            "b1": {"driver": "mqttBattery", "root_topic": OTHER, "cells_count": 4, "temperature_count": 2},
        }
        c["heater"] = {"activate": {"battery": ACTIVATE}, "deactivate": {"battery": DEACTIVATE}}
        # A lock that stays active all along (battery_offline after 1 s would come and go): the
        # heater must not care about locks or the mode.
        c["supervisor"] = {"temp_low_charge": {"enabled": True, "threshold": 15, "hysteresis": 2}}
        c["http"] = {"listen": "127.0.0.1:%d" % self.http_port}
        self.d = self.daemon(c)
        self.rec.wait(ROOT + "/status", b"online")
        time.sleep(0.3)  # the daemon's subscriptions reach the broker

    def battery(self, temp):
        rec = {"v": 26.4, "i": -1.0, "soc": 50, "c": 50.0, "c_full": 100.0, "n": 3,
               "temps": [temp + 4, temp], "cells": [3.30, 3.31, 3.29, 3.30]}
        self.rec.publish(OTHER, json.dumps(rec).encode())

    def relay_on(self):
        return self.sh.state()["relays"][0]["on"]

    def wait_relay(self, on, timeout=10):
        wait_for(lambda: self.relay_on() == on, timeout, what="heater relay %s" % ("on" if on else "off"))

    def json_last(self, topic):
        last = self.rec.last("%s/%s" % (ROOT, topic))
        return json.loads(last) if last else None

    def wait_json(self, topic, want, timeout=10):
        wait_for(lambda: self.json_last(topic) == want, timeout,
                 what="%s = %s (last %s)" % (topic, want, self.json_last(topic)))

    def api(self):
        return hbtest.http_json("http://127.0.0.1:%d/api/status" % self.http_port)

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port, timeout=5) as r:
            return r.read().decode()

    def on_commands(self, since=0.0):
        return [r for r in self.sh.requests() if r["path"] == "/rpc/Switch.Set" and "on=true" in r["query"]
                and r["time"] >= since]

    def check_api_on(self):
        s = self.api()
        self.assertEqual(s["classes"]["heater"], {"devices": 1, "status": "on", "power": LOAD_W,
                                                  "energy_today_wh": 0.0})
        hz = {d["name"]: d for d in s["devices"]}["hz"]
        self.assertEqual(hz["driver"], "shellyHeater")
        self.assertEqual(hz["classes"], ["heater"])
        self.assertEqual(hz["status"], {"heater": "on"})
        self.assertEqual(hz["power"], {"heater": LOAD_W})
        m = self.metrics()
        self.assertIn('homebattery_class_status{class="heater",status="on"} 1\n', m)
        self.assertIn('homebattery_class_status{class="heater",status="off"} 0\n', m)
        self.assertIn('homebattery_class_power_watts{class="heater"} %d\n' % LOAD_W, m)

    def test_rule_topics_api_stale_and_sigterm(self):
        self.start()
        # Off at start (the driver commands it off), published at connect.
        self.wait_json("hea/sum", {"status": "off", "power": 0})
        self.wait_json("hea/dev/hz", {"status": "off", "power": 0})
        self.assertFalse(self.relay_on())
        self.assertEqual(self.on_commands(), [])
        self.assertNotIn(ROOT + "/hea/state", [m[0] for m in self.rec.messages], "no binary heater topics")

        # Cold (the lowest sensor counts): on, with the auto-off timer; the mode is idle and
        # temp_low_charge is active, which lock nothing of the heater.
        self.battery(ACTIVATE - 1)
        self.wait_relay(True)
        self.wait_json("hea/sum", {"status": "on", "power": LOAD_W})
        self.wait_json("hea/dev/hz", {"status": "on", "power": LOAD_W})
        self.assertIn("toggle_after=300", self.on_commands()[0]["query"])
        self.d.wait_log("Heaters on: lowest battery temperature 4.0 °C <= 5.0 °C (activate)")
        self.assertIn("temp_low_charge", [l["name"] for l in self.api()["locks"]])
        self.check_api_on()

        # In the band: stays on.
        self.battery((ACTIVATE + DEACTIVATE) / 2)
        time.sleep(3)
        self.assertTrue(self.relay_on())
        # Warm: off; the band keeps it off.
        self.battery(DEACTIVATE)
        self.wait_relay(False)
        self.wait_json("hea/sum", {"status": "off", "power": 0})
        self.battery(ACTIVATE + 0.5)
        time.sleep(3)
        self.assertFalse(self.relay_on())
        self.assertEqual(self.api()["classes"]["heater"]["status"], "off")

        # Cold again, then the temperatures stop: off 300 s after the last record, said once.
        self.battery(ACTIVATE)
        self.wait_relay(True)
        t_last = time.monotonic()
        self.d.wait_log("No battery temperature for 300 s", 330)
        self.assertGreater(time.monotonic() - t_last, 295)
        self.wait_relay(False)
        self.wait_json("hea/sum", {"status": "off", "power": 0})
        self.assertEqual(self.d.logtext().count("No battery temperature for 300 s"), 1)

        # Back, cold: on; SIGTERM switches it off before the daemon exits.
        self.battery(ACTIVATE - 3)
        self.d.wait_log("A battery temperature arrived again")
        self.wait_relay(True)
        self.assertEqual(self.d.stop(), 0)
        self.assertFalse(self.relay_on(), "the heater must be off after SIGTERM")
        off = [r for r in self.sh.requests() if r["path"] == "/rpc/Switch.Set" and "on=false" in r["query"]]
        self.assertTrue(off)

    def qos_watcher(self):
        """A second subscriber that keeps the QoS every hea/ message arrives with (subscribed with 2)."""
        seen, ready = [], threading.Event()
        c = mqtt.Client(client_id="qos-%d" % time.monotonic_ns(), protocol=mqtt.MQTTv5)
        c.on_connect = lambda cl, u, f, rc, props=None: cl.subscribe(ROOT + "/hea/#", qos=2)
        c.on_subscribe = lambda cl, u, mid, granted, props=None: ready.set()
        c.on_message = lambda cl, u, msg: seen.append((msg.topic, msg.qos))
        c.connect("127.0.0.1", self.b.port)
        c.loop_start()
        self._hb_stops.append(lambda: (c.loop_stop(), c.disconnect()))
        self.assertTrue(ready.wait(10))
        return seen

    def test_json_topics_without_mqtt_json(self):
        self.start(json_topics=False)
        qos = self.qos_watcher()
        self.wait_json("hea/sum", {"status": "off", "power": 0})
        self.battery(ACTIVATE - 10)
        self.wait_json("hea/sum", {"status": "on", "power": LOAD_W})
        self.wait_json("hea/dev/hz", {"status": "on", "power": LOAD_W})
        topics = {m[0] for m in self.rec.messages}
        self.assertNotIn(ROOT + "/cha/sum", topics, "mqtt.json false: no other JSON class topic")
        self.assertIn(ROOT + "/cha/state", topics)
        self.assertFalse([t for t in topics if t.startswith(ROOT + "/hea/") and t != ROOT + "/hea/sum"
                          and not t.startswith(ROOT + "/hea/dev/")])
        wait_for(lambda: (ROOT + "/hea/dev/hz", 1) in qos, 5, what="hea/dev/hz with QoS 1 (seen %s)" % qos)
        self.assertEqual({q for _, q in qos}, {1}, "every heater message with QoS 1")


if __name__ == "__main__":
    unittest.main()
