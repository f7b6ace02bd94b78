/* SPDX-License-Identifier: MIT */
/* Quarter-hour schedule in local time, and counter deltas with reset
 * detection, shared by the solar and charger drivers. */

#include <time.h>

#include "energy.h"

#define USEC_PER_SEC 1000000ULL

uint64_t energy_next_report_usec(uint64_t realtime_usec) {
        time_t now = (time_t) (realtime_usec / USEC_PER_SEC), next;
        struct tm tm;

        if (!localtime_r(&now, &tm))
                return (realtime_usec / (900 * USEC_PER_SEC) + 1) * 900 * USEC_PER_SEC;
        tm.tm_sec = 0;
        tm.tm_min = (tm.tm_min / 15 + 1) * 15;
        tm.tm_isdst = -1;
        /* mktime() normalises minute 60 into the next hour (and day). */
        next = mktime(&tm);
        if (next == (time_t) -1 || next <= now)
                next = now + 900 - now % 900;
        return (uint64_t) next * USEC_PER_SEC;
}

double energy_counter_delta(bool has_last, double last, double now) {
        if (!has_last)
                return 0;
        if (now < last)
                return now;
        return now - last;
}

static void integrate_until(struct energy_integrator *e, uint64_t now_usec) {
        if (e->started && e->on && e->power_w > 0 && now_usec > e->last_usec)
                e->wh += (double) e->power_w * (double) (now_usec - e->last_usec) / (3600.0 * USEC_PER_SEC);
        e->last_usec = now_usec;
        e->started = true;
}

void energy_integrate(struct energy_integrator *e, uint64_t now_usec, bool on, int power_w) {
        integrate_until(e, now_usec);
        e->on = on;
        e->power_w = power_w;
}

double energy_take(struct energy_integrator *e, uint64_t now_usec) {
        integrate_until(e, now_usec);
        double wh = e->wh;
        e->wh = 0;
        return wh;
}
