#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated BlueZ (5.66 D-Bus API) with simulated LLT/JBD, Daly and JK BMS,
for the integration tests of the BLE battery drivers.

It owns org.bluez on a private bus (started by the test with
tests/sim/dbus-system.conf) and serves:
  /                                   org.freedesktop.DBus.ObjectManager
  /org/bluez                          org.bluez.AgentManager1, ProfileManager1
  /org/bluez/hci0                     org.bluez.Adapter1
  /org/bluez/hci0/dev_AA_BB_..        org.bluez.Device1
  .../dev_XX/service000c              org.bluez.GattService1
  .../service000c/char000d            org.bluez.GattCharacteristic1
  .../service000c/char000d/desc000f   org.bluez.GattDescriptor1 (CCCD 2902)
Behind each device a BMS answers the real request frames with real frames
(bms_frames.py).  A JSON control API on 127.0.0.1 sets values and faults and
reads per-device logs.  See README-bluez.md (or the BlueZ section of
README.md) in this directory.

Usage:
  bluez_sim.py --bus unix:path=/tmp/x/bus --control-port 0 \\
      --device llt:AA:BB:CC:DD:EE:01 --device jk:AA:BB:CC:DD:EE:02:2char:sw=10.09
Prints "ready control=127.0.0.1:PORT" once org.bluez is owned.
"""
import argparse
import asyncio
import collections
import json
import logging
import os
import random
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bms_frames as bf  # noqa: E402

from aiohttp import web  # noqa: E402
from dbus_next import Message, MessageType, NameFlag, RequestNameReply, Variant  # noqa: E402
from dbus_next.aio import MessageBus  # noqa: E402

log = logging.getLogger("bluez-sim")

BLUEZ = "org.bluez"
I_OM = "org.freedesktop.DBus.ObjectManager"
I_PROPS = "org.freedesktop.DBus.Properties"
I_INTRO = "org.freedesktop.DBus.Introspectable"
I_PEER = "org.freedesktop.DBus.Peer"
I_ADAPTER = "org.bluez.Adapter1"
I_DEVICE = "org.bluez.Device1"
I_SERVICE = "org.bluez.GattService1"
I_CHAR = "org.bluez.GattCharacteristic1"
I_DESC = "org.bluez.GattDescriptor1"
I_AGENTMGR = "org.bluez.AgentManager1"
I_PROFILEMGR = "org.bluez.ProfileManager1"

KINDS = ("llt", "daly", "jk")
FAULTS = ("none", "connect-abort", "no-services", "stale-cache", "drop",
          "corrupt", "silent")
CCCD_UUID = bf.uuid16(0x2902)


# ---------------------------------------------------------------------------
# errors (names and texts of BlueZ 5.66 src/error.c)
# ---------------------------------------------------------------------------
class BusError(Exception):
    def __init__(self, name, text):
        super().__init__("%s: %s" % (name, text))
        self.name = name
        self.text = text


def e_failed(text):
    return BusError("org.bluez.Error.Failed", text)


def e_invalid_args():
    return BusError("org.bluez.Error.InvalidArguments", "Invalid arguments in method call")


def e_busy():                      # btd_error_busy
    return BusError("org.bluez.Error.InProgress", "Operation already in progress")


def e_in_progress():               # btd_error_in_progress
    return BusError("org.bluez.Error.InProgress", "In Progress")


def e_not_connected():
    return BusError("org.bluez.Error.NotConnected", "Not Connected")


def e_not_supported():
    return BusError("org.bluez.Error.NotSupported", "Operation is not supported")


def e_not_permitted(text):
    return BusError("org.bluez.Error.NotPermitted", text)


def e_does_not_exist():
    return BusError("org.bluez.Error.DoesNotExist", "Does Not Exist")


def e_not_ready():
    return BusError("org.bluez.Error.NotReady", "Resource Not Ready")


def e_unknown(kind, msg):
    return BusError("org.freedesktop.DBus.Error." + kind,
                    'Method "%s" with signature "%s" on interface "%s" doesn\'t exist\n'
                    % (msg.member, msg.signature, msg.interface))


# ---------------------------------------------------------------------------
# interface descriptions: method signatures (checked on every call, as
# gdbus does) and the introspection data
# ---------------------------------------------------------------------------
SPECS = {
    I_ADAPTER: {
        "methods": {"StartDiscovery": ("", ""), "SetDiscoveryFilter": ("a{sv}", ""),
                    "StopDiscovery": ("", ""), "RemoveDevice": ("o", ""),
                    "GetDiscoveryFilters": ("", "as")},
        "props": {"Address": "s", "AddressType": "s", "Name": "s", "Alias": "s",
                  "Class": "u", "Powered": "b", "PowerState": "s", "Discoverable": "b",
                  "DiscoverableTimeout": "u", "Pairable": "b", "PairableTimeout": "u",
                  "Discovering": "b", "UUIDs": "as", "Modalias": "s", "Roles": "as"}},
    I_DEVICE: {
        "methods": {"Connect": ("", ""), "Disconnect": ("", "")},
        "props": {"Address": "s", "AddressType": "s", "Name": "s", "Alias": "s",
                  "Paired": "b", "Trusted": "b", "Blocked": "b", "LegacyPairing": "b",
                  "RSSI": "n", "Connected": "b", "UUIDs": "as", "Adapter": "o",
                  "ServicesResolved": "b", "AdvertisingFlags": "ay"}},
    I_SERVICE: {"methods": {}, "props": {"UUID": "s", "Device": "o", "Primary": "b",
                                          "Includes": "ao"}},
    I_CHAR: {
        "methods": {"ReadValue": ("a{sv}", "ay"), "WriteValue": ("aya{sv}", ""),
                    "AcquireWrite": ("a{sv}", "hq"), "AcquireNotify": ("a{sv}", "hq"),
                    "StartNotify": ("", ""), "StopNotify": ("", "")},
        "props": {"UUID": "s", "Service": "o", "Value": "ay", "Notifying": "b",
                  "Flags": "as", "WriteAcquired": "b", "NotifyAcquired": "b", "MTU": "q"}},
    I_DESC: {
        "methods": {"ReadValue": ("a{sv}", "ay"), "WriteValue": ("aya{sv}", "")},
        "props": {"UUID": "s", "Characteristic": "o", "Value": "ay"}},
    I_AGENTMGR: {
        "methods": {"RegisterAgent": ("os", ""), "UnregisterAgent": ("o", ""),
                    "RequestDefaultAgent": ("o", "")}, "props": {}},
    I_PROFILEMGR: {
        "methods": {"RegisterProfile": ("osa{sv}", ""), "UnregisterProfile": ("o", "")},
        "props": {}},
}
WRITABLE = {I_ADAPTER: {"Alias": "s", "Powered": "b", "Discoverable": "b",
                        "DiscoverableTimeout": "u", "Pairable": "b", "PairableTimeout": "u"},
            I_DEVICE: {"Alias": "s", "Trusted": "b", "Blocked": "b"}}

_STD_XML = """  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg name="interface" type="s" direction="in"/><arg name="name" type="s" direction="in"/><arg name="value" type="v" direction="out"/></method>
    <method name="Set"><arg name="interface" type="s" direction="in"/><arg name="name" type="s" direction="in"/><arg name="value" type="v" direction="in"/></method>
    <method name="GetAll"><arg name="interface" type="s" direction="in"/><arg name="properties" type="a{sv}" direction="out"/></method>
    <signal name="PropertiesChanged"><arg name="interface" type="s"/><arg name="changed_properties" type="a{sv}"/><arg name="invalidated_properties" type="as"/></signal>
  </interface>
"""
_OM_XML = """  <interface name="org.freedesktop.DBus.ObjectManager">
    <method name="GetManagedObjects"><arg name="objects" type="a{oa{sa{sv}}}" direction="out"/></method>
    <signal name="InterfacesAdded"><arg name="object" type="o"/><arg name="interfaces" type="a{sa{sv}}"/></signal>
    <signal name="InterfacesRemoved"><arg name="object" type="o"/><arg name="interfaces" type="as"/></signal>
  </interface>
"""


class FdReply:
    """A method's answer that passes file descriptors: its "h" values are
    indexes into fds. The simulator's copies are closed once it is sent."""
    def __init__(self, body, fds):
        self.body = body
        self.fds = fds


def _sig_args(sig):
    """Split a signature into single complete types."""
    out, k = [], 0
    while k < len(sig):
        j = k
        depth = 0
        while True:
            c = sig[j]
            if c in "a":
                j += 1
                continue
            if c in "({":
                depth += 1
            elif c in ")}":
                depth -= 1
            j += 1
            if depth == 0:
                break
        out.append(sig[k:j])
        k = j
    return out


