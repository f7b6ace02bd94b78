#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Smoke test of the simulated BlueZ (bluez_sim.py) and its three BMS.

Starts a private bus (dbus-daemon with dbus-system.conf) and the simulator,
then acts as a BlueZ client with dbus-next, the way the daemon's BLE drivers
do: GetManagedObjects, Connect, wait for ServicesResolved, find the
characteristics by UUID/Flags, StartNotify, WriteValue the real request,
reassemble the notifications, check the frames decode to the values set
through the control API, StopNotify, Disconnect.  Then every fault mode,
discovery of unknown devices, BlueZ's error answers, a read through
AcquireNotify (notifications on a socket, as BLE libraries use it), and (when
python3-bleak is installed) one read through bleak on the private bus.
Everything started here is stopped at the end.

Run: /usr/bin/python3 -m unittest -v tests/sim/test_bluez_sim_smoke.py
(or meson test -C build sim-bluez)
"""
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bms_frames as bf  # noqa: E402

from dbus_next import Message, MessageType, Variant  # noqa: E402
from dbus_next.aio import MessageBus  # noqa: E402

PY = "/usr/bin/python3"
ADAPTER = "/org/bluez/hci0"
DEV = "org.bluez.Device1"
CHR = "org.bluez.GattCharacteristic1"
SVC = "org.bluez.GattService1"
DSC = "org.bluez.GattDescriptor1"
ADP = "org.bluez.Adapter1"
PROPS = "org.freedesktop.DBus.Properties"
OM = "org.freedesktop.DBus.ObjectManager"

LE_CONNECT_TIMEOUT = 1.5
TEMPORARY_TIMEOUT = 3.0


def mac(n):
    return "AA:BB:CC:DD:EE:%02X" % n


def dpath(n):
    return "%s/dev_%s" % (ADAPTER, mac(n).replace(":", "_"))


DEVICES = [
    "llt:%s" % mac(0x01),
    "daly:%s:foreign" % mac(0x02),
    "daly:%s:ff00" % mac(0x03),
    "jk:%s" % mac(0x04),
    "jk:%s:2char:sw=10.09:at" % mac(0x05),
    "llt:%s:unknown" % mac(0x06),
    "llt:%s:unknown:noadv" % mac(0x07),
    "llt:%s:fault=connect-abort:fault_count=2" % mac(0x08),
    "llt:%s:fault=no-services" % mac(0x09),
    "daly:%s:fault=drop:drop_after=2" % mac(0x0A),
    "llt:%s:nocache:fault=drop" % mac(0x0B),
    "daly:%s:fault=corrupt" % mac(0x0C),
    "jk:%s:fault=silent" % mac(0x0D),
    "llt:%s:fault=stale-cache" % mac(0x0E),
    "llt:%s:noadv" % mac(0x0F),
    "llt:%s" % mac(0x10),
    "llt:%s" % mac(0x11),
    "daly:%s:mtu=247" % mac(0x12),
    "jk:%s:unknown" % mac(0x13),
    "llt:%s" % mac(0x14),
]

ENV = {}


def setUpModule():
    tmp = tempfile.mkdtemp(prefix="bluez-sim-test-")
    ENV["tmp"] = tmp
    ENV["procs"] = []
    with open(os.path.join(tmp, "dbus.log"), "w") as errlog:
        bus = subprocess.Popen(
            ["dbus-daemon", "--config-file=" + os.path.join(HERE, "dbus-system.conf"),
             "--address=unix:path=" + os.path.join(tmp, "system_bus_socket"),
             "--nofork", "--nopidfile", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=errlog, text=True)
    ENV["procs"].append(bus)
    addr = bus.stdout.readline().strip()
    if not addr.startswith("unix:"):
        tearDownModule()
        raise RuntimeError("dbus-daemon did not start: %r" % addr)
    ENV["bus"] = addr
    cmd = [PY, os.path.join(HERE, "bluez_sim.py"), "--bus", addr, "--control-port", "0",
           "--le-connect-timeout", str(LE_CONNECT_TIMEOUT),
           "--temporary-timeout", str(TEMPORARY_TIMEOUT)]
    for d in DEVICES:
        cmd += ["--device", d]
    with open(os.path.join(tmp, "sim.log"), "w") as errlog:
        sim = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errlog, text=True)
    ENV["procs"].append(sim)
    line = sim.stdout.readline().strip()
    if not line.startswith("ready control="):
        tearDownModule()
        raise RuntimeError("bluez_sim.py did not start: %r (see %s/sim.log)" % (line, tmp))
    ENV["control"] = "http://" + line.split("=", 1)[1]


def tearDownModule():
    for p in reversed(ENV.get("procs", [])):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p.stdout:
            p.stdout.close()
    ENV["procs"] = []
    if ENV.get("tmp") and not os.environ.get("KEEP_SIM_LOGS"):
        shutil.rmtree(ENV["tmp"], ignore_errors=True)


# ---------------------------------------------------------------------------
# control API
# ---------------------------------------------------------------------------
def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(ENV["control"] + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sim_log(n):
    return api("GET", "/devices/%s/log" % mac(n))[1]


# ---------------------------------------------------------------------------
# a small BlueZ client
# ---------------------------------------------------------------------------
class CallError(Exception):
    def __init__(self, name, text):
        super().__init__("%s: %s" % (name, text))
        self.name = name
        self.text = text


def unpack(v):
    if isinstance(v, Variant):
        return unpack(v.value)
    if isinstance(v, dict):
        return {k: unpack(x) for k, x in v.items()}
    if isinstance(v, list):
        return [unpack(x) for x in v]
    return v


class Client:
    async def open(self):
        # unix fds: AcquireNotify answers with a socket
        self.bus = await MessageBus(bus_address=ENV["bus"], negotiate_unix_fd=True).connect()
        self.sigs = []
        self.new = asyncio.Event()
        self.bus.add_message_handler(self._on_msg)
        await self.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
                        ["type='signal',sender='org.bluez'"], dest="org.freedesktop.DBus")
        return self

    async def close(self):
        self.bus.disconnect()
        try:
            await asyncio.wait_for(self.bus.wait_for_disconnect(), 2)
        except Exception:       # noqa: BLE001 - closing anyway
            pass
        sock = getattr(self.bus, "_sock", None)     # dbus-next only shuts it down
        if sock is not None:
            sock.close()

    def _on_msg(self, msg):
        if msg.message_type == MessageType.SIGNAL and msg.interface in (PROPS, OM):
            self.sigs.append((time.monotonic(), msg.path, msg.member, unpack(msg.body)))
            self.new.set()
        return None

    async def call(self, path, iface, member, sig="", body=(), timeout=5.0, dest="org.bluez"):
        reply = await asyncio.wait_for(self.bus.call(Message(
            destination=dest, path=path, interface=iface, member=member,
            signature=sig, body=list(body))), timeout)
        if reply.message_type == MessageType.ERROR:
            raise CallError(reply.error_name, reply.body[0] if reply.body else "")
        return unpack(reply.body)

    async def acquire_notify(self, path, timeout=5.0):
        """AcquireNotify: (non-blocking socket, MTU)."""
        reply = await asyncio.wait_for(self.bus.call(Message(
            destination="org.bluez", path=path, interface=CHR, member="AcquireNotify",
            signature="a{sv}", body=[{}])), timeout)
        if reply.message_type == MessageType.ERROR:
            raise CallError(reply.error_name, reply.body[0] if reply.body else "")
        assert reply.signature == "hq" and len(reply.unix_fds) == 1, \
            "AcquireNotify answered %r with %d fds" % (reply.signature, len(reply.unix_fds))
        sock = socket.socket(fileno=reply.unix_fds[reply.body[0]])
        sock.setblocking(False)
        return sock, reply.body[1]

    async def objects(self):
        return (await self.call("/", OM, "GetManagedObjects"))[0]

    async def get(self, path, iface, name):
        return (await self.call(path, PROPS, "Get", "ss", [iface, name]))[0]

    def mark(self):
        return len(self.sigs)

    async def wait_for(self, pred, since=0, timeout=5.0):
        end = time.monotonic() + timeout
        k = since
        while True:
            while k < len(self.sigs):
                if pred(self.sigs[k]):
                    return self.sigs[k]
                k += 1
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.new.clear()
            try:
                await asyncio.wait_for(self.new.wait(), left)
            except asyncio.TimeoutError:
                pass

    def values_since(self, path, since):
        """Notifications (Value changes) of a characteristic since a mark."""
        return [s[3][1]["Value"] for s in self.sigs[since:]
                if s[1] == path and s[2] == "PropertiesChanged" and s[3][0] == CHR
                and "Value" in s[3][1]]


def changed(path, iface, name, value=None):
    def pred(s):
        return (s[1] == path and s[2] == "PropertiesChanged" and s[3][0] == iface and
                name in s[3][1] and (value is None or s[3][1][name] == value))
    return pred


def invalidated(path, iface, name):
    def pred(s):
        return (s[1] == path and s[2] == "PropertiesChanged" and s[3][0] == iface and
                name in s[3][2])
    return pred


def added(path):
    return lambda s: s[2] == "InterfacesAdded" and s[3][0] == path


def removed(path):
    return lambda s: s[2] == "InterfacesRemoved" and s[3][0] == path


def find_chars(objs, dev, kind):
    """(notify char path, write char path) picked by UUID and Flags."""
    svcs = {p: o[SVC] for p, o in objs.items() if SVC in o and o[SVC]["Device"] == dev}
    want = {"llt": ["ff00"], "daly": ["fff0", "ff00"], "jk": ["ffe0"]}[kind]
    svc = None
    for w in want:
        for p, s in svcs.items():
            if s["UUID"] == bf.uuid16(int(w, 16)):
                svc = p
                break
        if svc:
            break
    assert svc, "BMS service not found under %s" % dev
    chars = {p: o[CHR] for p, o in objs.items() if CHR in o and o[CHR]["Service"] == svc}
    notify = write = None
    for p, c in sorted(chars.items()):
        if "notify" in c["Flags"] and notify is None:
            notify = p
        if ("write" in c["Flags"] or "write-without-response" in c["Flags"]) and write is None:
            write = p
    return notify, write


async def connect_resolved(cl, dev, timeout=10.0):
    mark = cl.mark()
    await cl.call(dev, DEV, "Connect", timeout=timeout)
    if not await cl.get(dev, DEV, "ServicesResolved"):
        assert await cl.wait_for(changed(dev, DEV, "ServicesResolved", True), mark, 5)


async def disconnect(cl, dev):
    mark = cl.mark()
    await cl.call(dev, DEV, "Disconnect")
    if await cl.get(dev, DEV, "Connected"):
        assert await cl.wait_for(changed(dev, DEV, "Connected", False), mark, 5)


async def collect(cl, notify, since, reasm, want, timeout=3.0):
    """Feed notifications into the reassembler until want(frames) is true."""
    frames, used = [], 0
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        vals = cl.values_since(notify, since)
        for v in vals[used:]:
            frames += reasm.feed(bytes(v))
        used = len(vals)
        if want(frames):
            return frames
        await asyncio.sleep(0.05)
    return frames


async def read_bms(cl, n, kind, layout="32s", start_notify=True, keep=False):
    """One read as the daemon does it; returns (record, info)."""
    dev = dpath(n)
    objs = await cl.objects()
    assert dev in objs, "device %s not known to BlueZ" % dev
    await connect_resolved(cl, dev)
    objs = await cl.objects()
    notify, write = find_chars(objs, dev, kind)
    info = {"notify": notify, "write": write, "objects": objs}
    since = cl.mark()
    if start_notify:
        await cl.call(notify, CHR, "StartNotify")
    rec = {}
    if kind == "llt":
        r = bf.LltReassembler()
        for req, cmd in ((bf.LLT_REQ_BASIC, 3), (bf.LLT_REQ_CELLS, 4)):
            mark = cl.mark()
            await cl.call(write, CHR, "WriteValue", "aya{sv}",
                          [req, {"type": Variant("s", "request")}])
            fr = await collect(cl, notify, mark, r, lambda f: len(f) >= 1)
            assert fr, "no answer to %s" % req.hex()
            rec.update(bf.llt_decode(fr[0]))
    elif kind == "daly":
        r = bf.DalyReassembler()
        await cl.call(write, CHR, "WriteValue", "aya{sv}",
                      [bf.DALY_REQ, {"type": Variant("s", "command")}])
        fr = await collect(cl, notify, since, r, lambda f: any(x[2] == 0x7C for x in f))
        info["frames"] = fr
        answer = [x for x in fr if x[2] == 0x7C]
        assert answer, "no 129-byte answer"
        rec = bf.daly_decode(answer[0])
    else:
        r = bf.JkReassembler()
        await cl.call(write, CHR, "WriteValue", "aya{sv}",
                      [bf.JK_REQ_DEVICE_INFO, {"type": Variant("s", "command")}])
        fr = await collect(cl, notify, since, r, lambda f: len(f) >= 1)
        assert fr and fr[0][4] == 3, "no device info frame"
        info["device_info"] = bf.jk_decode_device_info(fr[0])
        layout = bf.jk_layout_for_version(info["device_info"]["sw"])
        info["layout"] = layout
        mark = cl.mark()
        await cl.call(write, CHR, "WriteValue", "aya{sv}",
                      [bf.JK_REQ_CELL_INFO, {"type": Variant("s", "command")}])
        t0 = time.monotonic()
        fr = await collect(cl, notify, mark, r,
                           lambda f: sum(1 for x in f if x[4] == 2) >= 2, timeout=4)
        info["stream_time"] = time.monotonic() - t0
        info["types"] = [x[4] for x in fr]
        cells = [x for x in fr if x[4] == 2]
        assert cells, "no cell info frame"
        info["counters"] = [x[5] for x in cells]
        rec = bf.jk_decode_cell_info(cells[0], layout)
    if not keep:
        await cl.call(notify, CHR, "StopNotify")
        await disconnect(cl, dev)
    return rec, info


def assert_record(tc, rec, exp):
    for k in ("v", "i", "soc", "c", "n", "temps", "cells"):
        if k in exp and k in rec:
            a, b = rec[k], exp[k]
            if isinstance(b, list):
                tc.assertEqual(len(a), len(b), k)
                for x, y in zip(a, b):
                    tc.assertAlmostEqual(x, y, places=3, msg=k)
            else:
                tc.assertAlmostEqual(a, b, places=3, msg=k)


# ---------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------
class BluezSimTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.cl = await Client().open()

    async def asyncTearDown(self):
        await self.cl.close()

    async def test_00_managed_objects(self):
        objs = await self.cl.objects()
        self.assertIn("org.bluez.AgentManager1", objs["/org/bluez"])
        a = objs[ADAPTER][ADP]
        self.assertTrue(a["Powered"])
        self.assertFalse(a["Discovering"])
        self.assertEqual(a["AddressType"], "public")
        d = objs[dpath(1)][DEV]
        self.assertEqual(d["Address"], mac(1))
        self.assertEqual(d["AddressType"], "public")
        self.assertEqual(d["Adapter"], ADAPTER)
        self.assertFalse(d["Paired"])
        self.assertFalse(d["Connected"])
        self.assertFalse(d["ServicesResolved"])
        self.assertNotIn("RSSI", d)         # only while seen by a discovery
        self.assertIn(bf.uuid16(0xff00), d["UUIDs"])
        for n in (0x06, 0x07, 0x13):
            self.assertNotIn(dpath(n), objs)
        self.assertFalse([p for p in objs if p.startswith(dpath(1) + "/")],
                         "no GATT objects before the first connection")
        filters = (await self.cl.call(ADAPTER, ADP, "GetDiscoveryFilters"))[0]
        self.assertIn("Transport", filters)
        xml = (await self.cl.call("/", "org.freedesktop.DBus.Introspectable", "Introspect"))[0]
        self.assertIn("GetManagedObjects", xml)
        with self.assertRaises(CallError) as e:
            await self.cl.call(dpath(0x06), DEV, "Connect")
        self.assertEqual(e.exception.name, "org.freedesktop.DBus.Error.UnknownObject")

    async def test_01_llt_read(self):
        vals = {"v": 26.12, "i": -12.34, "soc": 55, "c": 61.2, "c_full": 100.0, "n": 12,
                "temps": [21.5, -5.0], "cells": [3.262, 3.261, 3.27, 3.255]}
        st, _ = api("POST", "/devices/%s" % mac(1), vals)
        self.assertEqual(st, 200)
        api("DELETE", "/devices/%s/log" % mac(1))
        rec, info = await read_bms(self.cl, 1, "llt")
        assert_record(self, rec, bf.expected_values("llt", vals))
        self.assertTrue(info["notify"].endswith("/service000c/char000d"))
        self.assertTrue(info["write"].endswith("/service000c/char0010"))
        self.assertIn(info["notify"] + "/desc000f", info["objects"])
        self.assertEqual(info["objects"][info["notify"] + "/desc000f"][DSC]["UUID"],
                         bf.uuid16(0x2902))
        lg = sim_log(1)
        self.assertEqual((lg["connects"], lg["writes"], lg["requests"], lg["frames"]), (1, 2, 2, 2))
        self.assertEqual(lg["notifications"], 3)    # 34 + 15 bytes in 20-byte fragments
        # GATT objects stay after the disconnection (main.conf Cache=always)
        objs = await self.cl.objects()
        self.assertIn(info["notify"], objs)
        ch = objs[info["notify"]][CHR]
        self.assertFalse(ch["Notifying"])
        self.assertEqual(ch["MTU"], 23)
        self.assertIn("Value", ch)          # always there (the cached value)
        self.assertEqual(objs[info["write"]][CHR]["Flags"], ["write-without-response", "write"])
        self.assertIn("WriteAcquired", objs[info["write"]][CHR])
        self.assertNotIn("Notifying", objs[info["write"]][CHR])

    async def test_02_daly_read_foreign_frame(self):
        vals = {"v": 26.5, "i": 4.3, "soc": 87.4, "c": 52.1, "n": 33, "temps": [19.0],
                "cells": [3.31, 3.312, 3.309, 3.315, 3.311, 3.31, 3.313, 3.314]}
        api("POST", "/devices/%s" % mac(2), vals)
        rec, info = await read_bms(self.cl, 2, "daly")
        assert_record(self, rec, bf.expected_values("daly", vals))
        self.assertEqual(info["frames"][0][:3], b"\xd2\x03\x06", "the foreign frame comes first")
        with self.assertRaises(bf.FrameError):
            bf.daly_decode(info["frames"][0])
        self.assertTrue(info["notify"].endswith("char000d"))
        self.assertEqual(info["objects"][info["notify"]][CHR]["UUID"], bf.uuid16(0xfff1))

    async def test_03_daly_newer_firmware_ff00(self):
        rec, info = await read_bms(self.cl, 3, "daly")
        assert_record(self, rec, bf.expected_values("daly", bf.CAPTURE_VALUES["daly"]))
        uuids = {o[SVC]["UUID"] for p, o in info["objects"].items()
                 if SVC in o and o[SVC]["Device"] == dpath(3)}
        self.assertNotIn(bf.uuid16(0xfff0), uuids)
        self.assertIn(bf.uuid16(0xff00), uuids)

    async def test_04_daly_large_mtu_one_notification(self):
        mark = self.cl.mark()
        rec, info = await read_bms(self.cl, 0x12, "daly")
        vals = self.cl.values_since(info["notify"], mark)
        self.assertEqual([len(v) for v in vals], [129])

    async def test_05_jk_32s_single_char(self):
        vals = {"v": 53.3, "i": -20.5, "soc": 77, "c": 215.4, "c_full": 280.0, "n": 5,
                "temps": [24.1, 23.9], "cells": [3.331 + 0.001 * k for k in range(16)]}
        api("POST", "/devices/%s" % mac(4), vals)
        rec, info = await read_bms(self.cl, 4, "jk")
        self.assertEqual(info["device_info"]["sw"], "11.28")
        self.assertEqual(info["layout"], "32s")
        self.assertEqual(info["notify"], info["write"], "one characteristic for both")
        self.assertEqual(info["types"][0], 1, "settings frame first")
        c = info["counters"]
        self.assertEqual((c[1] - c[0]) & 0xFF, 1)
        self.assertGreater(info["stream_time"], 0.8, "cell info about once a second")
        assert_record(self, rec, bf.expected_values("jk", vals, "32s"))
        self.assertAlmostEqual(rec["c_full"], 280.0)

    async def test_06_jk_24s_two_chars_by_flags(self):
        rec, info = await read_bms(self.cl, 5, "jk", keep=True)
        try:
            self.assertEqual(info["layout"], "24s")
            self.assertNotEqual(info["notify"], info["write"])
            objs = info["objects"]
            self.assertEqual(objs[info["notify"]][CHR]["UUID"], objs[info["write"]][CHR]["UUID"])
            with self.assertRaises(CallError) as e:     # the write one cannot notify
                await self.cl.call(info["write"], CHR, "StartNotify")
            self.assertEqual(e.exception.name, "org.bluez.Error.NotSupported")
            assert_record(self, rec, bf.expected_values("jk", bf.CAPTURE_VALUES["jk"], "24s"))
        finally:
            await self.cl.call(info["notify"], CHR, "StopNotify")
            await disconnect(self.cl, dpath(5))

    async def test_07_discovery_of_unknown_device(self):
        cl = self.cl
        with self.assertRaises(CallError) as e:
            await cl.call(ADAPTER, ADP, "SetDiscoveryFilter", "a{sv}",
                          [{"Transport": Variant("s", "zigbee")}])
        self.assertEqual(e.exception.name, "org.bluez.Error.InvalidArguments")
        with self.assertRaises(CallError) as e:
            await cl.call(ADAPTER, ADP, "StopDiscovery")
        self.assertEqual((e.exception.name, e.exception.text),
                         ("org.bluez.Error.Failed", "No discovery started"))
        mark = cl.mark()
        # LE only, and only devices advertising the LLT service (ff00)
        await cl.call(ADAPTER, ADP, "SetDiscoveryFilter", "a{sv}",
                      [{"Transport": Variant("s", "le"), "UUIDs": Variant("as", ["ff00"])}])
        t0 = time.monotonic()
        await cl.call(ADAPTER, ADP, "StartDiscovery")
        with self.assertRaises(CallError) as e:
            await cl.call(ADAPTER, ADP, "StartDiscovery")
        self.assertEqual(e.exception.name, "org.bluez.Error.InProgress")
        self.assertTrue(await cl.wait_for(changed(ADAPTER, ADP, "Discovering", True), mark, 2))
        sig = await cl.wait_for(added(dpath(6)), mark, 4)
        self.assertIsNotNone(sig, "unknown advertising device appears")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertIn("RSSI", sig[3][1][DEV])
        self.assertTrue(await cl.wait_for(changed(dpath(1), DEV, "RSSI"), mark, 2),
                        "a known device seen again gets its RSSI")
        self.assertIsNone(await cl.wait_for(added(dpath(7)), mark, 1.5),
                          "a device that does not advertise never appears")
        self.assertIsNone(await cl.wait_for(added(dpath(0x13)), mark, 0),
                          "a JK (ffe0) does not pass the ff00 filter")
        await cl.call(ADAPTER, ADP, "StopDiscovery")
        self.assertTrue(await cl.wait_for(changed(ADAPTER, ADP, "Discovering", False), mark, 2))
        self.assertTrue(await cl.wait_for(invalidated(dpath(6), DEV, "RSSI"), mark, 2))
        rec, _ = await read_bms(cl, 6, "llt")
        assert_record(self, rec, bf.expected_values("llt", bf.CAPTURE_VALUES["llt"]))

    async def test_08_temporary_device_forgotten(self):
        cl = self.cl
        self.assertNotIn(dpath(0x13), await cl.objects())
        mark = cl.mark()
        await cl.call(ADAPTER, ADP, "StartDiscovery")     # no filter
        self.assertTrue(await cl.wait_for(added(dpath(0x13)), mark, 4))
        await cl.call(ADAPTER, ADP, "StopDiscovery")
        t0 = time.monotonic()
        sig = await cl.wait_for(removed(dpath(0x13)), mark, TEMPORARY_TIMEOUT + 3)
        self.assertIsNotNone(sig, "a discovered, never connected device is forgotten")
        self.assertIn(DEV, sig[3][1])
        self.assertGreater(time.monotonic() - t0, TEMPORARY_TIMEOUT - 1.5)
        self.assertNotIn(dpath(0x13), await cl.objects())

    async def test_10_fault_connect_abort_then_ok(self):
        cl, dev = self.cl, dpath(8)
        for _ in range(2):
            mark = cl.mark()
            with self.assertRaises(CallError) as e:
                await cl.call(dev, DEV, "Connect")
            self.assertEqual((e.exception.name, e.exception.text),
                             ("org.bluez.Error.Failed", "le-connection-abort-by-local"))
            self.assertTrue(await cl.wait_for(changed(dev, DEV, "Connected", True), mark, 1))
            self.assertTrue(await cl.wait_for(changed(dev, DEV, "Connected", False), mark, 1))
        rec, _ = await read_bms(cl, 8, "llt")
        self.assertAlmostEqual(rec["v"], 25.64)
        lg = sim_log(8)
        self.assertEqual((lg["connect_attempts"], lg["connect_failures"]), (3, 2))

    async def test_11_fault_services_never_resolved(self):
        cl, dev = self.cl, dpath(9)
        mark = cl.mark()
        with self.assertRaises(asyncio.TimeoutError):
            await cl.call(dev, DEV, "Connect", timeout=1.5)
        self.assertTrue(await cl.wait_for(changed(dev, DEV, "Connected", True), mark, 0.1))
        self.assertIsNone(await cl.wait_for(changed(dev, DEV, "ServicesResolved"), mark, 0.1))
        self.assertFalse(await cl.get(dev, DEV, "ServicesResolved"))
        await disconnect(cl, dev)
        self.assertFalse(await cl.get(dev, DEV, "Connected"))

    async def test_12_fault_stale_cache_until_remove_device(self):
        cl, dev = self.cl, dpath(0x0E)
        for _ in range(2):
            with self.assertRaises(asyncio.TimeoutError):
                await cl.call(dev, DEV, "Connect", timeout=1.0)
            await disconnect(cl, dev)
        mark = cl.mark()
        await cl.call(ADAPTER, ADP, "RemoveDevice", "o", [dev])
        self.assertTrue(await cl.wait_for(removed(dev), mark, 2))
        with self.assertRaises(CallError) as e:
            await cl.call(ADAPTER, ADP, "RemoveDevice", "o", [dev])
        self.assertEqual(e.exception.name, "org.bluez.Error.DoesNotExist")
        await cl.call(ADAPTER, ADP, "StartDiscovery")
        self.assertTrue(await cl.wait_for(added(dev), mark, 4))
        await cl.call(ADAPTER, ADP, "StopDiscovery")
        rec, _ = await read_bms(cl, 0x0E, "llt")
        self.assertEqual(rec["n"], 28)

    async def test_13_fault_drop_mid_read_cache_kept(self):
        cl, dev = self.cl, dpath(0x0A)
        await connect_resolved(cl, dev)
        notify, write = find_chars(await cl.objects(), dev, "daly")
        await cl.call(notify, CHR, "StartNotify")
        mark = cl.mark()
        await cl.call(write, CHR, "WriteValue", "aya{sv}", [bf.DALY_REQ, {}])
        self.assertTrue(await cl.wait_for(changed(dev, DEV, "Connected", False), mark, 3))
        self.assertTrue(await cl.wait_for(changed(dev, DEV, "ServicesResolved", False), mark, 0.1))
        frags = cl.values_since(notify, mark)
        self.assertEqual(len(frags), 2, "dropped after 2 notifications")
        self.assertEqual(bf.DalyReassembler().feed(b"".join(frags)), [], "frame incomplete")
        objs = await cl.objects()
        self.assertIn(notify, objs, "GATT objects kept (Cache=always)")
        self.assertTrue(objs[notify][CHR]["Notifying"],
                        "BlueZ keeps Notifying over a disconnection (only notify ids are cleared)")
        for member, sig, body in (("WriteValue", "aya{sv}", [bf.DALY_REQ, {}]),
                                  ("ReadValue", "a{sv}", [{}])):
            with self.assertRaises(CallError) as e:
                await cl.call(notify if member == "ReadValue" else write, CHR, member, sig, body)
            self.assertEqual((e.exception.name, e.exception.text),
                             ("org.bluez.Error.Failed", "Not connected"))
        with self.assertRaises(CallError) as e:
            await cl.call(dev, DEV, "Disconnect")
        self.assertEqual(e.exception.name, "org.bluez.Error.NotConnected")
        # fault cleared: the notify session of this client survived the
        # drop, BlueZ registers it again on reconnection by itself, so the
        # answer comes without a new StartNotify
        api("POST", "/devices/%s" % mac(0x0A), {"fault": "none"})
        await connect_resolved(cl, dev)
        self.assertTrue(api("GET", "/devices/%s" % mac(0x0A))[1]["cccd_enabled"][notify])
        await cl.call(notify, CHR, "StartNotify")       # already on: success
        rec, _ = await read_bms(cl, 0x0A, "daly", start_notify=False)
        self.assertAlmostEqual(rec["soc"], 99.7)

    async def test_14_fault_drop_without_cache_removes_services(self):
        cl, dev = self.cl, dpath(0x0B)
        await connect_resolved(cl, dev)
        notify, write = find_chars(await cl.objects(), dev, "llt")
        svc = notify.rsplit("/", 1)[0]
        await cl.call(notify, CHR, "StartNotify")
        mark = cl.mark()
        await cl.call(write, CHR, "WriteValue", "aya{sv}", [bf.LLT_REQ_BASIC, {}])
        self.assertTrue(await cl.wait_for(changed(dev, DEV, "Connected", False), mark, 3))
        self.assertTrue(await cl.wait_for(removed(svc), mark, 1))
        self.assertTrue(await cl.wait_for(removed(notify), mark, 1))
        with self.assertRaises(CallError) as e:
            await cl.call(notify, CHR, "StartNotify")
        self.assertEqual(e.exception.name, "org.freedesktop.DBus.Error.UnknownObject")

    async def test_15_fault_corrupt_checksum(self):
        cl, dev = self.cl, dpath(0x0C)
        await connect_resolved(cl, dev)
        notify, write = find_chars(await cl.objects(), dev, "daly")
        await cl.call(notify, CHR, "StartNotify")
        mark = cl.mark()
        await cl.call(write, CHR, "WriteValue", "aya{sv}", [bf.DALY_REQ, {}])
        fr = await collect(cl, notify, mark, bf.DalyReassembler(), lambda f: f)
        self.assertEqual(len(fr), 1)
        with self.assertRaises(bf.FrameError) as e:
            bf.daly_decode(fr[0])
        self.assertIn("crc", str(e.exception))
        await cl.call(notify, CHR, "StopNotify")
        await disconnect(cl, dev)

    async def test_16_fault_silent(self):
        cl, dev = self.cl, dpath(0x0D)
        await connect_resolved(cl, dev)
        notify, write = find_chars(await cl.objects(), dev, "jk")
        await cl.call(notify, CHR, "StartNotify")
        mark = cl.mark()
        for req in (bf.JK_REQ_DEVICE_INFO, bf.JK_REQ_CELL_INFO):
            await cl.call(write, CHR, "WriteValue", "aya{sv}", [req, {"type": Variant("s", "command")}])
        await asyncio.sleep(1.5)
        self.assertEqual(cl.values_since(notify, mark), [])
        lg = sim_log(0x0D)
        self.assertEqual((lg["requests"], lg["frames"]), (2, 0))
        await cl.call(notify, CHR, "StopNotify")
        await disconnect(cl, dev)

    async def test_17_known_device_not_advertising(self):
        cl, dev = self.cl, dpath(0x0F)
        mark = cl.mark()
        t0 = time.monotonic()
        with self.assertRaises(CallError) as e:
            await cl.call(dev, DEV, "Connect")
        self.assertEqual((e.exception.name, e.exception.text),
                         ("org.bluez.Error.Failed", "le-connection-abort-by-local"))
        self.assertGreaterEqual(time.monotonic() - t0, LE_CONNECT_TIMEOUT - 0.1)
        self.assertIsNone(await cl.wait_for(changed(dev, DEV, "Connected"), mark, 0.1))

    async def test_20_bluez_answers(self):
        """Error and success answers of BlueZ 5.66 around notifications."""
        cl, dev = self.cl, dpath(0x11)
        await read_bms(cl, 0x11, "llt")                 # GATT objects now cached
        notify, write = find_chars(await cl.objects(), dev, "llt")
        cccd = notify + "/desc000f"
        with self.assertRaises(CallError) as e:
            await cl.call(notify, CHR, "StopNotify")
        self.assertEqual((e.exception.name, e.exception.text),
                         ("org.bluez.Error.Failed", "No notify session started"))
        with self.assertRaises(CallError) as e:
            await cl.call(notify, CHR, "ReadValue", "a{sv}", [{}])
        self.assertEqual(e.exception.text, "Not connected")
        # StartNotify while disconnected: success, enabled at the next connection
        await cl.call(notify, CHR, "StartNotify")
        with self.assertRaises(CallError) as e:
            await cl.call(notify, CHR, "StartNotify")
        self.assertEqual(e.exception.name, "org.bluez.Error.InProgress")
        mark = cl.mark()
        await connect_resolved(cl, dev)
        self.assertTrue(await cl.wait_for(changed(notify, CHR, "Notifying", True), mark, 1))
        await cl.call(dev, DEV, "Connect")              # already connected: success
        await cl.call(notify, CHR, "StartNotify")       # already notifying: success
        self.assertEqual(bytes((await cl.call(cccd, DSC, "ReadValue", "a{sv}", [{}]))[0]),
                         b"\x01\x00")
        with self.assertRaises(CallError) as e:
            await cl.call(cccd, DSC, "WriteValue", "aya{sv}", [b"\x00\x00", {}])
        self.assertEqual(e.exception.name, "org.bluez.Error.NotPermitted")
        with self.assertRaises(CallError) as e:
            await cl.call(write, CHR, "WriteValue", "aya{sv}",
                          [bf.LLT_REQ_BASIC, {"type": Variant("s", "bogus")}])
        self.assertEqual(e.exception.name, "org.bluez.Error.NotSupported")
        with self.assertRaises(CallError) as e:
            await cl.call(write, CHR, "WriteValue", "aya{sv}",
                          [bf.LLT_REQ_BASIC, {"type": Variant("u", 1)}])
        self.assertEqual(e.exception.name, "org.bluez.Error.InvalidArguments")
        with self.assertRaises(CallError) as e:         # ff01 has no write flag
            await cl.call(notify, CHR, "WriteValue", "aya{sv}", [bf.LLT_REQ_BASIC, {}])
        self.assertEqual(e.exception.name, "org.bluez.Error.NotSupported")
        with self.assertRaises(CallError) as e:         # forced: the BMS refuses it
            await cl.call(notify, CHR, "WriteValue", "aya{sv}",
                          [bf.LLT_REQ_BASIC, {"type": Variant("s", "request")}])
        self.assertEqual((e.exception.name, e.exception.text),
                         ("org.bluez.Error.NotPermitted", "Write not permitted"))
        with self.assertRaises(CallError) as e:         # wrong signature
            await cl.call(write, CHR, "WriteValue", "ay", [bf.LLT_REQ_BASIC])
        self.assertEqual(e.exception.name, "org.freedesktop.DBus.Error.UnknownMethod")
        # a second client's session; it vanishes with its bus connection
        other = await Client().open()
        await other.call(notify, CHR, "StartNotify")
        await cl.call(notify, CHR, "StopNotify")
        self.assertTrue(await cl.get(notify, CHR, "Notifying"), "other client still notifying")
        mark = cl.mark()
        await other.close()
        self.assertTrue(await cl.wait_for(changed(notify, CHR, "Notifying", False), mark, 2))
        await disconnect(cl, dev)
        with self.assertRaises(CallError) as e:
            await cl.call(dev, DEV, "Disconnect")
        self.assertEqual(e.exception.name, "org.bluez.Error.NotConnected")

    async def test_21_adapter_power(self):
        cl = self.cl
        mark = cl.mark()
        await cl.call(ADAPTER, PROPS, "Set", "ssv", [ADP, "Powered", Variant("b", False)])
        self.assertTrue(await cl.wait_for(changed(ADAPTER, ADP, "Powered", False), mark, 2))
        with self.assertRaises(CallError) as e:
            await cl.call(ADAPTER, ADP, "StartDiscovery")
        self.assertEqual(e.exception.name, "org.bluez.Error.NotReady")
        with self.assertRaises(CallError) as e:
            await cl.call(ADAPTER, PROPS, "Set", "ssv", [ADP, "Address", Variant("s", "x")])
        self.assertEqual(e.exception.name, "org.freedesktop.DBus.Error.PropertyReadOnly")
        await cl.call(ADAPTER, PROPS, "Set", "ssv", [ADP, "Powered", Variant("b", True)])
        self.assertTrue(await cl.get(ADAPTER, ADP, "Powered"))

    async def test_22_control_api(self):
        st, devs = api("GET", "/devices")
        self.assertEqual(st, 200)
        self.assertEqual(len(devs), len(DEVICES))
        st, d = api("GET", "/devices/%s" % mac(5).replace(":", ""))
        self.assertEqual((st, d["kind"], d["variant"], d["layout"]), (200, "jk", "jk-2char", "24s"))
        st, _ = api("POST", "/devices/%s" % mac(1), {"fault": "melting"})
        self.assertEqual(st, 400)
        st, _ = api("GET", "/devices/%s" % "AA:BB:CC:DD:EE:99")
        self.assertEqual(st, 404)
        st, d = api("POST", "/devices/%s" % mac(1), {"cells": [3.3, 3.4]})
        self.assertAlmostEqual(d["values"]["v"], 6.7)
        lg = sim_log(1)
        for k in ("connects", "writes", "notifications", "write_log", "events"):
            self.assertIn(k, lg)

    async def test_23_acquire_notify(self):
        """AcquireNotify as BlueZ does it and BLE libraries use it: the notifications of a real LLT
        read arrive as datagrams on the socket, NotifyAcquired follows, StartNotify is locked out,
        and closing the socket (or losing the link) releases it."""
        cl, n, dev = self.cl, 0x14, dpath(0x14)
        vals = {"v": 26.44, "i": -12.34, "soc": 57, "c": 31.2, "c_full": 62.0, "n": 28,
                "temps": [-5.2, 21.5], "cells": [3.301, 3.302, 3.303, 3.304]}
        self.assertEqual(api("POST", "/devices/%s" % mac(n), vals)[0], 200)
        api("DELETE", "/devices/%s/log" % mac(n))
        await connect_resolved(cl, dev)
        notify, write = find_chars(await cl.objects(), dev, "llt")
        self.assertFalse(await cl.get(notify, CHR, "NotifyAcquired"))
        with self.assertRaises(CallError) as e:         # ff02 has no notify flag
            await cl.call(write, CHR, "AcquireNotify", "a{sv}", [{}])
        self.assertEqual(e.exception.name, "org.bluez.Error.NotSupported")

        mark = cl.mark()
        sock, mtu = await cl.acquire_notify(notify)
        loop = asyncio.get_running_loop()
        try:
            self.assertEqual(mtu, 23)
            self.assertTrue(await cl.wait_for(changed(notify, CHR, "NotifyAcquired", True), mark, 2))
            self.assertEqual(sock.type, socket.SOCK_SEQPACKET)
            with self.assertRaises(CallError) as e:
                await cl.call(notify, CHR, "StartNotify")
            self.assertEqual((e.exception.name, e.exception.text),
                             ("org.bluez.Error.NotPermitted", "Notify acquired"))
            other = await Client().open()
            try:
                with self.assertRaises(CallError) as e:
                    await other.acquire_notify(notify)
                self.assertEqual(e.exception.name, "org.bluez.Error.NotPermitted")
            finally:
                await other.close()
            # One LLT read; each notification is one datagram of at most MTU - 3 bytes.
            reasm, rec, sizes = bf.LltReassembler(), {}, []
            for req in (bf.LLT_REQ_BASIC, bf.LLT_REQ_CELLS):
                await cl.call(write, CHR, "WriteValue", "aya{sv}",
                              [req, {"type": Variant("s", "request")}])
                frames = []
                while not frames:
                    d = await asyncio.wait_for(loop.sock_recv(sock, 512), 3)
                    self.assertTrue(d, "socket closed during the read")
                    sizes.append(len(d))
                    frames = reasm.feed(d)
                rec.update(bf.llt_decode(frames[0]))
            assert_record(self, rec, bf.expected_values("llt", vals))
            self.assertLessEqual(max(sizes), mtu - 3)
            self.assertEqual(cl.values_since(notify, mark), [], "Value is not used while acquired")
            self.assertFalse(await cl.get(notify, CHR, "Notifying"))
            lg = sim_log(n)
            self.assertEqual((lg["acquire_notify"], lg["start_notify"]), (1, 0))
            self.assertEqual(lg["notifications"], len(sizes))
        finally:
            sock.close()
        # Closing the client end releases it; StartNotify works again.
        self.assertTrue(await cl.wait_for(changed(notify, CHR, "NotifyAcquired", False), mark, 2))
        await cl.call(notify, CHR, "StartNotify")
        with self.assertRaises(CallError) as e:         # a StartNotify session exists
            await cl.call(notify, CHR, "AcquireNotify", "a{sv}", [{}])
        self.assertEqual(e.exception.name, "org.bluez.Error.InProgress")
        await cl.call(notify, CHR, "StopNotify")
        # Losing the link closes BlueZ's end: the client reads end of file.
        sock, _ = await cl.acquire_notify(notify)
        try:
            mark = cl.mark()
            await disconnect(cl, dev)
            self.assertEqual(await asyncio.wait_for(loop.sock_recv(sock, 512), 3), b"")
            self.assertTrue(await cl.wait_for(changed(notify, CHR, "NotifyAcquired", False), mark, 2))
        finally:
            sock.close()
        with self.assertRaises(CallError) as e:
            await cl.call(notify, CHR, "AcquireNotify", "a{sv}", [{}])
        self.assertEqual((e.exception.name, e.exception.text), ("org.bluez.Error.Failed", "Not connected"))
        self.assertEqual(sim_log(n)["acquire_released"], 2)

    @unittest.skipUnless(shutil.which(PY) and subprocess.run(
        [PY, "-c", "import bleak"], capture_output=True).returncode == 0,
        "python3-bleak not installed")
    async def test_30_bleak_compatibility(self):
        script = r"""
