#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Frame builders and reference decoders for the three BLE BMS protocols the
daemon reads (protocol facts: /work/shared/spec/drivers.md, "Battery drivers
over Bluetooth LE"):

  llt   LLT Power / JBD ("xiaoxiang"): dd a5 03/04 requests, dd .. 77 answers
  daly  Daly H-series: Modbus-style d2 03 00 00 00 3e d7 b9, 129-byte answer
  jk    JK BMS, JK02 protocol: 20-byte aa 55 90 eb commands, 300-byte
        55 aa eb 90 frames (device info 0x03, settings 0x01, cell info 0x02)

Values use the shape of the daemon's JSON battery topic (mqtt.md):
  {"v": 26.1, "i": -3.2, "soc": 55, "c": 61.2, "c_full": 100.0, "n": 12,
   "temps": [21.5, 22.0], "cells": [3.262, 3.261]}
v in V, i in A (+ = charging), soc in %, c / c_full in Ah, n cycles,
temps in degC, cells in V.  Long aliases are accepted too (voltage, current,
remaining, full, cycles, temperatures).

The decoders here are independent references for tests (the simulator's
smoke test and anyone checking the daemon's decoders); they raise FrameError
with a reason for anything malformed.

Command line:
  bms_frames.py selftest                      check against the captures
  bms_frames.py build KIND [JSON] [--mtu N] [--sw 11.28] [--corrupt]
        print the notifications (hex, one per line) a BMS sends for one read
  bms_frames.py decode KIND [--layout 24s|32s] < hexlines
        reassemble notifications and print each decoded frame as JSON
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modbus_sim import crc16  # noqa: E402

__all__ = [
    "FrameError", "uuid16", "normalize_values", "expected_values", "fragments",
    "LLT_REQ_BASIC", "LLT_REQ_CELLS", "LLT_REQ_HWVER", "llt_checksum",
    "llt_request", "llt_parse_request", "llt_frame", "llt_basic_frame",
    "llt_cells_frame", "llt_hwver_frame", "llt_decode", "LltReassembler",
    "DALY_REQ", "modbus_crc", "daly_frame", "daly_foreign_frame",
    "daly_decode", "DalyReassembler",
    "JK_REQ_DEVICE_INFO", "JK_REQ_CELL_INFO", "jk_command",
    "jk_parse_command", "jk_frame", "jk_device_info_frame",
    "jk_settings_frame", "jk_cell_info_frame", "jk_layout_for_version",
    "jk_decode", "jk_decode_device_info", "jk_decode_cell_info",
    "JkReassembler",
]


class FrameError(ValueError):
    """A malformed frame (the message says why)."""


def uuid16(x):
    """16-bit UUID -> full 128-bit Bluetooth base UUID string (lower case)."""
    return "0000%04x-0000-1000-8000-00805f9b34fb" % x


def fragments(data, size):
    """Cut data into notifications of at most size bytes."""
    size = max(1, int(size))
    return [bytes(data[k:k + size]) for k in range(0, len(data), size)]


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------
_ALIASES = {
    "voltage": "v", "current": "i", "remaining": "c", "capacity": "c",
    "full": "c_full", "full_capacity": "c_full", "cycles": "n",
    "temperatures": "temps", "temp": "temps",
}

# The values of the captures in /work/shared/captures (drivers.md).  Note:
# the LLT capture's remaining capacity bytes are 04 83 = 11.55 Ah (its
# annotation and drivers.md say 11.54; the checksum fc e9 confirms 04 83).
CAPTURE_VALUES = {
    "llt": {"v": 25.64, "i": 0.0, "soc": 19, "c": 11.55, "c_full": 62.0,
            "n": 28, "temps": [20.4, 20.5],
            "cells": [3.205, 3.206, 3.204, 3.203, 3.204, 3.207, 3.206, 3.210]},
    "daly": {"v": 27.1, "i": 0.0, "soc": 99.7, "c": 49.8, "c_full": 0.0,
             "n": 22, "temps": [21.0],
             "cells": [3.354, 3.349, 3.530, 3.422, 3.414, 3.347, 3.349, 3.350]},
    "jk": {"v": 26.761, "i": 6.166, "soc": 41, "c": 40.711, "c_full": 100.0,
           "n": 0, "temps": [21.7, 21.3],
           "cells": [3.346, 3.345, 3.345, 3.342, 3.347, 3.343, 3.346, 3.346]},
}


def normalize_values(values=None, base=None):
    """Merge values (aliases allowed) over base (default: 8 cells of 3.3 V)
    and return the canonical dict.  A missing "v" is the sum of the cells."""
    out = {"i": 0.0, "soc": 50, "c": 50.0, "c_full": 100.0, "n": 10,
           "temps": [21.5, 22.0], "cells": [3.3] * 8}
    if base:
        out.update(base)
    explicit_v = bool(base and "v" in base)
    for k, val in (values or {}).items():
        k = _ALIASES.get(k, k)
        if k not in ("v", "i", "soc", "c", "c_full", "n", "temps", "cells"):
            continue
        if k == "v":
            explicit_v = val is not None
        out[k] = val
    out["cells"] = [float(x) for x in out["cells"]]
    out["temps"] = [float(x) for x in out["temps"]]
    if not explicit_v or out.get("v") is None:
        out["v"] = round(sum(out["cells"]), 3)
    for k in ("v", "i", "soc", "c", "c_full"):
        out[k] = float(out[k])
    out["n"] = int(out["n"])
    return out


def _r(x):
    """Round half away from zero (like the C driver's lround)."""
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


def expected_values(kind, values, layout=None):
    """What a correct decoder returns for values after the quantisation of
    kind's frame (resolution, cell/temperature limits, absent fields)."""
    v = normalize_values(values)
    cells = [_r(c * 1000) / 1000.0 for c in v["cells"]]
    if kind == "llt":
        return {"v": _r(v["v"] * 100) / 100.0, "i": _r(v["i"] * 100) / 100.0,
                "soc": float(_r(v["soc"])), "c": _r(v["c"] * 100) / 100.0,
                "c_full": _r(v["c_full"] * 100) / 100.0, "n": v["n"],
                "temps": [(_r(t * 10 + 2731) - 2731) / 10.0 for t in v["temps"]],
                "cells": cells}
    if kind == "daly":
        return {"v": _r(v["v"] * 10) / 10.0, "i": _r(v["i"] * 10) / 10.0,
                "soc": _r(v["soc"] * 10) / 10.0, "c": _r(v["c"] * 10) / 10.0,
                "c_full": 0.0, "n": v["n"],
                "temps": [float(_r(t)) for t in v["temps"][:8]],
                "cells": cells[:32]}
    if kind == "jk":
        n = 24 if layout == "24s" else 32
        return {"v": _r(v["v"] * 1000) / 1000.0, "i": _r(v["i"] * 1000) / 1000.0,
                "soc": float(_r(v["soc"])), "c": _r(v["c"] * 1000) / 1000.0,
                "c_full": _r(v["c_full"] * 1000) / 1000.0, "n": v["n"],
                "temps": [_r(t * 10) / 10.0 for t in v["temps"][:2]],
                "cells": cells[:n]}
    raise ValueError("unknown kind %r" % kind)


# ---------------------------------------------------------------------------
# LLT / JBD
# ---------------------------------------------------------------------------
def llt_checksum(payload):
    """0x10000 - sum(payload), 16 bit (payload: status/cmd, length, data)."""
    return (0x10000 - sum(payload)) & 0xFFFF


def llt_request(cmd, data=b"", write=False):
    """Request dd a5|5a CMD LEN DATA CHK(2, BE) 77."""
    body = bytes([cmd, len(data)]) + bytes(data)
    return b"\xdd" + (b"\x5a" if write else b"\xa5") + body + \
        struct.pack(">H", llt_checksum(body)) + b"\x77"


LLT_REQ_BASIC = llt_request(0x03)     # dd a5 03 00 ff fd 77
LLT_REQ_CELLS = llt_request(0x04)     # dd a5 04 00 ff fc 77
LLT_REQ_HWVER = llt_request(0x05)     # dd a5 05 00 ff fb 77


def llt_parse_request(buf):
    """Find one request at the start of buf: (consumed, cmd, data, ok) where
    ok says the checksum and end byte were right; None when incomplete.
    Garbage before a dd byte is consumed with cmd None."""
    start = buf.find(b"\xdd")
    if start < 0:
        return (len(buf), None, b"", False) if buf else None
    if start > 0:
        return (start, None, b"", False)
    if len(buf) < 4:
        return None
    n = buf[3]
    total = 4 + n + 3
    if len(buf) < total:
        return None
    frame = bytes(buf[:total])
    ok = (frame[1] in (0xA5, 0x5A) and frame[-1] == 0x77 and
          struct.unpack(">H", frame[-3:-1])[0] == llt_checksum(frame[2:-3]))
    return (total, frame[2], frame[4:4 + n], ok)


def llt_frame(cmd, data, status=0, corrupt=False):
    """Answer dd CMD STATUS LEN DATA CHK(2, BE) 77."""
    body = bytes([status, len(data)]) + bytes(data)
    chk = llt_checksum(body)
    if corrupt:
        chk ^= 0x5A5A
    return bytes([0xDD, cmd]) + body + struct.pack(">H", chk) + b"\x77"


def _clamp(x, lo, hi):
    return lo if x < lo else hi if x > hi else x


def llt_basic_frame(values, corrupt=False, prod_date=0x2C94, version=0x16,
                    mos=0x03, balance=0, protection=0):
    v = normalize_values(values)
    temps = v["temps"]
    data = struct.pack(">HhHHHHHHHBBBBB",
                       _clamp(_r(v["v"] * 100), 0, 0xFFFF),
                       _clamp(_r(v["i"] * 100), -0x8000, 0x7FFF),
                       _clamp(_r(v["c"] * 100), 0, 0xFFFF),
                       _clamp(_r(v["c_full"] * 100), 0, 0xFFFF),
                       _clamp(v["n"], 0, 0xFFFF), prod_date,
                       balance & 0xFFFF, (balance >> 16) & 0xFFFF, protection,
                       version, _clamp(_r(v["soc"]), 0, 255), mos,
                       len(v["cells"]), len(temps))
    for t in temps:
        data += struct.pack(">H", _clamp(_r(t * 10 + 2731), 0, 0xFFFF))
    return llt_frame(0x03, data, corrupt=corrupt)


def llt_cells_frame(values, corrupt=False):
    v = normalize_values(values)
    data = b"".join(struct.pack(">H", _clamp(_r(c * 1000), 0, 0xFFFF))
                    for c in v["cells"])
    return llt_frame(0x04, data, corrupt=corrupt)


def llt_hwver_frame(name="JBD-SP04S034-L8S-100A", corrupt=False):
    return llt_frame(0x05, name.encode()[:255], corrupt=corrupt)


def llt_decode(frame):
    """Decode one complete LLT answer.  Returns {"cmd": 3|4|5, ...fields}."""
    frame = bytes(frame)
    if len(frame) < 7 or frame[0] != 0xDD:
        raise FrameError("no dd start")
    n = frame[3]
    if len(frame) != n + 7:
        raise FrameError("length %d, header says %d" % (len(frame), n + 7))
    if frame[-1] != 0x77:
        raise FrameError("no 77 end")
    chk = struct.unpack(">H", frame[-3:-1])[0]
    if chk != llt_checksum(frame[2:-3]):
        raise FrameError("checksum %04x, expected %04x" %
                         (chk, llt_checksum(frame[2:-3])))
    if frame[2] != 0:
        raise FrameError("status %02x" % frame[2])
    cmd, d = frame[1], frame[4:-3]
    if cmd == 0x03:
        if len(d) < 23:
            raise FrameError("basic info too short")
        volt, cur, rem, full, cyc = struct.unpack(">HhHHH", d[0:10])
        ntc = d[22]
        if len(d) < 23 + 2 * ntc:
            raise FrameError("temperatures missing")
        temps = [(struct.unpack(">H", d[23 + 2 * k:25 + 2 * k])[0] - 2731) / 10.0
                 for k in range(ntc)]
        return {"cmd": 3, "v": volt / 100.0, "i": cur / 100.0, "c": rem / 100.0,
                "c_full": full / 100.0, "n": cyc, "soc": float(d[19]),
                "cell_count": d[21], "temps": temps}
    if cmd == 0x04:
        if len(d) % 2:
            raise FrameError("odd cell data length")
        return {"cmd": 4, "cells": [struct.unpack(">H", d[k:k + 2])[0] / 1000.0
                                    for k in range(0, len(d), 2)]}
    return {"cmd": cmd, "data": d.hex()}


class LltReassembler:
    """Feed notifications, get complete dd..77 frames (checked later)."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            k = self.buf.find(b"\xdd")
            if k < 0:
                self.buf.clear()
                return out
            del self.buf[:k]
            if len(self.buf) < 4:
                return out
            total = self.buf[3] + 7
            if len(self.buf) < total:
                return out
            out.append(bytes(self.buf[:total]))
            del self.buf[:total]


def llt_read(values):
    """The two answers of one read (basic info, cells)."""
    return [llt_basic_frame(values), llt_cells_frame(values)]


# ---------------------------------------------------------------------------
# Daly
# ---------------------------------------------------------------------------
# Daly's frames carry the Modbus CRC: the one of modbus_sim.py.
modbus_crc = crc16


def _modbus(body, corrupt=False):
    crc = modbus_crc(body)
    if corrupt:
        crc ^= 0xA5A5
    return bytes(body) + struct.pack("<H", crc)


DALY_REQ = _modbus(bytes.fromhex("d2030000003e"))   # d2 03 00 00 00 3e d7 b9


def daly_frame(values, corrupt=False):
    """The 129-byte answer d2 03 7c + 124 data bytes + CRC (low byte first)."""
    v = normalize_values(values)
    f = bytearray(127)
    f[0:3] = b"\xd2\x03\x7c"
    cells = [_clamp(_r(c * 1000), 0, 0xFFFF) for c in v["cells"][:32]]
    temps = [_clamp(_r(t) + 40, 0, 0xFFFF) for t in v["temps"][:8]]
    for k, mv in enumerate(cells):
        struct.pack_into(">H", f, 3 + 2 * k, mv)
    for k, t in enumerate(temps):
        struct.pack_into(">H", f, 67 + 2 * k, t)
    volt = _clamp(_r(v["v"] * 10), 0, 0xFFFF)
    cur = _clamp(_r(v["i"] * 10) + 30000, 0, 0xFFFF)
    state = 1 if cur > 30000 else 2 if cur < 30000 else 0
    struct.pack_into(">HHHHHHHHHHHHHHHHHH", f, 79,
                     volt, 3, volt, cur, _clamp(_r(v["soc"] * 10), 0, 0xFFFF),
                     max(cells or [0]), min(cells or [0]),
                     max(temps or [40]), min(temps or [40]), state,
                     _clamp(_r(v["c"] * 10), 0, 0xFFFF), len(cells), len(temps),
                     _clamp(v["n"], 0, 0xFFFF), 0, 1, 1,
                     _r(sum(cells) / len(cells)) if cells else 0)
    return _modbus(f, corrupt)


def daly_foreign_frame(corrupt=False):
    """A frame that is not the answer (d2 03 06 "123456" + CRC)."""
    return _modbus(b"\xd2\x03\x06123456", corrupt)


def daly_decode(frame):
    frame = bytes(frame)
    if len(frame) < 5 or frame[0] != 0xD2 or frame[1] != 0x03:
        raise FrameError("no d2 03 start")
    if frame[2] != 0x7C:
        raise FrameError("not the answer (length byte %02x)" % frame[2])
    if len(frame) != 129:
        raise FrameError("length %d, expected 129" % len(frame))
    crc = struct.unpack("<H", frame[127:129])[0]
    if crc != modbus_crc(frame[:127]):
        raise FrameError("crc %04x, expected %04x" % (crc, modbus_crc(frame[:127])))

    def u16(o):
        return struct.unpack(">H", frame[o:o + 2])[0]
    ncell, ntemp = u16(101), u16(103)
    if ncell == 0 or ncell > 32 or ntemp > 8:
        raise FrameError("implausible counts %d cells %d temps" % (ncell, ntemp))
    soc = u16(87) / 10.0
    if soc > 100 or u16(83) == 0:
        raise FrameError("implausible soc %.1f / voltage %d" % (soc, u16(83)))
    return {"v": u16(83) / 10.0, "i": (u16(85) - 30000) / 10.0, "soc": soc,
            "c": u16(99) / 10.0, "c_full": 0.0, "n": u16(105),
            "temps": [float(u16(67 + 2 * k) - 40) for k in range(ntemp)],
            "cells": [u16(3 + 2 * k) / 1000.0 for k in range(ncell)],
            "state": u16(97)}


class DalyReassembler:
    """Feed notifications, get complete d2 03 LEN ... CRC frames (any LEN)."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            k = self.buf.find(b"\xd2\x03")
            if k < 0:
                del self.buf[:max(0, len(self.buf) - 1)]
                return out
            del self.buf[:k]
            if len(self.buf) < 3:
                return out
            total = self.buf[2] + 5
            if len(self.buf) < total:
                return out
            out.append(bytes(self.buf[:total]))
            del self.buf[:total]


# ---------------------------------------------------------------------------
# JK (JK02)
# ---------------------------------------------------------------------------
JK_HDR = b"\x55\xaa\xeb\x90"


def jk_command(cmd, value=0, length=0):
    """aa 55 90 eb CMD LEN VALUE(4, LE) 9 zero bytes CHECKSUM(sum 0..18)."""
    b = bytearray(b"\xaa\x55\x90\xeb") + bytes([cmd, length]) + \
        struct.pack("<I", value) + bytes(9)
    return bytes(b + bytes([sum(b) & 0xFF]))


JK_REQ_DEVICE_INFO = jk_command(0x97)   # ... 00 11
JK_REQ_CELL_INFO = jk_command(0x96)     # ... 00 10


def jk_parse_command(buf):
    """(cmd, length, value) of a 20-byte command, or None if malformed."""
    buf = bytes(buf)
    if len(buf) != 20 or buf[:4] != b"\xaa\x55\x90\xeb":
        return None
    if sum(buf[:19]) & 0xFF != buf[19]:
        return None
    return buf[4], buf[5], struct.unpack("<I", buf[6:10])[0]


def jk_frame(ftype, counter, fields, pad=0, corrupt=False):
    """A 300-byte frame: header, type, counter, fields {offset: bytes},
    checksum at 299; pad extra zero bytes after it."""
    f = bytearray(300)
    f[0:4] = JK_HDR
    f[4] = ftype
    f[5] = counter & 0xFF
    for off, b in fields.items():
        f[off:off + len(b)] = b
    f[299] = sum(f[:299]) & 0xFF
    if corrupt:
        f[299] ^= 0x55
    return bytes(f) + bytes(pad)


def jk_layout_for_version(sw):
    """Software version major below 11 -> 24s, else 32s."""
    try:
        major = int(str(sw).split(".")[0])
    except ValueError:
        return "32s"
    return "24s" if major < 11 else "32s"


def _cstr(s, n):
    b = s.encode()[:n]
    return b + bytes(n - len(b))


def jk_device_info_frame(counter=0, sw="11.28", hw=None, model="JK_BD4A17S4P",
                         name=None, uptime=0x0003C7F8, power_on=3, pad=0,
                         corrupt=False):
    if hw is None:
        hw = "11.XW" if jk_layout_for_version(sw) == "32s" else "10.XW"
    fields = {6: _cstr(model, 16), 22: _cstr(hw, 8), 30: _cstr(sw, 8),
              38: struct.pack("<II", uptime, power_on),
              46: _cstr(name or model, 16), 62: _cstr("1234", 16),
              78: _cstr("240424", 8), 86: _cstr("3081653368", 11),
              97: _cstr("0000", 5), 102: _cstr("Input Userdata", 16),
              118: _cstr("000000", 16)}
    return jk_frame(0x03, counter, fields, pad, corrupt)


def jk_settings_frame(values, counter=0, layout="32s", pad=0, corrupt=False):
    v = normalize_values(values)
    le = struct.pack
    fields = {6: le("<I", 2600), 10: le("<I", 3000), 14: le("<I", 3100),
              18: le("<I", 3650), 22: le("<I", 3550), 26: le("<I", 10),
              30: le("<I", 3500), 34: le("<I", 3150),
              114: le("<I", len(v["cells"])),
              130: le("<I", _clamp(_r(v["c_full"] * 1000), 0, 0xFFFFFFFF))}
    return jk_frame(0x01, counter, fields, pad, corrupt)


def _jk_offsets(layout):
    if layout == "24s":
        return {"ncell": 24, "enabled": 54, "avg": 58, "res": 64, "v": 118,
                "power": 122, "i": 126, "t1": 130, "t2": 132, "soc": 141,
                "c": 142, "c_full": 146, "n": 150, "mos": 112}
    return {"ncell": 32, "enabled": 70, "avg": 74, "res": 80, "v": 150,
            "power": 154, "i": 158, "t1": 162, "t2": 164, "soc": 173,
            "c": 174, "c_full": 178, "n": 182, "mos": 144}


def jk_cell_info_frame(values, counter=0, layout="32s", pad=0, corrupt=False):
    v = normalize_values(values)
    o = _jk_offsets(layout)
    cells = [_clamp(_r(c * 1000), 0, 0xFFFF) for c in v["cells"][:o["ncell"]]]
    fields = {}
    for k, mv in enumerate(cells):
        fields[6 + 2 * k] = struct.pack("<H", mv)
        fields[o["res"] + 2 * k] = struct.pack("<H", 0x0113)
    if cells:
        fields[o["enabled"]] = struct.pack("<I", (1 << len(cells)) - 1)
        fields[o["avg"]] = struct.pack("<HHBB", _r(sum(cells) / len(cells)),
                                       max(cells) - min(cells),
                                       cells.index(max(cells)),
                                       cells.index(min(cells)))
    temps = [_clamp(_r(t * 10), -2000, 0x7FFF) for t in v["temps"][:2]]
    temps += [-2000] * (2 - len(temps))
    mv = _clamp(_r(v["v"] * 1000), 0, 0xFFFFFFFF)
    ma = _clamp(_r(v["i"] * 1000), -0x80000000, 0x7FFFFFFF)
    fields[o["mos"]] = struct.pack("<h", 250)
    fields[o["v"]] = struct.pack("<I", mv)
    fields[o["power"]] = struct.pack("<I", min(abs(mv * ma) // 1000, 0xFFFFFFFF))
    fields[o["i"]] = struct.pack("<ihh", ma, temps[0], temps[1])
    fields[o["soc"]] = struct.pack("<BIII", _clamp(_r(v["soc"]), 0, 255),
                                   _clamp(_r(v["c"] * 1000), 0, 0xFFFFFFFF),
                                   _clamp(_r(v["c_full"] * 1000), 0, 0xFFFFFFFF),
                                   _clamp(v["n"], 0, 0xFFFFFFFF))
    fields[o["n"] + 8] = b"\x64"        # state of health 100 %
    return jk_frame(0x02, counter, fields, pad, corrupt)


def _jk_check(frame):
    frame = bytes(frame)
    if len(frame) < 300 or frame[:4] != JK_HDR:
        raise FrameError("not a 300-byte 55 aa eb 90 frame")
    if sum(frame[:299]) & 0xFF != frame[299]:
        raise FrameError("checksum %02x, expected %02x" %
                         (frame[299], sum(frame[:299]) & 0xFF))
    return frame


def jk_decode_device_info(frame):
    f = _jk_check(frame)
    if f[4] != 0x03:
        raise FrameError("not a device info frame (type %02x)" % f[4])

    def s(a, n):
        return f[a:a + n].split(b"\0")[0].decode("ascii", "replace")
    return {"type": 3, "model": s(6, 16), "hw": s(22, 8), "sw": s(30, 8),
            "name": s(46, 16)}


def jk_decode_cell_info(frame, layout="32s"):
    f = _jk_check(frame)
    if f[4] != 0x02:
        raise FrameError("not a cell info frame (type %02x)" % f[4])
    o = _jk_offsets(layout)
    cells = []
    for k in range(o["ncell"]):
        mv = struct.unpack("<H", f[6 + 2 * k:8 + 2 * k])[0]
        if mv:
            cells.append(mv / 1000.0)
    temps = []
    for key in ("t1", "t2"):
        t = struct.unpack("<h", f[o[key]:o[key] + 2])[0]
        if t != -2000:
            temps.append(t / 10.0)
    return {"type": 2, "counter": f[5],
            "v": struct.unpack("<I", f[o["v"]:o["v"] + 4])[0] / 1000.0,
            "i": struct.unpack("<i", f[o["i"]:o["i"] + 4])[0] / 1000.0,
            "soc": float(f[o["soc"]]),
            "c": struct.unpack("<I", f[o["c"]:o["c"] + 4])[0] / 1000.0,
            "c_full": struct.unpack("<I", f[o["c_full"]:o["c_full"] + 4])[0] / 1000.0,
            "n": struct.unpack("<I", f[o["n"]:o["n"] + 4])[0],
            "temps": temps, "cells": cells}


def jk_decode(frame, layout="32s"):
    f = _jk_check(frame)
    if f[4] == 0x02:
        return jk_decode_cell_info(f, layout)
    if f[4] == 0x03:
        return jk_decode_device_info(f)
    return {"type": f[4], "counter": f[5]}


class JkReassembler:
    """Feed notifications, get 300-byte frames (resynchronising on the
    header; padding after a frame and AT\\r\\n noise are skipped)."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            k = self.buf.find(JK_HDR)
            if k < 0:
                del self.buf[:max(0, len(self.buf) - 3)]
                return out
            del self.buf[:k]
            if len(self.buf) < 300:
                return out
            out.append(bytes(self.buf[:300]))
            del self.buf[:300]


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------
_CAPTURE_DIR = "/work/shared/captures"


def _hexlines(path):
    out = []
    with open(path) as fh:
        for line in fh:
            line = line.strip().rstrip("'")
            tok = "".join(line.split())
            if tok and all(c in "0123456789abcdefABCDEF" for c in tok) and len(tok) % 2 == 0:
                out.append(bytes.fromhex(tok))
    return out


def _close(a, b, eps=1e-6):
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y, eps) for x, y in zip(a, b))
    return abs(a - b) <= eps


def _same(decoded, expected):
    bad = [k for k in ("v", "i", "soc", "c", "c_full", "n", "temps", "cells")
           if k in decoded and not _close(decoded[k], expected[k])]
    return bad


def selftest(verbose=True):
    """Check the builders and decoders against the facts of drivers.md and
    the captures; returns a list of failures."""
    fails = []

    def check(cond, what):
        if verbose:
            print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            fails.append(what)

    check(LLT_REQ_BASIC.hex() == "dda50300fffd77", "llt basic request bytes")
    check(LLT_REQ_CELLS.hex() == "dda50400fffc77", "llt cells request bytes")
    check(DALY_REQ.hex() == "d2030000003ed7b9", "daly request bytes d2 03 00 00 00 3e d7 b9")
    check(JK_REQ_DEVICE_INFO.hex().endswith("0011") and len(JK_REQ_DEVICE_INFO) == 20,
          "jk 0x97 request ends 00 11")
    check(JK_REQ_CELL_INFO.hex().endswith("0010"), "jk 0x96 request ends 00 10")

    cap = CAPTURE_VALUES
    b = llt_basic_frame(cap["llt"])
    check(b.hex().endswith("fce977"), "llt basic frame of the capture values ends fc e9 77")
    check(b.hex() == ("dd03001b0a04000004831838001c2c9400000000000016130308020b770b78fce977"),
          "llt basic frame equals the capture byte for byte")
    c = llt_cells_frame(cap["llt"])
    check(c.hex() == "dd0400100c850c860c840c830c840c870c860c8afb6377",
          "llt cells frame equals the capture (ends fb 63 77)")
    d = dict(llt_decode(b), **llt_decode(c))
    check(not _same(d, expected_values("llt", cap["llt"])), "llt decode of the capture values")
    check(_raises(llt_decode, llt_basic_frame(cap["llt"], corrupt=True)), "llt corrupt frame rejected")

    try:
        frames = [f for f in _hexlines(_CAPTURE_DIR + "/daly_decode.txt") if f[:3] == b"\xd2\x03\x7c"]
        check(len(frames) > 0 and all(modbus_crc(f[:127]) == struct.unpack("<H", f[127:])[0]
                                      for f in frames), "daly capture frames: CRC ok")
        dd = daly_decode(frames[0])
        check(not _same(dd, expected_values("daly", cap["daly"])),
              "daly capture frame decodes to 27.1 V 0 A 99.7 % 49.8 Ah 22 cycles")
        other = [f for f in _hexlines(_CAPTURE_DIR + "/daly_decode.txt") if f[:3] == b"\xd2\x03\x06"]
        check(other and other[0] == daly_foreign_frame(), "daly foreign d2 03 06 frame == capture")
    except OSError as e:
        check(False, "daly capture readable (%s)" % e)
    df = daly_frame(cap["daly"])
    check(len(df) == 129 and not _same(daly_decode(df), expected_values("daly", cap["daly"])),
          "daly built frame decodes to its values")
    check(_raises(daly_decode, daly_frame(cap["daly"], corrupt=True)), "daly corrupt frame rejected")

    try:
        jk = [f for f in _hexlines(_CAPTURE_DIR + "/jk_decode.txt") if f[:4] == JK_HDR and len(f) >= 300]
        check(len(jk) > 0 and sum(jk[-1][:299]) & 0xFF == jk[-1][299], "jk capture frame checksum ok")
        jd = jk_decode_cell_info(jk[-1], "32s")
        check(not _same(jd, expected_values("jk", cap["jk"], "32s")),
              "jk capture frame decodes to 26.761 V 6.166 A 41 % 40.711/100 Ah")
    except OSError as e:
        check(False, "jk capture readable (%s)" % e)
    for lay, sw in (("32s", "11.28"), ("24s", "10.09")):
        check(jk_layout_for_version(sw) == lay, "jk layout of %s is %s" % (sw, lay))
        fr = jk_cell_info_frame(cap["jk"], 7, lay)
        check(not _same(jk_decode_cell_info(fr, lay), expected_values("jk", cap["jk"], lay)),
              "jk %s cell info frame round trip" % lay)
        info = jk_decode_device_info(jk_device_info_frame(1, sw))
        check(info["sw"] == sw, "jk device info carries software %s" % sw)
    check(_raises(jk_decode, jk_cell_info_frame(cap["jk"], corrupt=True)), "jk corrupt frame rejected")
    r = JkReassembler()
    stream = b"AT\r\n" + jk_settings_frame(cap["jk"], pad=20) + b"AT\r\n" + jk_cell_info_frame(cap["jk"])
    got = []
    for frag in fragments(stream, 20):
        got += r.feed(frag)
    check([g[4] for g in got] == [1, 2], "jk reassembler resynchronises over padding and AT")
    return fails


def _raises(fn, *a):
    try:
        fn(*a)
    except FrameError:
        return True
    return False


def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("selftest")
    b = sub.add_parser("build")
    b.add_argument("kind", choices=("llt", "daly", "jk"))
    b.add_argument("values", nargs="?", default=None, help="JSON values (default: the capture's)")
    b.add_argument("--mtu", type=int, default=23)
    b.add_argument("--sw", default="11.28")
    b.add_argument("--corrupt", action="store_true")
    d = sub.add_parser("decode")
    d.add_argument("kind", choices=("llt", "daly", "jk"))
    d.add_argument("--layout", choices=("24s", "32s"), default="32s")
    a = ap.parse_args(argv)
    if a.cmd == "selftest":
        return 1 if selftest() else 0
    if a.cmd == "build":
        vals = json.loads(a.values) if a.values else CAPTURE_VALUES[a.kind]
        if a.kind == "llt":
            frames = [llt_basic_frame(vals, a.corrupt), llt_cells_frame(vals, a.corrupt)]
        elif a.kind == "daly":
            frames = [daly_frame(vals, a.corrupt)]
        else:
            lay = jk_layout_for_version(a.sw)
            frames = [jk_device_info_frame(0, a.sw, corrupt=a.corrupt),
                      jk_settings_frame(vals, 1, lay, corrupt=a.corrupt),
                      jk_cell_info_frame(vals, 2, lay, corrupt=a.corrupt)]
        for fr in frames:
            for frag in fragments(fr, a.mtu - 3):
                print(frag.hex())
        return 0
    reasm = {"llt": LltReassembler, "daly": DalyReassembler, "jk": JkReassembler}[a.kind]()
    for line in sys.stdin:
        tok = "".join(line.split())
        if not tok:
            continue
        for fr in reasm.feed(bytes.fromhex(tok)):
            try:
                if a.kind == "llt":
                    out = llt_decode(fr)
                elif a.kind == "daly":
                    out = daly_decode(fr)
                else:
                    out = jk_decode(fr, a.layout)
            except FrameError as e:
                out = {"error": str(e), "frame": fr.hex()}
            print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
