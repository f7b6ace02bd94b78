# SPDX-License-Identifier: MIT
"""The simulated BlueZ for integration tests: a private dbus-daemon (config
tests/sim/dbus-system.conf, socket in the test's work dir) and
tests/sim/bluez_sim.py owning org.bluez on it, with its JSON control API on
127.0.0.1. The daemon under test gets env() (DBUS_SYSTEM_BUS_ADDRESS).

    sim = start_bluez(self, ["llt:AA:BB:CC:DD:EE:01:cells=3.3,3.3", ...])
    d = self.daemon(config, env=sim.env())
    sim.set(MAC, cells=[...])            # values, faults, options
    sim.fault(MAC, "silent")             # or fault(MAC, None) to clear
    sim.log(MAC)["counters"]             # what the BMS saw

Everything started here is stopped by stop() (start_bluez registers it with
the HbTestCase). Logs: <workdir>/dbus-daemon.log and <workdir>/bluez-sim.log."""
import json
import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request

from hbtest import SIM_DIR, wait_for

PY = "/usr/bin/python3"
BUS_CONF = os.path.join(SIM_DIR, "dbus-system.conf")
BLUEZ_SIM = os.path.join(SIM_DIR, "bluez_sim.py")


def mac_path(mac, adapter="hci0"):
    """The BlueZ object path of a device."""
    return "/org/bluez/%s/dev_%s" % (adapter, mac.upper().replace(":", "_"))


def device_spec(kind, mac, *flags, **opts):
    """A --device argument: device_spec("llt", MAC, "unknown", cells=[3.3]*8, i=-5)."""
    parts = [kind, mac.upper()] + list(flags)
    for k, v in opts.items():
        if isinstance(v, (list, tuple)):
            v = ",".join(repr(float(x)) for x in v)
        elif isinstance(v, bool):
            v = "true" if v else "false"
        parts.append("%s=%s" % (k, v))
    return ":".join(parts)


class SimError(AssertionError):
    pass


class BluezSim:
    """A private system bus plus the simulated BlueZ with the given devices
    (specs as for bluez_sim.py --device). Global simulator options go in args,
    e.g. ["--le-connect-timeout", "3"]."""

    def __init__(self, workdir, devices, args=(), ready_timeout=15):
        self.workdir = workdir
        self.bus_proc = self.sim_proc = None
        self._logs = []
        self.socket_path = os.path.join(workdir, "system_bus_socket")
        self.address = "unix:path=" + self.socket_path
        try:
            self._start_bus(ready_timeout)
            self._start_sim(devices, args, ready_timeout)
        except BaseException:
            self.stop()
            raise

    # ---- processes ----

    def _start_bus(self, timeout):
        self.bus_log_path = os.path.join(self.workdir, "dbus-daemon.log")
        log = open(self.bus_log_path, "ab")
        self._logs.append(log)
        self.bus_proc = subprocess.Popen(
            ["dbus-daemon", "--config-file=" + BUS_CONF, "--address=" + self.address, "--nofork", "--nopidfile",
             "--print-address=1"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(self._bus_listening, timeout, what="the private dbus-daemon on %s" % self.socket_path)

    def _bus_listening(self):
        if self.bus_proc.poll() is not None:
            raise SimError("dbus-daemon exited with %s:\n%s" % (self.bus_proc.returncode, _read(self.bus_log_path)))
        if not os.path.exists(self.socket_path):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(self.socket_path)
                return True
            except OSError:
                return False

    def _start_sim(self, devices, args, timeout):
        self.sim_log_path = os.path.join(self.workdir, "bluez-sim.log")
        log = open(self.sim_log_path, "ab")
        self._logs.append(log)
        cmd = [PY, BLUEZ_SIM, "--bus", self.address, "--control-port", "0"] + list(args)
        for d in devices:
            cmd += ["--device", d]
        self.sim_proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        m = wait_for(self._sim_ready, timeout, what="bluez_sim.py to print ready")
        self.control = m.group(1)
        self.base = "http://" + self.control

    def _sim_ready(self):
        if self.sim_proc.poll() is not None:
            raise SimError("bluez_sim.py exited with %s:\n%s" % (self.sim_proc.returncode, self.logtext()))
        return re.search(r"^ready control=(127\.0\.0\.1:\d+)$", self.logtext(), re.M)

    def env(self):
        """Environment for the daemon under test."""
        return {"DBUS_SYSTEM_BUS_ADDRESS": self.address}

    def logtext(self):
        return _read(self.sim_log_path)

    def stop(self):
        """Stops the simulator, then the bus. Safe to call twice."""
        for p in (self.sim_proc, self.bus_proc):
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in self._logs:
            if not f.closed:
                f.close()

    # ---- control API ----

    def call(self, method, path, body=None, timeout=5):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raise SimError("%s %s: HTTP %d %s" % (method, path, e.code, e.read().decode("utf-8", "replace")))

    def devices(self):
        return self.call("GET", "/devices")

    def device(self, mac):
        """The device state: state, connected, known, fault, values, notifying, ..."""
        return self.call("GET", "/devices/" + mac)

    def set(self, mac, **body):
        """POST /devices/<mac>: values (v, i, soc, c, c_full, n, temps, cells), fault, fault_count,
        advertising, known, name, sw, interval, delays ... Returns the new state."""
        return self.call("POST", "/devices/" + mac, body)

    def values(self, mac, **values):
        return self.set(mac, values=values)

    def fault(self, mac, fault, count=None, **kw):
        """A fault mode (connect-abort, no-services, stale-cache, drop, corrupt, silent), None = no fault.
        count = fault_count: the next N connection attempts only."""
        body = dict(kw, fault=fault or "none")
        if count is not None:
            body["fault_count"] = count
        return self.set(mac, **body)

    def advertising(self, mac, on):
        return self.set(mac, advertising=bool(on))

    def drop(self, mac):
        return self.call("POST", "/devices/%s/drop" % mac, {})

    def log(self, mac):
        """The counters (connect_attempts, connects, connect_failures, requests, frames, discovered,
        removed, ...) plus write_log and events."""
        return self.call("GET", "/devices/%s/log" % mac)

    def counters(self, mac):
        """The log's counters only."""
        return {k: v for k, v in self.log(mac).items() if k not in ("write_log", "events")}

    def events(self, mac):
        return self.log(mac).get("events", [])

    def clear_log(self, mac):
        return self.call("DELETE", "/devices/%s/log" % mac)

    def adapter(self):
        return self.call("GET", "/adapter")

    def wait_counter(self, mac, name, at_least, timeout):
        """Waits until the device's counter reaches at_least; returns the counters."""
        return wait_for(lambda: (lambda c: c if c.get(name, 0) >= at_least else None)(self.counters(mac)),
                        timeout, interval=0.2, what="%s %s >= %d" % (mac, name, at_least))

    def wait_state(self, mac, timeout, **want):
        """Waits until every given key of the device state has the wanted value."""
        def check():
            s = self.device(mac)
            return s if all(s.get(k) == v for k, v in want.items()) else None
        return wait_for(check, timeout, interval=0.1, what="%s %r" % (mac, want))


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def start_bluez(testcase, devices, args=(), **kw):
    """Starts a BluezSim in testcase.workdir and registers its stop with the HbTestCase."""
    sim = BluezSim(testcase.workdir, devices, args, **kw)
    testcase._hb_stops.append(sim.stop)
    return sim
