/* SPDX-License-Identifier: MIT */
/* The energy-report schedule (every quarter hour of local wall-clock time)
 * and the counter arithmetic of the energy sources. Pure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The next :00/:15/:30/:45 of local time strictly after realtime_usec. */
uint64_t energy_next_report_usec(uint64_t realtime_usec);

/* Energy since the last report from a counter that only grows but may be
 * reset by the device (a smaller value means it restarted from 0, e.g. a new
 * day for the solar yield counter): returns the difference, or the new value
 * after a reset. The first reading (has_last false) yields 0. */
double energy_counter_delta(bool has_last, double last, double now);

/* Inverter energy: the power integrated over time while the device is on
 * (W × s / 3600). Feed every power/status change; take() returns the Wh
 * since the last take and restarts the sum. */
struct energy_integrator {
        uint64_t last_usec;
        int power_w;
        bool on;
        bool started;
        double wh;
};

void energy_integrate(struct energy_integrator *e, uint64_t now_usec, bool on, int power_w);
double energy_take(struct energy_integrator *e, uint64_t now_usec);
