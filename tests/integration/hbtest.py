# SPDX-License-Identifier: MIT
"""Test harness for integration tests: a private mosquitto on a free loopback
port, the daemon under test with a config written by the test, a NOTIFY_SOCKET
that records what the daemon tells systemd, an MQTT recorder, and the device
simulators of tests/sim. Everything a test starts is stopped by close() (use the
context managers)."""
import json
import os
import shlex
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import paho.mqtt.client as mqtt

HB_BINARY = os.environ.get("HB_BINARY", "")
HB_SOURCE = os.environ.get("HB_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SIM_DIR = os.path.join(HB_SOURCE, "tests", "sim")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, interval=0.05, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


def stop_process(proc, timeout=5):
    """SIGTERM, then SIGKILL after timeout seconds; always reaps the process."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def http_json(url, body=None, timeout=5):
    """GET, or POST with a JSON body; returns the decoded JSON answer (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


class Broker:
    """A mosquitto on 127.0.0.1 with a config file written here."""

    def __init__(self, workdir, port=None, extra=""):
        self.workdir = workdir
        self.port = port or free_port()
        self.extra = extra
        self.proc = None
        self.start()

    def start(self):
        conf = os.path.join(self.workdir, "mosquitto-%d.conf" % self.port)
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\npersistence false\n" % self.port)
            if os.geteuid() == 0:
                # Run as root, mosquitto drops to user "mosquitto", which cannot
                # read the test's private files (password file, certificates).
                f.write("user root\n")
            f.write(self.extra or "allow_anonymous true\n")
        self.log = open(os.path.join(self.workdir, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._listening, 10, what="mosquitto to listen")

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("mosquitto exited with %s" % self.proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


class Recorder:
    """Subscribes to a pattern and keeps every message (topic, payload, retain, time)."""

    def __init__(self, port, pattern="#", client_id=None):
        self.messages = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(client_id=client_id or "rec-%d" % os.getpid() + str(time.monotonic_ns()),
                                  protocol=mqtt.MQTTv5)
        self.pattern = pattern
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise AssertionError("recorder could not connect and subscribe")

    def _on_connect(self, client, userdata, flags, rc, props=None):
        client.subscribe(self.pattern, qos=2)

    def _on_subscribe(self, client, userdata, mid, granted, props=None):
        # Only now does the broker deliver: tests may start publishers.
        self.connected.set()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), msg.retain, time.monotonic()))

    def publish(self, topic, payload, qos=1, retain=False):
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def all(self, topic):
        with self.lock:
            return [m[1] for m in self.messages if m[0] == topic]

    def topics(self):
        """Every topic a message came on, in order of first arrival."""
        with self.lock:
            return list(dict.fromkeys(m[0] for m in self.messages))

    def last(self, topic):
        v = self.all(topic)
        return v[-1] if v else None

    def wait(self, topic, payload=None, timeout=10):
        """Waits for a message on topic (with that payload, if given); returns its payload."""
        found = []

        def check():
            for p in self.all(topic):
                if payload is None or p == payload:
                    found.append(p)
                    return True
            return False
        wait_for(check, timeout, what="%s = %r" % (topic, payload))
        return found[0]

    def clear(self):
        with self.lock:
            self.messages.clear()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                for line in data.decode("utf-8", "replace").split("\n"):
                    if line:
                        self.messages.append((time.monotonic(), line))

    def lines(self, prefix=""):
        with self.lock:
            return [(t, l) for t, l in self.messages if l.startswith(prefix)]

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class Daemon:
    """The homebattery binary under test."""

    def __init__(self, workdir, config, env=None, args=()):
        self.workdir = workdir
        self.config_path = os.path.join(workdir, "config.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        self.log_path = os.path.join(workdir, "homebattery.log")
        self.log = open(self.log_path, "ab")
        e = dict(os.environ)
        e.pop("JOURNAL_STREAM", None)
        e.update(env or {})
        # HB_WRAPPER runs the daemon under a tool, e.g. "valgrind --error-exitcode=99".
        # HB_WRAPPER: valgrind and the like; MESON_EXE_WRAPPER: qemu-user in a cross build.
        wrapper = shlex.split(os.environ.get("HB_WRAPPER", "") or os.environ.get("MESON_EXE_WRAPPER", ""))
        self.proc = subprocess.Popen(wrapper + [HB_BINARY, "--config", self.config_path] + list(args), stdout=self.log,
                                     stderr=subprocess.STDOUT, env=e)

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout=10):
        return wait_for(lambda: text in self.logtext(), timeout, what="log line %r" % text)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("daemon did not exit within %s s" % timeout)
        self.log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()


class Sim:
    """A device simulator of tests/sim (shelly_sim.py, dtu_sim.py) on a free
    127.0.0.1 port, with its control API (/sim/...). Its stdout and stderr go
    to <workdir>/<name>.log."""

    def __init__(self, workdir, script, *args, name=None):
        self.name = name or os.path.splitext(script)[0]
        self.log_path = os.path.join(workdir, "%s.log" % self.name)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(SIM_DIR, script), "--port", "0"] + list(args),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        m = wait_for(self._listening, 10, what="%s to listen" % self.name)
        self.port = int(m.group(1))
        self.host = "127.0.0.1:%d" % self.port
        self.base = "http://" + self.host

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.logtext()))
        return re.search(r"^listening on 127\.0\.0\.1:(\d+)$", self.logtext(), re.M)

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def call(self, path, body=None, timeout=5):
        """GET (or POST with a JSON body) on the simulator; returns the decoded JSON answer."""
        return http_json(self.base + path, body, timeout)

    def state(self):
        return self.call("/sim/state")

    def requests(self):
        """The device requests seen (not /sim/), oldest first: method, path, query, time (unix), status."""
        return self.call("/sim/requests")

    def clear_requests(self):
        self.call("/sim/clear_requests", {})

    def fail(self, mode, **kw):
        """mode none, hang, 500, garbage or close; kw: seconds, count, paths."""
        self.call("/sim/fail", dict(kw, mode=mode))

    def stop(self):
        stop_process(self.proc)
        if not self.log.closed:
            self.log.close()


