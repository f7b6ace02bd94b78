/* SPDX-License-Identifier: MIT */
/* What all on/off classes (charger, solar, inverter, heater) share: membership,
 * the status merge, the class power sum, switching, publishing and the
 * 15-minute energy report. Charger, solar and heater need nothing beyond this. */

#include <errno.h>
#include <stdlib.h>

#include "class.h"
#include "homebattery/log.h"

enum device_status class_merge_status(const enum device_status *s, size_t n) {
        bool all_on = true, all_off = true;

        if (n == 0)
                return DEVICE_STATUS_OFF;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == DEVICE_STATUS_FAULT)
                        return DEVICE_STATUS_FAULT;
                all_on = all_on && s[i] == DEVICE_STATUS_ON;
                all_off = all_off && s[i] == DEVICE_STATUS_OFF;
        }
        return all_on ? DEVICE_STATUS_ON : all_off ? DEVICE_STATUS_OFF : DEVICE_STATUS_SYNCING;
}

int class_add_member(struct class_member ***members, size_t *n, struct class_member *m) {
        struct class_member **v = realloc(*members, (*n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        v[(*n)++] = m;
        *members = v;
        return 0;
}

bool switch_class_update_status(struct switch_class *c) {
        enum device_status s[64];
        size_t n = 0;

        for (size_t i = 0; i < c->n_members && n < ELEMENTSOF(s); i++)
                s[n++] = c->members[i]->status[c->cls];
        enum device_status merged = class_merge_status(s, n);
        if (merged == c->status && c->status_published)
                return false;
        c->status = merged;
        c->status_published = true;
        return true;
}

bool switch_class_update_power(struct switch_class *c) {
        bool known = true;
        int sum = 0;

        for (size_t i = 0; i < c->n_members; i++) {
                const struct class_member *m = c->members[i];
                if (m->status[c->cls] != DEVICE_STATUS_ON)
                        continue;
                if (!m->power_known[c->cls]) {
                        known = false;
                        break;
                }
                sum += m->power_w[c->cls];
        }
        if (known == c->power_known && (!known || sum == c->power_w))
                return false;
        c->power_known = known;
        c->power_w = known ? sum : 0;
        return true;
}

static int member_set_on(struct class_member *m, enum device_class cls, bool on) {
        const struct driver *d = m->drv;

        switch (cls) {
        case DEVICE_CLASS_CHARGER:
                return d->charger && d->charger->set_on ? d->charger->set_on(m->state, on) : -EOPNOTSUPP;
        case DEVICE_CLASS_SOLAR:
                return d->solar && d->solar->set_on ? d->solar->set_on(m->state, on) : -EOPNOTSUPP;
        case DEVICE_CLASS_INVERTER:
                return d->inverter && d->inverter->set_on ? d->inverter->set_on(m->state, on) : -EOPNOTSUPP;
        case DEVICE_CLASS_HEATER:
                return d->heater && d->heater->set_on ? d->heater->set_on(m->state, on) : -EOPNOTSUPP;
        default:
                return -EINVAL;
        }
}

void switch_class_set_on(struct switch_class *c, bool on) {
        for (size_t i = 0; i < c->n_members; i++) {
                int r = member_set_on(c->members[i], c->cls, on);
                if (r < 0 && r != -EOPNOTSUPP)
                        log_warning_errno(r, c->members[i]->name, "Cannot switch %s %s: %m",
                                          device_class_to_string(c->cls), on ? "on" : "off");
        }
}

void switch_class_publish(const struct switch_class *c, const struct outputs *out) {
        OUTPUT(out, class_state, c->cls, c->status, c->power_known ? c->power_w : -1);
}

static int member_energy(const struct class_member *m, enum device_class cls, double *ret_wh) {
        const struct driver *d = m->drv;
        int (*fn)(void *, double *) = NULL;

        if (cls == DEVICE_CLASS_CHARGER && d->charger)
                fn = d->charger->energy_wh;
        else if (cls == DEVICE_CLASS_SOLAR && d->solar)
                fn = d->solar->energy_wh;
        else if (cls == DEVICE_CLASS_INVERTER && d->inverter)
                fn = d->inverter->energy_wh;
        else if (cls == DEVICE_CLASS_HEATER && d->heater)
                fn = d->heater->energy_wh;
        return fn ? fn(m->state, ret_wh) : -ENODATA;
}

double switch_class_energy_report(const struct switch_class *c, const struct outputs *out) {
        double sum = 0;
        bool any = false;

        for (size_t i = 0; i < c->n_members; i++) {
                const struct class_member *m = c->members[i];
                double wh = 0;
                if (member_energy(m, c->cls, &wh) < 0)
                        continue; /* unknown is not 0: publish nothing for it */
                any = true;
                sum += wh;
                OUTPUT(out, energy, c->cls, m->name, wh, m->status[c->cls], m->power_known[c->cls] ? m->power_w[c->cls] : -1);
        }
        if (any)
                OUTPUT(out, energy, c->cls, NULL, sum, c->status, c->power_known ? c->power_w : -1);
        return sum;
}
