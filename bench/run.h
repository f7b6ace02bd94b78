/* SPDX-License-Identifier: MIT */
/* The daemon side of the netzero benchmark: the daemon's own control core
 * (control.c: supervisor, mode switcher, inverter class, netzero) and the
 * Hoymiles driver's own sync loop (dtu-sync.c), run in virtual time against
 * the plant, in discharge mode throughout. */
#pragma once

#include <stdbool.h>

#include "bench/metrics.h"
#include "bench/plant.h"
#include "homebattery/lut.h"
#include "netzero.h"

struct bench_run_config {
        struct netzero_config netzero;
        struct plant_config plant;
        unsigned meter_interval_s; /* >= 1 */
};

struct bench_run_result {
        struct bench_metrics metrics;
        unsigned set_power_calls; /* netzero decisions that set the class power (the daemon's counter) */
        double seconds_on;        /* virtual time the inverter class was on */
};

/* 0, or a negative errno (-EINVAL: netzero refused the config; -ENOBUFS: the plant's queue overflowed). */
int bench_run_netzero(const struct profile *p, const struct lut *lut, const struct bench_run_config *c,
                      struct bench_run_result *ret);
