# SPDX-License-Identifier: MIT
"""The plant model of the simulated home (home.py): household load and solar
profiles, a LiFePO4 battery made of three packs in parallel (one per BMS), the
power balance on its DC side and the grid meter. No I/O and no clock here:
home.py calls Plant.step() with the time that passed and the state of the
devices (charger relay, inverter output, MPPT mode) and reads the results.

Signs: battery current and power are positive while charging; the grid is
positive while the house draws from the grid, negative while it feeds in.
"""
import math
import random

# ---------------------------------------------------------------------------
# profiles
# ---------------------------------------------------------------------------


class Profile:
    """A CSV profile: lines "seconds,value" (a value is held until the next
    line), "#" comments, blank lines ignored. The profile repeats: its length
    is given by a "# length: SECONDS" comment, otherwise it ends one second
    after its last line."""

    def __init__(self, points, length=None, name="profile"):
        if not points:
            raise ValueError("%s: no 'seconds,value' line" % name)
        self.points = sorted(points)
        self.length = float(length) if length else self.points[-1][0] + 1.0
        if self.length <= self.points[-1][0]:
            raise ValueError("%s: length %g s is not after the last line (%g s)"
                             % (name, self.length, self.points[-1][0]))
        self.name = name

    @classmethod
    def parse(cls, text, name="profile"):
        points, length = [], None
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                body = line[1:].strip()
                if body.lower().startswith("length:"):
                    length = float(body.split(":", 1)[1])
                continue
            fields = [f.strip() for f in line.split("#", 1)[0].split(",")]
            if len(fields) < 2:
                raise ValueError("%s:%d: expected 'seconds,value', got %r" % (name, n, raw))
            try:
                points.append((float(fields[0]), float(fields[1])))
            except ValueError:
                raise ValueError("%s:%d: not a number in %r" % (name, n, raw)) from None
        return cls(points, length, name)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls.parse(f.read(), name=path)

    @classmethod
    def constant(cls, value, name="constant"):
        return cls([(0.0, float(value))], 1.0, name)

    def at(self, t):
        """The value at profile time t (seconds, wraps at the length)."""
        t = math.fmod(t, self.length)
        if t < 0:
            t += self.length
        value = self.points[0][1]
        if t < self.points[0][0]:          # before the first line: the last value, wrapped
            return self.points[-1][1]
        for pt, pv in self.points:
            if pt > t:
                break
            value = pv
        return value


# ---------------------------------------------------------------------------
# LiFePO4
# ---------------------------------------------------------------------------

# Open-circuit voltage of a LiFePO4 cell at rest by state of charge (%).
OCV_CURVE = [(0, 2.80), (2, 3.00), (5, 3.12), (10, 3.20), (20, 3.25), (30, 3.275), (40, 3.29),
             (50, 3.30), (60, 3.31), (70, 3.325), (80, 3.335), (90, 3.345), (95, 3.36),
             (98, 3.40), (99, 3.45), (100, 3.60)]


def ocv(soc):
    """Cell voltage at rest (V) at soc (%), interpolated linearly."""
    if soc <= OCV_CURVE[0][0]:
        return OCV_CURVE[0][1]
    for (s0, v0), (s1, v1) in zip(OCV_CURVE, OCV_CURVE[1:]):
        if soc <= s1:
            return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)
    return OCV_CURVE[-1][1]


