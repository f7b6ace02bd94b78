#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the netzero target of the issue on the shipped profiles and on three
profiles generated here with seeds the algorithms were not tuned on (written to
a temporary directory, not shipped):

    loss(direct) <= 0.5 x loss(classic),  loss(direct) <= 1.3 x loss(oracle),
    commands(direct) <= commands(classic),   loss = export + avoidable import

    check-target.py [--bench build/bench/netzero-bench] [--json] [-- extra netzero-bench options]

Prints a table; exits 1 when a profile misses the target.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# Not shipped and not tuned on: (name, kind, seed).
UNSEEN = [
    ("unseen-family-101", "family", 101),
    ("unseen-office-102", "office", 102),
    ("unseen-couple-103", "couple", 103),
]


def run(bench, profile, algorithm, extra):
    out = subprocess.run([bench, "--profile", profile, "--algorithm", algorithm, "--json"] + extra,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(HERE, "..", "build", "bench", "netzero-bench"))
    ap.add_argument("--json", action="store_true", help="one JSON line per profile")
    ap.add_argument("--shipped-only", action="store_true", help="only the shipped profiles (for tuning)")
    ap.add_argument("extra", nargs="*", help="more netzero-bench options (after --)")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        profiles = [os.path.join(HERE, "profiles", n) for n in ("weekday-family.csv", "home-office.csv")]
        for name, kind, seed in [] if a.shipped_only else UNSEEN:
            path = os.path.join(tmp, name + ".csv")
            subprocess.run([sys.executable, os.path.join(HERE, "make-profiles.py"), "--kind", kind,
                            "--seed", str(seed), "--out", path], check=True, capture_output=True)
            profiles.append(path)

        ok = True
        if not a.json:
            print("%-20s %9s %9s %9s %8s %8s %9s %9s  %s" % ("profile", "classic", "direct", "oracle",
                  "d/c", "d/o", "cmd c", "cmd d", "target"))
        for path in profiles:
            c = run(a.bench, path, "classic", a.extra)
            d = run(a.bench, path, "direct", a.extra)
            lc, ld, lo = c["loss_wh"], d["loss_wh"], d["oracle"]["loss_wh"]
            met = ld <= 0.5 * lc and ld <= 1.3 * lo and d["commands"] <= c["commands"]
            ok = ok and met
            if a.json:
                print(json.dumps({"profile": d["profile"], "classic": c, "direct": d, "target_met": met}))
            else:
                print("%-20s %9.1f %9.1f %9.1f %8.2f %8.2f %9d %9d  %s" % (
                    d["profile"], lc, ld, lo, ld / lc, ld / lo, c["commands"], d["commands"],
                    "met" if met else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
