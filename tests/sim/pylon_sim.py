#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated Pylontech US battery packs on one RS485 bus (the ASCII
Pylontech protocol), over a pseudo terminal, for the pylonLv driver (Python
standard library only).

Every pack (--pack ADDRESS:SERIAL, repeatable) answers the serial number
(0x93), system parameters (0x47), analog values (0x42), alarm info (0x44)
and charge/discharge management info (0x92) of its address; requests for
other addresses are ignored, as on a real bus. A request with a bad checksum
gets return code 02. The analog values come from a JSON object in the shape
of plant.Pack.values() (v, i, c, c_full, n, temps, cells); the pack adds its
BMS board's temperature in front of the cell temperatures, as a real pack
does.

Control: HTTP on 127.0.0.1:--control-port (0 = a free one, printed):
  GET  /state            packs, counters, pty name
  POST /control  JSON    {"pack": ADDRESS, ...} with any of: values (merged),
                         serial, silent (no answers), corrupt_next (count:
                         answers sent with a wrong CHKSUM), corrupt_values
                         (values used only in the corrupted answers), rtn
                         (every answer carries this return code until 0),
                         alarm_status1 (the 0x44 status 1 byte);
                         without "pack": vanish (true/false)
  GET  /log              every request: t (monotonic), frame, address, cid2, answered
  POST /log/clear
Prints "pty /dev/pts/N" (again after every replug) and "control http://...".
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serial_sim import PtySim, parser, serve  # noqa: E402

CID1 = 0x46
DEFAULT_VALUES = {"v": 51.0, "i": 0.0, "c": 37.0, "c_full": 50.0, "n": 12, "temps": [21.0, 21.2, 21.1, 21.3],
                  "cells": [3.4] * 15}
# 0x47: cell 3.650/3.000/2.900 V, charge 50/0 °C, 102 A, module 54.75/47.0/45.0 V, discharge 60/-10 °C, -150 A.
PARAMS = [3650, 3000, 2900, 3231, 2731, 1020, 54750, 47000, 45000, 3331, 2631, -1500]
# 0x92: charge 53.25 V, discharge 47.0 V, +37.0 A, -37.0 A, charge and discharge enabled.
MANAGEMENT = [53250, 47000, 370, -370]


def checksum(text):
    return (0x10000 - sum(text.encode()) % 0x10000) % 0x10000


def length_field(lenid):
    lchk = (16 - (lenid & 0xF) - (lenid >> 4 & 0xF) - (lenid >> 8 & 0xF)) % 16
    return "%X%03X" % (lchk, lenid)


def frame(adr, rtn, info, corrupt=False):
    info_hex = info.hex().upper()
    body = "20%02X%02X%02X%s%s" % (adr, CID1, rtn, length_field(len(info_hex)), info_hex)
    chk = checksum(body) ^ (0x0101 if corrupt else 0)
    return ("~%s%04X\r" % (body, chk)).encode()


def u16(v):
    return (int(round(v)) & 0xFFFF).to_bytes(2, "big")


def kelvin10(c):
    return u16(c * 10 + 2731)