def _iface_xml(name):
    spec = SPECS[name]
    s = '  <interface name="%s">\n' % name
    for m, (ins, outs) in spec["methods"].items():
        s += '    <method name="%s">' % m
        s += "".join('<arg type="%s" direction="in"/>' % t for t in _sig_args(ins))
        s += "".join('<arg type="%s" direction="out"/>' % t for t in _sig_args(outs))
        s += "</method>\n"
    for p, t in spec["props"].items():
        acc = "readwrite" if p in WRITABLE.get(name, {}) else "read"
        s += '    <property name="%s" type="%s" access="%s"/>\n' % (p, t, acc)
    return s + "  </interface>\n"


# ---------------------------------------------------------------------------
# D-Bus objects
# ---------------------------------------------------------------------------
class Obj:
    """One exported object: path and ordered {interface name: implementation}.
    An implementation has props() (only the properties that exist, as
    Variants), m_<Method>(msg, *args) and optionally set_prop()."""

    def __init__(self, path, **ifaces):
        self.path = path
        self.ifaces = dict(ifaces)

    def managed(self):
        d = {I_INTRO: {}, I_PROPS: {}}
        for n, impl in self.ifaces.items():
            d[n] = impl.props()
        return d


class NullIface:
    """AgentManager1 / ProfileManager1: accepted and ignored."""

    def props(self):
        return {}

    def __getattr__(self, name):
        if name.startswith("m_"):
            return lambda msg, *a: []
        raise AttributeError(name)


# ---------------------------------------------------------------------------
# adapter
# ---------------------------------------------------------------------------
DISCOVERY_FILTER_KEYS = {"UUIDs": "as", "RSSI": "n", "Pathloss": "q", "Transport": "s",
                         "DuplicateData": "b", "Discoverable": "b", "Pattern": "s"}


def norm_uuid(u):
    u = str(u).lower()
    if u.startswith("0x"):
        u = u[2:]
    if re.fullmatch(r"[0-9a-f]{4}", u):
        return bf.uuid16(int(u, 16))
    if re.fullmatch(r"[0-9a-f]{8}", u):
        return u + "-0000-1000-8000-00805f9b34fb"
    if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", u):
        return u
    raise e_invalid_args()


class AdapterIface:
    def __init__(self, sim, address):
        self.sim = sim
        self.address = address
        self.name = "homebattery-sim"
        self.alias = None
        self.powered = True
        self.discoverable = False
        self.discoverable_timeout = 180
        self.pairable = True
        self.pairable_timeout = 0
        self.discovering = False
        self.discovery = {}         # sender -> filter dict or None (no filter)
        self.filters = {}           # sender -> filter set before StartDiscovery
        self.discovery_start = 0.0

    def props(self):
        return {
            "Address": Variant("s", self.address), "AddressType": Variant("s", "public"),
            "Name": Variant("s", self.name), "Alias": Variant("s", self.alias or self.name),
            "Class": Variant("u", 0), "Powered": Variant("b", self.powered),
            "PowerState": Variant("s", "on" if self.powered else "off"),
            "Discoverable": Variant("b", self.discoverable),
            "DiscoverableTimeout": Variant("u", self.discoverable_timeout),
            "Pairable": Variant("b", self.pairable),
            "PairableTimeout": Variant("u", self.pairable_timeout),
            "Discovering": Variant("b", self.discovering),
            "UUIDs": Variant("as", [bf.uuid16(x) for x in (0x1800, 0x1801, 0x180a, 0x110e, 0x110c)]),
            "Modalias": Variant("s", "usb:v1D6Bp0246d0542"),
            "Roles": Variant("as", ["central", "peripheral"]),
        }

    def changed(self, *names):
        self.sim.props_changed(self.sim.adapter_path, I_ADAPTER, self, names)

    async def set_prop(self, name, value):
        if name == "Alias":
            self.alias = value or None
            self.changed("Alias")
        elif name == "Powered":
            await self.sim.set_powered(bool(value))
        elif name == "Discoverable":
            self.discoverable = bool(value)
            self.changed("Discoverable")
        elif name == "DiscoverableTimeout":
            self.discoverable_timeout = value
            self.changed("DiscoverableTimeout")
        elif name == "Pairable":
            self.pairable = bool(value)
            self.changed("Pairable")
        elif name == "PairableTimeout":
            self.pairable_timeout = value
            self.changed("PairableTimeout")

    # -- methods -------------------------------------------------------------
    def m_StartDiscovery(self, msg):
        if not self.powered:
            raise e_not_ready()
        if msg.sender in self.discovery:
            raise e_busy()
        self.discovery[msg.sender] = self.filters.pop(msg.sender, None)
        self.sim.client_log(msg.sender, "StartDiscovery")
        if not self.discovering:
            self.discovering = True
            self.discovery_start = time.monotonic()
            self.changed("Discovering")
        return []

    def m_StopDiscovery(self, msg):
        if not self.powered:
            raise e_not_ready()
        if msg.sender not in self.discovery:
            raise e_failed("No discovery started")
        del self.discovery[msg.sender]
        self.sim.client_log(msg.sender, "StopDiscovery")
        if not self.discovery:
            self.sim.discovery_stopped()
        return []

    def m_SetDiscoveryFilter(self, msg, filt):
        if not self.powered:
            raise e_not_ready()
        parsed = {}
        for k, v in filt.items():
            sig = DISCOVERY_FILTER_KEYS.get(k)
            if sig is None or v.signature != sig:
                raise e_invalid_args()
            parsed[k] = v.value
        if "RSSI" in parsed and "Pathloss" in parsed:
            raise e_invalid_args()
        if parsed.get("Transport", "auto") not in ("auto", "bredr", "le"):
            raise e_invalid_args()
        if "UUIDs" in parsed:
            parsed["UUIDs"] = [norm_uuid(u) for u in parsed["UUIDs"]]
        if "RSSI" in parsed and not -127 <= parsed["RSSI"] <= 20:
            raise e_invalid_args()
        f = parsed or None              # an empty dict removes the filter
        if msg.sender in self.discovery:
            self.discovery[msg.sender] = f
        elif f is None:
            self.filters.pop(msg.sender, None)
        else:
            self.filters[msg.sender] = f
        return []

    def m_GetDiscoveryFilters(self, msg):
        return [list(DISCOVERY_FILTER_KEYS)]

    async def m_RemoveDevice(self, msg, path):
        dev = self.sim.device_by_path(path)
        if dev is None or not dev.known:
            raise e_does_not_exist()
        await dev.remove(reason="RemoveDevice")
        return []

    # -- filter matching (union over the discovering clients) ---------------
    def matches(self, dev):
        if not self.discovery:
            return False
        for f in self.discovery.values():
            if f is None:
                return True
            if f.get("Transport", "auto") == "bredr":
                continue
            if "RSSI" in f and dev.rssi < f["RSSI"]:
                continue
            if f.get("UUIDs") and not set(f["UUIDs"]) & set(dev.adv_uuids):
                continue
            pat = f.get("Pattern", "")
            if pat and not (dev.mac.startswith(pat.upper()) or dev.name.startswith(pat)):
                continue
            return True
        return False


# ---------------------------------------------------------------------------
# GATT
# ---------------------------------------------------------------------------
class ServiceIface:
    def __init__(self, dev, uuid, handle):
        self.dev = dev
        self.uuid = uuid
        self.handle = handle

    def props(self):
        return {"UUID": Variant("s", self.uuid), "Device": Variant("o", self.dev.path),
                "Primary": Variant("b", True), "Includes": Variant("ao", [])}


