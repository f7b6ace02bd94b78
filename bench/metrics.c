/* SPDX-License-Identifier: MIT */
/* The benchmark's metrics (export, avoidable import, commands) and the
 * lag-limited oracle they are judged against. */

#include <assert.h>
#include <errno.h>

#include "bench/metrics.h"

#define SECONDS_PER_HOUR 3600.0

int bench_ideal_w(int load_w, int offset_w, int min_w, int max_w) {
        long long ideal = (long long) load_w - offset_w;

        if (ideal > max_w)
                ideal = max_w;
        if (ideal < min_w)
                ideal = min_w;
        return (int) ideal;
}

void bench_metrics_add(struct bench_metrics *m, double load_w, double output_w, double ideal_w,
                       double dt_s) {
        double h = dt_s / SECONDS_PER_HOUR;

        assert(m);
        assert(dt_s >= 0);

        if (output_w > load_w)
                m->export_wh += (output_w - load_w) * h;
        else
                m->import_wh += (load_w - output_w) * h;
        if (ideal_w > output_w)
                m->avoidable_import_wh += (ideal_w - output_w) * h;
        m->output_wh += output_w * h;
}

void bench_metrics_command(struct bench_metrics *m, int percent) {
        int dir;

        assert(m);
        m->commands++;
        if (m->last_percent < 0 || percent == m->last_percent) {
                m->last_percent = percent;
                return;
        }
        dir = percent > m->last_percent ? 1 : -1;
        if (m->last_direction != 0 && dir != m->last_direction)
                m->reversals++;
        m->last_direction = dir;
        m->last_percent = percent;
}

double bench_metrics_loss_wh(const struct bench_metrics *m) {
        return m->export_wh + m->avoidable_import_wh;
}

/* Loss of a constant output over one second, in W. */
static double loss_w(double load_w, double output_w, double ideal_w) {
        return (output_w > load_w ? output_w - load_w : 0) + (ideal_w > output_w ? ideal_w - output_w : 0);
}

int bench_best_percent(const struct lut *lut, int load_w, int ideal_w) {
        int best = lut_start_percent(lut);
        double best_loss = -1;

        for (size_t i = 0; i < lut_size(lut); i++) {
                const struct lut_entry *e = lut_get(lut, i);
                double l = loss_w(load_w, e->power_w, ideal_w);

                /* Ties: the smaller output (import rather than export). */
                if (e->percent > LUT_PERCENT_MAX)
                        continue;
                if (best_loss < 0 || l < best_loss ||
                    (l == best_loss && e->power_w < lut_percent_to_power_w(lut, best))) {
                        best = e->percent;
                        best_loss = l;
                }
        }
        return best;
}

int bench_run_oracle(const struct profile *p, const struct lut *lut, const struct plant_config *pc,
                     int power_offset_w, struct bench_metrics *ret) {
        struct plant_inverter inv;
        uint32_t duration = profile_duration_s(p);
        int min_w = lut_min_w(lut), max_w = lut_max_w(lut), sent = -1;

        assert(ret);
        *ret = BENCH_METRICS_INIT;
        plant_inverter_init(&inv, lut, pc);

        for (uint32_t t = 0; t < duration; t++) {
                int load = profile_load_at(p, t);
                int ideal = bench_ideal_w(load, power_offset_w, min_w, max_w);
                double out = plant_inverter_second(&inv, t);
                int percent = bench_best_percent(lut, load, ideal);

                bench_metrics_add(ret, load, out, ideal, 1.0);
                ret->seconds++;

                /* Decided with this second's exact load; takes effect ack latency later. */
                if (percent != sent) {
                        if (!plant_inverter_send(&inv, t, PLANT_COMMAND_LIMIT, percent))
                                return -ENOBUFS;
                        sent = percent;
                        bench_metrics_command(ret, percent);
                }
                if (t == 0 && !plant_inverter_send(&inv, t, PLANT_COMMAND_ON, 0))
                        return -ENOBUFS;
        }
        return 0;
}
