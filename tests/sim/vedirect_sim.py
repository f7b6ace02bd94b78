#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated Victron SmartSolar MPPT on VE.Direct, over a pseudo terminal, for
the victronMppt driver (Python standard library only).

Sends a text block every second (PID, FW, SER#, V, I, VPV, PPV, CS, MPPT, OR,
ERR, LOAD, H19..H23, HSDS, Checksum) and answers HEX get/set of the device
mode register 0x0200 with the proper echo; mode 4 turns the charger off (CS 0),
mode 1 on (CS 3 bulk while PPV > 0). The pty's slave is reachable through
--link (a symlink, like /dev/serial/by-id/...). "vanish" closes the pty and
removes the link, like pulling the USB cable; un-vanishing makes a new pty and
recreates the link.

Control: HTTP on 127.0.0.1:--control-port (0 = a free one, printed):
  GET  /state            the simulated values, counters, pty name
  POST /control  JSON    any of: ppv, cs (null = derive from the mode), h20,
                         h19, v, i, vpv, err, mode, corrupt_next (true or a
                         count), corrupt_values ({"ppv":..} only in the
                         corrupted blocks), interleave_hex, mute_hex (log HEX
                         commands but do not answer), vanish, garbage (text
                         sent once, raw)
  GET  /log              every HEX command received, oldest first
  POST /log/clear