class CharIface:
    def __init__(self, dev, svc_path, path, uuid, flags, role, value=b""):
        self.dev = dev
        self.svc_path = svc_path
        self.path = path
        self.uuid = uuid
        self.flags = list(flags)
        self.role = role
        self.value = bytes(value)
        self.sessions = {}          # sender -> registered (notify_id != 0)
        self.notifying = False      # the D-Bus property (chrc->notifying)
        self.cccd = False           # notifications enabled in the BMS (CCCD)
        self.write_busy = False
        self.cccd_path = None
        self.acquired = None        # AcquireNotify: (sender, our end of the socket pair)

    @property
    def can_notify(self):
        return "notify" in self.flags or "indicate" in self.flags

    def props(self):
        # Value always exists (reading the cached attribute succeeds, even
        # when it is empty)
        p = {"UUID": Variant("s", self.uuid), "Service": Variant("o", self.svc_path),
             "Value": Variant("ay", self.value)}
        if self.can_notify:
            p["Notifying"] = Variant("b", self.notifying)
        p["Flags"] = Variant("as", self.flags)
        if "write-without-response" in self.flags:
            p["WriteAcquired"] = Variant("b", False)
        if "notify" in self.flags:
            p["NotifyAcquired"] = Variant("b", self.acquired is not None)
        # MTU (BlueZ >= 5.62): the ATT MTU, 23 while there is no ATT link
        p["MTU"] = Variant("q", self.dev.mtu if self.dev.link_up else 23)
        return p

    def changed(self, *names):
        self.dev.sim.props_changed(self.path, I_CHAR, self, names)

    def registered(self):
        """A session got its notify_id (register_notify_cb): the CCCD is
        written and Notifying becomes true if it was not."""
        if not self.cccd:
            self.cccd = True
            self.dev.model.on_cccd(self, True)
        if not self.notifying:
            self.notifying = True
            self.changed("Notifying")

    def update_notifying(self):
        """BlueZ's update_notifying(): Notifying only ever drops here, when
        no session is registered any more (StopNotify, client gone). The
        CCCD stays on while notifications are acquired."""
        if not any(self.sessions.values()):
            if self.cccd and self.acquired is None:
                self.cccd = False
                self.dev.model.on_cccd(self, False)
            if self.notifying:
                self.notifying = False
                self.changed("Notifying")

    # -- methods -------------------------------------------------------------
    def m_ReadValue(self, msg, options):
        dev = self.dev
        if not dev.link_up:
            raise e_failed("Not connected")
        offset = _option(options, "offset", "q", 0)
        if "read" not in self.flags:        # the BMS answers an ATT error
            raise e_not_permitted("Read not permitted")
        dev.count("reads")
        return [self.value[offset:]]

    async def m_WriteValue(self, msg, value, options):
        # characteristic_write_value(): the "type" option chooses the
        # procedure; without it the Flags do (reliable, request, command)
        dev = self.dev
        if not dev.link_up:
            raise e_failed("Not connected")
        if self.write_busy:
            raise e_in_progress()
        wtype = _option(options, "type", "s", None)
        offset = _option(options, "offset", "q", 0)
        if wtype is not None:
            wtype = wtype.lower()
        value = bytes(value)
        if wtype in ("reliable", "request") or (wtype is None and "write" in self.flags):
            self.write_busy = True
            conn = dev.conn_id
            try:
                await asyncio.sleep(dev.sim.args.write_latency)
            finally:
                self.write_busy = False
            if not dev.link_up or dev.conn_id != conn:
                raise e_failed("Not connected")
            if "write" not in self.flags:   # the BMS answers an ATT error
                raise e_not_permitted("Write not permitted")
            dev.on_write(self, value, "request")
            return []
        if (wtype is not None and wtype != "command") or offset or \
                (wtype is None and "write-without-response" not in self.flags):
            raise e_not_supported()
        if "write-without-response" in self.flags:
            dev.sim.loop.call_soon(dev.on_write, self, value, "command")
        else:                               # the BMS ignores the command
            dev.count("ignored_writes")
        return []

    def m_AcquireWrite(self, msg, options):
        raise e_not_supported()

    async def m_AcquireNotify(self, msg, options):
        """Notifications as SOCK_SEQPACKET datagrams on a socket pair, one
        per notification; the client gets one end and the MTU. Closing it
        releases the notifications (the simulator sees the hangup); losing
        the link closes ours. Value is not updated meanwhile, and Notifying
        is left as it is: it belongs to the StartNotify sessions."""
        dev = self.dev
        if not dev.link_up:
            raise e_failed("Not connected")
        if self.acquired is not None:
            raise e_not_permitted("Notify acquired")
        if self.sessions:           # a StartNotify session is there
            raise e_in_progress()
        if "notify" not in self.flags:
            raise e_not_supported()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        self.acquired = (msg.sender, ours)      # taken while the CCCD is written
        conn = dev.conn_id
        await asyncio.sleep(dev.sim.args.write_latency)
        if self.acquired is None or self.acquired[1] is not ours or not dev.link_up or \
                dev.conn_id != conn:
            theirs.close()
            if self.acquired is not None and self.acquired[1] is ours:
                self.release_acquired("link lost while acquiring")
            raise e_failed("Not connected")
        dev.sim.loop.add_reader(ours.fileno(), self._acquired_readable)
        dev.count("acquire_notify")
        dev.event("notify acquired by %s" % msg.sender)
        self.changed("NotifyAcquired")
        if not self.cccd:
            self.cccd = True
            dev.model.on_cccd(self, True)
        return FdReply([0, dev.mtu], [theirs.detach()])

    def _acquired_readable(self):
        """The client wrote (ignored) or closed its end (released)."""
        sock = self.acquired[1]
        try:
            if sock.recv(64):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self.release_acquired("closed by the client")

    def send_acquired(self, frag):
        """One notification as one datagram; a full socket drops it."""
        try:
            self.acquired[1].send(frag)
        except BlockingIOError:
            self.dev.count("notifications_dropped")
        except OSError:
            self.release_acquired("closed by the client")

    def release_acquired(self, why):
        if self.acquired is None:
            return
        sender, sock = self.acquired
        self.acquired = None
        self.dev.sim.loop.remove_reader(sock.fileno())
        sock.close()
        self.dev.count("acquire_released")
        self.dev.event("notify of %s released (%s)" % (sender, why))
        self.changed("NotifyAcquired")
        self.update_notifying()

    async def m_StartNotify(self, msg):
        dev = self.dev
        if dev.disconnecting:
            raise BusError("org.bluez.Error.NotConnected", "Not Connected")
        if not self.can_notify:
            raise e_not_supported()
        if self.acquired is not None:
            raise e_not_permitted("Notify acquired")
        sender = msg.sender
        if sender in self.sessions:
            # each client has one session: success when it is active,
            # InProgress while it waits for a connection/CCCD write
            if self.sessions[sender]:
                return []
            raise e_in_progress()
        self.sessions[sender] = False
        dev.count("start_notify")
        if not dev.link_up:
            # BlueZ answers success and registers the session itself at
            # the next connection (btd_gatt_client_connected)
            return []
        conn = dev.conn_id
        await asyncio.sleep(dev.sim.args.write_latency)     # the CCCD write
        if sender in self.sessions and dev.link_up and dev.conn_id == conn:
            self.sessions[sender] = True
            self.registered()
        return []

    def m_StopNotify(self, msg):
        if msg.sender not in self.sessions:
            raise e_failed("No notify session started")
        del self.sessions[msg.sender]
        self.dev.count("stop_notify")
        self.update_notifying()
        return []


class DescIface:
    def __init__(self, char, path):
        self.char = char
        self.path = path
        self.value = b""

    def props(self):
        return {"UUID": Variant("s", CCCD_UUID), "Characteristic": Variant("o", self.char.path),
                "Value": Variant("ay", self.value)}

    def m_ReadValue(self, msg, options):
        if not self.char.dev.link_up:
            raise e_failed("Not connected")
        offset = _option(options, "offset", "q", 0)
        new = b"\x01\x00" if self.char.cccd else b"\x00\x00"
        if new != self.value:
            self.value = new
            self.char.dev.sim.props_changed(self.path, I_DESC, self, ["Value"])
        return [self.value[offset:]]

    def m_WriteValue(self, msg, value, options):
        if not self.char.dev.link_up:
            raise e_failed("Not connected")
        _option(options, "offset", "q", 0)
        # BlueZ refuses CCCD writes: StartNotify/StopNotify do that
        raise e_not_permitted("Write not permitted")


def _option(options, key, sig, default):
    v = options.get(key)
    if v is None:
        return default
    if v.signature != sig:
        raise e_invalid_args()
    return v.value


# GATT layouts: (service uuid16, [(char uuid16, flags, role)]); role "notify",
# "write", "both" (one characteristic for both) or "dis" (device information)
RW_NOTIFY = ["read", "notify"]
WRITE = ["write-without-response", "write"]
LAYOUTS = {
    "llt": [(0xff00, [(0xff01, RW_NOTIFY, "notify"), (0xff02, WRITE, "write")])],
    "daly": [(0xfff0, [(0xfff1, RW_NOTIFY, "notify"), (0xfff2, WRITE, "write")])],
    "daly-ff00": [(0xff00, [(0xff01, RW_NOTIFY, "notify"), (0xff02, WRITE, "write")])],
    "jk": [(0xffe0, [(0xffe1, ["read", "write-without-response", "write", "notify"], "both")])],
    "jk-2char": [(0xffe0, [(0xffe1, WRITE, "write"), (0xffe1, ["notify"], "notify")])],
}
DIS = (0x180a, [(0x2a29, ["read"], "dis")])


