/* SPDX-License-Identifier: MIT */
/* The inverter class's power split: a total is shared by the inverters'
 * maximum powers; each driver answers what it will really produce (its LUT
 * step) and the last inverter takes what the others did not. */

#include <math.h>

#include "class.h"

static void member_range(struct class_member *m) {
        if (m->drv->inverter && m->drv->inverter->power_range)
                m->drv->inverter->power_range(m->state, &m->min_w, &m->max_w);
}

int inverter_class_max_w(const struct switch_class *c) {
        int sum = 0;
        for (size_t i = 0; i < c->n_members; i++) {
                member_range(c->members[i]);
                sum += c->members[i]->max_w;
        }
        return sum;
}

static int member_set_power(struct class_member *m, int p_w) {
        int applied = p_w;
        if (!m->drv->inverter || !m->drv->inverter->set_power)
                return 0;
        if (m->drv->inverter->set_power(m->state, p_w, &applied) < 0)
                return 0;
        return applied;
}

int inverter_class_set_power(struct switch_class *c, int p_w) {
        int max = inverter_class_max_w(c), taken = 0;

        if (c->n_members == 0)
                return 0;
        double r = max > 0 ? (double) p_w / max : 0;
        for (size_t i = 0; i + 1 < c->n_members; i++) {
                struct class_member *m = c->members[i];
                taken += member_set_power(m, (int) lround(m->max_w * r));
        }
        return taken + member_set_power(c->members[c->n_members - 1], p_w - taken);
}
