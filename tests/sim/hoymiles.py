# SPDX-License-Identifier: MIT
"""A model of a Hoymiles micro-inverter (HM series) as a DTU (AhoyDTU,
OpenDTU) sees it over the radio. Used by dtu_sim.py; no I/O here.

What is modelled:
- producing on/off; commands (on, off, restart, limit) travel to the inverter
  and take effect after `ack_delay` seconds (3 s like the real radio path);
  a command sent while the inverter is unreachable is lost: the DTU reports
  it as failed after `cmd_timeout` seconds;
- on: "starting" for `start_delay` s, then producing;
- a relative limit in percent (non-persistent, 0.1 % resolution). Until it is
  acknowledged the old limit is reported and `limit_ack` is False;
- the true AC output settles first-order towards its target over `settle`
  seconds (time constant settle/3, i.e. within 5 % after `settle`);
  target = min(power at the limit, available DC power) where the power at a
  limit is limit% x max_w, or, with a LUT, interpolated from the LUT
  (percent -> watt pairs, the curve of a real inverter);
- measured values carry +-`noise` (fraction, 0.02 = 2 %) of random error;
- restart: the inverter reboots (unreachable, off) for `restart_time` s; the
  non-persistent limit is lost (unknown while rebooting, then 100 % or the
  last persistent limit); afterwards it starts
  producing again (a restart also clears a fault and an off command);
- fault(): the inverter switches itself off and ignores "on" commands until
  a restart (or clear_fault());
- reachable: False = the radio link is down; the DTU keeps the last values.
- energy: exact integral of the true output (YieldTotal / YieldDay).

Time is time.monotonic() (or the given clock), multiplied by `speed`: with
speed=10 every delay above passes ten times faster in real time.
"""
import heapq
import math
import random
import time

PHASE_OFF = "off"
PHASE_STARTING = "starting"
PHASE_PRODUCING = "producing"
PHASE_REBOOTING = "rebooting"

CMD_OK = "Ok"
CMD_PENDING = "Pending"
CMD_FAILURE = "Failure"
CMD_UNKNOWN = "Unknown"


def parse_lut(text):
    """Lines 'percent;watt' (spaces allowed); other lines are ignored."""
    out = []
    for line in text.splitlines():
        parts = line.split(";")
        if len(parts) != 2:
            continue
        try:
            out.append((float(parts[0].strip()), float(parts[1].strip())))
        except ValueError:
            continue
    return out


