/* SPDX-License-Identifier: MIT */
/* Netzero "direct": the pulse detector. Loads that switch faster than the inverter follows (an oven's
 * thermostat, an induction hob or a microwave at part power) show as meter readings that jump up and
 * back down (or down and back up) within a minute. While such pulses keep coming, "direct" serves a
 * level of the load over the last minutes instead of chasing each edge (docs/netzero.md, "Pulsing
 * loads"). Pure logic; times are whole seconds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A meter reading that moves by at least this much from the one before is a load switching (the
 * inverter's own output ramps; it never jumps that far between two readings). */
#define NETZERO_PULSE_EDGE_W 300
/* An edge answered by one the other way within this long makes a pulse. */
#define NETZERO_PULSE_MAX_S 60u
/* Pulse mode: at least this many pulses ended within the last NETZERO_PULSE_HOLD_S. */
#define NETZERO_PULSE_COUNT 2u
#define NETZERO_PULSE_HOLD_S 180u
/* The load estimates kept (one per reading) and served from: the last this many seconds. */
#define NETZERO_PULSE_WINDOW_S 120u

struct netzero_pulse_sample {
        uint64_t t_s;
        int load_w; /* reading + known class power */
};

struct netzero_pulse {
        struct netzero_pulse_sample ring[NETZERO_PULSE_WINDOW_S];
        size_t head, n;
        bool have_last;
        int last_reading_w;
        int edge_sign;     /* the open edge: +1 up, -1 down, 0 none */
        int edge_w;        /* its size */
        uint64_t edge_s;
        uint64_t ends_s[NETZERO_PULSE_COUNT]; /* the newest pulses' ends, newest first */
        size_t n_ends;
};

void netzero_pulse_reset(struct netzero_pulse *p);
/* A meter reading at t_s (strictly after the last one) while the known class power was known_w. */
void netzero_pulse_add(struct netzero_pulse *p, uint64_t t_s, int reading_w, int known_w);
/* True while pulses keep coming (NETZERO_PULSE_COUNT ended within NETZERO_PULSE_HOLD_S). */
bool netzero_pulse_active(const struct netzero_pulse *p, uint64_t now_s);
/* The load to serve in pulse mode: the given percentile (0..100) of the load estimates of the last
 * NETZERO_PULSE_WINDOW_S; false when there are none. */
bool netzero_pulse_level(const struct netzero_pulse *p, uint64_t now_s, unsigned percentile, int *ret_w);