def base_config(port, **over):
    c = {
        "general": {"default_mode": "idle"},
        "mqtt": {"host": "127.0.0.1:%d" % port, "root": "hbtest", "client_id": "hb-under-test"},
        "logging": {"level": "debug"},
        "devices": {},
    }
    for k, v in over.items():
        c[k] = v
    return c


class HbTestCase(unittest.TestCase):
    """Gives each test a work dir and stops whatever the test registered."""

    def setUp(self):
        if not HB_BINARY:
            self.fail("HB_BINARY is not set")
        self.workdir = tempfile.mkdtemp(prefix="hbtest-")
        self._hb_stops = []

    def tearDown(self):
        for fn in reversed(self._hb_stops):
            try:
                fn()
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        if os.environ.get("HB_KEEP_WORKDIR"):
            print("work dir kept:", self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def broker(self, **kw):
        b = Broker(self.workdir, **kw)
        self._hb_stops.append(b.stop)
        return b

    def recorder(self, port, pattern="#"):
        r = Recorder(port, pattern)
        self._hb_stops.append(r.close)
        return r

    def notify_socket(self):
        n = NotifySocket(self.workdir)
        self._hb_stops.append(n.close)
        return n

    def daemon(self, config, **kw):
        d = Daemon(self.workdir, config, **kw)
        self._hb_stops.append(d.kill)
        return d

    def sim(self, script, *args, name=None):
        s = Sim(self.workdir, script, *args, name=name)
        self._hb_stops.append(s.stop)
        return s


class SerialSim:
    """A serial simulator of tests/sim (serial_sim.PtySim) as a process on a
    pty behind a by-id-like symlink, with its HTTP control."""

    def __init__(self, workdir, script, link, args=()):
        self.script = script
        self.link = link
        self.out_path = os.path.join(workdir, script.replace(".py", ".log"))
        self.out = open(self.out_path, "ab")
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(SIM_DIR, script), "--link", self.link,
                                      "--control-port", "0"] + list(args), stdout=self.out, stderr=subprocess.STDOUT)
        m = wait_for(self._started, 10, what=script)
        self.url = "http://127.0.0.1:%s" % m.group(1)

    def _started(self):
        if self.proc.poll() is not None:
            raise AssertionError("%s exited: %s" % (self.script, self.output()))
        return re.search(r"control http://127\.0\.0\.1:(\d+)", self.output())

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _call(self, path, body=None):
        return http_json(self.url + path, body, timeout=10)

    def control(self, **kw):
        return self._call("/control", kw)

    def state(self):
        return self._call("/state")

    def log(self):
        """Every request received, oldest first."""
        return self._call("/log")

    def frames(self):
        return [e["frame"] for e in self.log()]

    def stop(self):
        stop_process(self.proc)
        if not self.out.closed:
            self.out.close()


class VeDirectSim(SerialSim):
    """tests/sim/vedirect_sim.py (shared by the VE.Direct, fault and home tests)."""

    def __init__(self, workdir, link=None, args=()):
        super().__init__(workdir, "vedirect_sim.py",
                         link or os.path.join(workdir, "usb-VictronEnergy_BV_VE_Direct_cable_VE1234-if00-port0"), args)

    hex_log = SerialSim.log