class Pack:
    """One battery pack behind one BMS: its share of the current, cell
    voltages (OCV + R*I + a small fixed spread + a test offset), temperatures
    that follow I^2*R heating with a time constant."""

    def __init__(self, name, kind, capacity_ah, cells=8, temps=2, r_cell=0.0015, cycles=10,
                 ambient=21.0, seed=0):
        self.name = name
        self.kind = kind
        self.capacity_ah = float(capacity_ah)
        self.n_cells = int(cells)
        self.n_temps = int(temps)
        self.r_cell = float(r_cell)
        self.cycles = int(cycles)
        rng = random.Random(seed)
        self.spread = [rng.uniform(-0.004, 0.004) for _ in range(self.n_cells)]
        self.cell_offset = [0.0] * self.n_cells         # set by tests (V)
        self.temp_offset = 0.0                           # set by tests (°C)
        self.temp_base = [ambient + rng.uniform(-0.3, 0.3) for _ in range(self.n_temps)]
        self.heat = 0.0                                  # K above the base, first order
        self.current_a = 0.0
        self.cells = [0.0] * self.n_cells
        self.temps = list(self.temp_base)
        self.throughput_ah = 0.0

    def update(self, soc, current_a, dt_plant, full_overcharge):
        self.current_a = current_a
        base = ocv(soc)
        # Top of charge: a full cell that is still pushed rises fast; cells
        # drift apart near the top (no balancer in the model).
        over = 0.15 * min(1.0, max(0.0, current_a) / 5.0) if full_overcharge else 0.0
        top = max(0.0, soc - 95.0) / 5.0
        self.cells = [base + current_a * self.r_cell + self.spread[k] * (1.0 + 4.0 * top) + over
                      + self.cell_offset[k] for k in range(self.n_cells)]
        # I^2 R of the pack, 1 K/W to the ambient, time constant 600 s.
        p_loss = current_a * current_a * self.r_cell * self.n_cells
        tau = 600.0
        k = 1.0 - math.exp(-dt_plant / tau) if dt_plant > 0 else 0.0
        self.heat += (p_loss * 1.0 - self.heat) * k
        self.temps = [t + self.heat + self.temp_offset for t in self.temp_base]
        self.throughput_ah += abs(current_a) * dt_plant / 3600.0

    @property
    def voltage(self):
        return sum(self.cells)

    def values(self, soc):
        """The BMS values in bluez_sim's JSON shape."""
        return {
            "v": round(self.voltage, 3),
            "i": round(self.current_a, 3),
            "soc": round(soc, 1),
            "c": round(self.capacity_ah * soc / 100.0, 3),
            "c_full": self.capacity_ah,
            "n": self.cycles + int(self.throughput_ah / (2.0 * self.capacity_ah)),
            "temps": [round(t, 2) for t in self.temps],
            "cells": [round(v, 4) for v in self.cells],
        }

    def state(self, soc):
        v = self.values(soc)
        v.update({"name": self.name, "kind": self.kind, "cell_offset": list(self.cell_offset),
                  "temp_offset": self.temp_offset,
                  "cell_min": round(min(self.cells), 4), "cell_max": round(max(self.cells), 4)})
        return v


class Battery:
    """Packs in parallel with one common state of charge; the current splits
    by capacity."""

    def __init__(self, packs, soc=60.0):
        self.packs = list(packs)
        self.soc = float(soc)
        self.current_a = 0.0
        self.power_w = 0.0
        self.full = False
        self.empty = False
        for p in self.packs:
            p.update(self.soc, 0.0, 0.0, False)

    @property
    def capacity_ah(self):
        return sum(p.capacity_ah for p in self.packs)

    @property
    def voltage(self):
        # parallel packs: the same terminal voltage; show the mean of the packs
        return sum(p.voltage for p in self.packs) / len(self.packs)

    def step(self, power_w, dt_plant):
        """power_w on the DC side (+ charging) for dt_plant seconds."""
        v = max(1.0, self.voltage)
        i = power_w / v
        self.power_w = power_w
        self.current_a = i
        self.soc += i * dt_plant / 3600.0 / self.capacity_ah * 100.0
        self.full = self.soc >= 100.0
        self.empty = self.soc <= 0.0
        self.soc = min(100.0, max(0.0, self.soc))
        cap = self.capacity_ah
        for p in self.packs:
            p.update(self.soc, i * p.capacity_ah / cap, dt_plant, self.full and i > 0)

    def pack(self, key):
        """A pack by name or kind."""
        for p in self.packs:
            if key in (p.name, p.kind):
                return p
        raise KeyError("no battery %r (have %s)" % (key, ", ".join(p.name for p in self.packs)))


# ---------------------------------------------------------------------------
# the plant
# ---------------------------------------------------------------------------