import asyncio, json, sys
sys.path.insert(0, %r)
import bms_frames as bf
from bleak import BleakClient
async def main():
    got = bytearray()
    async with BleakClient(%r, timeout=10) as c:
        await c.start_notify(bf.uuid16(0xff01), lambda ch, d: got.extend(d))
        for req in (bf.LLT_REQ_BASIC, bf.LLT_REQ_CELLS):
            await c.write_gatt_char(bf.uuid16(0xff02), req, response=True)
            await asyncio.sleep(0.4)
        await c.stop_notify(bf.uuid16(0xff01))
    out = {}
    for f in bf.LltReassembler().feed(bytes(got)):
        out.update(bf.llt_decode(f))
    print(json.dumps(out))
asyncio.run(main())
""" % (HERE, mac(0x10))
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=ENV["bus"])
        r = await asyncio.to_thread(subprocess.run, [PY, "-c", script], env=env,
                                    capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        rec = json.loads(r.stdout.strip().splitlines()[-1])
        assert_record(self, rec, bf.expected_values("llt", bf.CAPTURE_VALUES["llt"]))
        lg = sim_log(0x10)
        self.assertEqual(lg["connects"], 1)
        # bleak uses AcquireNotify when NotifyAcquired is there (newer releases), else StartNotify
        if lg["acquire_notify"]:
            self.assertEqual((lg["acquire_notify"], lg["acquire_released"], lg["start_notify"]), (1, 1, 0))
        else:
            self.assertEqual((lg["start_notify"], lg["stop_notify"]), (1, 1))
        self.assertFalse(api("GET", "/devices/%s" % mac(0x10))[1]["connected"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
