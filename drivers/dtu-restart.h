/* SPDX-License-Identifier: MIT */
/* restart_at of the ahoyDtu and openDtu drivers: when, in local time, the
 * daily restart of the inverter falls next, on days with a DST change too.
 * Pure apart from the C library's time zone (TZ). */
#pragma once

#include <time.h>

/* A restart whose time passed more than this long ago (the clock jumped, e.g.
 * when NTP set it after boot) is skipped, not made up for. */
#define DTU_RESTART_LATE_MAX_S 3600

/* The first moment after `now` whose local time is hour:minute; on a day
 * where that time does not exist (it falls into the hour skipped when DST
 * begins) the first minute after it that exists; on a day where it happens
 * twice, the first time. -EINVAL for an invalid time, -ERANGE when the C
 * library cannot convert. */
int dtu_restart_next(time_t now, int hour, int minute, time_t *ret);
