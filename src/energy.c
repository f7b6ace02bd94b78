/* SPDX-License-Identifier: MIT */
/* Quarter-hour schedule in local time, and counter deltas with reset
 * detection, shared by the solar and charger drivers. */

#include <time.h>

#include "homebattery/energy.h"
#include "homebattery/time-util.h"


uint64_t energy_next_report_usec(uint64_t realtime_usec) {
        time_t now = (time_t) (realtime_usec / USEC_PER_SEC);
        time_t t = now - now % 60 + 60;
        struct tm tm;

        /* Walk whole minutes until local time shows :00/:15/:30/:45. Unlike
         * mktime() on a computed local time, this is right in the repeated
         * hour of the autumn DST change (02:00 CET comes after 02:45 CEST). */
        for (int i = 0; i < 24 * 60; i++, t += 60)
                if (localtime_r(&t, &tm) && tm.tm_min % 15 == 0)
                        return (uint64_t) t * USEC_PER_SEC;
        return (uint64_t) (now + 900 - now % 900) * USEC_PER_SEC;
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