class Inverter:
    def __init__(self, max_w=600, lut=None, ack_delay=3.0, settle=20.0, noise=0.02, speed=1.0,
                 start_delay=3.0, restart_time=10.0, cmd_timeout=15.0, dc_w=None, on=True,
                 seed=None, clock=time.monotonic, wallclock=time.time):
        self.max_w = float(max_w)
        self.lut = sorted(lut) if lut else None
        self.ack_delay = float(ack_delay)
        self.settle = float(settle)
        self.noise = float(noise)
        self.speed = float(speed)
        self.start_delay = float(start_delay)
        self.restart_time = float(restart_time)
        self.cmd_timeout = float(cmd_timeout)
        self.dc_w = None if dc_w is None else float(dc_w)
        self._clock = clock
        self._wall = wallclock
        self._rng = random.Random(seed)
        self._real0 = clock()
        self._wall0 = wallclock()
        self._t = 0.0                       # simulated seconds since creation
        self._events = []                   # heap of (t, seq, fn, args)
        self._seq = 0
        # physical state
        self.phase = PHASE_PRODUCING if on else PHASE_OFF
        self.limit_pct = 100.0
        self.persistent_limit_pct = 100.0   # what a restart comes back with
        self.limit_known = True
        self.output_w = self._target() if on else 0.0
        self.fault_latched = False
        self.link_up = True                 # radio link (sim control)
        self.energy_wh = 0.0
        self.energy_day_wh = 0.0
        # command bookkeeping as the DTU sees it
        self.limit_ack = True
        self.limit_status = CMD_UNKNOWN
        self.power_status = CMD_UNKNOWN
        self.pending_limit = None
        self.was_producing = self.phase == PHASE_PRODUCING
        self.cmd_log = []                   # (sim time, what) for tests
        self.restarts = 0
        self.link_epoch = 0                 # +1 each time it becomes reachable again
        self._last_snap = None

    # ---------------------------------------------------------------- time
    def now(self):
        return (self._clock() - self._real0) * self.speed

    def wall(self, t=None):
        """Unix time of simulated time t (now by default)."""
        if t is None:
            t = self.now()
        return self._wall0 + t / self.speed

    def _schedule(self, delay, fn, *args):
        self._seq += 1
        heapq.heappush(self._events, (self._t + delay, self._seq, fn, args))

    def advance(self, t=None):
        """Bring the model up to simulated time t (now by default)."""
        if t is None:
            t = self.now()
        while self._events and self._events[0][0] <= t:
            et, _, fn, args = heapq.heappop(self._events)
            self._integrate(max(et, self._t))
            fn(*args)
        self._integrate(max(t, self._t))

    # ------------------------------------------------------------- physics
    def power_at(self, pct):
        """AC power the inverter delivers at a limit of pct percent."""
        pct = max(0.0, min(100.0, pct))
        if not self.lut:
            return pct / 100.0 * self.max_w
        lut = self.lut
        if pct <= lut[0][0]:
            return lut[0][1]
        for (p0, w0), (p1, w1) in zip(lut, lut[1:]):
            if pct <= p1:
                if p1 == p0:
                    return w1
                return w0 + (w1 - w0) * (pct - p0) / (p1 - p0)
        return lut[-1][1]

    def _target(self):
        if self.phase != PHASE_PRODUCING:
            return 0.0
        w = self.power_at(self.limit_pct)
        if self.dc_w is not None:
            w = min(w, max(0.0, self.dc_w))
        return w

    def _tau(self):
        return max(self.settle / 3.0, 1e-6)

    def _integrate(self, t):
        dt = t - self._t
        if dt <= 0:
            return
        target = self._target()
        out0 = self.output_w
        tau = self._tau()
        k = math.exp(-dt / tau)
        self.output_w = target + (out0 - target) * k
        wh = (target * dt + (out0 - target) * tau * (1.0 - k)) / 3600.0
        self.energy_wh += wh
        self.energy_day_wh += wh
        self._t = t
        if self.output_w > 3.0:
            self.was_producing = True

    @property
    def reachable(self):
        return self.link_up and self.phase != PHASE_REBOOTING

    # ------------------------------------------------------------ commands
    def _send(self, what, apply_fn, *args):
        """A command leaves the DTU. Returns False when the DTU knows the
        inverter is unreachable (AhoyDTU refuses then)."""
        self.cmd_log.append((round(self._t, 3), what))
        if not self.reachable:
            self._schedule(self.cmd_timeout, self._cmd_failed, what)
            return False
        self._schedule(self.ack_delay, self._deliver, what, apply_fn, args)
        return True

    def _deliver(self, what, apply_fn, args):
        if not self.reachable:
            self._schedule(max(0.0, self.cmd_timeout - self.ack_delay), self._cmd_failed, what)
            return
        apply_fn(*args)

    def _cmd_failed(self, what):
        if what.startswith("limit"):
            if self.limit_status == CMD_PENDING:
                self.limit_status = CMD_FAILURE
                self.pending_limit = None
        elif self.power_status == CMD_PENDING:
            self.power_status = CMD_FAILURE

    def set_limit(self, pct, persistent=False):
        """A relative limit in percent (0.1 % resolution, clamped to 0..100)."""
        self.advance()
        pct = round(max(0.0, min(100.0, float(pct))), 1)
        self.limit_ack = False
        self.limit_status = CMD_PENDING
        self.pending_limit = pct
        return self._send("limit %g%s" % (pct, " persistent" if persistent else ""),
                          self._apply_limit, pct, persistent)

    def _apply_limit(self, pct, persistent=False):
        if self.pending_limit != pct:
            return                          # overtaken by a newer limit command
        if persistent:
            self.persistent_limit_pct = pct
        self.limit_pct = pct
        self.limit_known = True
        self.limit_ack = True
        self.limit_status = CMD_OK
        self.pending_limit = None

    def set_power(self, on):
        self.advance()
        self.power_status = CMD_PENDING
        return self._send("on" if on else "off", self._apply_power, bool(on))

    def _apply_power(self, on):
        self.power_status = CMD_OK
        if not on:
            self.phase = PHASE_OFF
            self.output_w = 0.0
            return
        if self.fault_latched or self.phase in (PHASE_STARTING, PHASE_PRODUCING):
            return
        self.phase = PHASE_STARTING
        self._schedule(self.start_delay, self._started)

    def _started(self):
        if self.phase == PHASE_STARTING:
            self.phase = PHASE_PRODUCING

    def restart(self):
        self.advance()
        self.power_status = CMD_PENDING
        return self._send("restart", self._apply_restart)

    def _apply_restart(self):
        self._capture()
        self.power_status = CMD_OK
        self.restarts += 1
        self.phase = PHASE_REBOOTING
        self.output_w = 0.0
        self.limit_known = False
        self.pending_limit = None
        self._schedule(self.restart_time, self._rebooted)

    def _rebooted(self):
        if self.link_up:
            self.link_epoch += 1
        self.fault_latched = False
        self.limit_pct = self.persistent_limit_pct
        self.limit_known = True
        self.limit_ack = True
        self.was_producing = False
        self.phase = PHASE_STARTING
        self._schedule(self.start_delay, self._started)

    # ---------------------------------------------------- simulation control
    def fault(self):
        """The inverter switches itself off (e.g. a grid fault)."""
        self.advance()
        self.fault_latched = True
        self.phase = PHASE_OFF
        self.output_w = 0.0
        self.cmd_log.append((round(self._t, 3), "fault"))

    def clear_fault(self):
        self.advance()
        self.fault_latched = False

    def set_reachable(self, reachable):
        self.advance()
        if self.reachable and not reachable:
            self._capture()
        if not self.link_up and reachable and self.phase != PHASE_REBOOTING:
            self.link_epoch += 1
        self.link_up = bool(reachable)

    def set_dc(self, dc_w):
        self.advance()
        self.dc_w = None if dc_w is None else float(dc_w)

    def force(self, on=None, limit=None):
        """Set the state directly, without the command path."""
        self.advance()
        if limit is not None:
            self.limit_pct = round(max(0.0, min(100.0, float(limit))), 1)
            self.limit_known = True
            self.limit_ack = True
            self.pending_limit = None
        if on is not None:
            self.phase = PHASE_PRODUCING if on else PHASE_OFF
            if not on:
                self.output_w = 0.0

    def reset_energy(self):
        self.advance()
        self.energy_wh = 0.0
        self.energy_day_wh = 0.0

    # -------------------------------------------------------- measurements
    def measure(self, w):
        if w <= 0.0 or self.noise <= 0.0:
            return max(0.0, w)
        return max(0.0, w * (1.0 + self._rng.uniform(-self.noise, self.noise)))

    def _capture(self):
        ac = self.measure(self.output_w)
        eff = 0.955 if ac > 0 else 0.0
        self._last_snap = {
            "p_ac": ac,
            "p_dc": ac / eff if eff else 0.0,
            "u_ac": 230.0 + self._rng.uniform(-1.5, 1.5),
            "f_ac": 50.0 + self._rng.uniform(-0.03, 0.03),
            "temp": 25.0 + 25.0 * self.output_w / self.max_w,
            "eff": eff * 100.0,
            "yield_total_kwh": self.energy_wh / 1000.0,
            "yield_day_wh": self.energy_day_wh,
            "u_dc": 34.0,
            "ts": self.wall(self._t),
        }

    def snapshot(self):
        """What the DTU reads now (call advance() first). While the inverter is
        unreachable: the values of the moment it went away (stale)."""
        if self.reachable or self._last_snap is None:
            self._capture()
        return dict(self._last_snap)

    def state(self):
        """Everything, for /sim/state."""
        self.advance()
        return {
            "phase": self.phase,
            "on": self.phase in (PHASE_STARTING, PHASE_PRODUCING),
            "producing": self.phase == PHASE_PRODUCING,
            "reachable": self.reachable,
            "link_up": self.link_up,
            "fault": self.fault_latched,
            "limit_pct": self.limit_pct if self.limit_known else None,
            "pending_limit": self.pending_limit,
            "persistent_limit_pct": self.persistent_limit_pct,
            "limit_ack": self.limit_ack,
            "limit_status": self.limit_status,
            "power_status": self.power_status,
            "output_w": round(self.output_w, 2),
            "target_w": round(self._target(), 2),
            "dc_w": self.dc_w,
            "max_w": self.max_w,
            "energy_wh": round(self.energy_wh, 4),
            "restarts": self.restarts,
            "sim_time": round(self._t, 3),
            "commands": self.cmd_log[-50:],
        }