# ---------------------------------------------------------------------------
# the simulated BMS behind a device
# ---------------------------------------------------------------------------
class BmsModel:
    def __init__(self, dev):
        self.dev = dev
        self.rx = bytearray()
        self.tasks = set()

    def later(self, delay, fn, *a):
        h = self.dev.sim.loop.call_later(delay, fn, *a)
        self.tasks.add(h)
        return h

    def link_up(self):
        self.rx.clear()

    def link_down(self):
        self.rx.clear()
        for t in self.tasks:
            t.cancel()
        self.tasks.clear()

    def on_cccd(self, char, enabled):
        pass

    @property
    def silent(self):
        return self.dev.conn_fault == "silent"

    @property
    def corrupt(self):
        return self.dev.conn_fault == "corrupt"

    def send_frame(self, frame, join=False):
        if self.silent:
            self.dev.count("answers_suppressed")
            return
        self.dev.count("frames")
        self.dev.enqueue(frame, join)


class LltModel(BmsModel):
    def on_write(self, data):
        self.rx += data
        while True:
            r = bf.llt_parse_request(self.rx)
            if r is None:
                return
            n, cmd, body, ok = r
            del self.rx[:n]
            if cmd is None:
                continue
            if not ok:
                self.dev.count("bad_requests")
                continue
            self.dev.count("requests")
            self.dev.event("request %02x" % cmd)
            self.later(self.dev.response_delay, self.answer, cmd)

    def answer(self, cmd):
        vals, c = self.dev.values, self.corrupt
        if cmd == 0x03:
            self.send_frame(bf.llt_basic_frame(vals, corrupt=c))
        elif cmd == 0x04:
            self.send_frame(bf.llt_cells_frame(vals, corrupt=c))
        elif cmd == 0x05:
            self.send_frame(bf.llt_hwver_frame(self.dev.opts.get("hw") or self.dev.name, corrupt=c))
        else:
            self.dev.count("unanswered_requests")


class DalyModel(BmsModel):
    def on_write(self, data):
        self.rx += data
        while True:
            k = self.rx.find(b"\xd2")
            if k < 0:
                self.rx.clear()
                return
            del self.rx[:k]
            if len(self.rx) < 8:
                return
            req = bytes(self.rx[:8])
            if bf.modbus_crc(req[:6]) != int.from_bytes(req[6:8], "little"):
                del self.rx[:1]
                self.dev.count("bad_requests")
                continue
            del self.rx[:8]
            self.dev.count("requests")
            self.dev.event("request %s" % req.hex())
            if req == bf.DALY_REQ:
                self.later(self.dev.response_delay, self.answer)
            else:
                self.dev.count("unanswered_requests")

    def answer(self):
        if self.dev.opts.get("foreign"):
            self.send_frame(bf.daly_foreign_frame())
        self.send_frame(bf.daly_frame(self.dev.values, corrupt=self.corrupt))


class JkModel(BmsModel):
    def __init__(self, dev):
        super().__init__(dev)
        self.counter = 0
        self.streaming = None

    @property
    def layout(self):
        return bf.jk_layout_for_version(self.dev.opts.get("sw", "11.28"))

    def link_down(self):
        super().link_down()
        if self.streaming:
            self.streaming.cancel()
            self.streaming = None

    def frame(self, fr):
        o = self.dev.opts
        if o.get("at"):
            fr = b"AT\r\n" + fr
        self.send_frame(fr, join=True)

    def next_counter(self):
        self.counter = (self.counter + 1) & 0xFF
        return self.counter

    def on_write(self, data):
        self.rx += data
        while True:
            k = self.rx.find(b"\xaa\x55\x90\xeb")
            if k < 0:
                del self.rx[:max(0, len(self.rx) - 3)]
                return
            del self.rx[:k]
            if len(self.rx) < 20:
                return
            cmd = bf.jk_parse_command(self.rx[:20])
            del self.rx[:20]
            if cmd is None:
                self.dev.count("bad_requests")
                continue
            self.dev.count("requests")
            self.dev.event("command %02x" % cmd[0])
            if self.dev.opts.get("ack"):
                self.send_frame(bf.jk_command(0xC8, 1, 1), join=True)
            self.later(self.dev.response_delay, self.answer, cmd[0])

    def answer(self, cmd):
        o, pad, c = self.dev.opts, int(self.dev.opts.get("pad", 0)), self.corrupt
        if cmd == 0x97:
            self.frame(bf.jk_device_info_frame(self.next_counter(), o.get("sw", "11.28"),
                                               name=self.dev.name, pad=pad, corrupt=c))
        elif cmd == 0x96:
            self.frame(bf.jk_settings_frame(self.dev.values, self.next_counter(), self.layout,
                                            pad=pad, corrupt=c))
            if self.streaming is None:
                self.streaming = asyncio.ensure_future(self.stream())
        else:
            self.dev.count("unanswered_requests")

    async def stream(self):
        try:
            while self.dev.state == "connected":
                pad = int(self.dev.opts.get("pad", 0))
                self.frame(bf.jk_cell_info_frame(self.dev.values, self.next_counter(),
                                                 self.layout, pad=pad, corrupt=self.corrupt))
                await asyncio.sleep(float(self.dev.opts.get("interval", 1.0)))
        except asyncio.CancelledError:
            pass


MODELS = {"llt": LltModel, "daly": DalyModel, "jk": JkModel}
DEFAULT_NAMES = {"llt": "JBD-SP04S034", "daly": None, "jk": "JK_BD4A17S4P"}


