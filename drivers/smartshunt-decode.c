/* SPDX-License-Identifier: MIT */
/* SmartShunt fields into a battery record (smartshunt-decode.h). Units as
 * VE.Direct sends them: V mV, I mA (+ = charging), SOC per mille ("---"
 * until the shunt is synchronised), T °C, H4 charge cycles, AR alarm bits. */

#include <stdio.h>
#include <string.h>

#include "smartshunt-decode.h"

static bool get(const struct vedirect_block *b, const char *label, int64_t *ret) {
        return vedirect_block_get_int(b, label, ret) == 0;
}

bool smartshunt_merge(struct smartshunt_values *v, const struct vedirect_block *b) {
        const char *soc = vedirect_block_get(b, "SOC"), *alarm = vedirect_block_get(b, "Alarm");
        bool has_v = get(b, "V", &v->v_mv), has_i = get(b, "I", &v->i_ma);
        int64_t x;

        v->has_v |= has_v;
        v->has_i |= has_i;
        if (soc && strcmp(soc, "---") == 0) {
                v->soc_unknown = true;
                v->has_soc = false;
        } else if (get(b, "SOC", &x) && x >= 0 && x <= 1000) {
                /* (An out-of-range value leaves the last good one: it is read into x first.) */
                v->soc_permille = x;
                v->has_soc = true;
                v->soc_unknown = false;
        }
        v->has_t |= get(b, "T", &v->t_c);
        if (get(b, "H4", &x) && x >= 0) {
                v->h4 = x;
                v->has_h4 = true;
        }
        v->has_ar |= get(b, "AR", &v->ar);
        if (alarm && (strcmp(alarm, "ON") == 0 || strcmp(alarm, "OFF") == 0)) {
                v->has_alarm = true;
                v->alarm_on = strcmp(alarm, "ON") == 0;
        }
        return has_v && has_i;
}

void smartshunt_record(const struct smartshunt_values *v, double full_ah, struct battery_record *ret) {
        double soc = v->has_soc ? v->soc_permille / 10.0 : 0.0;

        *ret = (struct battery_record) {
                .voltage_v = v->v_mv / 1000.0,
                .current_a = v->i_ma / 1000.0,
                .soc_pct = soc,
                .full_ah = full_ah,
                .remaining_ah = full_ah * soc / 100.0,
                .cycles = v->has_h4 ? (unsigned) v->h4 : 0,
        };
        if (v->has_t) {
                ret->n_temps = 1;
                ret->temps_c[0] = (double) v->t_c;
        }
}

void smartshunt_alarm_text(int64_t ar, char *buf, size_t size) {
        static const char *const bits[] = { "low voltage", "high voltage", "low SoC", "low starter voltage",
                                            "high starter voltage", "low temperature", "high temperature",
                                            "mid voltage" };
        size_t len = 0;

        if (size == 0)
                return;
        buf[0] = 0;
        for (unsigned k = 0; k < sizeof(bits) / sizeof(bits[0]); k++)
                if ((ar >> k & 1) && len + 1 < size) {
                        int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", bits[k]);
                        len = n < 0 ? len : len + (size_t) n;
                        if (len >= size)
                                len = size - 1;
                }
        if (len == 0)
                snprintf(buf, size, "none");
}
