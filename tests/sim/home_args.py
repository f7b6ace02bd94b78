# SPDX-License-Identifier: MIT
"""The command line of home.py (the simulated home): connections, the plant
and the daemon config it rewrites. Its own file so that home.py stays about
the running home."""
import argparse
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
METER_FORMATS = {"s16": "binary", "s32": "binary", "text": "text"}


def make_parser(doc):
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=doc.split("\n\n", 1)[1])
    g = ap.add_argument_group("connections")
    g.add_argument("--broker", default=None, help="MQTT broker HOST:PORT for the grid meter (none: no meter)")
    g.add_argument("--meter-topic", default="home/meter/power", help="topic of the grid meter")
    g.add_argument("--meter-format", choices=sorted(METER_FORMATS), default="s16",
                   help="s16/s32: signed big-endian binary (format \"binary\"), text: decimal (\"text\")")
    g.add_argument("--meter-interval", type=float, default=1.0, help="s between meter values")
    g.add_argument("--bus", default=None,
                   help="private D-Bus address for the simulated BlueZ (none: no BMS)")
    g.add_argument("--mppt-link", default=None, help="symlink to the MPPT's pty (none: no MPPT)")
    g.add_argument("--serial-dir", default=None,
                   help="the serial hardware (Pylontech, PZEM-017, Growatt) with its ptys' links in this directory, "
                        "instead of the AhoyDTU, MPPT and BMS")
    g.add_argument("--control-port", type=int, default=0, help="control API port (0 = a free one)")
    g.add_argument("--shelly-port", type=int, default=0)
    g.add_argument("--dtu-port", type=int, default=0)
    g.add_argument("--bluez-port", type=int, default=0, help="bluez_sim's control API port")
    g.add_argument("--mppt-control-port", type=int, default=0, help="vedirect_sim's control API port")
    g = ap.add_argument_group("plant")
    g.add_argument("--profile", default=os.path.join(HERE, "profiles", "demo-day.csv"),
                   help="household load, CSV seconds,load_w")
    g.add_argument("--solar-profile", default=os.path.join(HERE, "profiles", "demo-solar.csv"),
                   help="PV power available to the MPPT, CSV seconds,solar_w")
    g.add_argument("--load", type=float, default=None, help="a constant load (W) instead of --profile")
    g.add_argument("--solar", type=float, default=None, help="constant PV power (W) instead of --solar-profile")
    g.add_argument("--speed", type=float, default=1.0,
                   help="profile time and battery physics run this much faster (device delays stay real)")
    g.add_argument("--start", type=float, default=0.0, help="profile time at start (s)")
    g.add_argument("--soc", type=float, default=60.0, help="state of charge at start (%%)")
    g.add_argument("--ambient", type=float, default=21.0, help="battery temperature at rest (°C)")
    g.add_argument("--charger-w", type=float, default=600.0, help="grid charger's AC power while on")
    g.add_argument("--shelly-gen", type=int, choices=(1, 2), default=2)
    g.add_argument("--inverter-max-w", type=int, default=600)
    g.add_argument("--lut", default=os.path.join(ROOT, "etc", "hm600-lut.csv"),
                   help="the inverter's real curve (and the daemon's power_lut)")
    g.add_argument("--ack-delay", type=float, default=3.0, help="s until the inverter applies a limit")
    g.add_argument("--settle", type=float, default=20.0, help="s for the inverter's output to settle")
    g.add_argument("--noise", type=float, default=0.02, help="DTU measurement noise (fraction)")
    g.add_argument("--meter-noise", type=float, default=2.0, help="± W of grid meter noise")
    g.add_argument("--no-meter-solar", action="store_true",
                   help="leave the MPPT's PV power out of the grid meter (a purely DC-coupled battery)")
    g.add_argument("--seed", type=int, default=None, help="random seed (noise)")
    g = ap.add_argument_group("daemon config")
    g.add_argument("--config-in", default=None, help="a daemon config (e.g. etc/demo.json) to rewrite")
    g.add_argument("--config-out", default=None, help="where to write it with this home's addresses")
    g.add_argument("--daemon-http", default=None, help="http.listen for the rewritten config")
    ap.add_argument("-v", "--verbose", action="store_true")
    return ap
