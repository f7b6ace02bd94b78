#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The simulated home: ONE asyncio process with one plant model (plant.py)
behind all device simulators, talking real protocols to the unmodified daemon:

- a grid charger behind a Shelly Plus 1PM (shelly_sim.py, HTTP RPC);
- a Hoymiles HM-600 behind an AhoyDTU (dtu_sim.py + hoymiles.py, HTTP REST);
- a Victron SmartSolar MPPT on a pty (vedirect_sim.py, VE.Direct text + HEX);
- three BMS (LLT/JBD, Daly, JK) behind a simulated BlueZ (bluez_sim.py) on a
  private D-Bus (start the bus first: --bus);
- or, with --serial-dir, the serial hardware instead of the AhoyDTU, MPPT
  and BMS (home_serial.py): two Pylontech packs, a PZEM-017 solar meter and a
  Growatt inverter on RS485 ptys;
- the grid meter, published over MQTT once a second:
  load - inverter - solar + charger (W, + = drawn from the grid).

Prints "ready control=127.0.0.1:PORT ..." on stdout once everything listens.
Control API (HTTP, JSON, 127.0.0.1:--control-port): GET /state, GET /history,
GET /commands, POST /set, POST /reset_energy. See README.md, "home.py".
"""
import asyncio
import collections
import json
import logging
import os
import signal
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import paho.mqtt.client as mqtt  # noqa: E402
from aiohttp import web  # noqa: E402

import dtu_sim  # noqa: E402
import home_serial  # noqa: E402
from home_args import METER_FORMATS, make_parser  # noqa: E402
import plant  # noqa: E402
import serial_sim  # noqa: E402
import shelly_sim  # noqa: E402
import vedirect_sim  # noqa: E402

log = logging.getLogger("home")

# The BMS of the demo battery: pack kind -> MAC (etc/demo.json uses these).
MACS = {"llt": "A4:C1:38:00:00:01", "daly": "A4:C1:38:00:00:02", "jk": "C8:47:8C:00:00:03"}
BLE_DRIVERS = {"lltPowerBmsV4Ble": "llt", "daly8S24V60A": "daly", "jkBmsBd4": "jk"}
PLANT_TICK = 0.2            # s between plant steps
BMS_UPDATE = 1.0            # s between updates of the BMS values


def encode_meter(fmt, w):
    if fmt == "s16":
        return struct.pack(">h", max(-32768, min(32767, w)))
    if fmt == "s32":
        return struct.pack(">i", w)
    return str(w).encode()


async def start_site(app, port):
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, shutdown_timeout=0.5, reuse_address=True)
    await site.start()
    return runner, runner.addresses[0][1]


class Home:
    def __init__(self, args):
        self.args = args
        self.started = time.monotonic()
        self.started_unix = time.time()
        load = plant.Profile.constant(args.load) if args.load is not None else plant.Profile.load(args.profile)
        solar = plant.Profile.constant(args.solar) if args.solar is not None else plant.Profile.load(args.solar_profile)
        battery = plant.pylontech_battery if args.serial_dir else plant.default_battery
        self.plant = plant.Plant(load, solar, battery(soc=args.soc, ambient=args.ambient),
                                 speed=args.speed, start=args.start, meter_noise_w=args.meter_noise,
                                 meter_solar=not args.no_meter_solar, seed=args.seed)
        self.endpoints = {}
        self.runners = []
        self.history = collections.deque(maxlen=3600)
        self.commands = collections.deque(maxlen=2000)
        self.command_counts = collections.Counter()
        self.mppt_reads = 0
        self._seen = {"inv": 0, "hex": 0, "on": 0, "off": 0}
        self.meter_w = None
        self.meter_published = 0
        self.mqtt_connected = False
        self.bluez = None
        self.bus = None
        self.mppt = None
        self.dtu = None
        self.serial = None      # home_serial.SerialHome with --serial-dir
        self.mppt_thread = None
        self.mppt_http = None
        self.mqtt = None
        self.stop = asyncio.Event()

    # ------------------------------------------------------------ devices
    async def start_shelly(self):
        a = self.args
        sargs = shelly_sim.make_parser().parse_args(
            ["--gen", str(a.shelly_gen), "--power", str(a.charger_w), "--mac", "A8032AB1C2D3"])
        self.shelly = shelly_sim.Shelly(sargs)
        runner, port = await start_site(self.shelly.make_app(), a.shelly_port)
        self.runners.append(runner)
        self.endpoints["shelly"] = "127.0.0.1:%d" % port

    async def start_dtu(self):
        a = self.args
        dargs = dtu_sim.make_parser().parse_args(
            ["--kind", "ahoy", "--max-w", str(a.inverter_max_w), "--lut", a.lut, "--start-off",
             "--ack-delay", str(a.ack_delay), "--settle", str(a.settle), "--noise", str(a.noise)]
            + (["--seed", str(a.seed)] if a.seed is not None else []))
        self.dtu = dtu_sim.Dtu(dargs)
        runner, port = await start_site(self.dtu.make_app(), a.dtu_port)
        self.runners.append(runner)
        self.endpoints["dtu"] = "127.0.0.1:%d" % port

    def start_mppt(self):
        a = self.args
        if not a.mppt_link:
            return
        vargs = vedirect_sim.make_parser().parse_args(["--link", a.mppt_link, "--ppv", "0"])
        self.mppt = vedirect_sim.Sim(vargs)
        self.mppt.values["v"] = int(self.plant.battery.voltage * 1000)
        self.mppt.values["h20"] = 0
        self.mppt.plug()
        self.mppt_thread = threading.Thread(target=self.mppt.run, name="vedirect", daemon=True)
        self.mppt_thread.start()
        from http.server import ThreadingHTTPServer
        self.mppt_http = ThreadingHTTPServer(("127.0.0.1", a.mppt_control_port), serial_sim.make_handler(self.mppt))
        self.mppt_http.daemon_threads = True
        threading.Thread(target=self.mppt_http.serve_forever, name="vedirect-http", daemon=True).start()
        self.endpoints["mppt_link"] = a.mppt_link
        self.endpoints["mppt_control"] = "127.0.0.1:%d" % self.mppt_http.server_address[1]

    async def start_bluez(self):
        a = self.args
        if not a.bus:
            return
        import bluez_sim
        from dbus_next import Message, NameFlag, RequestNameReply
        from dbus_next.aio import MessageBus
        self.bus = await MessageBus(bus_address=a.bus, negotiate_unix_fd=True).connect()  # AcquireNotify
        argv = ["--bus", a.bus]
        for p in self.plant.battery.packs:
            argv += ["--device", "%s:%s" % (p.kind, MACS[p.kind])]
        bargs = bluez_sim.make_parser().parse_args(argv)
        self.bluez = bluez_sim.BluezSim(self.bus, bargs)
        for kind, mac, opts in bargs.device:
            self.bluez.add_device(kind, mac, opts)
        self.bus.add_message_handler(self.bluez.handle)
        await self.bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                                    interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                                    body=["type='signal',sender='org.freedesktop.DBus',"
                                          "interface='org.freedesktop.DBus',member='NameOwnerChanged'"]))
        reply = await self.bus.request_name(bluez_sim.BLUEZ, NameFlag.DO_NOT_QUEUE)
        if reply != RequestNameReply.PRIMARY_OWNER:
            raise SystemExit("cannot own %s on %s: %s" % (bluez_sim.BLUEZ, a.bus, reply))
        self.bluez_bg = asyncio.ensure_future(self.bluez.background())
        self.bus_watch = asyncio.ensure_future(self.watch_bus())
        runner, port = await start_site(bluez_sim.make_app(self.bluez), a.bluez_port)
        self.runners.append(runner)
        self.endpoints["bluez"] = "127.0.0.1:%d" % port
        self.update_bms()

    async def watch_bus(self):
        try:
            await self.bus.wait_for_disconnect()
        except Exception as e:  # noqa: BLE001 - only logged
            if not self.stop.is_set():
                log.warning("the D-Bus connection failed: %s", e)
        if not self.stop.is_set():
            log.warning("the private D-Bus is gone: the BMS cannot be reached any more")

    def start_meter(self):
        a = self.args
        if not a.broker:
            return
        host, _, port = a.broker.rpartition(":")
        self.mqtt = mqtt.Client(client_id="homebattery-sim-meter-%d" % os.getpid())
        self.mqtt.on_connect = lambda c, u, f, rc: self._mqtt_state(rc == 0)
        self.mqtt.on_disconnect = lambda c, u, rc: self._mqtt_state(False)
        self.mqtt.reconnect_delay_set(1, 5)
        self.mqtt.connect_async(host, int(port))
        self.mqtt.loop_start()
        self.endpoints["broker"] = a.broker
        self.endpoints["meter_topic"] = a.meter_topic
        self.endpoints["meter_format"] = a.meter_format

    def _mqtt_state(self, up):
        if up != self.mqtt_connected:
            log.info("meter: %s the broker", "connected to" if up else "disconnected from")
        self.mqtt_connected = up

    # -------------------------------------------------------------- model
    def pack_mac(self, pack):
        return MACS.get(pack.kind)

    def update_bms(self):
        if not self.bluez:
            return
        soc = self.plant.battery.soc
        for p in self.plant.battery.packs:
            dev = self.bluez.devices.get(self.pack_mac(p))
            if dev is not None:
                dev.apply({"values": p.values(soc)})

    def collect_commands(self):
        now = time.time()
        if self.serial:
            self.serial.collect_commands(now, self._command)
            return
        inv = self.dtu.inv
        for _, what in inv.cmd_log[self._seen["inv"]:]:
            if what == "fault":
                continue
            kind = what.split()[0]
            self._command(now, "inverter", kind, what)
        self._seen["inv"] = len(inv.cmd_log)
        relay = self.shelly.relays[0]
        for key in ("on", "off"):
            n = relay.on_cmds if key == "on" else relay.off_cmds
            for _ in range(n - self._seen[key]):
                self._command(now, "charger", key, "relay " + key)
            self._seen[key] = n
        if self.mppt:
            with self.mppt.lock:
                new = self.mppt.hex_log[self._seen["hex"]:]
                self._seen["hex"] = len(self.mppt.hex_log)
            for e in new:
                if e.get("command") == 8 and e.get("register") == "0x0200":
                    what = {vedirect_sim.MODE_ON: "on", vedirect_sim.MODE_OFF: "off"}.get(e.get("value"), "set")
                    self._command(now, "mppt", what, "HEX set mode %s (%s)" % (e.get("value"), e["frame"]))
                else:
                    self.mppt_reads += 1

    def _command(self, t, device, kind, what):
        self.command_counts["%s %s" % (device, kind)] += 1
        self.commands.append({"t": round(t, 3), "device": device, "kind": kind, "what": what})
        log.info("command: %s %s", device, what)

    def step(self, dt):
        p = self.plant
        self.shelly.tick()
        relay = self.shelly.relays[0]
        charger_w = relay.power()
        inverter_w = self.serial.inverter_w(p) if self.serial else self.dtu_output(p)
        solar_avail = p.solar_available()
        pv = 0.0
        if self.mppt:
            with self.mppt.lock:
                on = self.mppt.mode == vedirect_sim.MODE_ON
            pv = solar_avail if on else 0.0
        if self.serial:
            pv = solar_avail    # the PZEM only measures: the charger cannot be switched
        p.step(dt, charger_w, inverter_w, pv)
        if self.serial:
            self.serial.update(p, pv)
        if self.mppt:
            with self.mppt.lock:
                self.mppt.values["ppv"] = int(round(solar_avail))
                self.mppt.values["v"] = int(round(p.battery.voltage * 1000))
                # a full battery: float (5) instead of bulk
                self.mppt.values["cs"] = 5 if (p.battery.soc >= 99.5 and self.mppt.mode == vedirect_sim.MODE_ON
                                               and solar_avail > 0) else None
                self.mppt.values["h20"] = int(p.energy["solar_wh"] / 10.0)
        self.collect_commands()

    def dtu_output(self, p):
        self.dtu.tick()
        inv = self.dtu.inv
        # An empty battery gives the inverter no DC power.
        if p.battery.soc <= 0.5 and inv.dc_w is None:
            inv.set_dc(0.0)
        elif p.battery.soc > 2.0 and inv.dc_w is not None:
            inv.set_dc(None)
        return inv.output_w

    def publish_meter(self):
        w = self.plant.meter_reading()
        self.meter_w = w
        if self.mqtt is not None:
            self.mqtt.publish(self.args.meter_topic, encode_meter(self.args.meter_format, w), qos=0)
            self.meter_published += 1
        p = self.plant
        self.history.append({"t": round(time.time(), 3), "plant_t": round(p.t_plant, 1), "meter_w": w,
                             "grid_w": round(p.grid_w, 1), "load_w": round(p.load_w, 1),
                             "inverter_w": round(p.inverter_w, 1), "solar_w": round(p.solar_w, 1),
                             "charger_w": round(p.charger_w, 1), "soc": round(p.battery.soc, 3)})

    async def run_plant(self):
        last = time.monotonic()
        next_meter = last
        next_bms = last
        while not self.stop.is_set():
            now = time.monotonic()
            try:
                self.step(now - last)
                last = now
                if now >= next_meter:
                    self.publish_meter()
                    next_meter = max(next_meter + self.args.meter_interval, now + self.args.meter_interval / 2)
                if now >= next_bms:
                    self.update_bms()
                    next_bms = now + BMS_UPDATE
            except Exception:   # noqa: BLE001 - the home must not die on one bad step
                log.exception("plant step failed")
                last = now
            try:
                await asyncio.wait_for(self.stop.wait(), PLANT_TICK)
            except asyncio.TimeoutError:
                pass

    # -------------------------------------------------------------- state
    def state(self):
        self.collect_commands()         # a command that just arrived counts at once
        p, b = self.plant, self.plant.battery
        relay = self.shelly.relays[0].state()
        if self.serial:
            inv = self.serial.inverter_state()
        else:
            inv = self.dtu.inv.state()
            inv.pop("commands", None)
        st = {
            "time": round(time.time(), 3),
            "uptime_s": round(time.monotonic() - self.started, 1),
            "plant_time_s": round(p.t_plant, 1),
            "speed": p.speed,
            "load_w": round(p.load_w, 1),
            "solar_available_w": round(p.solar_available(), 1),
            "solar_w": round(p.solar_w, 1),
            "charger_w": round(p.charger_w, 1),
            "inverter_w": round(p.inverter_w, 1),
            "grid_w": round(p.grid_w, 1),
            "meter_w": self.meter_w,
            "meter_solar": p.meter_solar,
            "battery_dc_w": round(p.battery_dc_w, 1),
            "overrides": {"load_w": p.load_override, "solar_w": p.solar_override},
            "energy": {k: round(v, 3) for k, v in p.energy.items()},
            "battery": {"soc": round(b.soc, 3), "voltage": round(b.voltage, 3),
                        "current_a": round(b.current_a, 2), "capacity_ah": b.capacity_ah,
                        "packs": [dict(pk.state(b.soc), mac=self.pack_mac(pk)) for pk in b.packs]},
            "charger": {"on": relay["on"], "power_w": relay["power"], "relay": relay},
            "inverter": inv,
            "commands": {"counts": dict(self.command_counts), "total": sum(self.command_counts.values()),
                         "mppt_reads": self.mppt_reads},
            "meter": {"connected": self.mqtt_connected, "published": self.meter_published},
            "endpoints": self.endpoints,
        }
        if self.serial:
            st.update(self.serial.state())
        if self.mppt:
            with self.mppt.lock:
                snap = self.mppt.snapshot()
            st["mppt"] = {"mode": snap["mode"], "on": snap["mode"] == vedirect_sim.MODE_ON, "cs": snap["cs"],
                          "ppv": snap["ppv"] if snap["mode"] == vedirect_sim.MODE_ON else 0, "pty": snap["pty"],
                          "hex_commands": snap["hex_commands"]}
        return st

    def apply(self, body):
        """POST /set: load_w, solar_w (null = the profile again), soc,
        cell_offset {battery, cell, v} (or a list of them; battery = kind or
        name, v in volts, 0 = none), temp_offset {battery, c}, charger_w."""
        p, b = self.plant, self.plant.battery
        if "load_w" in body:
            p.load_override = None if body["load_w"] is None else float(body["load_w"])
        if "solar_w" in body:
            p.solar_override = None if body["solar_w"] is None else float(body["solar_w"])
        if "soc" in body:
            b.soc = max(0.0, min(100.0, float(body["soc"])))
        if "speed" in body:
            sp = float(body["speed"])
            if sp <= 0:
                raise ValueError("speed must be > 0")
            p.speed = sp
        offs = body.get("cell_offset")
        for o in ([offs] if isinstance(offs, dict) else offs or []):
            pk = b.pack(str(o.get("battery", "llt")))
            k = int(o.get("cell", 0))
            if not 0 <= k < pk.n_cells:
                raise ValueError("cell %d: %s has %d cells" % (k, pk.name, pk.n_cells))
            pk.cell_offset[k] = float(o.get("v", 0.0))
        offs = body.get("temp_offset")
        for o in ([offs] if isinstance(offs, dict) else offs or []):
            b.pack(str(o.get("battery", "llt"))).temp_offset = float(o.get("c", 0.0))
        if "charger_w" in body:
            r = self.shelly.relays[0]
            r.update()
            r.power_w = float(body["charger_w"])
        log.info("control: %s", json.dumps(body, sort_keys=True))
        # the effect shows at once, not only after the next plant step
        for pk in b.packs:
            pk.update(b.soc, pk.current_a, 0.0, b.full and pk.current_a > 0)
        self.update_bms()

    def make_app(self):
        routes = web.RouteTableDef()

        def reply(obj, status=200):
            return web.Response(status=status, text=json.dumps(obj, separators=(",", ":")),
                                content_type="application/json")

        @routes.get("/state")
        async def get_state(req):
            return reply(self.state())

        @routes.get("/history")
        async def get_history(req):
            try:
                secs = float(req.query.get("seconds", "3600"))
            except ValueError:
                return reply({"error": "seconds: not a number"}, 400)
            since = time.time() - secs
            return reply([h for h in self.history if h["t"] >= since])

        @routes.get("/commands")
        async def get_commands(req):
            try:
                since = float(req.query.get("since", "0"))
            except ValueError:
                return reply({"error": "since: not a number"}, 400)
            self.collect_commands()
            return reply([c for c in self.commands if c["t"] >= since])

        @routes.post("/set")
        async def post_set(req):
            try:
                body = json.loads(await req.read() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("JSON object expected")
                self.apply(body)
            except (ValueError, TypeError, KeyError) as e:
                return reply({"ok": False, "error": str(e)}, 400)
            return reply({"ok": True, "state": self.state()})

        @routes.post("/reset_energy")
        async def post_reset(req):
            self.plant.reset_energy()
            self.command_counts.clear()
            self.commands.clear()
            self.mppt_reads = 0
            return reply({"ok": True})

        app = web.Application()
        app.add_routes(routes)
        return app

    # ------------------------------------------------------------- config
    def rewrite_config(self, cfg):
        """The daemon config cfg with this home's addresses: broker, Shelly,
        AhoyDTU (and the LUT as an absolute path), the MPPT's link, the meter
        topic and format, the BMS MACs, http.listen (--daemon-http)."""
        a = self.args
        if a.broker and "mqtt" in cfg:
            cfg["mqtt"]["host"] = a.broker
        if a.daemon_http and "http" in cfg:
            cfg["http"]["listen"] = a.daemon_http
        for d in cfg.get("devices", {}).values():
            drv = d.get("driver")
            if drv == "shellyCharger":
                d["host"] = self.endpoints["shelly"]
                d["generation"] = a.shelly_gen
                d.pop("password", None)
                d.pop("user", None)
            elif drv == "ahoyDtu":
                d["host"] = self.endpoints["dtu"]
                d["id"] = 0
                d["power_lut"] = os.path.abspath(a.lut)
                d.pop("password", None)
            elif drv == "victronMppt" and a.mppt_link:
                d["port"] = os.path.abspath(a.mppt_link)
            elif drv == "mqttConsumption":
                d["topic"] = a.meter_topic
                d["format"] = METER_FORMATS[a.meter_format]
            elif self.serial and drv in home_serial.DRIVERS:
                self.serial.rewrite_device(d)
            elif drv in BLE_DRIVERS:
                d["mac"] = MACS[BLE_DRIVERS[drv]].lower()
        return cfg

    # --------------------------------------------------------------- main
    async def main(self):
        a = self.args
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        try:
            await self.start_shelly()
            if a.serial_dir:
                self.serial = home_serial.SerialHome(a.serial_dir, self.plant, self.endpoints)
            else:
                await self.start_dtu()
                self.start_mppt()
                await self.start_bluez()
            self.start_meter()
            runner, port = await start_site(self.make_app(), a.control_port)
            self.runners.append(runner)
            self.endpoints["control"] = "127.0.0.1:%d" % port
            if a.config_in and a.config_out:
                with open(a.config_in) as f:
                    cfg = json.load(f)
                tmp = a.config_out + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.rewrite_config(cfg), f, indent=2)
                    f.write("\n")
                os.replace(tmp, a.config_out)
            plant_task = asyncio.ensure_future(self.run_plant())
            print("ready " + " ".join("%s=%s" % kv for kv in sorted(self.endpoints.items())), flush=True)
            log.info("ready: %s", json.dumps(self.endpoints, sort_keys=True))
            await self.stop.wait()
            await plant_task
        finally:
            await self.shutdown()
        return 0

    async def shutdown(self):
        log.info("stopping")
        if self.mqtt is not None:
            self.mqtt.loop_stop()
            self.mqtt.disconnect()
        for r in reversed(self.runners):
            await r.cleanup()
        if self.bluez is not None:
            self.bluez_bg.cancel()
        if self.bus is not None:
            self.bus.disconnect()
            try:
                await asyncio.wait_for(self.bus.wait_for_disconnect(), 2)
            except Exception:   # noqa: BLE001 - the bus may be gone already
                pass
        if self.serial is not None:
            self.serial.stop()
        if self.mppt is not None:
            if self.mppt_http is not None:
                self.mppt_http.shutdown()
                self.mppt_http.server_close()
            self.mppt.running = False
            self.mppt.wake()
            if self.mppt_thread is not None:
                self.mppt_thread.join(3)
            self.mppt.close()
            for fd in (self.mppt.master, self.mppt.slave):
                if fd >= 0:
                    os.close(fd)
            self.mppt.master = self.mppt.slave = -1


def main(argv=None):
    ap = make_parser(__doc__)
    args = ap.parse_args(argv)
    if args.speed <= 0:
        ap.error("--speed must be > 0")
    if bool(args.config_in) != bool(args.config_out):
        ap.error("--config-in and --config-out go together")
    if args.broker and ":" not in args.broker:
        ap.error("--broker HOST:PORT")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for name in ("sim.access", "aiohttp"):
        logging.getLogger(name).setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        home = Home(args)
    except (OSError, ValueError) as e:
        ap.error(str(e))
    return asyncio.run(home.main())


if __name__ == "__main__":
    sys.exit(main())
