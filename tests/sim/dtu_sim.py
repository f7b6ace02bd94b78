#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated AhoyDTU (0.8.x REST API) or OpenDTU (web API) with one Hoymiles
inverter (hoymiles.py) behind it, for the ahoyDtu and openDtu drivers.
See README.md in this directory."""
import argparse
import json
import math
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aiohttp import web  # noqa: E402

import hoymiles  # noqa: E402
from shelly_sim import (BasicAuth, SimControl, json_response, log, parse_bool, read_json,  # noqa: E402
                        run_app, setup_logging)

# AhoyDTU field lists (RestApi.h acList / dcList) with their names and units
AHOY_AC_FIELDS = ["U_AC", "I_AC", "P_AC", "F_AC", "PF_AC", "Temp", "YieldTotal", "YieldDay", "P_DC",
                  "Efficiency", "Q_AC", "MaxPower", "MaxTemp"]
AHOY_AC_UNITS = ["V", "A", "W", "Hz", "", "°C", "kWh", "Wh", "W", "%", "var", "W", "°C"]
AHOY_DC_FIELDS = ["U_DC", "I_DC", "P_DC", "YieldDay", "YieldTotal", "Irradiation", "MaxPower"]
AHOY_DC_UNITS = ["V", "A", "W", "Wh", "kWh", "%", "W"]

# OpenDTU PowerLimitControlType
LIMIT_ABS_NONPERSISTENT = 0x0000
LIMIT_REL_NONPERSISTENT = 0x0001
LIMIT_ABS_PERSISTENT = 0x0100
LIMIT_REL_PERSISTENT = 0x0101
MAX_INVERTER_LIMIT = 2250


def num(x, digits=3):
    """A JSON number the way ArduinoJson prints a rounded float."""
    v = round(float(x), digits)
    return int(v) if v == int(v) and abs(v) < 1e15 else v


def hex_serial(s):
    """strtoll(s, NULL, 16) as OpenDTU does it: 0 when not parsable."""
    s = str(s).strip()
    digits = ""
    for c in s.lower():
        if c in "0123456789abcdef":
            digits += c
        else:
            break
    return int(digits, 16) if digits else 0


class Dtu:
    def __init__(self, args):
        self.kind = args.kind
        self.id = args.id
        self.serial = args.serial.lower()
        self.max_w = args.max_w
        self.name = args.name or "HM-%d" % args.max_w
        self.channels = 1 if args.max_w <= 400 else 2 if args.max_w <= 1000 else 4
        self.password = args.password
        self.token_ttl = args.token_ttl
        self.token = None
        self.token_used = 0.0
        self.auth_stats = {"logins": 0, "bad_logins": 0, "protected": 0}
        self.stale = args.stale
        lut = None
        if args.lut:
            with open(args.lut) as f:
                lut = hoymiles.parse_lut(f.read())
            if not lut:
                raise SystemExit("no 'percent;watt' lines in %s" % args.lut)
        self.inv = hoymiles.Inverter(max_w=args.max_w, lut=lut, ack_delay=args.ack_delay, settle=args.settle,
                                     noise=args.noise, speed=args.speed, start_delay=args.start_delay,
                                     restart_time=args.restart_time, cmd_timeout=args.cmd_timeout,
                                     dc_w=args.dc_w, on=not args.start_off, seed=args.seed)
        self.basic = BasicAuth("admin", args.password, "Login Required") if args.password else None
        self.control = SimControl()
        self.max_ac = 0.0
        self.max_temp = 0.0
        self.last_ahoy_status = 0
        self.last_reachable_status = 2 if not args.start_off else 1
        self._seen_epoch = 0
        self._last_logged = None

    # -- common ------------------------------------------------------------------------
    def tick(self):
        inv = self.inv
        inv.advance()
        cur = (inv.phase, inv.limit_pct if inv.limit_known else None, inv.limit_status, inv.power_status,
               inv.reachable, inv.fault_latched)
        if cur != self._last_logged:
            log.info("inverter: phase %s, limit %s%%, limit %s, power cmd %s, %s%s", cur[0], cur[1], cur[2], cur[3],
                     "reachable" if cur[4] else "UNREACHABLE", ", FAULT" if cur[5] else "")
            self._last_logged = cur

    def snapshot(self):
        self.inv.advance()
        snap = self.inv.snapshot()
        if self.inv.reachable:
            self.max_ac = max(self.max_ac, snap["p_ac"])
            self.max_temp = max(self.max_temp, snap["temp"])
        return snap

    def sim_state(self):
        st = {"kind": self.kind, "id": self.id, "serial": self.serial, "inverter": self.inv.state()}
        if self.kind == "ahoy":
            st["ahoy_status"] = self.ahoy_status(self.snapshot())
            st["auth"] = dict(self.auth_stats, token_valid=self.token_valid(touch=False, any_token=True))
        elif self.basic:
            st["auth"] = {"rejected": self.basic.rejected}
        return st

    def reset_counter(self, body):
        self.inv.reset_energy()
        log.info("inverter energy counters reset")

    async def sim_inverter(self, request):
        """POST /sim/inverter {"fault":bool, "reachable":bool, "dc_w":W|null,
        "on":bool, "limit":P, "noise":F}"""
        try:
            body = await read_json(request)
            inv = self.inv
            if "fault" in body:
                if parse_bool(body["fault"]):
                    inv.fault()
                else:
                    inv.clear_fault()
            if "reachable" in body:
                inv.set_reachable(parse_bool(body["reachable"]))
            if "dc_w" in body:
                inv.set_dc(None if body["dc_w"] is None else float(body["dc_w"]))
            if "on" in body or "limit" in body:
                inv.force(on=parse_bool(body["on"]) if "on" in body else None,
                          limit=float(body["limit"]) if body.get("limit") is not None else None)
            if "noise" in body:
                inv.noise = float(body["noise"])
        except (ValueError, TypeError) as e:
            return json_response({"ok": False, "error": str(e)}, status=400)
        log.info("sim/inverter %s", body)
        self.tick()
        return json_response({"ok": True, "inverter": self.inv.state()})

    # -- AhoyDTU -----------------------------------------------------------------------
    def token_valid(self, token=None, touch=True, any_token=False):
        """Is token the current, unexpired token (any_token: is there one)?"""
        if self.token is None or time.monotonic() - self.token_used > self.token_ttl:
            if self.token is not None:
                log.info("ahoy: token expired")
            self.token = None
            return False
        if not any_token and (token is None or not secrets.compare_digest(str(token), self.token)):
            return False
        if touch:
            self.token_used = time.monotonic()
        return True

    def ahoy_status(self, snap):
        """0 off/unreachable, 1 starting, 2 producing, 3 was producing, 4 was on."""
        inv = self.inv
        if inv.reachable:
            back = inv.link_epoch != self._seen_epoch   # was away (reboot, radio) since the last look
            self._seen_epoch = inv.link_epoch
            if inv.phase == hoymiles.PHASE_PRODUCING and snap["p_ac"] > 3.0:
                st = 2
            elif self.last_reachable_status in (2, 3) and not back:
                st = 3
            else:
                st = 1
            self.last_reachable_status = st
        else:
            age = time.time() - snap["ts"]
            if age < self.stale:
                st = self.last_reachable_status
            elif self.last_reachable_status in (1, 2, 3) and age < 15 * 60:
                st = 4
            else:
                st = 0
        self.last_ahoy_status = st
        return st

    def ahoy_inverter_json(self):
        inv = self.inv
        snap = self.snapshot()
        status = self.ahoy_status(snap)
        p_ac, p_dc = snap["p_ac"], snap["p_dc"]
        u_ac = snap["u_ac"]
        ac = [u_ac, p_ac / u_ac if u_ac else 0.0, p_ac, snap["f_ac"], 1.0 if p_ac else 0.0, snap["temp"],
              snap["yield_total_kwh"], snap["yield_day_wh"], p_dc, snap["eff"], 0.0, self.max_ac, self.max_temp]
        ch_max = round(self.max_w / self.channels * 1.33)
        dcs = []
        for _ in range(self.channels):
            pc = p_dc / self.channels
            u = snap["u_dc"]
            dcs.append([u, pc / u if u else 0.0, pc, snap["yield_day_wh"] / self.channels,
                        snap["yield_total_kwh"] / self.channels, pc / ch_max * 100.0, self.max_ac / self.channels])
        return {
            "id": self.id, "enabled": True, "name": self.name, "serial": self.serial, "version": "10012",
            "power_limit_read": num(inv.limit_pct, 1) if inv.limit_known else 65535,
            "power_limit_ack": inv.limit_ack, "max_pwr": self.max_w, "ts_last_success": int(snap["ts"]),
            "generation": 0, "status": status, "alarm_cnt": 0, "rssi": -60 if inv.reachable else -127,
            "ts_max_ac_pwr": 0, "ts_max_temp": 0,
            "ch": [[num(v) for v in ac]] + [[num(v) for v in d] for d in dcs],
            "ch_name": ["AC"] + ["Panel %d" % (i + 1) for i in range(self.channels)],
            "ch_max_pwr": [None] + [ch_max] * self.channels,
            # not in the real /api/inverter/id (AhoyDTU serves these in /api/live
            # as ch0_fld_names/ch0_fld_units); here to make ch[0] readable
            "fld_names": AHOY_AC_FIELDS, "fld_units": AHOY_AC_UNITS,
        }

    async def ahoy_inverter(self, request):
        raw = request.match_info["id"]
        digits = ""
        for c in raw:                   # String::toInt(): leading digits, else 0
            if not c.isdigit():
                break
            digits += c
        if int(digits or "0") != self.id:
            return json_response({"error": "inverter not found!"})
        return json_response(self.ahoy_inverter_json())

    async def ahoy_list(self, request):
        return json_response({
            "inverter": [{"enabled": True, "id": self.id, "name": self.name, "serial": self.serial,
                          "channels": self.channels, "version": "10012",
                          "ch_yield_cor": [0] * self.channels,
                          "ch_name": ["Panel %d" % (i + 1) for i in range(self.channels)],
                          "ch_max_pwr": [round(self.max_w / self.channels * 1.33)] * self.channels,
                          "freq": 12, "disnightcom": False, "pa": 30}],
            "interval": "5", "max_num_inverters": 16, "rstMid": False, "rstNAvail": False,
            "rstComStop": False, "rstComStart": False, "strtWthtTm": False, "rdGrid": True})

    async def ahoy_live(self, request):
        return json_response({"generic": self.ahoy_generic(), "refresh": 5, "max_total_pwr": self.max_w,
                              "ch0_fld_units": AHOY_AC_UNITS, "ch0_fld_names": AHOY_AC_FIELDS,
                              "fld_units": AHOY_DC_UNITS, "fld_names": AHOY_DC_FIELDS,
                              "iv": [i == self.id for i in range(max(16, self.id + 1))]})

    def ahoy_generic(self):
        return {"wifi_rssi": -58, "ts_uptime": int(time.monotonic() - self.control_started),
                "ts_now": int(time.time()), "version": "0.8.155", "build": "a8d5d1b", "env": "esp32-wroom32",
                "host": "AHOY-DTU", "menu_prot": self.password is not None and not self.token_valid(touch=False, any_token=True),
                "menu_mask": 61, "menu_protEn": self.password is not None, "cst_lnk": "", "cst_lnk_txt": "",
                "region": 0, "timezone": 1, "esp_type": "ESP32"}

    async def ahoy_generic_h(self, request):
        return json_response(self.ahoy_generic())

    async def ahoy_not_found(self, request):
        url = "http://%s/api/" % request.host
        eps = ["inverter/list", "inverter/id/0", "generic", "live", "system"]
        return json_response({"avail_endpoints": {e: url + e for e in eps}})

    async def ahoy_ctrl(self, request):
        raw = await request.read()
        out = {"success": True}
        try:
            obj = json_loads_obj(raw)
        except ValueError:
            return json_response({"success": False, "error": "Invalid input"})
        out["success"] = self.ahoy_set_ctrl(obj, out)
        return json_response(out)

    def ahoy_set_ctrl(self, obj, out):
        if "auth" in obj:
            if str(obj["auth"]) == (self.password or ""):
                self.token = secrets.token_urlsafe(12)[:16]
                self.token_used = time.monotonic()
                self.auth_stats["logins"] += 1
                out["token"] = self.token
                obj["token"] = self.token
                log.info("ahoy: login, new token")
            else:
                self.auth_stats["bad_logins"] += 1
                out["error"] = "ERR_AUTH"
                return False
            if "cmd" not in obj:
                return True
        if self.password is not None and not self.token_valid(obj.get("token")):
            self.auth_stats["protected"] += 1
            out["error"] = "ERR_PROTECTED"
            return False
        try:
            iv_id = int(obj.get("id", 0) or 0)
        except (TypeError, ValueError):
            iv_id = 0
        if iv_id != self.id:
            out["error"] = "ERR_INDEX"
            return False
        out["id"] = obj.get("id")
        cmd = obj.get("cmd")
        inv = self.inv
        if cmd == "power":
            val = obj.get("val")
            on = (not isinstance(val, str)) and val == 1
            accepted = inv.set_power(on)
        elif cmd == "restart":
            accepted = inv.restart()
        elif isinstance(cmd, str) and cmd.startswith("limit_"):
            try:
                val = float(obj.get("val", 0) or 0)
            except (TypeError, ValueError):
                val = 0.0
            tenth = math.floor(val * 10.0) / 10.0 if val >= 0 else 0.0   # uint16(val * 10)
            if cmd in ("limit_nonpersistent_relative", "limit_persistent_relative"):
                pct = tenth
            elif cmd in ("limit_nonpersistent_absolute", "limit_persistent_absolute"):
                pct = tenth / self.max_w * 100.0
            else:
                out["error"] = "ERR_UNKNOWN_CMD"
                return False
            accepted = inv.set_limit(pct, persistent="_persistent_" in cmd)
        else:
            out["error"] = "ERR_UNKNOWN_CMD"
            return False
        log.info("ahoy: %s %s -> %s", cmd, obj.get("val", ""), "accepted" if accepted else "not accepted")
        if not accepted:
            out["error"] = "ERR_LIMIT_NOT_ACCEPT"
            return False
        return True

    # -- OpenDTU -----------------------------------------------------------------------
    def odtu_common(self):
        inv = self.inv
        snap = self.snapshot()
        limit = inv.limit_pct
        return snap, {
            "serial": self.serial, "name": self.name, "order": 0,
            "data_age": int(max(0.0, time.time() - snap["ts"])),
            "data_age_ms": int(max(0.0, time.time() - snap["ts"]) * 1000),
            "poll_enabled": True, "reachable": inv.reachable, "producing": snap["p_ac"] > 0.0,
            "limit_relative": num(limit, 1), "limit_absolute": num(limit * self.max_w / 100.0, 1),
            "radio_stats": {"tx_request": 0, "tx_re_request": 0, "rx_success": 0, "rx_fail_nothing": 0,
                            "rx_fail_partial": 0, "rx_fail_corrupt": 0, "rssi": -60 if inv.reachable else -127},
        }

    @staticmethod
    def f(v, u, d):
        return {"v": num(v, 3), "u": u, "d": d}

    async def odtu_livedata(self, request):
        f = self.f
        snap, common = self.odtu_common()
        inverters = []
        if "inv" in request.query:
            if hex_serial(request.query["inv"]) == hex_serial(self.serial):
                p_ac, p_dc, u_ac = snap["p_ac"], snap["p_dc"], snap["u_ac"]
                ch_max = round(self.max_w / self.channels * 1.33)
                o = dict(common)
                o["AC"] = {"0": {"Power": f(p_ac, "W", 1), "Voltage": f(u_ac, "V", 1),
                                 "Current": f(p_ac / u_ac if u_ac else 0.0, "A", 2),
                                 "Frequency": f(snap["f_ac"], "Hz", 2), "PowerFactor": f(1.0 if p_ac else 0.0, "", 3),
                                 "ReactivePower": f(0.0, "var", 1)}}
                o["DC"] = {}
                for i in range(self.channels):
                    pc = p_dc / self.channels
                    o["DC"][str(i)] = {"name": {"u": "Panel %d" % (i + 1)}, "Power": f(pc, "W", 1),
                                       "Voltage": f(snap["u_dc"], "V", 1),
                                       "Current": f(pc / snap["u_dc"] if snap["u_dc"] else 0.0, "A", 2),
                                       "YieldDay": f(snap["yield_day_wh"] / self.channels, "Wh", 0),
                                       "YieldTotal": f(snap["yield_total_kwh"] / self.channels, "kWh", 3),
                                       "Irradiation": dict(f(pc / ch_max * 100.0, "%", 3), max=ch_max)}
                o["INV"] = {"0": {"Temperature": f(snap["temp"], "°C", 1), "Power DC": f(p_dc, "W", 1),
                                  "YieldDay": f(snap["yield_day_wh"], "Wh", 0),
                                  "YieldTotal": f(snap["yield_total_kwh"], "kWh", 3),
                                  "Efficiency": f(snap["eff"], "%", 3)}}
                o["events"] = 0
                inverters.append(o)
        else:
            inverters.append(common)
        return json_response({
            "inverters": inverters,
            "total": {"Power": f(snap["p_ac"], "W", 1), "YieldDay": f(snap["yield_day_wh"], "Wh", 0),
                      "YieldTotal": f(snap["yield_total_kwh"], "kWh", 3)},
            "hints": {"time_sync": False, "radio_problem": False, "default_password": False,
                      "pin_mapping_issue": False}})

    async def odtu_limit_status(self, request):
        inv = self.inv
        inv.advance()
        return json_response({self.serial: {"limit_relative": num(inv.limit_pct, 1), "max_power": self.max_w,
                                            "limit_set_status": inv.limit_status}})

    async def odtu_power_status(self, request):
        inv = self.inv
        inv.advance()
        return json_response({self.serial: {"power_set_status": inv.power_status}})

    def odtu_check(self, request):
        if self.basic is None:
            return None
        denied = self.basic.check(request)
        if denied is not None and request.headers.get("X-Requested-With"):
            del denied.headers["WWW-Authenticate"]
        return denied

    async def odtu_data(self, request):
        """The 'data' form field parsed, or a warning response."""
        form = await request.post()
        if "data" not in form:
            return None, json_response({"type": "warning", "message": "No values found!", "code": 1002})
        data = form["data"]
        if not isinstance(data, str):
            data = data.file.read().decode("utf-8", "replace")
        if len(data) > 1024:
            return None, json_response({"type": "warning", "message": "Data too large!", "code": 1003})
        try:
            obj = json_loads_obj(data.encode("utf-8"))
        except ValueError:
            return None, json_response({"type": "warning", "message": "Failed to parse data!", "code": 1004})
        return obj, None

    async def odtu_limit_config(self, request):
        denied = self.odtu_check(request)
        if denied is not None:
            return denied
        obj, err = await self.odtu_data(request)
        if err is not None:
            return err
        if not all(k in obj for k in ("serial", "limit_value", "limit_type")):
            return json_response({"type": "warning", "message": "Values are missing!", "code": 1005})
        serial = hex_serial(obj["serial"])
        if serial == 0:
            return json_response({"type": "warning", "message": "Serial must be a number > 0!", "code": 5001})
        try:
            value = int(float(obj["limit_value"]))
            ltype = int(obj["limit_type"])
        except (TypeError, ValueError):
            value, ltype = 0, -1
        if value < 0 or value > MAX_INVERTER_LIMIT:
            return json_response({"type": "warning", "message": "Limit must between 0 and %d!" % MAX_INVERTER_LIMIT,
                                  "code": 5002, "param": {"max": MAX_INVERTER_LIMIT}})
        if ltype not in (LIMIT_ABS_NONPERSISTENT, LIMIT_REL_NONPERSISTENT, LIMIT_ABS_PERSISTENT,
                         LIMIT_REL_PERSISTENT):
            return json_response({"type": "warning", "message": "Invalid type specified!", "code": 5003})
        if serial != hex_serial(self.serial):
            return json_response({"type": "warning", "message": "Invalid inverter specified!", "code": 5004})
        pct = value if ltype & 1 else value / self.max_w * 100.0
        self.inv.set_limit(pct, persistent=bool(ltype & 0x100))
        log.info("opendtu: limit %d type %d", value, ltype)
        return json_response({"type": "success", "message": "Settings saved!", "code": 1001})

    async def odtu_power_config(self, request):
        denied = self.odtu_check(request)
        if denied is not None:
            return denied
        obj, err = await self.odtu_data(request)
        if err is not None:
            return err
        if not ("serial" in obj and ("power" in obj or "restart" in obj)):
            return json_response({"type": "warning", "message": "Values are missing!", "code": 1005})
        serial = hex_serial(obj["serial"])
        if serial == 0:
            return json_response({"type": "warning", "message": "Serial must be a number > 0!", "code": 11001})
        if serial != hex_serial(self.serial):
            return json_response({"type": "warning", "message": "Invalid inverter specified!", "code": 11002})
        if "power" in obj:
            on = bool(obj["power"]) if not isinstance(obj["power"], str) else False
            self.inv.set_power(on)
            log.info("opendtu: power %s", on)
        elif obj.get("restart") is True or (isinstance(obj.get("restart"), (int, float)) and obj["restart"]):
            self.inv.restart()
            log.info("opendtu: restart")
        return json_response({"type": "success", "message": "Settings saved!", "code": 1001})

    # -----------------------------------------------------------------------------------
    def make_app(self):
        self.control_started = time.monotonic()
        app = web.Application(middlewares=[self.control.middleware])
        self.control.add_routes(app, self.sim_state, self.reset_counter)
        app.router.add_post("/sim/inverter", self.sim_inverter)
        if self.kind == "ahoy":
            app.router.add_get("/api/inverter/id/{id}", self.ahoy_inverter)
            app.router.add_get("/api/inverter/list", self.ahoy_list)
            app.router.add_get("/api/live", self.ahoy_live)
            app.router.add_get("/api/generic", self.ahoy_generic_h)
            app.router.add_post("/api/ctrl", self.ahoy_ctrl)
            app.router.add_get("/api/{tail:.*}", self.ahoy_not_found)
        else:
            app.router.add_get("/api/livedata/status", self.odtu_livedata)
            app.router.add_get("/api/limit/status", self.odtu_limit_status)
            app.router.add_post("/api/limit/config", self.odtu_limit_config)
            app.router.add_get("/api/power/status", self.odtu_power_status)
            app.router.add_post("/api/power/config", self.odtu_power_config)
        return app


def json_loads_obj(raw):
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(str(e))
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    return obj


def make_parser():
    """The command line parser (also used by home.py to get the defaults)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=("ahoy", "opendtu"), required=True)
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = a free one)")
    ap.add_argument("--max-w", type=int, default=600, help="inverter's maximum AC power (W)")
    ap.add_argument("--password", default=None,
                    help="AhoyDTU admin password (token login) / OpenDTU admin password (basic auth on POSTs)")
    ap.add_argument("--serial", default="114182912345", help="inverter serial")
    ap.add_argument("--id", type=int, default=0, help="AhoyDTU inverter id")
    ap.add_argument("--name", default=None, help="inverter name (default HM-<max-w>)")
    ap.add_argument("--ack-delay", type=float, default=3.0, help="s until a command reaches the inverter")
    ap.add_argument("--settle", type=float, default=20.0, help="s for the output to settle after a change")
    ap.add_argument("--noise", type=float, default=0.02, help="measurement noise, fraction (0 = exact)")
    ap.add_argument("--start-delay", type=float, default=3.0, help="s from 'on' to producing")
    ap.add_argument("--restart-time", type=float, default=10.0, help="s the inverter is away when restarting")
    ap.add_argument("--cmd-timeout", type=float, default=15.0, help="s until a lost command is reported failed")
    ap.add_argument("--speed", type=float, default=1.0, help="inverter time runs this much faster")
    ap.add_argument("--dc-w", type=float, default=None, help="available DC power (W), default unlimited")
    ap.add_argument("--lut", default=None, help="the inverter's real curve, lines 'percent;watt'")
    ap.add_argument("--start-off", action="store_true", help="the inverter starts switched off")
    ap.add_argument("--token-ttl", type=float, default=1200.0, help="AhoyDTU token lifetime without use (s)")
    ap.add_argument("--stale", type=float, default=0.0,
                    help="AhoyDTU: s it keeps the last status after the inverter became unreachable")
    ap.add_argument("--seed", type=int, default=None, help="random seed for the noise")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return ap


def main(argv=None):
    ap = make_parser()
    args = ap.parse_args(argv)
    if args.speed <= 0 or args.max_w <= 0:
        ap.error("--speed and --max-w must be > 0")
    if hex_serial(args.serial) == 0:
        ap.error("--serial must be a (hex) number > 0")
    setup_logging(args.verbose)
    dtu = Dtu(args)
    log.info("%s sim: inverter %s serial %s id %d, max %d W, ack %gs, settle %gs, noise %g, speed %g, auth %s",
             "AhoyDTU" if args.kind == "ahoy" else "OpenDTU", dtu.name, dtu.serial, dtu.id, args.max_w,
             args.ack_delay, args.settle, args.noise, args.speed, "yes" if args.password else "no")
    run_app(dtu.make_app(), "127.0.0.1", args.port, on_tick=dtu.tick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
