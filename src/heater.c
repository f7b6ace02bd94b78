/* SPDX-License-Identifier: MIT */
/* The heater rule (control.md "Heater"): decides from the latest battery
 * records whether the heaters are on, with a hysteresis band between
 * activate and deactivate, and switches them off when the temperatures stop.
 * Pure logic with an injected clock; control.c switches and logs. */

#include "heater.h"
#include "homebattery/time-util.h"

#define MAX_AGE_USEC ((uint64_t) HEATER_RECORD_MAX_AGE_S * USEC_PER_SEC)

void heater_rule_init(struct heater_rule *h, const struct heater_config *c, uint64_t start_usec) {
        *h = (struct heater_rule){.config = *c, .usable_since_usec = start_usec};
}

static bool record_usable(const struct battery_record *r, uint64_t now_usec) {
        return r && r->n_temps > 0 && (r->time_usec >= now_usec || now_usec - r->time_usec <= MAX_AGE_USEC);
}

bool heater_lowest_temperature(const struct battery_record *const *records, size_t n, uint64_t now_usec,
                               double *ret_c) {
        bool any = false;
        double t = 0;

        for (size_t i = 0; i < n; i++) {
                const struct battery_record *r = records[i];
                if (!record_usable(r, now_usec))
                        continue;
                for (size_t k = 0; k < r->n_temps && k < BATTERY_TEMPS_MAX; k++)
                        if (!any || r->temps_c[k] < t) {
                                t = r->temps_c[k];
                                any = true;
                        }
        }
        if (any)
                *ret_c = t;
        return any;
}

/* The newest usable record's time, to know when the temperatures stopped. */
static void note_usable(struct heater_rule *h, const struct battery_record *const *records, size_t n,
                        uint64_t now_usec) {
        for (size_t i = 0; i < n; i++)
                if (record_usable(records[i], now_usec) && records[i]->time_usec > h->usable_since_usec)
                        h->usable_since_usec = records[i]->time_usec;
}

void heater_rule_record(struct heater_rule *h, const struct battery_record *const *records, size_t n,
                        uint64_t now_usec, struct heater_result *ret) {
        bool want = h->on;

        *ret = (struct heater_result){};
        ret->has_temperature = heater_lowest_temperature(records, n, now_usec, &ret->temperature_c);
        if (ret->has_temperature) {
                note_usable(h, records, n, now_usec);
                ret->temperature_back = h->no_temperature;
                h->no_temperature = false;
                if (ret->temperature_c <= h->config.activate_c)
                        want = true;
                else if (ret->temperature_c >= h->config.deactivate_c)
                        want = false;
        }
        ret->changed = want != h->on;
        h->on = ret->on = want;
}

void heater_rule_tick(struct heater_rule *h, const struct battery_record *const *records, size_t n,
                      uint64_t now_usec, struct heater_result *ret) {
        *ret = (struct heater_result){.on = h->on};
        ret->has_temperature = heater_lowest_temperature(records, n, now_usec, &ret->temperature_c);
        if (ret->has_temperature || h->no_temperature || now_usec < h->usable_since_usec + MAX_AGE_USEC)
                return;
        /* Fail safe: a heater nobody watches must not stay on. */
        h->no_temperature = ret->no_temperature = true;
        ret->changed = h->on;
        h->on = ret->on = false;
}
