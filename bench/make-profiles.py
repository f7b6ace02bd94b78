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
"""

import argparse
import os
import random
import sys

DAY = 86400
KINDS = ("family", "office", "couple")
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


def generate(kind, seed):
    h = Home(seed * 1000 + KINDS.index(kind))
    {"family": family, "office": office, "couple": couple}[kind](h)
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
                    help="where the shipped profiles go (default: bench/profiles)")
    a = ap.parse_args()
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
