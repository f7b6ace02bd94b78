#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated Shelly relay (Gen1: Plug S / Shelly 1 / 2.5 REST API; Gen2+:
Plus 1PM / Plus 1 / Plus 2PM RPC over HTTP GET) for the shellyCharger and
shellyHeater drivers.

Also the shared plumbing of the HTTP simulators (dtu_sim.py imports it): the
/sim/ control API (state, fail modes, request log), HTTP digest auth
(SHA-256) and the run loop. See README.md in this directory.
"""
import argparse
import asyncio
import base64
import collections
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import signal
import sys
import time

from aiohttp import web

log = logging.getLogger("sim")

FAIL_MODES = ("none", "hang", "500", "garbage", "close")


# --------------------------------------------------------------------------
# shared simulator plumbing
# --------------------------------------------------------------------------
class SimControl:
    """Request log, per-endpoint counters and fail modes of one simulator.
    Everything under /sim/ is exempt (never fails, never needs auth, is not
    logged)."""

    def __init__(self):
        self.requests = collections.deque(maxlen=200)
        self.counts = collections.Counter()
        self.status_counts = collections.Counter()
        self.total = 0
        self.fail_mode = "none"
        self.fail_until = None          # monotonic, None = until changed
        self.fail_count = None          # requests left to fail, None = all
        self.fail_paths = None          # only these path prefixes, None = all
        self.failed = collections.Counter()
        self._release = asyncio.Event()

    # -- fail mode -----------------------------------------------------------
    def set_fail(self, mode, seconds=None, count=None, paths=None):
        if mode not in FAIL_MODES:
            raise ValueError("mode must be one of " + "|".join(FAIL_MODES))
        self._release.set()             # let requests hung so far go on
        self._release = asyncio.Event()
        self.fail_mode = mode
        self.fail_until = time.monotonic() + float(seconds) if seconds else None
        self.fail_count = int(count) if count is not None else None
        self.fail_paths = list(paths) if paths else None
        log.info("fail mode %s%s%s", mode, " for %gs" % float(seconds) if seconds else "",
                 " for %d requests" % int(count) if count is not None else "")

    def fail_state(self):
        mode = self.fail_mode
        if mode != "none" and self.fail_until is not None and time.monotonic() >= self.fail_until:
            mode = self.fail_mode = "none"
        return {
            "mode": mode,
            "remaining_s": None if mode == "none" or self.fail_until is None
            else round(max(0.0, self.fail_until - time.monotonic()), 3),
            "count_left": self.fail_count,
            "paths": self.fail_paths,
            "failed": dict(self.failed),
        }

    def _take_fail(self, path):
        st = self.fail_state()
        mode = st["mode"]
        if mode == "none":
            return None
        if self.fail_paths and not any(path.startswith(p) for p in self.fail_paths):
            return None
        if self.fail_count is not None:
            if self.fail_count <= 0:
                self.fail_mode = "none"
                return None
            self.fail_count -= 1
        self.failed[mode] += 1
        return mode

    # -- request log -----------------------------------------------------------
    def state(self):
        return {
            "requests_total": self.total,
            "counts": dict(self.counts),
            "status_counts": {str(k): v for k, v in self.status_counts.items()},
            "fail": self.fail_state(),
        }

    @web.middleware
    async def middleware(self, request, handler):
        if request.path.startswith("/sim/"):
            return await handler(request)
        entry = {"method": request.method, "path": request.path, "query": request.query_string,
                 "time": round(time.time(), 3), "mono": time.monotonic(), "status": None}
        self.requests.append(entry)
        self.counts[request.path] += 1
        self.total += 1
        mode = self._take_fail(request.path)
        if mode == "hang":
            entry["fail"] = "hang"
            release = self._release
            timeout = None if self.fail_until is None else max(0.0, self.fail_until - time.monotonic())
            log.info("hanging %s %s", request.method, request.path_qs)
            try:
                await asyncio.wait_for(release.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        elif mode == "500":
            entry["fail"] = "500"
            return self._done(entry, web.Response(status=500, text="500 Internal Server Error\n"))
        elif mode == "garbage":
            entry["fail"] = "garbage"
            return self._done(entry, web.Response(
                status=200, body=b"<html>\x00\xff{\"ison\": tr\x1bue,, garbage", content_type="application/json"))
        elif mode == "close":
            entry["fail"] = "close"
            log.info("closing connection on %s %s", request.method, request.path_qs)
            if request.transport is not None:
                request.transport.abort()
            # the handler is cancelled by aiohttp once the connection is gone
            await asyncio.sleep(3600)
        try:
            resp = await handler(request)
        except web.HTTPException as e:
            self._done(entry, e)
            raise
        return self._done(entry, resp)

    def _done(self, entry, resp):
        entry["status"] = resp.status
        self.status_counts[resp.status] += 1
        return resp

    # -- routes ------------------------------------------------------------------
    def add_routes(self, app, state_fn, reset_counter_fn):
        async def get_state(request):
            st = state_fn()
            st.update(self.state())
            return json_response(st)

        async def post_fail(request):
            try:
                body = await read_json(request)
                self.set_fail(str(body.get("mode", "none")), body.get("seconds"), body.get("count"),
                              body.get("paths"))
            except (ValueError, TypeError) as e:
                return json_response({"ok": False, "error": str(e)}, status=400)
            return json_response({"ok": True, "fail": self.fail_state()})

        async def post_reset(request):
            body = await read_json(request, allow_empty=True)
            reset_counter_fn(body)
            return json_response({"ok": True})

        async def get_requests(request):
            return json_response(list(self.requests))

        async def post_clear(request):
            self.requests.clear()
            self.counts.clear()
            self.status_counts.clear()
            self.failed.clear()
            self.total = 0
            return json_response({"ok": True})

        app.router.add_get("/sim/state", get_state)
        app.router.add_post("/sim/fail", post_fail)
        app.router.add_post("/sim/reset_counter", post_reset)
        app.router.add_get("/sim/requests", get_requests)
        app.router.add_post("/sim/clear_requests", post_clear)


def json_response(obj, status=200, headers=None):
    return web.Response(status=status, text=json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
                        content_type="application/json", headers=headers)


async def read_json(request, allow_empty=False):
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return {}
        raise ValueError("empty body")
    obj = json.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("body must be a JSON object")
    return obj


class BasicAuth:
    def __init__(self, user, password, realm):
        self.user, self.password, self.realm = user, password, realm
        self.rejected = 0

    def check(self, request):
        h = request.headers.get("Authorization", "")
        if h[:6].lower() == "basic ":
            try:
                user, _, pw = base64.b64decode(h[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user = pw = None
            if user == self.user and pw is not None and hmac.compare_digest(pw, self.password):
                return None
            self.rejected += 1
        return web.Response(status=401, text="401 Unauthorized\n",
                            headers={"WWW-Authenticate": 'Basic realm="%s"' % self.realm})


_KV = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*,?')


def parse_digest(value):
    out = {}
    for m in _KV.finditer(value):
        k, v = m.group(1).lower(), m.group(2).strip()
        if v.startswith('"') and v.endswith('"') and len(v) >= 2:
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        out[k] = v
    return out


def sha256_hex(s):
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


class DigestAuth:
    """HTTP digest (RFC 7616) server side, qop=auth, algorithm SHA-256, as the
    Shelly Gen2+ firmware does it (realm = device id, user "admin")."""

    def __init__(self, user, password, realm, nonce_ttl=600.0):
        self.user, self.password, self.realm = user, password, realm
        self.nonce_ttl = nonce_ttl
        self.nonces = {}                # nonce -> [created monotonic, last nc]
        self.challenges = 0
        self.rejected = 0
        self.stale = 0

    def _challenge(self, stale=False):
        now = time.monotonic()
        for n in [n for n, (t, _) in self.nonces.items() if now - t > self.nonce_ttl]:
            del self.nonces[n]
        nonce = "%x%s" % (int(time.time()), secrets.token_hex(6))
        self.nonces[nonce] = [now, 0]
        self.challenges += 1
        hdr = 'Digest qop="auth", realm="%s", nonce="%s", algorithm=SHA-256' % (self.realm, nonce)
        if stale:
            hdr += ", stale=true"
        return web.Response(status=401, text=json.dumps({"code": 401, "message": "Unauthorized"}),
                            content_type="application/json", headers={"WWW-Authenticate": hdr})

    def check(self, request):
        h = request.headers.get("Authorization", "")
        if h[:7].lower() != "digest ":
            return self._challenge()
        p = parse_digest(h[7:])
        nonce, nc, cnonce, qop = p.get("nonce", ""), p.get("nc", ""), p.get("cnonce", ""), p.get("qop", "")
        uri, resp = p.get("uri", ""), p.get("response", "").lower()
        ok = (p.get("username") == self.user and p.get("realm") == self.realm
              and p.get("algorithm", "MD5").upper() == "SHA-256" and qop == "auth"
              and uri == request.raw_path and nc and cnonce)
        if ok:
            ha1 = sha256_hex("%s:%s:%s" % (self.user, self.realm, self.password))
            ha2 = sha256_hex("%s:%s" % (request.method, uri))
            want = sha256_hex("%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
            ok = hmac.compare_digest(want, resp)
        if not ok:
            self.rejected += 1
            log.info("digest auth rejected for %s", request.path_qs)
            return self._challenge()
        rec = self.nonces.get(nonce)
        try:
            ncv = int(nc, 16)
        except ValueError:
            ncv = -1
        if rec is None or time.monotonic() - rec[0] > self.nonce_ttl or ncv <= rec[1]:
            self.stale += 1
            return self._challenge(stale=True)
        rec[1] = ncv
        return None

    def stats(self):
        return {"challenges": self.challenges, "rejected": self.rejected, "stale": self.stale}


def run_app(app, host, port, on_tick=None, on_exit=None, tick=0.2):
    """Serve until SIGTERM/SIGINT; prints "listening on HOST:PORT" once ready."""

    async def main():
        runner = web.AppRunner(app, handle_signals=False,
                               access_log=logging.getLogger("sim.access"),
                               access_log_format='%a "%r" %s %b')
        await runner.setup()
        site = web.TCPSite(runner, host, port, shutdown_timeout=0.5, reuse_address=True)
        await site.start()
        real_port = runner.addresses[0][1]
        print("listening on %s:%d" % (host, real_port), flush=True)
        log.info("listening on %s:%d", host, real_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            while not stop.is_set():
                if on_tick:
                    on_tick()
                try:
                    await asyncio.wait_for(stop.wait(), tick)
                except asyncio.TimeoutError:
                    pass
        finally:
            log.info("stopping")
            if on_exit:
                on_exit()
            await runner.cleanup()

    asyncio.run(main())


def setup_logging(verbose):
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("sim.access").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("aiohttp").setLevel(logging.INFO if verbose else logging.WARNING)


def parse_bool(v):
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("true", "1", "on", "yes"):
        return True
    if s in ("false", "0", "off", "no"):
        return False
    raise ValueError("not a boolean: %r" % v)


# --------------------------------------------------------------------------
# the Shelly
# --------------------------------------------------------------------------
class Relay:
    def __init__(self, idx, power_w, timer_scale):
        self.id = idx
        self.power_w = float(power_w)
        self.timer_scale = timer_scale
        self.on = False
        self.energy_wh = 0.0
        self.last = time.monotonic()
        self.timer_end = None           # monotonic
        self.timer_flip_to = None
        self.timer_started = 0.0        # unix
        self.timer_duration = 0.0       # nominal seconds
        self.source = "init"
        self.on_cmds = 0
        self.off_cmds = 0
        self.timer_expiries = 0

    def update(self, now=None):
        now = time.monotonic() if now is None else now
        if self.timer_end is not None and now >= self.timer_end:
            self._integrate(self.timer_end)
            self.on = self.timer_flip_to
            self.timer_end = None
            self.timer_duration = 0.0
            self.timer_started = 0.0
            self.source = "timer"
            self.timer_expiries += 1
            log.info("relay %d: timer expired, now %s", self.id, "on" if self.on else "off")
        self._integrate(now)

    def _integrate(self, t):
        if t > self.last:
            if self.on:
                self.energy_wh += self.power_w * (t - self.last) / 3600.0
            self.last = t

    def power(self):
        return self.power_w if self.on else 0.0

    def switch(self, on, timer=None, source="http", count=True):
        """Returns the previous state. A timer (seconds) flips the relay back
        when it runs out; a command without one cancels a running timer."""
        now = time.monotonic()
        self.update(now)
        was = self.on
        self.on = bool(on)
        self.source = source
        if count and on:
            self.on_cmds += 1
        elif count:
            self.off_cmds += 1
        if timer and timer > 0:
            self.timer_end = now + timer * self.timer_scale
            self.timer_flip_to = not self.on
            self.timer_started = time.time()
            self.timer_duration = float(timer)
        else:
            self.timer_end = None
            self.timer_duration = 0.0
            self.timer_started = 0.0
        log.info("relay %d: %s%s (was %s)", self.id, "on" if on else "off",
                 " timer %gs" % timer if timer else "", "on" if was else "off")
        return was

    def timer_remaining(self):
        if self.timer_end is None:
            return 0.0
        return max(0.0, (self.timer_end - time.monotonic()) / self.timer_scale)

    def state(self):
        self.update()
        return {
            "id": self.id,
            "on": self.on,
            "timer_remaining": round(self.timer_remaining(), 3) if self.timer_end is not None else None,
            "timer_duration": self.timer_duration if self.timer_end is not None else None,
            "power": self.power(),
            "load_w": self.power_w,
            "energy_wh": round(self.energy_wh, 6),
            "on_cmds": self.on_cmds,
            "off_cmds": self.off_cmds,
            "timer_expiries": self.timer_expiries,
            "source": self.source,
        }


class Shelly:
    def __init__(self, args):
        self.gen = args.gen
        self.meter = not args.no_meter
        self.relays = [Relay(i, args.power, args.timer_scale) for i in range(args.relays)]
        self.mac = args.mac.upper()
        self.state_file = args.state_file
        self.voltage = 230.1
        self.boot = time.time()
        n = args.relays
        if self.gen == 1:
            if n == 1:
                self.type = "SHPLG-S" if self.meter else "SHSW-1"
                self.devid = ("shellyplug-s-" if self.meter else "shelly1-") + self.mac[-6:]
            else:
                self.type = "SHSW-25"
                self.devid = "shellyswitch25-" + self.mac[-6:]
        else:
            if n == 1:
                self.model, self.app = ("SNSW-001P16EU", "Plus1PM") if self.meter else ("SNSW-001X16EU", "Plus1")
            else:
                self.model, self.app = ("SNSW-102P16EU", "Plus2PM") if self.meter else ("SNSW-002X16EU", "Plus2")
            self.devid = "shelly%s-%s" % (self.app.lower(), self.mac.lower())
        self.auth = None
        if args.password:
            if self.gen == 1:
                self.auth = BasicAuth(args.user or "admin", args.password, self.devid)
            else:
                if args.user and args.user != "admin":
                    log.warning("Gen2+ devices always use user 'admin'; ignoring --user %s", args.user)
                self.auth = DigestAuth("admin", args.password, self.devid)
        self.control = SimControl()
        self._last_save = 0.0
        self._load_state()

    # -- state file ----------------------------------------------------------------
    def _load_state(self):
        if not self.state_file or not os.path.exists(self.state_file):
            return
        try:
            with open(self.state_file) as f:
                st = json.load(f)
            for r, s in zip(self.relays, st.get("relays", [])):
                r.on = bool(s.get("on", False))
                r.energy_wh = float(s.get("energy_wh", 0.0))
                if "load_w" in s:
                    r.power_w = float(s["load_w"])
            log.info("state loaded from %s", self.state_file)
        except (OSError, ValueError) as e:
            log.warning("cannot load %s: %s", self.state_file, e)

    def save_state(self, force=False):
        if not self.state_file:
            return
        now = time.monotonic()
        if not force and now - self._last_save < 1.0:
            return
        self._last_save = now
        st = {"gen": self.gen, "relays": [r.state() for r in self.relays], "time": time.time()}
        tmp = self.state_file + ".tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, self.state_file)
        except OSError as e:
            log.warning("cannot write %s: %s", self.state_file, e)

    def tick(self):
        for r in self.relays:
            r.update()
        self.save_state()

    # -- helpers -------------------------------------------------------------------
    def relay(self, idx):
        try:
            i = int(idx)
        except (TypeError, ValueError):
            return None
        return self.relays[i] if 0 <= i < len(self.relays) else None

    def check_auth(self, request):
        return self.auth.check(request) if self.auth is not None else None

    def sim_state(self):
        st = {"gen": self.gen, "device_id": self.devid, "meter": self.meter,
              "relays": [r.state() for r in self.relays]}
        if self.auth:
            st["auth"] = self.auth.stats() if isinstance(self.auth, DigestAuth) else {"rejected": self.auth.rejected}
        return st

    def reset_counter(self, body):
        ids = [body["id"]] if "id" in body else range(len(self.relays))
        for i in ids:
            r = self.relay(i)
            if r:
                r.update()
                r.energy_wh = 0.0
        log.info("energy counters reset")
        self.save_state(force=True)

    # -- Gen1 ----------------------------------------------------------------------
    async def g1_shelly(self, request):
        return json_response({"type": self.type, "mac": self.mac, "auth": self.auth is not None,
                              "fw": "20230913-112003/v1.14.0-gcb84623", "discoverable": False,
                              "longid": 1, "num_outputs": len(self.relays),
                              "num_meters": len(self.relays) if self.meter else 0})

    def g1_relay_json(self, r):
        r.update()
        rem = r.timer_remaining()
        return {"ison": r.on, "has_timer": r.timer_end is not None,
                "timer_started": int(r.timer_started), "timer_duration": r.timer_duration,
                "timer_remaining": int(round(rem)) if r.timer_end is not None else 0,
                "overpower": False, "source": r.source}

    async def g1_relay(self, request):
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        r = self.relay(request.match_info["id"])
        if r is None:
            return web.Response(status=404, text="Not Found\n")
        q = request.query
        if "turn" in q:
            turn = q["turn"]
            if turn not in ("on", "off", "toggle"):
                return web.Response(status=400, text="Bad turn!\n")
            timer = None
            if "timer" in q:
                try:
                    timer = float(q["timer"])
                except ValueError:
                    return web.Response(status=400, text="Bad timer!\n")
            on = (not r.on) if turn == "toggle" else turn == "on"
            r.switch(on, timer)
            self.save_state(force=True)
        return json_response(self.g1_relay_json(r))

    async def g1_meter(self, request):
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        r = self.relay(request.match_info["id"])
        if r is None or not self.meter:
            return web.Response(status=404, text="Not Found\n")
        r.update()
        p = r.power()
        return json_response({"power": round(p, 2), "overpower": 0.0, "is_valid": True,
                              "timestamp": int(time.time()), "counters": [round(p, 3)] * 3,
                              "total": int(r.energy_wh * 60.0)})

    async def g1_status(self, request):
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        st = {"mac": self.mac, "uptime": int(time.time() - self.boot), "unixtime": int(time.time()),
              "relays": [self.g1_relay_json(r) for r in self.relays]}
        if self.meter:
            st["meters"] = [{"power": round(r.power(), 2), "is_valid": True, "total": int(r.energy_wh * 60.0)}
                            for r in self.relays]
        return json_response(st)

    # -- Gen2 ----------------------------------------------------------------------
    def g2_info(self):
        return {"name": None, "id": self.devid, "mac": self.mac, "slot": 0, "model": self.model, "gen": 2,
                "fw_id": "20241011-114455/1.4.4-g6d2a586", "ver": "1.4.4", "app": self.app,
                "auth_en": self.auth is not None, "auth_domain": self.devid if self.auth else None}

    async def g2_shelly(self, request):
        return json_response(self.g2_info())

    def g2_switch_status(self, r):
        r.update()
        st = {"id": r.id, "source": r.source, "output": r.on}
        if r.timer_end is not None:
            st["timer_started_at"] = round(r.timer_started, 2)
            st["timer_duration"] = r.timer_duration
        if self.meter:
            p = r.power()
            st.update({"apower": round(p, 1), "voltage": self.voltage, "freq": 50.0,
                       "current": round(p / self.voltage, 3), "pf": 1.0 if p else 0.0,
                       "aenergy": {"total": round(r.energy_wh, 3),
                                   "by_minute": [round(p / 60.0 * 1000.0, 3)] * 3,
                                   "minute_ts": int(time.time() // 60 * 60)},
                       "ret_aenergy": {"total": 0.0, "by_minute": [0.0, 0.0, 0.0],
                                       "minute_ts": int(time.time() // 60 * 60)}})
        st["temperature"] = {"tC": 41.2 + (8.0 if r.on else 0.0), "tF": round((41.2 + (8.0 if r.on else 0.0)) * 1.8 + 32, 1)}
        return st

    def rpc_call(self, method, params):
        """Returns (http status, result or error object)."""
        if method == "Shelly.GetDeviceInfo":
            return 200, self.g2_info()
        if method == "Shelly.GetStatus":
            st = {"sys": {"mac": self.mac, "uptime": int(time.time() - self.boot), "unixtime": int(time.time())}}
            for r in self.relays:
                st["switch:%d" % r.id] = self.g2_switch_status(r)
            return 200, st
        if not method.startswith("Switch."):
            return 404, {"code": 404, "message": "No handler for %s" % method}
        if "id" not in params:
            return 500, {"code": -103, "message": "Missing required argument 'id'!"}
        r = self.relay(params["id"])
        if r is None:
            return 500, {"code": -105, "message": "Argument 'id', value %s not found!" % params["id"]}
        if method == "Switch.GetStatus":
            return 200, self.g2_switch_status(r)
        if method == "Switch.Set":
            if "on" not in params:
                return 500, {"code": -103, "message": "Missing required argument 'on'!"}
            try:
                on = parse_bool(params["on"])
                timer = float(params["toggle_after"]) if params.get("toggle_after") not in (None, "") else None
            except ValueError as e:
                return 500, {"code": -103, "message": "Invalid argument: %s" % e}
            was = r.switch(on, timer)
            self.save_state(force=True)
            return 200, {"was_on": was}
        if method == "Switch.Toggle":
            was = r.switch(not r.on)
            self.save_state(force=True)
            return 200, {"was_on": was}
        return 404, {"code": 404, "message": "No handler for %s" % method}

    async def g2_rpc_get(self, request):
        method = request.match_info["method"]
        if method != "Shelly.GetDeviceInfo":
            denied = self.check_auth(request)
            if denied is not None:
                return denied
        status, obj = self.rpc_call(method, dict(request.query))
        return json_response(obj, status=status)

    async def g2_rpc_post(self, request):
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        try:
            body = await read_json(request)
        except ValueError:
            return json_response({"id": None, "src": self.devid,
                                  "error": {"code": -32700, "message": "Parse error"}}, status=400)
        status, obj = self.rpc_call(str(body.get("method", "")), body.get("params") or {})
        out = {"id": body.get("id"), "src": self.devid}
        out["result" if status == 200 else "error"] = obj
        return json_response(out, status=status)

    # -- sim control extras ----------------------------------------------------------
    async def sim_relay(self, request):
        """POST /sim/relay {"id":0, "on":bool, "power":W, "energy_wh":Wh}: change a
        relay behind the driver's back (button press, other load)."""
        try:
            body = await read_json(request)
            r = self.relay(body.get("id", 0))
            if r is None:
                raise ValueError("no such relay")
            r.update()
            if "power" in body:
                r.power_w = float(body["power"])
            if "energy_wh" in body:
                r.energy_wh = float(body["energy_wh"])
            if "on" in body:
                r.switch(parse_bool(body["on"]), None, source="button", count=False)
        except (ValueError, TypeError) as e:
            return json_response({"ok": False, "error": str(e)}, status=400)
        self.save_state(force=True)
        return json_response({"ok": True, "relay": r.state()})

    def make_app(self):
        app = web.Application(middlewares=[self.control.middleware])
        self.control.add_routes(app, self.sim_state, self.reset_counter)
        app.router.add_post("/sim/relay", self.sim_relay)
        if self.gen == 1:
            app.router.add_get("/shelly", self.g1_shelly)
            app.router.add_get("/relay/{id}", self.g1_relay)
            app.router.add_get("/meter/{id}", self.g1_meter)
            app.router.add_get("/status", self.g1_status)
        else:
            app.router.add_get("/shelly", self.g2_shelly)
            app.router.add_get("/rpc/{method}", self.g2_rpc_get)
            app.router.add_post("/rpc", self.g2_rpc_post)
        return app


