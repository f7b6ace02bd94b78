/* SPDX-License-Identifier: MIT */
/* The next daily restart time of restart_at (see dtu-restart.h): walk the
 * minutes around hour:minute of a local day and take the first whose local
 * time is not before it, so DST gaps and repeats need no special case. */

#include <errno.h>

#include "dtu-restart.h"

/* Local midnight of the day `day_offset` days after the local date of t. */
static int local_midnight(time_t t, int day_offset, time_t *ret) {
        struct tm tm;

        if (!localtime_r(&t, &tm))
                return -ERANGE;
        tm.tm_mday += day_offset;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = -1;
        *ret = mktime(&tm);
        return *ret == (time_t) -1 ? -ERANGE : 0;
}

/* On the local day starting at `midnight`: the first minute at or after hour:minute (DST moves a day's
 * wall times by at most an hour or two: scan from two hours before to three after). */
static int on_day(time_t midnight, int hour, int minute, time_t *ret) {
        struct tm day, tm;
        int want = hour * 60 + minute;
        time_t t = midnight + (time_t) (want - 120 > 0 ? want - 120 : 0) * 60;

        if (!localtime_r(&midnight, &day))
                return -ERANGE;
        for (int i = 0; i <= 300; i++, t += 60) {
                if (!localtime_r(&t, &tm))
                        return -ERANGE;
                if (tm.tm_yday != day.tm_yday)
                        break; /* past the end of the day: the time does not exist (cannot happen with DST) */
                if (tm.tm_hour * 60 + tm.tm_min >= want) {
                        *ret = t - tm.tm_sec;
                        return 0;
                }
        }
        return -ERANGE;
}

int dtu_restart_next(time_t now, int hour, int minute, time_t *ret) {
        if (hour < 0 || hour > 23 || minute < 0 || minute > 59)
                return -EINVAL;
        for (int d = 0; d <= 2; d++) {
                time_t midnight, t;
                int r = local_midnight(now, d, &midnight);

                if (r >= 0)
                        r = on_day(midnight, hour, minute, &t);
                if (r < 0)
                        return r;
                if (t > now) {
                        *ret = t;
                        return 0;
                }
        }
        return -ERANGE;
}