class Pack:
    def __init__(self, address, serial, values=None):
        self.address = address
        self.serial = serial
        self.values = dict(DEFAULT_VALUES, **(values or {}))
        self.silent = False
        self.corrupt_left = 0
        self.corrupt_values = {}
        self.rtn = 0
        self.alarm_status1 = 0
        self.answers = self.corrupt_sent = self.requests = 0

    def set_values(self, values):
        self.values.update(values)

    def snapshot(self):
        return {"address": self.address, "serial": self.serial, "values": self.values, "silent": self.silent,
                "corrupt_left": self.corrupt_left, "rtn": self.rtn, "answers": self.answers,
                "corrupt_sent": self.corrupt_sent, "requests": self.requests}

    def control(self, req):
        if "values" in req:
            self.values.update(req["values"])
        for k in ("serial",):
            if k in req:
                self.serial = str(req[k])
        for k in ("silent",):
            if k in req:
                self.silent = bool(req[k])
        if "corrupt_next" in req:
            self.corrupt_left = int(req["corrupt_next"])
        if "corrupt_values" in req:
            self.corrupt_values = dict(req["corrupt_values"] or {})
        if "rtn" in req:
            self.rtn = int(req["rtn"] or 0)
        if "alarm_status1" in req:
            self.alarm_status1 = int(req["alarm_status1"]) & 0xFF

    def analog(self, v):
        cells, temps = v["cells"], v["temps"]
        bms = (temps[0] if temps else 21.0) + 2.0
        out = bytes([0x11, self.address, len(cells)]) + b"".join(u16(c * 1000) for c in cells)
        out += bytes([len(temps) + 1]) + kelvin10(bms) + b"".join(kelvin10(t) for t in temps)
        remaining, full = int(round(v["c"] * 1000)), int(round(v["c_full"] * 1000))
        out += u16(v["i"] * 10) + u16(v["v"] * 1000)
        if full > 0xFFFF or remaining > 0xFFFF:
            out += b"\xff\xff" + bytes([4]) + b"\xff\xff" + u16(v["n"])
            out += remaining.to_bytes(3, "big") + full.to_bytes(3, "big")
        else:
            out += u16(remaining) + bytes([2]) + u16(full) + u16(v["n"])
        return out

    def info(self, cid2, values):
        if cid2 == 0x93:
            return bytes([self.address]) + self.serial.encode().ljust(16, b" ")
        if cid2 == 0x47:
            return bytes([0x11]) + b"".join(u16(p) for p in PARAMS)
        if cid2 == 0x42:
            return self.analog(values)
        if cid2 == 0x44:
            n, k = len(values["cells"]), len(values["temps"]) + 1
            return (bytes([0x11, self.address, n]) + bytes(n) + bytes([k]) + bytes(k) + bytes(3)
                    + bytes([self.alarm_status1, 0x03, 0, 0, 0]))
        if cid2 == 0x92:
            return bytes([self.address]) + b"".join(u16(m) for m in MANAGEMENT) + bytes([0xC0])
        return None

    def answer(self, cid2, checksum_ok):
        """The answer frame, or None for no answer."""
        self.requests += 1
        if self.silent:
            return None
        corrupt = self.corrupt_left > 0
        values = dict(self.values, **(self.corrupt_values if corrupt else {}))
        info = self.info(cid2, values)
        if not checksum_ok:
            rtn, info = 2, b""
        elif self.rtn:
            rtn, info = self.rtn, b""
        elif info is None:
            rtn, info = 4, b""  # invalid CID2
        else:
            rtn = 0
        if corrupt:
            self.corrupt_left -= 1
            self.corrupt_sent += 1
        self.answers += 1
        return frame(self.address, rtn, info, corrupt)


class Sim(PtySim):
    def __init__(self, args, packs):
        super().__init__(args)
        self.packs = {p.address: p for p in packs}

    def snapshot(self):
        state = super().snapshot()
        state.update({"packs": {str(a): p.snapshot() for a, p in self.packs.items()}, "requests": len(self.log)})
        return state

    def apply_control(self, req):
        if "pack" in req:
            p = self.packs.get(int(req["pack"]))
            if p is None:
                raise ValueError("no pack at address %s" % req["pack"])
            p.control(req)

    def on_request(self, text):
        entry = {"t": time.monotonic(), "frame": text, "address": None, "cid2": None, "answered": False}
        self.log.append(entry)
        try:
            adr, cid1, cid2 = int(text[3:5], 16), int(text[5:7], 16), int(text[7:9], 16)
            chk = int(text[-4:], 16)
        except ValueError:
            return
        entry.update({"address": adr, "cid2": cid2})
        p = self.packs.get(adr)
        if p is None or cid1 != CID1:
            return
        answer = p.answer(cid2, chk == checksum(text[1:-4]))
        if answer is None:
            return
        entry["answered"] = True
        self.write(answer)
        if self.args.verbose:
            print("%s -> %s" % (text, answer.decode().strip()), flush=True)

    def on_input(self):
        """Whole requests, '~' to '\\r'; anything before '~' is line noise."""
        while b"\r" in self.inbuf:
            raw, self.inbuf = self.inbuf.split(b"\r", 1)
            start = raw.rfind(b"~")
            if start >= 0 and len(raw) - start >= 18:
                self.on_request(raw[start:].decode("latin-1"))


def parse_pack(text):
    adr, _, serial = text.partition(":")
    if not serial or not 0 <= int(adr) <= 15:
        raise ValueError("--pack ADDRESS:SERIAL, address 0..15")
    return int(adr), serial


def main():
    ap = parser(__doc__)
    ap.add_argument("--pack", action="append", type=parse_pack,
                    help="a pack ADDRESS:SERIAL (repeatable; default 0:PPTAH0000000001)")
    args = ap.parse_args()
    serve(Sim(args, [Pack(a, s) for a, s in (args.pack or [(0, "PPTAH0000000001")])]))


if __name__ == "__main__":
    main()
