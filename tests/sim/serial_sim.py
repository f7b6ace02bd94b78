# SPDX-License-Identifier: MIT
"""The part every serial-device simulator shares (Python standard library
only): a pseudo terminal reachable through a stable symlink (like
/dev/serial/by-id/...), unplug/replug on demand, the I/O loop, and the HTTP
control server (GET /state, POST /control, GET /log, POST /log/clear).

A simulator subclasses PtySim and provides on_input() (cut requests off
self.inbuf), snapshot(), apply_control(req) and, for devices that talk by
themselves, tick()/tick_interval().
"""
import argparse
import errno
import json
import os
import select
import signal
import sys
import threading
import time
import tty
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class PtySim:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.done = threading.Condition(self.lock)
        self.link = args.link
        self.vanished = False
        self.want_vanish = None  # applied by the I/O loop
        self.generation = 0      # bumped by every vanish/replug the loop carried out
        self.log = []
        self.writes_dropped = 0
        self.master = self.slave = -1
        self.pty_name = None
        self.inbuf = b""
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.running = True

    # -- the pty ---------------------------------------------------------------
    def plug(self):
        self.master, self.slave = os.openpty()
        # Raw on our side too: no echo, no newline translation before the
        # driver opens the port (and while it has it closed).
        tty.setraw(self.slave)
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

    def write(self, data):
        if self.master < 0:
            return
        try:
            if os.write(self.master, data) < len(data):
                self.writes_dropped += 1
        except (BlockingIOError, OSError):
            # Nobody reads (the driver has the port closed): dropped, like a
            # real UART does.
            self.writes_dropped += 1

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
        self.on_input()

    # -- hooks -----------------------------------------------------------------
    def on_input(self):
        """Consumes whole requests from self.inbuf (called with the lock held)."""
        raise NotImplementedError

    def tick_interval(self):
        """Seconds between tick() calls, or None for a device that only answers."""
        return None

    def tick(self):
        pass

    def snapshot(self):
        return {"vanished": self.vanished, "pty": self.pty_name, "link": self.link}

    def apply_control(self, req):
        """Applies the device part of a control request (lock held); raises ValueError."""

    # -- control ---------------------------------------------------------------
    def apply(self, req):
        if not isinstance(req, dict):
            raise ValueError("expected a JSON object")
        with self.lock:
            self.apply_control(req)
            if "vanish" in req and bool(req["vanish"]) != self.vanished:
                self.want_vanish = bool(req["vanish"])
                gen = self.generation
                self.wake()
                if not self.done.wait_for(lambda: self.generation != gen, timeout=5):
                    raise RuntimeError("the I/O loop did not carry out the vanish request")
            return self.snapshot()

    # -- the loop --------------------------------------------------------------
    def run(self):
        interval = self.tick_interval()
        next_tick = time.monotonic() + 0.2 if interval else None
        while self.running:
            rlist = [self.wake_r] + ([self.master] if self.master >= 0 else [])
            timeout = 0.5 if next_tick is None else max(0.0, next_tick - time.monotonic())
            ready, _, _ = select.select(rlist, [], [], timeout)
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
                if next_tick is not None and time.monotonic() >= next_tick:
                    self.tick()
                    interval = self.tick_interval()
                    next_tick = max(next_tick + interval, time.monotonic() + interval / 2)

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


def add_common_args(ap):
    ap.add_argument("--link", required=True, help="symlink to create to the pty (the driver's port)")
    ap.add_argument("--control-port", type=int, default=0, help="HTTP control port on 127.0.0.1 (0 = a free one)")
    ap.add_argument("-v", "--verbose", action="store_true")


def parser(doc):
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_common_args(ap)
    return ap


def serve(sim):
    """Plugs the pty, starts the control server, runs until SIGTERM/SIGINT."""
    server = ThreadingHTTPServer(("127.0.0.1", sim.args.control_port), make_handler(sim))
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