or --control-file PATH: the same JSON object, re-read when it changes.
Prints "pty /dev/pts/N" (again after every replug) and "control http://...".
"""
import argparse
import json
import os
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serial_sim import PtySim, add_common_args, serve  # noqa: E402

MODE_ON, MODE_OFF = 1, 4
REG_DEVICE_MODE = 0x0200
ON_STATES = (3, 4, 5, 7, 247)
# Register ids of the :A frames sent when interleaving (panel power, panel voltage).
REG_PANEL_POWER, REG_PANEL_VOLTAGE = 0xEDBC, 0xEDBB


def hex_frame(command, payload):
    """':' + nibble + bytes + checksum (nibble + bytes + checksum = 0x55) + '\\n'."""
    check = (0x55 - command - sum(payload)) & 0xFF
    return (":%X" % command + "".join("%02X" % b for b in payload) + "%02X\n" % check).encode()


def parse_hex(line):
    """':8000200014A' -> (command, payload bytes) or None when malformed or the checksum is wrong."""
    if len(line) < 4 or line[0] != ":" or (len(line) - 2) % 2:
        return None
    try:
        command = int(line[1], 16)
        data = bytes.fromhex(line[2:])
    except ValueError:
        return None
    if (command + sum(data)) & 0xFF != 0x55:
        return None
    return command, data[:-1]


class Sim(PtySim):
    def __init__(self, args):
        super().__init__(args)
        self.hex_log = self.log
        self.interval = args.interval
        self.values = {"ppv": args.ppv, "cs": None, "h20": args.h20, "h19": 123456, "v": 13250, "i": None,
                       "vpv": 35210, "err": 0}
        self.mode = args.mode
        self.interleave_hex = False
        self.mute_hex = False
        self.corrupt_left = 0
        self.corrupt_values = {}
        self.garbage = b""
        self.blocks_sent = 0
        self.corrupt_sent = 0
        self.max_ppv_today = 0

    # -- state -----------------------------------------------------------------
    def cs(self, values):
        if values.get("cs") is not None:
            return int(values["cs"])
        return 3 if self.mode == MODE_ON and values["ppv"] > 0 else 0

    def snapshot(self):
        v = dict(self.values)
        v.update({"cs": self.cs(self.values), "cs_override": self.values["cs"], "mode": self.mode,
                  "interleave_hex": self.interleave_hex, "mute_hex": self.mute_hex,
                  "corrupt_left": self.corrupt_left, "vanished": self.vanished, "pty": self.pty_name,
                  "link": self.link, "blocks_sent": self.blocks_sent, "corrupt_sent": self.corrupt_sent,
                  "writes_dropped": self.writes_dropped, "hex_commands": len(self.hex_log)})
        return v

    def apply_control(self, req):
        for k in ("ppv", "h20", "h19", "v", "vpv", "err"):
            if k in req:
                self.values[k] = int(req[k])
        for k in ("cs", "i"):
            if k in req:
                self.values[k] = None if req[k] is None else int(req[k])
        if "mode" in req:
            self.set_mode(int(req["mode"]))
        if "corrupt_next" in req:
            c = req["corrupt_next"]
            self.corrupt_left = (1 if c else 0) if isinstance(c, bool) else int(c)
        if "corrupt_values" in req:
            self.corrupt_values = dict(req["corrupt_values"] or {})
        if "interleave_hex" in req:
            self.interleave_hex = bool(req["interleave_hex"])
        if "mute_hex" in req:
            self.mute_hex = bool(req["mute_hex"])
        if "garbage" in req:
            self.garbage += str(req["garbage"]).encode("latin-1")

    def set_mode(self, mode):
        self.mode = mode
        # The charger decides its state again: an explicit CS is forgotten.
        self.values["cs"] = None

    # -- HEX -------------------------------------------------------------------
    def on_hex_line(self, line):
        entry = {"t": time.monotonic(), "frame": line, "answer": None}
        self.hex_log.append(entry)
        if self.mute_hex:  # as if the command never arrived
            entry["muted"] = True
            return
        parsed = parse_hex(line)
        answer = None
        if parsed is None:
            entry["error"] = "malformed or bad checksum"
            answer = b":4AAAAFD\n"  # what Victron chargers answer to a broken frame
        else:
            command, data = parsed
            entry["command"] = command
            if command in (7, 8) and len(data) >= 3:
                reg = data[0] | data[1] << 8
                entry["register"] = "0x%04X" % reg
                value = data[3:]
                if command == 8:
                    entry["value"] = int.from_bytes(value, "little") if value else None
                if reg != REG_DEVICE_MODE:
                    answer = hex_frame(command, data[:2] + bytes([0x01]))  # unknown id
                elif command == 7:
                    answer = hex_frame(7, data[:2] + bytes([0, self.mode]))
                elif len(value) == 1 and value[0] in (MODE_ON, MODE_OFF):
                    self.set_mode(value[0])
                    answer = hex_frame(8, data[:2] + bytes([0, value[0]]))
                else:
                    answer = hex_frame(8, data[:2] + bytes([0x04]))  # parameter error
            elif command == 1:
                answer = hex_frame(5, bytes([0x59, 0x41]))  # ping: firmware 1.59
            else:
                answer = hex_frame(3, b"")
        if answer:
            entry["answer"] = answer.decode().strip()
            self.write(answer)
        if self.args.verbose:
            print("hex %s -> %s" % (line, entry["answer"]), flush=True)

    def on_input(self):
        while b"\n" in self.inbuf:
            raw, self.inbuf = self.inbuf.split(b"\n", 1)
            line = raw.decode("latin-1").strip()
            start = line.find(":")
            if start >= 0:
                self.on_hex_line(line[start:])

    # -- text blocks -----------------------------------------------------------
    def block(self, values, corrupt):
        on = self.mode == MODE_ON
        ppv = values["ppv"] if on else 0
        cs = self.cs(values)
        off_reason = 0x4 if self.mode == MODE_OFF else (0x1 if ppv == 0 else 0)
        v = values["v"]
        i = values["i"] if values.get("i") is not None else (ppv * 1000000 // v if v > 0 else 0)
        self.max_ppv_today = max(self.max_ppv_today, ppv)
        fields = [("PID", "0xA053"), ("FW", "159"), ("SER#", "HQ2132ABCDE"), ("V", str(v)), ("I", str(i)),
                  ("VPV", str(values["vpv"])), ("PPV", str(ppv)), ("CS", str(cs)),
                  ("MPPT", "2" if cs in ON_STATES else "0"), ("OR", "0x%08X" % off_reason),
                  ("ERR", str(values["err"])), ("LOAD", "ON"), ("H19", str(values["h19"])),
                  ("H20", str(values["h20"])), ("H21", str(self.max_ppv_today)), ("H22", "57"), ("H23", "310"),
                  ("HSDS", "17")]
        out, text_sum = bytearray(), 0
        for k, (label, value) in enumerate(fields):
            t = ("\r\n%s\t%s" % (label, value)).encode()
            out += t
            text_sum += sum(t)
            if self.interleave_hex and k == 3:
                out += hex_frame(0xA, REG_PANEL_POWER.to_bytes(2, "little") + bytes([0]) +
                                 (ppv * 100).to_bytes(4, "little"))
        t = b"\r\nChecksum\t"
        text_sum += sum(t)
        check = (0x100 - text_sum) & 0xFF
        if corrupt:
            check = (check + 1) & 0xFF
        out += t + bytes([check])
        if self.interleave_hex:
            out += hex_frame(0xA, REG_PANEL_VOLTAGE.to_bytes(2, "little") + bytes([0]) +
                             (values["vpv"] // 10).to_bytes(2, "little"))
        return bytes(out)

    def send_block(self):
        corrupt = self.corrupt_left > 0
        values = dict(self.values)
        if corrupt:
            values.update(self.corrupt_values)
            self.corrupt_left -= 1
            self.corrupt_sent += 1
        # A UART keeps nothing for a reader that is not there: drop what the
        # driver did not read (it reads at once while it has the port open).
        termios.tcflush(self.slave, termios.TCIFLUSH)
        if self.garbage:
            self.write(self.garbage)
            self.garbage = b""
        self.write(self.block(values, corrupt))
        self.blocks_sent += 1

    # -- the loop's hooks ------------------------------------------------------
    def tick_interval(self):
        return self.interval

    def tick(self):
        self.poll_control_file()
        if not self.vanished:
            self.send_block()

    # -- control file ------------------------------------------------------------
    def poll_control_file(self):
        path = self.args.control_file
        if not path:
            return
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return
        key = (st.st_mtime_ns, st.st_size)
        if key == getattr(self, "_file_key", None):
            return
        self._file_key = key
        try:
            with open(path) as f:
                req = json.load(f)
        except (OSError, ValueError) as e:
            print("control file: %s" % e, file=sys.stderr, flush=True)
            return
        threading.Thread(target=self.apply, args=(req,), daemon=True).start()


def make_parser():
    """The command line parser (also used by home.py to get the defaults)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap)
    ap.add_argument("--control-file", default=None, help="JSON control file, re-read when it changes")
    ap.add_argument("--ppv", type=int, default=120, help="panel power W (default 120)")
    ap.add_argument("--h20", type=int, default=0, help="yield today in 0.01 kWh")
    ap.add_argument("--mode", type=int, choices=(MODE_ON, MODE_OFF), default=MODE_ON,
                    help="device mode register at start: 1 on (default), 4 off")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between blocks")
    return ap


def main():
    serve(Sim(make_parser().parse_args()))


if __name__ == "__main__":
    main()
