#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mqttBattery without cells_count/temperature_count (configuration.md): what
a controller running the original firmware 1.x sends, one JSON message on
root_topic with only cells (no temps, c_full, n), makes records; the binary
sub-topics are ignored, silently. With the counts both forms work (test_mqtt.py)."""

import json
import struct
import time
import unittest

from hbtest import HbTestCase, base_config, wait_for

OTHER = "garage/bat/dev/bat1"


def binary_parts(cells=8, temps=2):
    parts = [("v", struct.pack(">H", 2640)), ("i", struct.pack(">h", -123)), ("soc", struct.pack(">B", 77)),
             ("c", struct.pack(">H", 612)), ("n", struct.pack(">H", 12))]
    parts += [("cell/%d" % k, struct.pack(">H", 3300)) for k in range(cells)]
    parts += [("temp/%d" % k, struct.pack(">h", 215)) for k in range(temps)]
    return parts


class MqttBatteryJsonOnly(HbTestCase):
    def start(self):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "#")
        c = base_config(self.b.port)
        c["supervisor"] = {
            "cell_low": {"enabled": True, "threshold": 3.1, "hysteresis": 0.1},
            "cell_high": {"enabled": True, "threshold": 3.65, "hysteresis": 0.2},
        }
        c["devices"] = {"b1": {"driver": "mqttBattery", "root_topic": OTHER}}
        self.d = self.daemon(c)
        self.rec.wait("hbtest/status", b"online")
        time.sleep(0.3)  # the daemon's subscriptions follow its CONNACK

    def test_json_with_only_cells_makes_records_subtopics_ignored(self):
        self.start()
        # A complete set of binary parts: without the counts it is not this device's input.
        for sub, payload in binary_parts():
            self.rec.publish(OTHER + "/" + sub, payload)
        time.sleep(1.5)
        self.assertEqual(self.rec.all("hbtest/bat/sum"), [])
        self.assertNotIn("Record:", self.d.logtext())
        self.assertNotIn("Ignoring", self.d.logtext())

        # The 1.x controller's message: v, i, soc, c and cells; nothing else.
        self.rec.publish(OTHER, json.dumps({"v": 26.4, "i": -1.5, "soc": 61, "c": 61.2,
                                            "cells": [3.30, 3.31, 3.29, 3.30]}).encode())
        s = json.loads(self.rec.wait("hbtest/bat/sum"))
        self.assertEqual(s["soc"], 61)
        self.assertEqual(self.rec.wait("hbtest/bat/i"), struct.pack(">h", -15))
        wait_for(lambda: "4 cells" in self.d.logtext(), 5, what="the record's debug line")

        # Optional fields are read as well.
        self.rec.clear()
        self.rec.publish(OTHER, json.dumps({"v": 26.5, "i": 2.0, "soc": 62, "c": 62.0, "c_full": 100.0, "n": 7,
                                            "temps": [18.5], "cells": [3.31] * 4}).encode())
        s = json.loads(self.rec.wait("hbtest/bat/sum"))
        self.assertEqual(s["soc"], 62)
        self.assertIsNone(self.d.proc.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
