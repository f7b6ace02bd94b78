#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated Growatt inverters (xx00-S and MIC TL-X) on one RS485 bus (Modbus
RTU), over a pseudo terminal, for the growattInverterModbus driver (Python
standard library only).

Every inverter (--inverter ADDRESS:FAMILY[:PMAX_W], repeatable; FAMILY xx00-S
or TL-X) has the holding registers H0 on/off (TL-X 0/1, xx00-S 0x0100/0x0101),
H2 limit memory, H3 active power limit (%, 255 = none), H6-H7 Pmax (0.1 VA,
high word first), and the input registers I0 state (0 waiting, 1 normal,
3 fault), output power (xx00-S I11-I12, TL-X I35-I36, 0.1 W) and energy
(xx00-S I28-I29, TL-X I55-I56, 0.1 kWh). It answers 0x03, 0x04 and 0x06
(echo); other registers or values are exceptions 02/03. Its output is
Pmax x limit while on, normal and with DC.

Control: HTTP on 127.0.0.1:--control-port (0 = a free one, printed):
  GET  /state            inverters, counters, pty name
  POST /control  JSON    {"inverter": ADDRESS, ...} with any of: on, limit,
                         pmax_w, dc (false: no DC power, waiting), fault
                         (true: I0 3), restart (seconds in "waiting", after
                         which H3 is 255 and H2 1 again), silent,
                         corrupt_next, exception (as pzem_sim);
                         without "inverter": vanish (true/false)
  GET  /log              every request: t, frame (hex), address, answered
  POST /log/clear
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modbus_sim import ModbusBusSim, ModbusDevice, read_answer  # noqa: E402
from serial_sim import parser, serve  # noqa: E402

FAMILIES = {"xx00-S": {"power": 11, "energy": 28, "on_flags": 0x0100},
            "TL-X": {"power": 35, "energy": 55, "on_flags": 0x0000}}


class Inverter(ModbusDevice):
    def __init__(self, address, family, pmax_w=1500):
        super().__init__(address)
        if family not in FAMILIES:
            raise ValueError("family: xx00-S or TL-X")
        self.family = family
        self.regs = FAMILIES[family]
        self.pmax_w = float(pmax_w)
        self.on = False
        self.memory = 1
        self.limit = 255
        self.dc = True
        self.fault = False
        self.restart_until = 0.0
        self.energy_wh = 0.0
        self.last_tick = time.monotonic()
        self.writes = {"on": 0, "limit": 0, "memory": 0}

    def state_code(self):
        if self.fault:
            return 3
        if time.monotonic() < self.restart_until or not self.dc or not self.on:
            return 0
        return 1

    def output_w(self, dc_ok=True):
        if not dc_ok or self.state_code() != 1:
            return 0.0
        return self.pmax_w * min(self.limit, 100) / 100.0

    def tick(self):
        now = time.monotonic()
        self.energy_wh += self.output_w() * (now - self.last_tick) / 3600.0
        self.last_tick = now

    def snapshot(self):
        return {**super().snapshot(), "family": self.family, "pmax_w": self.pmax_w, "on": self.on,
                "memory": self.memory, "limit": self.limit, "dc": self.dc, "fault": self.fault,
                "state": self.state_code(), "output_w": self.output_w(), "energy_wh": round(self.energy_wh, 3),
                "writes": dict(self.writes)}

    def home_state(self):
        """What the simulated home shows of the inverter (the live view's fields)."""
        st = self.state_code()
        phase = "fault" if st == 3 else "producing" if st == 1 else "off" if not self.on else "waiting"
        return {"phase": phase, "on": self.on, "limit_pct": None if self.limit == 255 else self.limit,
                "limit_ack": True, "output_w": self.output_w(), "memory": self.memory}

    def control(self, req):
        super().control(req)
        if "on" in req:
            self.on = bool(req["on"])
        if "limit" in req:
            self.limit = int(req["limit"])
        if "pmax_w" in req:
            self.pmax_w = float(req["pmax_w"])
        if "dc" in req:
            self.dc = bool(req["dc"])
        if "fault" in req:
            self.fault = bool(req["fault"])
        if req.get("restart"):
            self.restart_until = time.monotonic() + float(req["restart"])
            self.limit, self.memory = 255, 1

    def holding(self):
        pmax = int(self.pmax_w * 10)
        return {0: self.regs["on_flags"] | int(self.on), 2: self.memory, 3: self.limit, 6: pmax >> 16,
                7: pmax & 0xFFFF, 22: 0, 30: self.address}

    def inputs(self):
        self.tick()
        p, e = int(self.output_w() * 10), int(self.energy_wh / 100)
        return {0: self.state_code(), self.regs["power"]: p >> 16, self.regs["power"] + 1: p & 0xFFFF,
                self.regs["energy"]: e >> 16, self.regs["energy"] + 1: e & 0xFFFF}

    def write(self, reg, value):
        """True when the write is taken."""
        if reg == 0 and value in (self.regs["on_flags"], self.regs["on_flags"] | 1):
            self.tick()
            self.on = bool(value & 1)
            self.writes["on"] += 1
        elif reg == 2 and value in (0, 1):
            self.memory = value
            self.writes["memory"] += 1
        elif reg == 3 and (0 <= value <= 100 or value == 255):
            self.tick()
            self.limit = value
            self.writes["limit"] += 1
        else:
            return False
        return True

    def respond(self, function, body, corrupt):
        if function in (3, 4) and len(body) == 4:
            return read_answer(self.address, function, self.holding() if function == 3 else self.inputs(), body)
        if function == 6 and len(body) == 4:
            reg, value = struct.unpack(">HH", body)
            if reg not in (0, 2, 3):
                return bytes([self.address, 0x86, 2])
            if not self.write(reg, value):
                return bytes([self.address, 0x86, 3])
            return bytes([self.address, 6]) + body
        return bytes([self.address, function | 0x80, 1])


class Sim(ModbusBusSim):
    device_key = "inverter"
    devices_key = "inverters"


def parse_inverter(text):
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[1] not in FAMILIES:
        raise ValueError("--inverter ADDRESS:FAMILY[:PMAX_W], FAMILY xx00-S or TL-X")
    return Inverter(int(parts[0]), parts[1], float(parts[2]) if len(parts) == 3 else 1500)


def main():
    ap = parser(__doc__)
    ap.add_argument("--inverter", action="append", type=parse_inverter,
                    help="an inverter ADDRESS:FAMILY[:PMAX_W] (repeatable; default 1:TL-X:1500)")
    args = ap.parse_args()
    serve(Sim(args, args.inverter or [Inverter(1, "TL-X", 1500)]))


if __name__ == "__main__":
    main()
