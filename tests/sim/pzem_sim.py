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
import argparse
import errno
import json
import os
import select
import signal
import struct
import sys
import threading
import time
import tty
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RANGES = {0: 100, 1: 50, 2: 200, 3: 300}


def crc16(data):
    """CRC-16/MODBUS: reflected polynomial 0xA001, initial 0xFFFF."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(frame):
    return frame + struct.pack("<H", crc16(frame))


class Meter:
    def __init__(self, address):
        self.address = address
        self.values = {"v": 2730, "i": 300, "p": 819, "e": 1234}
        self.range = 0
        self.silent = False
        self.corrupt_left = 0
        self.corrupt_values = {}
        self.exception = 0
        self.answers = self.corrupt_sent = self.requests = 0

    def snapshot(self):
        return {"address": self.address, "range": self.range, "silent": self.silent,
                "corrupt_left": self.corrupt_left, "exception": self.exception, "answers": self.answers,
                "corrupt_sent": self.corrupt_sent, "requests": self.requests, **self.values}

    def input_registers(self, values):
        p, e = int(values["p"]), int(values["e"])
        return [int(values["v"]), int(values["i"]), p & 0xFFFF, p >> 16, e & 0xFFFF, e >> 16, 0, 0]

    def holding_registers(self):
        return [3000, 700, self.address, self.range]

    def answer(self, function, body):
        """The answer frame to a request (without CRC), or None for a request it does not know."""
        corrupt = self.corrupt_left > 0
        values = dict(self.values, **(self.corrupt_values if corrupt else {}))
        if self.exception:
            return bytes([self.address, function | 0x80, self.exception])
        if function in (3, 4) and len(body) == 4:
            start, count = struct.unpack(">HH", body)
            regs = self.holding_registers() if function == 3 else self.input_registers(values)
            if count < 1 or start + count > len(regs):
                return bytes([self.address, function | 0x80, 2])
            data = b"".join(struct.pack(">H", r) for r in regs[start:start + count])
            return bytes([self.address, function, len(data)]) + data
        if function == 6 and len(body) == 4:
            reg, value = struct.unpack(">HH", body)
            if reg == 3 and value in RANGES:
                self.range = value
            elif reg != 3:
                return bytes([self.address, 0x86, 2])
            else:
                return bytes([self.address, 0x86, 3])
            return bytes([self.address, 6]) + body
        if function == 0x42 and not body:
            self.values["e"] = 0
            return bytes([self.address, 0x42])
        return bytes([self.address, function | 0x80, 1])


class Sim:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.done = threading.Condition(self.lock)
        self.link = args.link
        self.meters = {a: Meter(a) for a in (args.meter or [1])}
        self.vanished = False
        self.want_vanish = None
        self.generation = 0
        self.log = []
        self.master = self.slave = -1
        self.pty_name = None
        self.inbuf = b""
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.running = True

    # -- the pty ---------------------------------------------------------------
    def plug(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # raw before the driver opens it
        os.set_blocking(self.master, False)
        self.pty_name = os.ttyname(self.slave)
        tmp = self.link + ".tmp"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(self.pty_name, tmp)
        os.replace(tmp, self.link)
        self.vanished = False
        self.inbuf = b""
        print("pty %s" % self.pty_name, flush=True)

    def unplug(self):
        try:
            os.unlink(self.link)
        except FileNotFoundError:
            pass
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1
        self.vanished = True
        print("vanished", flush=True)

    def wake(self):
        try:
            os.write(self.wake_w, b"x")
        except BlockingIOError:
            pass

    # -- control ---------------------------------------------------------------
    def snapshot(self):
        return {"meters": {str(a): m.snapshot() for a, m in self.meters.items()}, "vanished": self.vanished,
                "pty": self.pty_name, "link": self.link, "requests": len(self.log)}

    def apply(self, req):
        if not isinstance(req, dict):
            raise ValueError("expected a JSON object")
        with self.lock:
            if "meter" in req:
                m = self.meters.get(int(req["meter"]))
                if m is None:
                    raise ValueError("no meter at address %s" % req["meter"])
                for k in ("v", "i", "p", "e"):
                    if k in req:
                        m.values[k] = int(req[k])
                if "range" in req:
                    m.range = int(req["range"])
                if "silent" in req:
                    m.silent = bool(req["silent"])
                if "corrupt_next" in req:
                    m.corrupt_left = int(req["corrupt_next"])
                if "corrupt_values" in req:
                    m.corrupt_values = dict(req["corrupt_values"] or {})
                if "exception" in req:
                    m.exception = int(req["exception"] or 0)
            if "vanish" in req and bool(req["vanish"]) != self.vanished:
                self.want_vanish = bool(req["vanish"])
                gen = self.generation
                self.wake()
                if not self.done.wait_for(lambda: self.generation != gen, timeout=5):
                    raise RuntimeError("the I/O loop did not carry out the vanish request")
            return self.snapshot()

    # -- the bus ---------------------------------------------------------------
    def on_request(self, frame):
        entry = {"t": time.monotonic(), "frame": frame.hex(" "), "address": frame[0], "answered": False}
        self.log.append(entry)
        m = self.meters.get(frame[0])
        if m is None:
            return  # another device's request
        m.requests += 1
        if m.silent:
            return
        answer = m.answer(frame[1], frame[2:-2])
        if answer is None:
            return
        answer = with_crc(answer)
        if m.corrupt_left > 0:
            m.corrupt_left -= 1
            m.corrupt_sent += 1
            answer = answer[:-1] + bytes([answer[-1] ^ 0x5A])
        m.answers += 1
        entry["answered"] = True
        self.write(answer)
        if self.args.verbose:
            print("%s -> %s" % (entry["frame"], answer.hex(" ")), flush=True)

    def take_frames(self):
        """Cuts whole requests off the input: 8 bytes, or 4 for 0x42; resynchronises past bad CRCs."""
        while len(self.inbuf) >= 4:
            size = 4 if self.inbuf[1] == 0x42 else 8
            if len(self.inbuf) < size:
                return
            frame = self.inbuf[:size]
            if crc16(frame) != 0:
                self.inbuf = self.inbuf[1:]
                continue
            self.inbuf = self.inbuf[size:]
            self.on_request(frame)

    def read_master(self):
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno == errno.EIO:  # no slave open right now
                return
            raise
        self.inbuf = (self.inbuf + data)[-4096:]
        self.take_frames()

    def write(self, data):
        if self.master < 0:
            return
        try:
            os.write(self.master, data)
        except (BlockingIOError, OSError):
            pass  # nobody reads: dropped, like a real UART

    def run(self):
        while self.running:
            rlist = [self.wake_r] + ([self.master] if self.master >= 0 else [])
            ready, _, _ = select.select(rlist, [], [], 0.5)
            with self.lock:
                if self.wake_r in ready:
                    os.read(self.wake_r, 512)
                if self.want_vanish is not None:
                    self.unplug() if self.want_vanish else self.plug()
                    self.want_vanish = None
                    self.generation += 1
                    self.done.notify_all()
                    continue
                if self.master >= 0 and self.master in ready:
                    self.read_master()

    def close(self):
        try:
            if os.path.islink(self.link):
                os.unlink(self.link)
        except OSError:
            pass


def make_handler(sim):
    class Handler(BaseHTTPRequestHandler):
        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            with sim.lock:
                if self.path == "/state":
                    return self.reply(200, sim.snapshot())
                if self.path == "/log":
                    return self.reply(200, list(sim.log))
            self.reply(404, {"error": "not found"})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/log/clear":
                with sim.lock:
                    sim.log.clear()
                return self.reply(200, [])
            if self.path not in ("/control", "/"):
                return self.reply(404, {"error": "not found"})
            try:
                self.reply(200, sim.apply(json.loads(body or b"{}")))
            except (ValueError, TypeError, RuntimeError) as e:
                self.reply(400, {"error": str(e)})

        def log_message(self, fmt, *args):
            if sim.args.verbose:
                sys.stderr.write("http: " + fmt % args + "\n")

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--link", required=True, help="symlink to create to the pty (the driver's port)")
    ap.add_argument("--control-port", type=int, default=0, help="HTTP control port on 127.0.0.1 (0 = a free one)")
    ap.add_argument("--meter", type=int, action="append", help="a meter at this Modbus address (repeatable; default 1)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    sim = Sim(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.control_port), make_handler(sim))
    server.daemon_threads = True

    def stop(signum, frame):
        sim.running = False
        sim.wake()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sim.plug()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("control http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        sim.run()
    finally:
        sim.close()
        server.shutdown()


if __name__ == "__main__":
    main()