# ---------------------------------------------------------------------------
# a device: Device1, its connection, GATT objects and BMS
# ---------------------------------------------------------------------------
class SimDevice:
    def __init__(self, sim, kind, mac, opts):
        self.sim = sim
        self.kind = kind
        self.mac = mac
        self.path = "%s/dev_%s" % (sim.adapter_path, mac.replace(":", "_"))
        self.opts = dict(opts)
        self.name = self.opts.pop("name", None) or DEFAULT_NAMES[kind] or \
            "DL-" + mac.replace(":", "")
        self.alias = None
        self.trusted = False
        self.blocked = False
        self.known = not self.opts.pop("unknown", False)
        self.temporary = bool(self.opts.pop("temporary", False))
        self.advertising = not self.opts.pop("noadv", False)
        if "advertising" in self.opts:
            self.advertising = bool(self.opts.pop("advertising"))
        self.rssi = int(self.opts.pop("rssi", -60 - random.randint(0, 15)))
        self.rssi_visible = False
        self.rssi_t = 0.0
        self.adv_seen = False
        self.last_seen = time.monotonic()
        self.mtu = int(self.opts.pop("mtu", sim.args.mtu))
        self.fault = "none"
        self.fault_count = None
        self.drop_after = 1
        self.conn_fault = "none"
        self.values = bf.normalize_values(None, bf.CAPTURE_VALUES[kind])
        self.state = "disconnected"     # connecting, connected
        self.services_resolved = False
        self.conn_id = 0
        self.connect_future = None
        self.conn_task = None
        self.pump_task = None
        self.out = collections.deque()
        self.out_event = asyncio.Event()
        self.frags_this_conn = 0
        self.counters = collections.Counter()
        self.events = collections.deque(maxlen=200)
        self.writes = collections.deque(maxlen=100)
        self.model = MODELS[kind](self)
        self.gatt_exported = False
        self.keep_cache = sim.args.gatt_cache == "always"
        if self.opts.pop("nocache", False):
            self.keep_cache = False
        if self.opts.pop("cache", False):
            self.keep_cache = True
        cached = self.opts.pop("cached", False)
        self.apply(self.opts.pop("_settings", {}))
        self.build_gatt()
        self.dev_obj = Obj(self.path, **{I_DEVICE: DeviceIface(self)})
        if cached and self.known:
            self.gatt_exported = True
            self.uuids = self.gatt_uuids
        else:
            self.uuids = list(self.adv_uuids)

    # -- description --------------------------------------------------------
    @property
    def variant(self):
        if self.kind == "daly" and self.opts.get("ff00"):
            return "daly-ff00"
        if self.kind == "jk" and self.opts.get("2char"):
            return "jk-2char"
        return self.kind

    @property
    def adv_uuids(self):
        return [bf.uuid16(LAYOUTS[self.variant][0][0])]

    @property
    def response_delay(self):
        return float(self.opts.get("response_delay", 0.05))

    def build_gatt(self):
        """Objects with BlueZ's path shapes: serviceXXXX (service handle),
        charXXXX (declaration handle), descXXXX (descriptor handle)."""
        self.gatt_objs = []
        self.chars = {}
        h = 0x000c                  # after GAP (0001..0007) and GATT (0008..000b)
        uuids = {bf.uuid16(0x1800), bf.uuid16(0x1801)}
        for svc_uuid, chars in LAYOUTS[self.variant] + [DIS]:
            spath = "%s/service%04x" % (self.path, h)
            uuids.add(bf.uuid16(svc_uuid))
            self.gatt_objs.append(Obj(spath, **{I_SERVICE: ServiceIface(self, bf.uuid16(svc_uuid), h)}))
            h += 1
            for cu, flags, role in chars:
                cpath = "%s/char%04x" % (spath, h)
                ch = CharIface(self, spath, cpath, bf.uuid16(cu), flags, role,
                               self.name.encode() if role == "dis" else b"")
                self.gatt_objs.append(Obj(cpath, **{I_CHAR: ch}))
                h += 2
                if ch.can_notify:
                    ch.cccd_path = "%s/desc%04x" % (cpath, h)
                    self.gatt_objs.append(Obj(ch.cccd_path, **{I_DESC: DescIface(ch, ch.cccd_path)}))
                    h += 1
                if role in ("notify", "both"):
                    self.chars["notify"] = ch
                if role in ("write", "both"):
                    self.chars["write"] = ch
        self.gatt_uuids = sorted(uuids)

    def char_ifaces(self):
        return [o.ifaces[I_CHAR] for o in self.gatt_objs if I_CHAR in o.ifaces]

    # -- log ----------------------------------------------------------------------
    def count(self, what, n=1):
        self.counters[what] += n

    def event(self, text):
        self.events.append({"t": round(time.time(), 3), "event": text})
        log.debug("%s %s", self.mac, text)

    # -- settings (CLI options and the control API) -------------------------
    def apply(self, s):
        vals = dict(s.get("values") or {})
        for k in list(s):
            kk = bf._ALIASES.get(k, k)
            if kk in ("v", "i", "soc", "c", "c_full", "n", "temps", "cells"):
                vals[k] = s[k]
        if vals:
            base = dict(self.values)
            if "v" not in vals and not any(k == "voltage" for k in vals) and "cells" in \
                    {bf._ALIASES.get(k, k) for k in vals}:
                base.pop("v", None)     # new cells and no voltage: sum of the cells
            self.values = bf.normalize_values(vals, base)
        if "fault" in s:
            f = s["fault"] or "none"
            if f not in FAULTS:
                raise ValueError("fault must be one of " + ", ".join(FAULTS))
            self.fault = f
            self.fault_count = None
        if "fault_count" in s:
            self.fault_count = None if s["fault_count"] is None else int(s["fault_count"])
        if "drop_after" in s:
            self.drop_after = max(1, int(s["drop_after"]))
        if "advertising" in s:
            self.advertising = bool(s["advertising"])
        if "rssi" in s:
            self.rssi = int(s["rssi"])
        if "mtu" in s:
            self.mtu = max(23, int(s["mtu"]))
        if "name" in s:
            self.name = str(s["name"])
        for k in ("sw", "hw", "interval", "pad", "at", "ack", "foreign", "adv_delay",
                  "connect_delay", "resolve_delay", "response_delay"):
            if k in s:
                self.opts[k] = s[k]

    def state_json(self):
        return {
            "mac": self.mac, "kind": self.kind, "variant": self.variant, "path": self.path,
            "name": self.name, "known": self.known, "temporary": self.temporary,
            "advertising": self.advertising, "rssi": self.rssi, "state": self.state,
            "connected": self.connected_prop, "services_resolved": self.services_resolved,
            "gatt_exported": self.gatt_exported, "keep_cache": self.keep_cache,
            "mtu": self.mtu, "fault": self.fault, "fault_count": self.fault_count,
            "drop_after": self.drop_after, "values": self.values,
            "notifying": {c.path: c.notifying for c in self.char_ifaces() if c.can_notify},
            "cccd_enabled": {c.path: c.cccd for c in self.char_ifaces() if c.can_notify},
            "notify_sessions": {c.path: dict(c.sessions) for c in self.char_ifaces() if c.sessions},
            "notify_acquired": {c.path: c.acquired[0] for c in self.char_ifaces() if c.acquired},
            "options": {k: v for k, v in self.opts.items()},
            "layout": self.model.layout if self.kind == "jk" else None,
        }

    def log_json(self):
        d = dict(self.counters)
        for k in ("connect_attempts", "connects", "connect_failures", "disconnects", "drops",
                  "writes", "notifications", "notifications_dropped", "frames", "requests",
                  "start_notify", "stop_notify", "acquire_notify", "acquire_released", "reads",
                  "discovered"):
            d.setdefault(k, 0)
        d["write_log"] = list(self.writes)
        d["events"] = list(self.events)
        return d

    # -- properties ------------------------------------------------------------
    connected_prop = False
    disconnecting = False

    @property
    def link_up(self):
        """BlueZ's client->gatt exists: the ATT link is up."""
        return self.state == "connected" and not self.disconnecting

    def dev_changed(self, *names):
        if self.known:
            self.sim.props_changed(self.path, I_DEVICE, self.dev_obj.ifaces[I_DEVICE], names)

    def set_connected(self, on):
        if self.connected_prop != on:
            self.connected_prop = on
            self.dev_changed("Connected")

    def set_resolved(self, on):
        if self.services_resolved != on:
            self.services_resolved = on
            self.dev_changed("ServicesResolved")

    # -- fault bookkeeping ------------------------------------------------------
    def take_fault(self):
        """The fault of this connection attempt (counted down)."""
        f = self.fault
        if f == "none":
            return "none"
        if f == "stale-cache":
            return f
        if self.fault_count is not None:
            if self.fault_count <= 0:
                self.fault = "none"
                self.fault_count = None
                return "none"
            self.fault_count -= 1
            if self.fault_count == 0:
                self.fault = "none"
                self.fault_count = None
        return f

    # -- connection -------------------------------------------------------------
    async def connect(self, sender):
        if not self.sim.adapter.powered:
            raise e_not_ready()
        if self.state == "connected":
            return
        if self.state == "connecting":
            raise e_in_progress()
        self.temporary = False
        self.state = "connecting"
        self.count("connect_attempts")
        self.event("Connect from %s" % sender)
        fut = self.connect_future = self.sim.loop.create_future()
        self.conn_task = asyncio.ensure_future(self._connect_flow(fut))
        try:
            await fut
        finally:
            if self.connect_future is fut:
                self.connect_future = None

    def _finish_connect(self, fut, error=None):
        if fut is not None and not fut.done():
            if error:
                fut.set_exception(error)
            else:
                fut.set_result(None)

    async def _connect_flow(self, fut):
        o = self.opts
        try:
            if not self.advertising:
                await asyncio.sleep(self.sim.args.le_connect_timeout)
                self.state = "disconnected"
                self.count("connect_failures")
                self.event("connect failed: not advertising")
                self._finish_connect(fut, e_failed("le-connection-abort-by-local"))
                return
            fault = self.conn_fault = self.take_fault()
            await asyncio.sleep(float(o.get("connect_delay", 0.1)))
            if fault == "connect-abort":
                self.set_connected(True)
                await asyncio.sleep(0.1)
                self.set_connected(False)
                self.state = "disconnected"
                self.count("connect_failures")
                self.event("connect failed: le-connection-abort-by-local")
                self._finish_connect(fut, e_failed("le-connection-abort-by-local"))
                return
            self.conn_id += 1
            self.state = "connected"
            self.frags_this_conn = 0
            self.out.clear()
            self.model.link_up()
            self.set_connected(True)
            self.count("connects")
            self.event("connected (fault %s)" % fault)
            self.pump_task = asyncio.ensure_future(self._pump(self.conn_id))
            # btd_gatt_client_connected(): sessions kept over a disconnection
            # (or started while disconnected) are registered again right away
            if self.gatt_exported:
                for ch in self.char_ifaces():
                    if ch.sessions:
                        for sndr in ch.sessions:
                            ch.sessions[sndr] = True
                        ch.registered()
            if self.sim.args.connect_reply == "connected":
                self._finish_connect(fut)
            if fault in ("no-services", "stale-cache"):
                self.event("services never resolve (%s)" % fault)
                return                  # Connect stays pending: BlueZ answers it
                #                         only once the services are resolved
            await asyncio.sleep(float(o.get("resolve_delay", 0.3)))
            if not self.gatt_exported:
                self.gatt_exported = True
                for obj in self.gatt_objs:
                    self.sim.add_object(obj)
            if self.uuids != self.gatt_uuids:
                self.uuids = self.gatt_uuids
                self.dev_changed("UUIDs")
            self.set_resolved(True)
            self._finish_connect(fut)
        except asyncio.CancelledError:
            pass

    async def disconnect(self, sender):
        if self.state == "disconnected":
            raise e_not_connected()
        self.count("disconnects")
        self.event("Disconnect from %s" % sender)
        if self.connect_future is not None and not self.connect_future.done():
            self.connect_future.set_exception(e_failed("br-connection-canceled"))
        if self.state == "connecting":
            if self.conn_task:
                self.conn_task.cancel()
            self.state = "disconnected"
            self.set_connected(False)
            return
        self.disconnecting = True
        await asyncio.sleep(0.05)
        # BlueZ order: ServicesResolved=false, the Disconnect reply, then
        # Connected=false (device_remove_connection answers the pending
        # Disconnect calls before it emits Connected)
        self.set_resolved(False)
        self.sim.loop.call_soon(self.link_down, "local")

    def link_down(self, reason):
        """The link is gone (Disconnect, drop, RemoveDevice, power off)."""
        if self.state == "disconnected":
            return
        if self.conn_task and not self.conn_task.done():
            self.conn_task.cancel()
        if self.connect_future is not None and not self.connect_future.done():
            # device_remove_connection(): "connection removed while
            # Connect() is waiting reply"
            self.connect_future.set_exception(e_failed("br-connection-canceled"))
        if self.pump_task:
            self.pump_task.cancel()
            self.pump_task = None
        self.out.clear()
        self.model.link_down()
        self.state = "disconnected"
        self.disconnecting = False
        self.conn_fault = "none"
        self.set_resolved(False)
        self.set_connected(False)
        self.event("link down (%s)" % reason)
        # btd_gatt_client_disconnected(): only the notify ids are cleared;
        # the sessions and the Notifying property stay as they are. An
        # acquired notify socket is closed (the client sees the hangup).
        for ch in self.char_ifaces():
            ch.release_acquired("link down")
            for sndr in ch.sessions:
                ch.sessions[sndr] = False
            ch.cccd = False
        if not self.keep_cache and self.gatt_exported:
            self.drop_gatt()

    def drop_gatt(self):
        for ch in self.char_ifaces():
            ch.release_acquired("GATT objects removed")
            ch.sessions.clear()
            ch.notifying = False
            ch.cccd = False
            ch.value = b""
        if self.gatt_exported:
            self.gatt_exported = False
            for obj in reversed(self.gatt_objs):
                self.sim.remove_object(obj.path)
        self.build_gatt()
        if self.uuids != self.adv_uuids:
            self.uuids = list(self.adv_uuids)
            self.dev_changed("UUIDs")

    async def remove(self, reason):
        """BlueZ forgets the device (RemoveDevice, temporary timeout, API)."""
        if self.state != "disconnected":
            self.link_down(reason)
            await asyncio.sleep(0.05)
        self.drop_gatt()
        if self.known:
            self.known = False
            self.rssi_visible = False
            self.adv_seen = False
            self.sim.remove_object(self.path)
        if self.fault == "stale-cache":
            self.fault = "none"
        self.count("removed")
        self.event("removed (%s)" % reason)

    def add_known(self):
        if not self.known:
            self.known = True
            self.uuids = list(self.adv_uuids)
            self.sim.add_object(self.dev_obj)

    # -- data -------------------------------------------------------------------
    def on_write(self, char, data, mode):
        if self.state != "connected":
            return
        self.count("writes")
        self.writes.append({"t": round(time.time(), 3), "char": char.path, "type": mode,
                            "hex": data.hex()})
        if char.role in ("write", "both"):
            self.model.on_write(data)

    def enqueue(self, data, join=False):
        if self.state != "connected":
            return
        if join and self.out:
            self.out[-1] += data
        else:
            self.out.append(bytearray(data))
        self.out_event.set()

    async def _pump(self, conn):
        try:
            while self.state == "connected" and self.conn_id == conn:
                if not self.out:
                    self.out_event.clear()
                    await self.out_event.wait()
                    continue
                chunk = self.out[0]
                frag = bytes(chunk[:self.mtu - 3])
                del chunk[:len(frag)]
                if not chunk:
                    self.out.popleft()
                self.notify(frag)
                self.frags_this_conn += 1
                if self.conn_fault == "drop" and self.frags_this_conn >= self.drop_after:
                    self.count("drops")
                    self.pump_task = None
                    self.sim.loop.call_soon(self.link_down, "drop")
                    return
                await asyncio.sleep(self.sim.args.fragment_interval)
        except asyncio.CancelledError:
            pass

    def notify(self, frag):
        ch = self.chars["notify"]
        if not ch.cccd:
            self.count("notifications_dropped")
            return
        self.count("notifications")
        if ch.acquired is not None:
            ch.send_acquired(frag)
            return
        ch.value = frag
        self.sim.props_changed(ch.path, I_CHAR, ch, ["Value"])