def make_parser():
    """The command line parser (also used by home.py to get the defaults)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gen", type=int, choices=(1, 2), default=1, help="device generation (2 = Gen2+ RPC)")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = a free one)")
    ap.add_argument("--relays", type=int, default=1, help="number of relays/switches")
    ap.add_argument("--user", default=None, help="Gen1 basic-auth user (default admin)")
    ap.add_argument("--password", default=None, help="enable auth (Gen1 basic, Gen2 digest SHA-256)")
    ap.add_argument("--no-meter", action="store_true", help="a device without power metering")
    ap.add_argument("--power", type=float, default=800.0, help="load in W while a relay is on")
    ap.add_argument("--timer-scale", type=float, default=1.0,
                    help="real seconds per timer second (0.01: a 300 s timer runs out after 3 s)")
    ap.add_argument("--state-file", default=None, help="persist relay state and energy here (JSON)")
    ap.add_argument("--mac", default="A8032AB1C2D3", help="MAC address (device id suffix)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return ap


def main(argv=None):
    ap = make_parser()
    args = ap.parse_args(argv)
    if args.relays < 1 or args.timer_scale <= 0:
        ap.error("--relays must be >= 1 and --timer-scale > 0")
    setup_logging(args.verbose)
    dev = Shelly(args)
    log.info("Shelly Gen%d sim: %s, %d relay(s), load %g W, meter %s, auth %s", args.gen, dev.devid,
             args.relays, args.power, "yes" if dev.meter else "no", "yes" if dev.auth else "no")
    run_app(dev.make_app(), "127.0.0.1", args.port, on_tick=dev.tick, on_exit=lambda: dev.save_state(True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
