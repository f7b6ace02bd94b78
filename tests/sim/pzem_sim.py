#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated PZEM-017 DC meters on one RS485 bus (Modbus RTU), over a pseudo
terminal, for the genericSolar driver (Python standard library only).

Every meter (--meter ADDRESS, repeatable) answers read holding registers
(0x03: 0 high-voltage alarm, 1 low-voltage alarm, 2 address, 3 current range)
and read input registers (0x04: voltage, current, power low/high, energy
low/high, alarms), 0x06 writes of those holding registers, and the 0x42
energy reset. Requests for other addresses are ignored, as on a real bus;
a request with a wrong CRC is ignored too. The pty's slave is reachable
through --link; "vanish" closes the pty and removes the link (an unplugged
USB adapter), un-vanishing makes a new pty and the link again.

Control: HTTP on 127.0.0.1:--control-port (0 = a free one, printed):
  GET  /state            meters, counters, pty name
  POST /control  JSON    {"meter": ADDRESS, ...} with any of: v (0.01 V),
                         i (0.01 A), p (0.1 W), e (Wh), range (0..3: 100, 50,
                         200, 300 A), silent (no answers), corrupt_next (count:
                         answers sent with a wrong CRC), corrupt_values
                         ({"p": ..} in the corrupted answers), exception (code:
                         every answer is that exception until 0/null);
                         without "meter": vanish (true/false)
  GET  /log              every request received: t (monotonic), frame (hex),
                         address, answered
  POST /log/clear
Prints "pty /dev/pts/N" (again after every replug) and "control http://...".
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modbus_sim import ModbusBusSim, ModbusDevice, read_answer  # noqa: E402
from serial_sim import parser, serve  # noqa: E402

RANGES = {0: 100, 1: 50, 2: 200, 3: 300}


class Meter(ModbusDevice):
    def __init__(self, address):
        super().__init__(address)
        self.values = {"v": 2730, "i": 300, "p": 819, "e": 1234}
        self.range = 0

    def snapshot(self):
        return {**super().snapshot(), "range": self.range, **self.values}

    def control(self, req):
        super().control(req)
        for k in ("v", "i", "p", "e"):
            if k in req:
                self.values[k] = int(req[k])
        if "range" in req:
            self.range = int(req["range"])

    def input_registers(self, values):
        p, e = int(values["p"]), int(values["e"])
        return [int(values["v"]), int(values["i"]), p & 0xFFFF, p >> 16, e & 0xFFFF, e >> 16, 0, 0]

    def holding_registers(self):
        return [3000, 700, self.address, self.range]

    def respond(self, function, body, corrupt):
        values = dict(self.values, **(self.corrupt_values if corrupt else {}))
        if function in (3, 4) and len(body) == 4:
            regs = self.holding_registers() if function == 3 else self.input_registers(values)
            return read_answer(self.address, function, regs, body)
        if function == 6 and len(body) == 4:
            reg, value = struct.unpack(">HH", body)
            if reg != 3:
                return bytes([self.address, 0x86, 2])
            if value not in RANGES:
                return bytes([self.address, 0x86, 3])
            self.range = value
            return bytes([self.address, 6]) + body
        if function == 0x42 and not body:
            self.values["e"] = 0
            return bytes([self.address, 0x42])
        return bytes([self.address, function | 0x80, 1])


class Sim(ModbusBusSim):
    device_key = "meter"
    devices_key = "meters"


def main():
    ap = parser(__doc__)
    ap.add_argument("--meter", type=int, action="append", help="a meter at this Modbus address (repeatable; default 1)")
    args = ap.parse_args()
    serve(Sim(args, [Meter(a) for a in (args.meter or [1])]))


if __name__ == "__main__":
    main()