class DeviceIface:
    def __init__(self, dev):
        self.dev = dev

    def props(self):
        d = self.dev
        p = {"Address": Variant("s", d.mac), "AddressType": Variant("s", "public"),
             "Name": Variant("s", d.name), "Alias": Variant("s", d.alias or d.name),
             "Paired": Variant("b", False), "Trusted": Variant("b", d.trusted),
             "Blocked": Variant("b", d.blocked), "LegacyPairing": Variant("b", False)}
        if d.rssi_visible:
            p["RSSI"] = Variant("n", d.rssi)
        p["Connected"] = Variant("b", d.connected_prop)
        p["UUIDs"] = Variant("as", list(d.uuids))
        p["Adapter"] = Variant("o", d.sim.adapter_path)
        if d.adv_seen:
            p["AdvertisingFlags"] = Variant("ay", b"\x06")
        p["ServicesResolved"] = Variant("b", d.services_resolved)
        return p

    def set_prop(self, name, value):
        d = self.dev
        if name == "Alias":
            d.alias = value or None
        elif name == "Trusted":
            d.trusted = bool(value)
        elif name == "Blocked":
            d.blocked = bool(value)
        d.dev_changed(name)

    async def m_Connect(self, msg):
        await self.dev.connect(msg.sender)
        return []

    async def m_Disconnect(self, msg):
        await self.dev.disconnect(msg.sender)
        return []