class Plant:
    """Power balance of the home. Efficiencies: grid charger AC->DC 0.92,
    MPPT PV->DC 0.97, inverter DC->AC 0.95."""

    CHARGER_EFF = 0.92
    MPPT_EFF = 0.97
    INVERTER_EFF = 0.95

    def __init__(self, load, solar, battery, speed=1.0, start=0.0, meter_noise_w=2.0,
                 meter_solar=True, seed=None):
        self.load_profile = load
        self.solar_profile = solar
        self.battery = battery
        self.speed = float(speed)
        self.t_plant = float(start)         # profile time, s
        self.t_real = 0.0                   # real time simulated, s
        self.meter_noise_w = float(meter_noise_w)
        self.meter_solar = bool(meter_solar)
        self.rng = random.Random(seed)
        self.load_override = None
        self.solar_override = None
        # the last step
        self.load_w = 0.0
        self.solar_avail_w = 0.0
        self.solar_w = 0.0
        self.charger_w = 0.0
        self.inverter_w = 0.0
        self.grid_w = 0.0
        self.battery_dc_w = 0.0
        # energies over real time, Wh
        self.energy = {"imported_wh": 0.0, "exported_wh": 0.0, "load_wh": 0.0, "inverter_wh": 0.0,
                       "charger_wh": 0.0, "solar_wh": 0.0, "battery_in_wh": 0.0, "battery_out_wh": 0.0,
                       "inverter_over_load_wh": 0.0}

    def solar_available(self):
        """PV power the MPPT could deliver now (W)."""
        if self.solar_override is not None:
            return max(0.0, float(self.solar_override))
        return max(0.0, self.solar_profile.at(self.t_plant))

    def household_load(self):
        if self.load_override is not None:
            return max(0.0, float(self.load_override))
        return max(0.0, self.load_profile.at(self.t_plant))

    def step(self, dt_real, charger_ac_w, inverter_ac_w, solar_pv_w):
        """Advance by dt_real seconds of real time with the devices' powers:
        the grid charger's AC draw, the inverter's true AC output and the
        MPPT's panel power (0 when it is off)."""
        dt_plant = dt_real * self.speed
        self.t_real += dt_real
        self.t_plant += dt_plant
        self.load_w = self.household_load()
        self.charger_w = max(0.0, charger_ac_w)
        self.inverter_w = max(0.0, inverter_ac_w)
        self.solar_w = max(0.0, solar_pv_w)
        dc = (self.charger_w * self.CHARGER_EFF + self.solar_w * self.MPPT_EFF
              - self.inverter_w / self.INVERTER_EFF)
        self.battery_dc_w = dc
        self.battery.step(dc, dt_plant)
        self.grid_w = self.grid_now()
        h = dt_real / 3600.0
        e = self.energy
        e["imported_wh"] += max(0.0, self.grid_w) * h
        e["exported_wh"] += max(0.0, -self.grid_w) * h
        e["load_wh"] += self.load_w * h
        e["inverter_wh"] += self.inverter_w * h
        e["charger_wh"] += self.charger_w * h
        e["solar_wh"] += self.solar_w * h
        e["battery_in_wh"] += max(0.0, dc) * h
        e["battery_out_wh"] += max(0.0, -dc) * h
        e["inverter_over_load_wh"] += max(0.0, self.inverter_w - self.load_w) * h

    def grid_now(self):
        """load - inverter - solar + charger (W, + = drawn from the grid)."""
        solar = self.solar_w if self.meter_solar else 0.0
        return self.load_w - self.inverter_w - solar + self.charger_w

    def meter_reading(self):
        """What the grid meter reports (W, rounded, with its noise)."""
        noise = self.rng.uniform(-self.meter_noise_w, self.meter_noise_w) if self.meter_noise_w > 0 else 0.0
        return int(round(self.grid_now() + noise))

    def reset_energy(self):
        for k in self.energy:
            self.energy[k] = 0.0


def default_battery(soc=60.0, ambient=21.0):
    """The demo battery: three 8S LiFePO4 packs (24 V) in parallel, one per
    BMS kind of bluez_sim.py: LLT/JBD 100 Ah, Daly 60 Ah, JK 100 Ah."""
    return Battery([
        Pack("llt", "llt", 100.0, cells=8, temps=2, r_cell=0.0015, cycles=28, ambient=ambient, seed=1),
        Pack("daly", "daly", 60.0, cells=8, temps=1, r_cell=0.0025, cycles=22, ambient=ambient, seed=2),
        Pack("jk", "jk", 100.0, cells=8, temps=2, r_cell=0.0015, cycles=12, ambient=ambient, seed=3),
    ], soc=soc)


def pylontech_battery(soc=60.0, ambient=21.0):
    """The serial demo's battery: two Pylontech US2000-class packs (15S
    LiFePO4, 48 V, 50 Ah) in parallel on one RS485 bus. Four cell-block
    temperatures each; the BMS board's own sensor is added by the simulator."""
    return Battery([
        Pack("pylon1", "pylon", 50.0, cells=15, temps=4, r_cell=0.0012, cycles=41, ambient=ambient, seed=4),
        Pack("pylon2", "pylon", 50.0, cells=15, temps=4, r_cell=0.0014, cycles=37, ambient=ambient, seed=5),
    ], soc=soc)
