# SPDX-License-Identifier: MIT
"""The serial hardware of the simulated home (home.py --serial-dir DIR):
two Pylontech packs on one RS485 bus (DIR/ttyPylon, 115200 8N1) and a
PZEM-017 solar meter (address 1) with a Growatt MIC TL-X inverter (address 3)
sharing a second RS485 bus (DIR/ttyRS485, 9600 8N1). The simulators are the
ones the integration tests use, run in threads of the home; the plant model
moves their values, and the Growatt's power limit moves the plant.
"""
import os
import threading
import types
from http.server import ThreadingHTTPServer

import serial_sim

DRIVERS = ("pylonLv", "genericSolar", "growattInverterModbus", "growattinvertermodbus")
PZEM_ADDRESS = 1
GROWATT_ADDRESS = 3
GROWATT_PMAX_W = 1500
PACK_SERIALS = ("PPTAH0000000001", "PPTAH0000000002")   # etc/demo-serial.json names these


class SerialHome:
    def __init__(self, serial_dir, plant, endpoints):
        import growatt_sim
        import pylon_sim
        import pzem_sim
        from modbus_sim import ModbusBusSim

        self.plant = plant
        self.endpoints = endpoints
        self.links = {"pylon": os.path.join(serial_dir, "ttyPylon"), "rs485": os.path.join(serial_dir, "ttyRS485")}
        self.meter = pzem_sim.Meter(PZEM_ADDRESS)
        self.inverter = growatt_sim.Inverter(GROWATT_ADDRESS, "TL-X", pmax_w=GROWATT_PMAX_W)
        self.rs485 = ModbusBusSim(self._args("rs485"), [self.meter, self.inverter])
        soc = plant.battery.soc
        self.packs = [pylon_sim.Pack(a, s, p.values(soc)) for a, (s, p) in enumerate(zip(PACK_SERIALS, plant.battery.packs))]
        self.pylon = pylon_sim.Sim(self._args("pylon"), self.packs)
        self.threads = []
        self.servers = []
        self.seen = 0
        for name, sim in (("rs485", self.rs485), ("pylon", self.pylon)):
            self._start(name, sim)

    def _args(self, name):
        return types.SimpleNamespace(link=self.links[name], control_port=0, verbose=False)

    def _start(self, name, sim):
        sim.plug()
        t = threading.Thread(target=sim.run, name=name, daemon=True)
        t.start()
        server = ThreadingHTTPServer(("127.0.0.1", 0), serial_sim.make_handler(sim))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=name + "-http", daemon=True).start()
        self.threads.append((sim, t))
        self.servers.append(server)
        self.endpoints[name + "_link"] = sim.link
        self.endpoints[name + "_control"] = "127.0.0.1:%d" % server.server_address[1]

    # -- the plant -------------------------------------------------------------
    def inverter_w(self, p):
        """The Growatt's AC output now; an empty battery gives it no DC power."""
        with self.rs485.lock:
            return self.inverter.output_w(dc_ok=p.battery.soc > 0.5)

    def update(self, p, pv_w):
        b = p.battery
        v = max(1.0, b.voltage)
        with self.rs485.lock:
            self.meter.values.update({"v": int(round(v * 100)), "i": int(round(pv_w / v * 100)),
                                      "p": int(round(pv_w * 10)), "e": int(p.energy["solar_wh"])})
            self.inverter.tick()
        with self.pylon.lock:
            for sim_pack, pk in zip(self.packs, b.packs):
                sim_pack.set_values(pk.values(b.soc))

    def collect_commands(self, now, command):
        """Reports the Growatt's on/off and limit writes (Modbus 0x06) as commands."""
        with self.rs485.lock:
            new = self.rs485.log[self.seen:]
            self.seen = len(self.rs485.log)
        for e in new:
            frame = bytes.fromhex(e["frame"])
            if frame[0] != GROWATT_ADDRESS or frame[1] != 6:
                continue
            reg, value = int.from_bytes(frame[2:4], "big"), int.from_bytes(frame[4:6], "big")
            if reg == 0:
                command(now, "inverter", "on" if value & 1 else "off", "H0 := %#06x" % value)
            elif reg == 3:
                command(now, "inverter", "limit", "H3 := %d %%" % value)
            else:
                command(now, "inverter", "set", "H%d := %d" % (reg, value))

    # -- state -----------------------------------------------------------------
    def inverter_state(self):
        with self.rs485.lock:
            return self.inverter.home_state()

    def state(self):
        with self.rs485.lock:
            p = self.meter.values["p"] / 10.0
        return {"solar_dev": "PZEM-017 %.0f W" % p}

    def rewrite_device(self, d):
        d["port"] = self.links["pylon" if d["driver"] == "pylonLv" else "rs485"]

    def stop(self):
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for sim, t in self.threads:
            sim.running = False
            sim.wake()
            t.join(3)
            sim.close()
            for fd in (sim.master, sim.slave):
                if fd >= 0:
                    os.close(fd)
            sim.master = sim.slave = -1