# ---------------------------------------------------------------------------
# the simulator
# ---------------------------------------------------------------------------
class BluezSim:
    def __init__(self, bus, args):
        self.bus = bus
        self.args = args
        self.loop = asyncio.get_event_loop()
        self.adapter_path = "/org/bluez/" + args.adapter
        self.adapter = AdapterIface(self, args.adapter_address)
        self.objects = collections.OrderedDict()
        self.devices = collections.OrderedDict()      # mac -> SimDevice
        self.client_events = collections.deque(maxlen=200)
        self.objects["/org/bluez"] = Obj("/org/bluez", **{I_AGENTMGR: NullIface(),
                                                          I_PROFILEMGR: NullIface()})
        self.objects[self.adapter_path] = Obj(self.adapter_path, **{I_ADAPTER: self.adapter})

    def add_device(self, kind, mac, opts):
        dev = SimDevice(self, kind, mac, opts)
        self.devices[mac] = dev
        if dev.known:
            self.objects[dev.path] = dev.dev_obj
            if dev.gatt_exported:
                for obj in dev.gatt_objs:
                    self.objects[obj.path] = obj
        return dev

    def device_by_path(self, path):
        for d in self.devices.values():
            if d.path == path:
                return d
        return None

    def client_log(self, sender, what):
        self.client_events.append({"t": round(time.time(), 3), "client": sender, "call": what})

    # -- signals -------------------------------------------------------------------
    def emit(self, path, iface, member, sig, body):
        self.bus.send(Message.new_signal(path, iface, member, sig, body))

    def props_changed(self, path, iface_name, impl, names):
        obj = self.objects.get(path)
        if obj is None or obj.ifaces.get(iface_name) is not impl:
            return
        cur = impl.props()
        changed = {n: cur[n] for n in names if n in cur}
        invalid = [n for n in names if n not in cur]
        self.emit(path, I_PROPS, "PropertiesChanged", "sa{sv}as", [iface_name, changed, invalid])

    def add_object(self, obj):
        self.objects[obj.path] = obj
        self.emit("/", I_OM, "InterfacesAdded", "oa{sa{sv}}", [obj.path, obj.managed()])

    def remove_object(self, path):
        obj = self.objects.pop(path, None)
        if obj is not None:
            self.emit("/", I_OM, "InterfacesRemoved", "oas",
                      [path, [I_INTRO, I_PROPS] + list(obj.ifaces)])

    # -- message dispatch ---------------------------------------------------------
    def handle(self, msg):
        if msg.message_type == MessageType.SIGNAL:
            if msg.member == "NameOwnerChanged" and msg.sender == "org.freedesktop.DBus":
                name, old, new = msg.body
                if name.startswith(":") and old and not new:
                    self.client_gone(name)
            return None
        if msg.message_type != MessageType.METHOD_CALL:
            return None
        try:
            result = self.dispatch(msg)
        except BusError as e:
            return Message.new_error(msg, e.name, e.text)
        if asyncio.iscoroutine(result):
            asyncio.ensure_future(self._finish(msg, result))
            return True
        if isinstance(result, Message) and result.unix_fds:
            self._send_reply(msg, result)
            return True
        return result

    def _send_reply(self, msg, reply):
        """Sends a reply; the descriptors it passes are closed here once
        dbus-next has written it (or at once when no reply is wanted)."""
        fds = list(reply.unix_fds or [])

        def close_fds(_fut=None):
            for fd in fds:
                os.close(fd)
        if msg.flags & 0x1:         # NO_REPLY_EXPECTED
            close_fds()
            return
        fut = self.bus.send(reply)
        if fds:
            fut.add_done_callback(close_fds)

    async def _finish(self, msg, coro):
        try:
            reply = await coro
        except BusError as e:
            reply = Message.new_error(msg, e.name, e.text)
        except asyncio.CancelledError:
            reply = Message.new_error(msg, "org.bluez.Error.Failed", "Cancelled")
        except Exception as e:  # noqa: BLE001 - report it to the caller
            log.exception("handler failed")
            reply = Message.new_error(msg, "org.bluez.Error.Failed", str(e))
        self._send_reply(msg, reply)

    def dispatch(self, msg):
        path, iface, member = msg.path, msg.interface, msg.member
        if iface in (None, I_INTRO) and member == "Introspect" and msg.signature == "":
            return Message.new_method_return(msg, "s", [self.introspect(path)])
        if iface in (None, I_PEER) and member in ("Ping", "GetMachineId"):
            if member == "Ping":
                return Message.new_method_return(msg)
            try:
                mid = open("/etc/machine-id").read().strip()
            except OSError:
                mid = "0" * 32
            return Message.new_method_return(msg, "s", [mid])
        if path == "/":
            if iface in (None, I_OM) and member == "GetManagedObjects" and msg.signature == "":
                return Message.new_method_return(
                    msg, "a{oa{sa{sv}}}", [{p: o.managed() for p, o in self.objects.items()}])
            raise e_unknown("UnknownMethod", msg)
        obj = self.objects.get(path)
        if obj is None:
            raise e_unknown("UnknownObject", msg)
        if iface == I_PROPS:
            return self.properties(msg, obj)
        if iface is None:
            for n, impl in obj.ifaces.items():
                if member in SPECS[n]["methods"]:
                    iface = n
                    break
        impl = obj.ifaces.get(iface)
        spec = SPECS.get(iface, {}).get("methods", {}).get(member)
        if impl is None or spec is None or spec[0] != msg.signature:
            raise e_unknown("UnknownMethod", msg)
        out_sig = spec[1]
        r = getattr(impl, "m_" + member)(msg, *msg.body)
        if asyncio.iscoroutine(r):
            return self._wrap(msg, out_sig, r)
        return self._method_return(msg, out_sig, r)

    @staticmethod
    def _method_return(msg, out_sig, r):
        if isinstance(r, FdReply):
            return Message.new_method_return(msg, out_sig, r.body, unix_fds=r.fds)
        return Message.new_method_return(msg, out_sig, r or [])

    async def _wrap(self, msg, out_sig, coro):
        return self._method_return(msg, out_sig, await coro)

    def properties(self, msg, obj):
        m, sig = msg.member, msg.signature
        if m == "GetAll" and sig == "s":
            impl = obj.ifaces.get(msg.body[0])
            if impl is None:
                raise BusError("org.freedesktop.DBus.Error.InvalidArgs",
                               "No such interface '%s'" % msg.body[0])
            return Message.new_method_return(msg, "a{sv}", [impl.props()])
        if m == "Get" and sig == "ss":
            impl = obj.ifaces.get(msg.body[0])
            if impl is None:
                raise BusError("org.freedesktop.DBus.Error.InvalidArgs",
                               "No such interface '%s'" % msg.body[0])
            p = impl.props().get(msg.body[1])
            if p is None:
                raise BusError("org.freedesktop.DBus.Error.InvalidArgs",
                               "No such property '%s'" % msg.body[1])
            return Message.new_method_return(msg, "v", [p])
        if m == "Set" and sig == "ssv":
            iname, pname, value = msg.body
            impl = obj.ifaces.get(iname)
            if impl is None:
                raise BusError("org.freedesktop.DBus.Error.InvalidArgs",
                               "No such interface '%s'" % iname)
            if pname not in SPECS[iname]["props"]:
                raise BusError("org.freedesktop.DBus.Error.InvalidArgs",
                               "No such property '%s'" % pname)
            wsig = WRITABLE.get(iname, {}).get(pname)
            if wsig is None:
                raise BusError("org.freedesktop.DBus.Error.PropertyReadOnly",
                               "Property '%s' is not writable" % pname)
            if value.signature != wsig:
                raise BusError("org.freedesktop.DBus.Error.InvalidArgs",
                               "Invalid argument type: '%s'" % value.signature)
            r = impl.set_prop(pname, value.value)
            if asyncio.iscoroutine(r):
                return self._wrap(msg, "", r)
            return Message.new_method_return(msg)
        raise e_unknown("UnknownMethod", msg)

    def introspect(self, path):
        s = ('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
             '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n<node>\n')
        s += _STD_XML
        if path == "/":
            s += _OM_XML
        obj = self.objects.get(path)
        if obj is not None:
            for n in obj.ifaces:
                s += _iface_xml(n)
        prefix = "/" if path == "/" else path + "/"
        children = []
        for p in self.objects:
            if p.startswith(prefix) and p != path:
                c = p[len(prefix):].split("/")[0]
                if c not in children:
                    children.append(c)
        for c in children:
            s += '  <node name="%s"/>\n' % c
        return s + "</node>\n"

    # -- clients --------------------------------------------------------------------
    def client_gone(self, name):
        """A bus client went away: BlueZ drops its discovery and notify sessions."""
        a = self.adapter
        a.filters.pop(name, None)
        if a.discovery.pop(name, "none") != "none":
            self.client_log(name, "gone (discovery session dropped)")
            if not a.discovery:
                self.discovery_stopped()
        for d in self.devices.values():
            for ch in d.char_ifaces():
                if ch.sessions.pop(name, None) is not None:
                    self.client_log(name, "gone (notify session on %s dropped)" % ch.path)
                    ch.update_notifying()
                if ch.acquired is not None and ch.acquired[0] == name:
                    self.client_log(name, "gone (acquired notify on %s released)" % ch.path)
                    ch.release_acquired("client left the bus")

    # -- discovery -----------------------------------------------------------------
    def discovery_stopped(self):
        a = self.adapter
        if a.discovering:
            a.discovering = False
            a.changed("Discovering")
        for d in self.devices.values():
            if d.rssi_visible and d.known:
                d.rssi_visible = False
                d.dev_changed("RSSI")
            d.rssi_visible = False

    async def set_powered(self, on):
        a = self.adapter
        if on == a.powered:
            return
        await asyncio.sleep(0.05)
        if not on:
            a.discovery.clear()
            a.filters.clear()
            self.discovery_stopped()
            for d in self.devices.values():
                d.link_down("power off")
        a.powered = on
        a.changed("Powered", "PowerState")

    async def background(self):
        """Advertisements seen while discovering, RSSI updates and the
        removal of temporary devices BlueZ has not seen for a while."""
        while True:
            await asyncio.sleep(0.2)
            now = time.monotonic()
            a = self.adapter
            for d in list(self.devices.values()):
                seen = (a.discovering and a.powered and d.advertising and
                        d.state == "disconnected" and
                        now - a.discovery_start >= float(d.opts.get("adv_delay", 1.0)) and
                        a.matches(d))
                if seen:
                    d.last_seen = now
                    if not d.known:
                        d.known = True
                        d.temporary = True
                        d.rssi_visible = True
                        d.adv_seen = True
                        d.rssi_t = now
                        d.uuids = list(d.adv_uuids)
                        d.count("discovered")
                        d.event("discovered")
                        self.add_object(d.dev_obj)
                    elif not d.rssi_visible:
                        d.rssi_visible = True
                        d.rssi_t = now
                        if not d.adv_seen:
                            d.adv_seen = True
                            d.dev_changed("RSSI", "AdvertisingFlags")
                        else:
                            d.dev_changed("RSSI")
                        d.count("discovered")
                        d.event("seen by discovery")
                    elif now - d.rssi_t >= 1.0:
                        d.rssi_t = now
                        d.rssi += random.choice((-2, -1, 1, 2))
                        d.rssi = max(-100, min(-30, d.rssi))
                        d.dev_changed("RSSI")
                if (d.known and d.temporary and d.state == "disconnected" and
                        now - d.last_seen > self.args.temporary_timeout):
                    await d.remove("temporary device not seen for %.0f s"
                                   % self.args.temporary_timeout)


# ---------------------------------------------------------------------------
# control API
# ---------------------------------------------------------------------------
MAC_RE = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")


def norm_mac(s):
    s = s.strip().upper().replace("_", ":").replace("-", ":")
    if re.fullmatch(r"[0-9A-F]{12}", s):
        s = ":".join(s[k:k + 2] for k in range(0, 12, 2))
    if not MAC_RE.match(s):
        raise ValueError("bad MAC address %r" % s)
    return s


