/* SPDX-License-Identifier: MIT */
/* Time units: every time in the daemon is a uint64_t count of microseconds of
 * CLOCK_MONOTONIC (or CLOCK_REALTIME where it says so). Written once here. */
#pragma once

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL
