#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated Victron SmartShunt on VE.Direct, over a pseudo terminal, for the
victronSmartShunt driver (Python standard library only): vedirect_sim.py's
pty, loop and faults, with the shunt's two text blocks a second (block 1:
PID V VS I P CE SOC TTG Alarm Relay AR BMV FW MON [T]; block 2: H1..H10 with
H4 the charge cycles), each with its own checksum, and the answer to a HEX
get of the battery capacity (register 0x1000, u16 Ah).

Control: as vedirect_sim.py (POST /control, GET /state, GET /log of the HEX
commands; vanish, corrupt_next, corrupt_values, mute_hex, garbage) with the
shunt's values: v (mV), i (mA), soc (per mille, null = "---", not
synchronised), t (°C, null = no aux temperature), h4 (cycles), alarm (bool),
ar (alarm reason bits), capacity (Ah), silent (no blocks).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vedirect_sim  # noqa: E402
from serial_sim import serve  # noqa: E402

REG_CAPACITY = 0x1000


class Sim(vedirect_sim.Sim):
    def __init__(self, args):
        super().__init__(args)
        self.values = {"v": 26780, "i": -4200, "soc": 873, "t": None, "h4": 57, "alarm": False, "ar": 0,
                       "ce": -20500}
        self.capacity = args.capacity
        self.silent = False
        self.capacity_asked = 0

    def snapshot(self):
        return {**self.values, "capacity": self.capacity, "silent": self.silent, "vanished": self.vanished,
                "pty": self.pty_name, "link": self.link, "blocks_sent": self.blocks_sent,
                "corrupt_sent": self.corrupt_sent, "corrupt_left": self.corrupt_left,
                "capacity_asked": self.capacity_asked, "hex_commands": len(self.hex_log)}

    def apply_control(self, req):
        for k in ("v", "i", "h4", "ar", "ce"):
            if k in req:
                self.values[k] = int(req[k])
        for k in ("soc", "t"):
            if k in req:
                self.values[k] = None if req[k] is None else int(req[k])
        if "alarm" in req:
            self.values["alarm"] = bool(req["alarm"])
        if "capacity" in req:
            self.capacity = int(req["capacity"])
        if "silent" in req:
            self.silent = bool(req["silent"])
        for k in ("corrupt_next", "corrupt_values", "mute_hex", "garbage"):
            if k in req:
                super().apply_control({k: req[k]})

    @staticmethod
    def text_block(fields, corrupt):
        out = b"".join(("\r\n%s\t%s" % (label, value)).encode() for label, value in fields) + b"\r\nChecksum\t"
        check = (0x100 - sum(out)) & 0xFF
        return out + bytes([(check + 1) & 0xFF if corrupt else check])

    def block(self, values, corrupt):
        soc = "---" if values["soc"] is None else str(values["soc"])
        p = values["v"] * values["i"] // 1000000
        b1 = [("PID", "0xA389"), ("V", values["v"]), ("VS", 12910), ("I", values["i"]), ("P", p),
              ("CE", "---" if values["soc"] is None else values["ce"]), ("SOC", soc),
              ("TTG", "---" if values["soc"] is None else -1)]
        if values.get("t") is not None:
            b1.append(("T", values["t"]))
        b1 += [("Alarm", "ON" if values["alarm"] else "OFF"), ("Relay", "OFF"), ("AR", values["ar"]),
               ("BMV", "SmartShunt 500A/50mV"), ("FW", "0413"), ("MON", 0)]
        b2 = [("H1", -102000), ("H2", -20500), ("H3", 0), ("H4", values["h4"]), ("H5", 0), ("H6", -900000),
              ("H7", 12000), ("H8", 14500), ("H9", 0), ("H10", 0)]
        return self.text_block(b1, corrupt) + self.text_block(b2, False)

    def send_block(self):
        if not self.silent:
            super().send_block()

    def on_hex_line(self, line):
        parsed = vedirect_sim.parse_hex(line)
        if parsed and parsed[0] == 7 and len(parsed[1]) >= 2 and parsed[1][0] | parsed[1][1] << 8 == REG_CAPACITY:
            self.hex_log.append({"t": 0, "frame": line, "register": "0x%04X" % REG_CAPACITY})
            self.capacity_asked += 1
            if not self.mute_hex:
                self.write(vedirect_sim.hex_frame(7, bytes([0x00, 0x10, 0x00]) + self.capacity.to_bytes(2, "little")))
            return
        super().on_hex_line(line)


def main():
    ap = vedirect_sim.make_parser()
    ap.description = __doc__.split("\n\n")[0]
    ap.add_argument("--capacity", type=int, default=200, help="battery capacity in the shunt (Ah)")
    serve(Sim(ap.parse_args()))


if __name__ == "__main__":
    main()
