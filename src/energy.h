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
