/* SPDX-License-Identifier: MIT */
/* What the netzero benchmark measures, and the lag-limited oracle it is
 * compared with. Metrics integrate per second of virtual time:
 *   export            = max(0, output - load)
 *   avoidable import  = max(0, ideal - output), ideal = clamp(load - power_offset, LUT min, LUT max)
 * The oracle knows the exact load every second and commands the LUT step of the
 * ideal output at once; the plant still acknowledges and settles with the same
 * latency as for the daemon, so the oracle is the limit of a causal controller. */
#pragma once

#include <stdint.h>

#include "bench/plant.h"
#include "homebattery/lut.h"

struct bench_metrics {
        double export_wh;           /* inverter output above the house load */
        double avoidable_import_wh; /* import the inverter could have covered within its range */
        double import_wh;           /* all import, for reference */
        double output_wh;           /* inverter energy */
        unsigned commands;          /* limit commands sent to the inverter */
        unsigned reversals;         /* limit commands that went the other way than the one before */
        uint32_t seconds;           /* integrated time */
        /* for bench_metrics_command() */
        int last_percent;           /* -1: none yet */
        int last_direction;         /* -1, 0, +1 */
};

#define BENCH_METRICS_INIT ((struct bench_metrics) { .last_percent = -1 })

/* clamp(load - offset, min, max). */
int bench_ideal_w(int load_w, int offset_w, int min_w, int max_w);
/* Adds an interval of dt_s seconds with constant load, output and ideal. */
void bench_metrics_add(struct bench_metrics *m, double load_w, double output_w, double ideal_w, double dt_s);
/* Counts a limit command to percent (and a reversal when it turns the direction of the one before). */
void bench_metrics_command(struct bench_metrics *m, int percent);
/* export + avoidable import: the figure the algorithms are compared on. */
double bench_metrics_loss_wh(const struct bench_metrics *m);

/* The LUT percent whose power has the least loss for this load (the oracle's choice); ties: less power. */
int bench_best_percent(const struct lut *lut, int load_w, int ideal_w);
/* Runs the oracle over the whole profile: the plant starts off at 100 %; at 0 s the oracle sends the limit
 * and the on, then a limit whenever the best LUT step (bench_best_percent()) changes. 0, or -ENOBUFS when
 * the plant's command queue overflowed (a latency far above the profile's rate of change). */
int bench_run_oracle(const struct profile *p, const struct lut *lut, const struct plant_config *pc,
                     int power_offset_w, struct bench_metrics *ret);
