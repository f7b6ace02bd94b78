# SPDX-License-Identifier: MIT
"""The status page in a real browser: Debian's chromium, headless, loads the
page from the daemon while the test feeds an mqttBattery and a meter, then the
DOM must show the mode, the battery and a drawn chart. Saves a screenshot in
the build directory (HB_BUILD_DIR, else next to HB_BINARY, else the current
directory) and, with HB_UPDATE_DOCS=1, copies it to docs/status-page.png."""
import html.parser
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import hbtest
from hbtest import HbTestCase, base_config, wait_for
from test_http import OTHER, battery_parts

TOKEN = "tok-browser-5e1f0a9c33d2"
MODES = ("charge", "discharge", "idle", "protect")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--window-size=1280,900"]


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path, None
    # Debian's package; needs root (or password-less sudo) and the network.
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            return None, "not root and no sudo"
        cmd = ["sudo", "-n"] + cmd
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    path = shutil.which("chromium")
    return (path, None) if path else (None, r.stdout.decode("utf-8", "replace")[-500:])


class Dom(html.parser.HTMLParser):
    """Keeps the text of elements by id and the attributes of every <path> inside #chart."""

    def __init__(self):
        super().__init__()
        self.stack, self.text, self.chart_paths = [], {}, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("meta", "br", "input", "img", "link"):
            return
        self.stack.append(a.get("id"))
        if tag == "path" and "chart" in self.stack:
            self.chart_paths.append(a)

    def handle_startendtag(self, tag, attrs):
        if tag == "path" and "chart" in self.stack:
            self.chart_paths.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in ("meta", "br", "input", "img", "link"):
            return
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.text[i] = self.text.get(i, "") + data


class Feeder(threading.Thread):
    """A household in miniature: a meter that changes every second, a battery record every 5 s."""

    def __init__(self, rec):
        super().__init__(daemon=True)
        self.rec, self.running = rec, True

    def run(self):
        k = 0
        while self.running:
            w = round(380 + 160 * math.sin(k / 5.0) + 60 * math.sin(k / 1.7))
            try:
                self.rec.publish("meter/one", str(w).encode())
                if k % 5 == 0:
                    for sub, payload in battery_parts(soc=68, c=68.0, i=-4.2, cells=(3.318, 3.321, 3.315, 3.322,
                                                                                     3.320, 3.309, 3.319, 3.324)):
                        self.rec.publish(OTHER + "/" + sub, payload)
            except Exception:  # noqa: BLE001 - the broker went away at the end of the test
                return
            k += 1
            time.sleep(1)


class Browser(HbTestCase):
    def setUp(self):
        super().setUp()
        self.chromium, why = find_chromium()
        if not self.chromium:
            self.skipTest("chromium is not installed and could not be installed (apt-get install chromium): " + why)

    def chromium_run(self, url, *args):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.workdir)  # a fresh profile every run
        cmd = [self.chromium] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile] + list(args) + [url]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, cwd=self.workdir)
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace")[-2000:])
        return r.stdout.decode("utf-8", "replace")

    def test_page_shows_live_data(self):
        b = self.broker()
        rec = self.recorder(b.port, "#")
        port = hbtest.free_port()
        c = base_config(b.port)
        c["devices"] = {
            "b1": {"driver": "mqttBattery", "root_topic": OTHER, "cells_count": 8, "temperature_count": 2},
            "meter1": {"driver": "mqttConsumption", "topic": "meter/one", "format": "text"},
        }
        c["http"] = {"listen": "127.0.0.1:%d" % port, "token": TOKEN}
        d = self.daemon(c)
        rec.wait("hbtest/status", b"online")
        time.sleep(0.3)
        feeder = Feeder(rec)
        feeder.start()
        self._hb_stops.append(lambda: setattr(feeder, "running", False))
        url = "http://127.0.0.1:%d/" % port

        def get(path):
            with urllib.request.urlopen(url.rstrip("/") + path, timeout=5) as r:
                return json.loads(r.read())
        # Live data, and two history samples (one every 10 s), so the chart has lines.
        wait_for(lambda: get("/api/status")["classes"]["battery"]["soc"] is not None, 15, interval=0.3,
                 what="battery data")
        # For the picture in the docs, a few minutes of history make a chart worth looking at.
        samples = 18 if os.environ.get("HB_UPDATE_DOCS") == "1" else 2
        wait_for(lambda: len([s for s in get("/api/history")["samples"] if s[5] is not None]) >= samples,
                 15 + 10 * samples, interval=0.5, what="%d history samples" % samples)
        displayed = get("/api/status")["mode"]["displayed"]

        dom = Dom()
        dom.feed(self.chromium_run(url, "--virtual-time-budget=8000", "--dump-dom"))
        self.assertEqual(dom.text.get("mode", "").strip(), displayed)
        self.assertIn(displayed, MODES)
        self.assertIn("No active lock", dom.text.get("locks", ""))
        self.assertIn("68 %", dom.text.get("batlist", ""))
        self.assertIn("b1", dom.text.get("batlist", ""))
        drawn = {p.get("data-series"): p.get("d", "") for p in dom.chart_paths}
        self.assertIn("grid", drawn)
        self.assertIn("soc", drawn)
        for series in ("grid", "soc"):
            self.assertRegex(drawn[series], r"^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+)+$", series)

        out_dir = os.environ.get("HB_BUILD_DIR") or (os.path.dirname(hbtest.HB_BINARY) if hbtest.HB_BINARY
                                                      else os.getcwd())
        shot = os.path.join(out_dir, "status-page.png")
        self.chromium_run(url, "--virtual-time-budget=8000", "--screenshot=" + shot)
        with open(shot, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual((int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")), (1280, 900))
        print("screenshot:", shot)
        if os.environ.get("HB_UPDATE_DOCS") == "1":
            dest = os.path.join(hbtest.HB_SOURCE, "docs", "status-page.png")
            shutil.copyfile(shot, dest)
            print("copied to", dest)
        feeder.running = False
        self.assertNotIn(TOKEN, d.logtext())


if __name__ == "__main__":
    unittest.main()
