#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the netzero target on a set of profiles, at the defaults (each algorithm its own step limits):

    loss(direct) <= 0.5 x loss(classic),  loss(direct) <= 1.3 x loss(oracle),
    commands(direct) <= commands(classic),   loss = export + avoidable import

and, with --reference FILE, that no profile's loss of "direct" grew by more than 5 % against the figures
stored there (--write-reference FILE stores them).

    check-target.py [--bench build/bench/netzero-bench] [--set shipped|tuning|heldout|all] [--markdown]
                    [-- extra netzero-bench options for both loops]

The tuning and held-out households are generated into a temporary directory from their seeds
(make-profiles.py TUNING, HELDOUT). Prints a table, worst direct/oracle first; exits 1 when a profile
misses the target (or regressed).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED = ["weekday-family", "home-office"]


def run(bench, profile, algorithm, extra):
    out = subprocess.run([bench, "--profile", profile, "--algorithm", algorithm, "--json"] + extra,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def profiles(which, tmp):
    out = []
    if which in ("shipped", "all"):
        out += [os.path.join(HERE, "profiles", n + ".csv") for n in SHIPPED]
    for s in ("tuning", "heldout"):
        if which in (s, "all"):
            d = os.path.join(tmp, s)
            subprocess.run([sys.executable, os.path.join(HERE, "make-profiles.py"), "--set", s, "--dir", d],
                           check=True, capture_output=True)
            out += sorted(os.path.join(d, f) for f in os.listdir(d))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(HERE, "..", "build", "bench", "netzero-bench"))
    ap.add_argument("--set", default="heldout", choices=("shipped", "tuning", "heldout", "all"))
    ap.add_argument("--markdown", action="store_true", help="a Markdown table")
    ap.add_argument("--reference", help="JSON of {profile: loss_wh of direct}: fail on a rise of > 5 %%")
    ap.add_argument("--write-reference", help="store the losses of direct here")
    ap.add_argument("extra", nargs="*", help="more netzero-bench options (after --)")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for path in profiles(a.set, tmp):
            c = run(a.bench, path, "classic", a.extra)
            d = run(a.bench, path, "direct", a.extra)
            rows.append((d["profile"], c, d))
    rows.sort(key=lambda r: -r[2]["loss_wh"] / r[2]["oracle"]["loss_wh"])

    ok = True
    ref = json.load(open(a.reference)) if a.reference else None
    if a.markdown:
        print("| profile | classic loss Wh | direct loss Wh | oracle loss Wh | direct/classic | direct/oracle "
              "| commands classic / direct / oracle | reversals classic / direct / oracle | target |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    else:
        print("%-16s %9s %9s %9s %6s %6s %17s %17s  %s" % ("profile", "classic", "direct", "oracle", "d/c",
              "d/o", "commands c/d/o", "reversals c/d/o", "target"))
    worst_c = worst_o = 0
    for name, c, d in rows:
        o = d["oracle"]
        lc, ld, lo = c["loss_wh"], d["loss_wh"], o["loss_wh"]
        met = ld <= 0.5 * lc and ld <= 1.3 * lo and d["commands"] <= c["commands"]
        note = "met" if met else "MISSED"
        if ref is not None and name in ref and ld > 1.05 * ref[name]:
            met = False
            note += " REGRESSED (%.1f > 1.05 x %.1f)" % (ld, ref[name])
        ok = ok and met
        worst_c, worst_o = max(worst_c, ld / lc), max(worst_o, ld / lo)
        cmd = "%d / %d / %d" % (c["commands"], d["commands"], o["commands"])
        rev = "%d / %d / %d" % (c["reversals"], d["reversals"], o["reversals"])
        if a.markdown:
            print("| %s | %.1f | %.1f | %.1f | %.2f | %.2f | %s | %s | %s |" % (name, lc, ld, lo, ld / lc, ld / lo,
                  cmd, rev, note))
        else:
            print("%-16s %9.1f %9.1f %9.1f %6.2f %6.2f %17s %17s  %s" % (name, lc, ld, lo, ld / lc, ld / lo,
                  cmd, rev, note))
    print("%d profiles; worst direct/classic %.2f, worst direct/oracle %.2f; mean direct/oracle %.3f" % (
        len(rows), worst_c, worst_o, sum(r[2]["loss_wh"] / r[2]["oracle"]["loss_wh"] for r in rows) / len(rows)))
    if a.write_reference:
        with open(a.write_reference, "w") as f:
            json.dump({name: d["loss_wh"] for name, c, d in sorted(rows)}, f, indent=1, sort_keys=True)
            f.write("\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