def make_app(sim):
    routes = web.RouteTableDef()

    def dev_or_404(req):
        try:
            mac = norm_mac(req.match_info["mac"])
        except ValueError as e:
            raise web.HTTPBadRequest(text=str(e))
        d = sim.devices.get(mac)
        if d is None:
            raise web.HTTPNotFound(text="no such device")
        return d

    @routes.get("/")
    async def root(req):
        return web.json_response({"adapter": adapter_json(), "devices": [
            d.state_json() for d in sim.devices.values()]})

    def adapter_json():
        a = sim.adapter
        return {"path": sim.adapter_path, "address": a.address, "powered": a.powered,
                "discovering": a.discovering,
                "discovery_clients": {k: v for k, v in a.discovery.items()},
                "client_events": list(sim.client_events)}

    @routes.get("/adapter")
    async def get_adapter(req):
        return web.json_response(adapter_json())

    @routes.post("/adapter")
    async def post_adapter(req):
        body = await req.json()
        if "powered" in body:
            await sim.set_powered(bool(body["powered"]))
        return web.json_response(adapter_json())

    @routes.get("/devices")
    async def devices(req):
        return web.json_response([d.state_json() for d in sim.devices.values()])

    @routes.get("/devices/{mac}")
    async def device(req):
        return web.json_response(dev_or_404(req).state_json())

    @routes.post("/devices/{mac}")
    async def set_device(req):
        d = dev_or_404(req)
        try:
            body = await req.json()
            if not isinstance(body, dict):
                raise ValueError("JSON object expected")
            d.apply(body)
        except (ValueError, TypeError) as e:
            raise web.HTTPBadRequest(text=str(e))
        if "known" in body:
            if body["known"]:
                d.add_known()
            elif d.known:
                await d.remove("control API")
        d.event("control: %s" % json.dumps(body, sort_keys=True))
        return web.json_response(d.state_json())

    @routes.post("/devices/{mac}/drop")
    async def drop(req):
        d = dev_or_404(req)
        if d.state == "disconnected":
            raise web.HTTPConflict(text="not connected")
        d.count("drops")
        d.link_down("drop (control API)")
        return web.json_response(d.state_json())

    @routes.get("/devices/{mac}/log")
    async def get_log(req):
        return web.json_response(dev_or_404(req).log_json())

    @routes.delete("/devices/{mac}/log")
    async def reset_log(req):
        d = dev_or_404(req)
        d.counters.clear()
        d.events.clear()
        d.writes.clear()
        return web.json_response(d.log_json())

    app = web.Application()
    app.add_routes(routes)
    return app


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------
FLAG_OPTS = {"unknown", "noadv", "cached", "nocache", "cache", "temporary", "ff00",
             "newer", "foreign", "2char", "at", "ack"}
VALUE_KEYS = {"v", "i", "soc", "c", "c_full", "n", "temps", "cells", "voltage",
              "current", "remaining", "full", "cycles", "temperatures"}


def parse_device(spec):
    """KIND:MAC[:option...] -> (kind, mac, opts)."""
    parts = spec.split(":")
    kind = parts[0].lower()
    if kind not in KINDS:
        raise argparse.ArgumentTypeError("kind must be one of " + "|".join(KINDS))
    rest = parts[1:]
    if len(rest) >= 6 and all(re.fullmatch(r"[0-9A-Fa-f]{2}", p) for p in rest[:6]):
        mac, rest = ":".join(rest[:6]), rest[6:]
    elif rest:
        mac, rest = rest[0], rest[1:]
    else:
        raise argparse.ArgumentTypeError("MAC address missing in %r" % spec)
    try:
        mac = norm_mac(mac)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    opts, settings = {}, {}
    for o in rest:
        if not o:
            continue
        if "=" in o:
            k, v = o.split("=", 1)
            if k in VALUE_KEYS:
                settings[k] = [float(x) for x in v.split(",") if x] if k in (
                    "cells", "temps", "temperatures") else float(v)
            elif k in ("fault", "fault_count", "drop_after", "advertising", "rssi", "mtu",
                       "sw", "hw", "interval", "pad", "adv_delay", "connect_delay",
                       "resolve_delay", "response_delay", "name"):
                if k in ("fault_count", "drop_after", "rssi", "mtu", "pad"):
                    v = int(v)
                elif k in ("interval", "adv_delay", "connect_delay", "resolve_delay",
                           "response_delay"):
                    v = float(v)
                elif k == "advertising":
                    v = v.lower() in ("1", "true", "yes", "on")
                if k in ("name", "rssi", "mtu"):
                    opts[k] = v
                else:
                    settings[k] = v
            else:
                raise argparse.ArgumentTypeError("unknown device option %r" % o)
        elif o in FLAG_OPTS:
            opts["ff00" if o == "newer" else o] = True
        else:
            raise argparse.ArgumentTypeError("unknown device option %r" % o)
    if "fault_count" in settings and "fault" not in settings:
        raise argparse.ArgumentTypeError("fault_count without fault")
    if "fault" in settings and settings["fault"] not in FAULTS:
        raise argparse.ArgumentTypeError("fault must be one of " + ", ".join(FAULTS))
    opts["_settings"] = settings     # SimDevice.apply(): fault before fault_count
    return kind, mac, opts


async def amain(args):
    # unix fds: AcquireNotify passes a socket
    bus = await MessageBus(bus_address=args.bus, negotiate_unix_fd=True).connect()
    sim = BluezSim(bus, args)
    for kind, mac, opts in args.device:
        sim.add_device(kind, mac, opts)
    bus.add_message_handler(sim.handle)
    await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                           interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                           body=["type='signal',sender='org.freedesktop.DBus',"
                                 "interface='org.freedesktop.DBus',member='NameOwnerChanged'"]))
    reply = await bus.request_name(BLUEZ, NameFlag.DO_NOT_QUEUE)
    if reply != RequestNameReply.PRIMARY_OWNER:
        print("cannot own %s: %s" % (BLUEZ, reply), file=sys.stderr)
        return 2
    bg = asyncio.ensure_future(sim.background())
    runner = web.AppRunner(make_app(sim), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.control_port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print("ready control=127.0.0.1:%d" % port, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_event_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    bus_gone = asyncio.ensure_future(bus.wait_for_disconnect())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait([bus_gone, stopper], return_when=asyncio.FIRST_COMPLETED)
    bg.cancel()
    await runner.cleanup()
    if not bus_gone.done():
        bus.disconnect()
        bus_gone.cancel()
    return 0


def make_parser():
    """The command line parser (also used by home.py to get the defaults)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--bus", default=os.environ.get("DBUS_SYSTEM_BUS_ADDRESS"),
                    help="D-Bus address (default $DBUS_SYSTEM_BUS_ADDRESS)")
    ap.add_argument("--control-port", type=int, default=0,
                    help="control API port on 127.0.0.1 (0 = a free one)")
    ap.add_argument("--device", action="append", type=parse_device, default=[],
                    metavar="KIND:MAC[:OPT...]",
                    help="a simulated BMS, KIND llt|daly|jk (repeatable)")
    ap.add_argument("--adapter", default="hci0")
    ap.add_argument("--adapter-address", default="00:1A:7D:DA:71:13")
    ap.add_argument("--mtu", type=int, default=23,
                    help="default ATT MTU: notifications carry MTU-3 bytes (default 23)")
    ap.add_argument("--fragment-interval", type=float, default=0.01,
                    help="seconds between two notifications (default 0.01)")
    ap.add_argument("--write-latency", type=float, default=0.02,
                    help="seconds until a write request / CCCD write is acknowledged")
    ap.add_argument("--le-connect-timeout", type=float, default=20.0,
                    help="seconds until Connect to a silent (not advertising) device fails")
    ap.add_argument("--temporary-timeout", type=float, default=30.0,
                    help="seconds after which BlueZ forgets a discovered, never connected "
                         "device it no longer sees (main.conf TemporaryTimeout)")
    ap.add_argument("--gatt-cache", choices=("always", "no"), default="always",
                    help="keep GATT objects over a disconnection (main.conf [GATT] Cache)")
    ap.add_argument("--connect-reply", choices=("resolved", "connected"), default="resolved",
                    help="answer Connect once services are resolved (BlueZ 5.66) "
                         "or as soon as Connected is true")
    ap.add_argument("-v", "--verbose", action="store_true")
    return ap


def main(argv=None):
    ap = make_parser()
    args = ap.parse_args(argv)
    if not args.bus:
        ap.error("--bus or DBUS_SYSTEM_BUS_ADDRESS needed")
    if not args.device:
        ap.error("at least one --device needed")
    macs = [m for _, m, _ in args.device]
    if len(set(macs)) != len(macs):
        ap.error("duplicate MAC address")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="bluez-sim: %(message)s", stream=sys.stderr)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
