/* SPDX-License-Identifier: MIT */
/* The bounds on the inverter class power besides netzero's decision: the
 * max_power cap, the meter fallback and the discharge current cap (see
 * output-limits.h). Pure: no clock or I/O of its own, no logging. */

#include <assert.h>
#include <math.h>

#include "output-limits.h"

void output_limits_init(struct output_limits *l, const struct config *c) {
        assert(l);
        assert(c);
        *l = (struct output_limits) {
                .nz = &c->netzero,
                .discharge = &c->supervisor.current_discharge,
        };
}

int output_limits_cap(const struct output_limits *l, int p_w) {
        if (l->nz->has_max_power && p_w > l->nz->max_power_w)
                p_w = l->nz->max_power_w;
        if (l->current_limited && p_w > l->current_cap_w)
                p_w = l->current_cap_w;
        return p_w;
}

void output_limits_inverter_on(struct output_limits *l, uint64_t now_usec, bool on) {
        if (!on) {
                l->on_since_usec = 0;
                l->fallback = false;
        } else if (l->on_since_usec == 0)
                l->on_since_usec = now_usec ? now_usec : 1;
}

bool output_limits_reading(struct output_limits *l) {
        bool was = l->fallback;

        l->fallback = false;
        return was;
}

static bool fallback_due(const struct output_limits *l, uint64_t now_usec, uint64_t last_reading_usec) {
        uint64_t since = l->on_since_usec;

        /* after 0: a configuration not made by config_parse() (tests) has no fallback. */
        if (l->fallback || since == 0 || l->nz->fallback_after_s <= 0)
                return false;
        /* Silent since the inverters went on, or since the last reading after that. */
        if (last_reading_usec > since)
                since = last_reading_usec;
        return now_usec - since >= (uint64_t) l->nz->fallback_after_s * USEC_PER_SEC;
}

/* The battery discharging furthest above the threshold (A; <= 0: none above). */
static double worst_excess(const struct output_limits *l, const struct output_limits_input *in, double margin_a,
                           size_t *ret_battery) {
        double worst = -INFINITY;

        for (size_t b = 0; b < in->n_batteries; b++) {
                const struct battery_record *r = in->batteries[b].record;
                double excess;

                if (!r || !isfinite(r->current_a))
                        continue;
                /* A negative current is a discharge. */
                excess = -r->current_a - (l->discharge->threshold - margin_a);
                if (excess > worst) {
                        worst = excess;
                        *ret_battery = b;
                }
        }
        return worst;
}

static void current_tick(struct output_limits *l, uint64_t now_usec, const struct output_limits_input *in,
                         struct output_limits_result *ret) {
        size_t b = 0;
        double excess;

        if (!l->discharge->enabled || !in->power_known)
                return;
        if (l->current_limited && now_usec - l->current_changed_usec < OUTPUT_LIMITS_CURRENT_SETTLE_USEC)
                return;
        excess = worst_excess(l, in, 0, &b);
        if (excess > 0) {
                const struct battery_record *r = in->batteries[b].record;
                double v = isfinite(r->voltage_v) && r->voltage_v > 0 ? r->voltage_v : 0;
                int cap = in->power_w - (int) ceil(excess * v);

                l->current_limited = true;
                l->current_cap_w = cap > 0 ? cap : 0;
                l->current_changed_usec = now_usec;
                *ret = (struct output_limits_result) {
                        .event = OUTPUT_LIMITS_CURRENT_CAP, .power_w = l->current_cap_w,
                        .excess_a = excess, .battery = b,
                };
                return;
        }
        /* Every battery at or below threshold - hysteresis: the cap goes. */
        if (l->current_limited && worst_excess(l, in, l->discharge->hysteresis, &b) <= 0) {
                l->current_limited = false;
                ret->event = OUTPUT_LIMITS_CURRENT_END;
        }
}

void output_limits_tick(struct output_limits *l, uint64_t now_usec, const struct output_limits_input *in,
                        struct output_limits_result *ret) {
        *ret = (struct output_limits_result) { .event = OUTPUT_LIMITS_NONE };

        if (fallback_due(l, now_usec, in->last_reading_usec)) {
                l->fallback = true;
                ret->event = OUTPUT_LIMITS_FALLBACK_START;
                ret->power_w = output_limits_cap(l, l->nz->fallback_power_w);
                return;
        }
        current_tick(l, now_usec, in, ret);
}
