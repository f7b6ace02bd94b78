#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generates 24 h household load profiles for netzero-bench, deterministically.

A profile is the sum of appliances, each a list of (start, end, watts) pieces:
base load wandering between 150 and 250 W, fridge (and freezer) compressor
cycles with a short start-up spike, kettle, oven and hob thermostat cycling,
microwave, toaster, washing machine and dishwasher programmes, TV, PC and
lights. The result is written as "seconds,load_w" lines, one line per change
(1 s resolution), each value held until the next line; the last line is at
86399 s so the profile covers exactly one day.

    make-profiles.py                      # writes the shipped profiles
    make-profiles.py --kind office --seed 7 --out /tmp/x.csv
    make-profiles.py --set heldout --dir /tmp/heldout   # varied-2001.csv ... (see TUNING, HELDOUT)
"""

import argparse
import os
import random
import sys

DAY = 86400
KINDS = ("family", "office", "couple", "varied")
# The shipped profiles: name -> (kind, seed). Do not tune the algorithms on any other.
SHIPPED = {
    "weekday-family": ("family", 1),
    "home-office": ("office", 2),
}


def hm(h, m=0):
    return int(h * 3600 + m * 60)


class Home:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.pieces = []  # (start, end, watts)

    def add(self, start, end, watts):
        start, end = max(0, int(start)), min(DAY, int(end))
        if end > start and watts:
            self.pieces.append((start, end, int(round(watts))))

    def jitter(self, t, minutes):
        return t + self.rng.randint(-int(minutes * 60), int(minutes * 60))

    # ---- appliances ----
    def base(self, lo=150, hi=250):
        r, t = self.rng, 0
        w = r.uniform(lo + 20, hi - 20)
        while t < DAY:
            d = r.randint(30, 300)
            self.add(t, t + d, w)
            t += d
            w = min(hi, max(lo, w + r.uniform(-12, 12)))

    def compressor(self, watts, on_min, off_min, spike=250):
        r = self.rng
        t = r.randint(0, 30 * 60)
        while t < DAY:
            on = r.randint(on_min[0] * 60, on_min[1] * 60)
            self.add(t, t + 1, spike)  # start-up current, one meter second
            self.add(t, t + on, watts + r.uniform(-8, 8))
            t += on + r.randint(off_min[0] * 60, off_min[1] * 60)

    def burst(self, start, seconds, watts):
        self.add(start, start + seconds, watts)

    def kettle(self, t):
        self.burst(self.jitter(t, 10), self.rng.randint(150, 210), 2000 + self.rng.uniform(-50, 50))

    def microwave(self, t):
        self.burst(self.jitter(t, 10), self.rng.randint(60, 200), 1150)

    def toaster(self, t):
        self.burst(self.jitter(t, 5), self.rng.randint(120, 180), 850)

    def coffee(self, t):
        self.burst(self.jitter(t, 5), self.rng.randint(30, 70), 1300)

    def thermostat(self, start, minutes, watts, preheat_min, on_s, off_s):
        """Heating element: preheat continuously, then cycle on/off until the end."""
        r = self.rng
        t, end = start, start + minutes * 60
        self.add(t, t + preheat_min * 60, watts)
        t += preheat_min * 60
        while t < end:
            on = r.randint(*on_s)
            self.add(t, min(end, t + on), watts)
            t += on + r.randint(*off_s)

    def oven(self, t, minutes=50):
        self.thermostat(self.jitter(t, 15), minutes, 2500, 10, (30, 70), (50, 130))

    def hob(self, t, minutes=25):
        # induction: power levels pulse every few seconds to tens of seconds
        r = self.rng
        t = self.jitter(t, 10)
        end = t + minutes * 60
        while t < end:
            d = r.randint(5, 40)
            self.add(t, t + d, r.choice((0, 600, 1200, 1800)))
            t += d

    def washing(self, t):
        r = self.rng
        t = self.jitter(t, 20)
        self.add(t, t + r.randint(12, 18) * 60, 2000)  # heating
        t += 18 * 60
        end = t + r.randint(50, 70) * 60
        while t < end:  # drum: motor load changes every few tens of seconds
            d = r.randint(10, 60)
            self.add(t, t + d, r.uniform(60, 350))
            t += d + r.randint(5, 20)
        self.add(t, t + r.randint(6, 10) * 60, 500)  # spin

    def dishwasher(self, t):
        r = self.rng
        t = self.jitter(t, 20)
        self.add(t, t + 5 * 60, 90)
        t += 5 * 60
        self.add(t, t + r.randint(15, 22) * 60, 2100)
        t += 22 * 60
        self.add(t, t + 30 * 60, 90)
        t += 30 * 60
        self.add(t, t + r.randint(10, 15) * 60, 2100)
        t += 15 * 60
        self.add(t, t + 20 * 60, 40)

    def varying(self, start, end, lo, hi, step_s=(3, 20)):
        """A PC or TV: a level that changes every few seconds."""
        r, t = self.rng, int(start)
        while t < end:
            d = r.randint(*step_s)
            self.add(t, min(end, t + d), r.uniform(lo, hi))
            t += d

    def lights(self, start, end, rooms=4):
        r = self.rng
        for _ in range(rooms):
            a = self.jitter(start, 40)
            b = self.jitter(end, 40)
            self.add(a, b, r.choice((10, 20, 40, 60)))

    # ---- result ----
    def lines(self):
        delta = [0] * (DAY + 1)
        for a, b, w in self.pieces:
            delta[a] += w
            delta[b] -= w
        out, level, last = [], 0, None
        for t in range(DAY):
            level += delta[t]
            if level != last:
                out.append((t, level))
                last = level
        if out[-1][0] != DAY - 1:
            out.append((DAY - 1, last))
        return out


def family(h):
    r = h.rng
    h.base(150, 230)
    h.compressor(100, (8, 14), (15, 28))
    h.compressor(80, (10, 18), (20, 35), spike=200)  # freezer
    h.lights(hm(6, 15), hm(7, 50), rooms=3)
    h.kettle(hm(6, 40))
    h.toaster(hm(6, 55))
    h.burst(h.jitter(hm(7, 5), 5), r.randint(240, 420), 1600)  # hair dryer
    h.coffee(hm(7, 15))
    if r.random() < 0.7:
        h.washing(hm(16, 30))
    h.kettle(hm(16, 20))
    h.varying(hm(16, 30), hm(18, 0), 60, 140)  # kids' console
    h.oven(hm(17, 45))
    h.hob(hm(18, 10))
    h.microwave(hm(18, 20))
    h.lights(hm(17, 30), hm(22, 45), rooms=5)
    h.varying(hm(19, 30), hm(23, 0), 85, 140, (5, 40))  # TV
    h.dishwasher(hm(20, 15))
    h.kettle(hm(21, 0))


def office(h):
    r = h.rng
    h.base(160, 250)
    h.compressor(105, (8, 14), (14, 26))
    h.lights(hm(6, 45), hm(8, 0), rooms=2)
    h.kettle(hm(7, 0))
    h.coffee(hm(7, 30))
    h.varying(hm(8, 30), hm(12, 15), 90, 220)  # PC and monitors
    h.varying(hm(13, 0), hm(17, 45), 90, 220)
    for t in (hm(10, 0), hm(11, 30), hm(14, 30), hm(15, 45)):
        h.coffee(t)
    h.kettle(hm(15, 0))
    h.hob(hm(12, 15), 15)
    h.microwave(hm(12, 35))
    if r.random() < 0.8:
        h.dishwasher(hm(13, 0))
    h.washing(hm(10, 0))
    h.burst(h.jitter(hm(11, 0), 20), 20 * 60, 750)  # vacuum cleaner
    h.oven(hm(18, 15), 45)
    h.lights(hm(18, 0), hm(23, 15), rooms=4)
    h.varying(hm(20, 0), hm(23, 10), 80, 130, (5, 40))  # TV
    h.kettle(hm(21, 30))


def couple(h):
    r = h.rng
    h.base(150, 210)
    h.compressor(95, (9, 15), (16, 30))
    h.lights(hm(7, 0), hm(8, 30), rooms=2)
    h.kettle(hm(7, 30))
    h.toaster(hm(7, 45))
    h.kettle(hm(10, 30))
    h.varying(hm(9, 0), hm(11, 0), 60, 110)  # radio, laptop
    h.hob(hm(12, 0), 30)
    h.oven(hm(12, 0), 40)
    h.microwave(hm(12, 45))
    h.kettle(hm(15, 30))
    if r.random() < 0.6:
        h.washing(hm(9, 30))
    h.varying(hm(17, 0), hm(22, 30), 90, 130, (5, 40))  # TV
    h.lights(hm(17, 0), hm(22, 30), rooms=3)
    h.microwave(hm(18, 30))
    h.dishwasher(hm(19, 0))


# ---- varied households (the tuning and held-out sets) ----
# Tune the algorithms on TUNING only; HELDOUT is what is reported (bench/README.md).
TUNING = list(range(1001, 1021))
HELDOUT = list(range(2001, 2025))


def drift_base(h, lo, hi):
    """Base load drifting slowly (a random walk pulled to a daily shape) with small steps every 5-60 s."""
    r = h.rng
    t, w = 0, r.uniform(lo, hi)
    while t < DAY:
        d = r.randint(5, 60)
        # more at night (standby, pumps) and in the evening, less in the small hours
        shape = lo + (hi - lo) * (0.5 + 0.3 * (1 if hm(18) <= t < hm(23) else 0) - 0.2 * (1 if t < hm(5) else 0))
        w += r.uniform(-6, 6) + 0.02 * (shape - w)
        w = min(hi + 60, max(lo - 40, w))
        h.add(t, t + d, w)
        t += d


def pulsing_oven(h, t, minutes):
    """Thermostat oven: preheat 2 kW, then 2 kW on for 25-40 s every ~90 s."""
    r = h.rng
    watts = r.uniform(1800, 2400)
    t = h.jitter(t, 15)
    end = t + minutes * 60
    pre = r.randint(7, 14) * 60
    h.add(t, t + pre, watts)
    t += pre
    period = r.randint(80, 100)
    while t < end:
        on = r.randint(25, 40)
        h.add(t, min(end, t + on), watts)
        t += period + r.randint(-5, 5)


def pulsing_hob(h, t, minutes):
    """Induction hob at part power: 1.2 kW on for part of every 5-10 s, full power phases between."""
    r = h.rng
    t = h.jitter(t, 10)
    end = t + minutes * 60
    while t < end:
        phase = r.randint(60, 600)
        if r.random() < 0.25:  # boiling up at a fixed level
            h.add(t, min(end, t + phase), r.choice((1400, 1800, 2100)))
            t += phase
            continue
        watts, period = r.uniform(1100, 1300), r.randint(5, 10)
        duty = r.uniform(0.3, 0.7)
        stop = min(end, t + phase)
        while t < stop:
            on = max(1, int(round(period * duty)))
            h.add(t, min(stop, t + on), watts)
            t += period
        t = stop


def heat_pump(h, watts, on_min, off_min, start, stop):
    """A heat pump or an electric heater cycling on its thermostat; starts with a short ramp."""
    r = h.rng
    t = start + r.randint(0, 20 * 60)
    while t < stop:
        on = r.randint(on_min[0] * 60, on_min[1] * 60)
        w = watts * r.uniform(0.85, 1.1)
        h.add(t, t + 30, w * 0.4)
        h.add(t + 30, t + on, w + r.uniform(-30, 30))
        t += on + r.randint(off_min[0] * 60, off_min[1] * 60)


def microwave_part(h, t):
    """Microwave at part power: the magnetron on 8-15 s of every ~25 s."""
    r = h.rng
    t = h.jitter(t, 10)
    end = t + r.randint(120, 420)
    while t < end:
        on = r.randint(8, 15)
        h.add(t, min(end, t + on), 1200)
        t += r.randint(22, 28)


def varied(h):
    """A household with every part drawn from the seed: weekday or weekend, base, appliances."""
    r = h.rng
    weekend = r.random() < 2 / 7
    home_all_day = weekend or r.random() < 0.35
    lo = r.uniform(90, 260)
    drift_base(h, lo, lo + r.uniform(40, 140))
    h.compressor(int(r.uniform(70, 130)), (6, 14), (12, 30), spike=int(r.uniform(150, 300)))
    if r.random() < 0.5:
        h.compressor(int(r.uniform(60, 100)), (10, 18), (20, 35), spike=200)  # freezer
    wake = hm(6, 0) + r.randint(0, 150) * 60 + (90 * 60 if weekend else 0)
    h.lights(wake, wake + r.randint(40, 110) * 60, rooms=r.randint(1, 4))
    for _ in range(r.randint(1, 4)):
        h.kettle(wake + r.randint(5, 60) * 60 if r.random() < 0.5 else r.randint(hm(9), hm(22)))
    if r.random() < 0.6:
        h.coffee(wake + r.randint(5, 40) * 60)
    if r.random() < 0.5:
        h.toaster(wake + r.randint(10, 40) * 60)
    if home_all_day:
        h.varying(hm(9) + r.randint(0, 90) * 60, hm(12) + r.randint(0, 60) * 60, 50, r.uniform(120, 220))
        if r.random() < 0.6:
            pulsing_hob(h, hm(12) + r.randint(0, 45) * 60, r.randint(10, 30))
        if r.random() < 0.4:
            microwave_part(h, hm(12, 30) + r.randint(0, 60) * 60)
        if r.random() < 0.3:
            h.burst(r.randint(hm(9), hm(17)), r.randint(10, 30) * 60, r.uniform(600, 900))  # vacuum
    if r.random() < 0.5:
        pulsing_oven(h, hm(17) + r.randint(0, 150) * 60, r.randint(35, 80))
    if r.random() < 0.75:
        pulsing_hob(h, hm(17, 30) + r.randint(0, 120) * 60, r.randint(10, 40))
    elif r.random() < 0.5:
        h.hob(hm(18) + r.randint(0, 60) * 60, r.randint(10, 30))
    if r.random() < 0.4:
        microwave_part(h, hm(18) + r.randint(0, 150) * 60)
    if r.random() < 0.4:
        # heat pump (winter) or an electric heater, cycling all day or in the evening
        start = 0 if r.random() < 0.5 else hm(16)
        heat_pump(h, r.uniform(500, 1500), (6, 20), (4, 25), start, DAY)
    if r.random() < (0.8 if weekend else 0.5):
        h.washing(r.randint(hm(8), hm(19)))
    if r.random() < 0.5:
        h.dishwasher(r.randint(hm(12), hm(21, 30)))
    h.lights(hm(16, 30) + r.randint(0, 90) * 60, hm(22) + r.randint(0, 90) * 60, rooms=r.randint(2, 7))
    h.varying(hm(18, 30) + r.randint(0, 90) * 60, hm(22, 30) + r.randint(0, 60) * 60, 60,
              r.uniform(110, 180), (5, 40))  # TV


def generate(kind, seed):
    h = Home(seed * 1000 + KINDS.index(kind))
    {"family": family, "office": office, "couple": couple, "varied": varied}[kind](h)
    return h.lines()


def write(path, name, kind, seed):
    lines = generate(kind, seed)
    with open(path, "w") as f:
        f.write("# %s: %s household, 24 h; generated by bench/make-profiles.py --kind %s --seed %d\n"
                % (name, kind, kind, seed))
        f.write("# seconds,load_w: each value holds until the next line\n")
        for t, w in lines:
            f.write("%d,%d\n" % (t, w))
    return len(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=KINDS)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--out", help="output file (with --kind and --seed)")
    ap.add_argument("--dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiles"),
                    help="where the profiles go (default: bench/profiles)")
    ap.add_argument("--set", choices=("tuning", "heldout"),
                    help="write the varied households of that set of seeds to --dir (varied-SEED.csv)")
    a = ap.parse_args()
    if a.set:
        os.makedirs(a.dir, exist_ok=True)
        for seed in TUNING if a.set == "tuning" else HELDOUT:
            name = "varied-%d" % seed
            write(os.path.join(a.dir, name + ".csv"), name, "varied", seed)
        return 0
    if a.kind or a.seed is not None or a.out:
        if not (a.kind and a.seed is not None and a.out):
            ap.error("--kind, --seed and --out go together")
        name = os.path.splitext(os.path.basename(a.out))[0]
        n = write(a.out, name, a.kind, a.seed)
        print("%s: %d lines" % (a.out, n))
        return 0
    os.makedirs(a.dir, exist_ok=True)
    for name, (kind, seed) in SHIPPED.items():
        path = os.path.join(a.dir, name + ".csv")
        n = write(path, name, kind, seed)
        print("%s: %d lines" % (path, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
