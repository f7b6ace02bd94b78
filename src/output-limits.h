/* SPDX-License-Identifier: MIT */
/* What bounds the inverter class power besides netzero's own decision
 * (control.md, "Output cap", "Meter fallback", "Discharge current"): the
 * netzero.max_power cap, the fallback power while the meter is silent, and
 * the cap that supervisor.current_discharge puts on a battery discharging too
 * hard. Pure logic with an injected clock: control.c acts and logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "homebattery/device.h"
#include "homebattery/time-util.h"
#include "supervisor.h"

/* After a discharge current intervention, the inverter and the BMS get this
 * long to show its effect before the cap is lowered again. */
#define OUTPUT_LIMITS_CURRENT_SETTLE_USEC (30 * USEC_PER_SEC)

struct output_limits {
        const struct config_netzero *nz;
        const struct supervisor_check_config *discharge;
        uint64_t on_since_usec;  /* the inverter class is on since; 0 = not on */
        bool fallback;           /* holding the fallback power */
        bool current_limited;    /* a battery discharged above the threshold: current_cap_w holds */
        int current_cap_w;
        uint64_t current_changed_usec;
};

enum output_limits_event {
        OUTPUT_LIMITS_NONE,
        OUTPUT_LIMITS_FALLBACK_START, /* set the fallback power now */
        OUTPUT_LIMITS_CURRENT_CAP,    /* set (lower) the cap: set the power to it now */
        OUTPUT_LIMITS_CURRENT_END,    /* the cap is gone */
};

/* What a tick looked at. */
struct output_limits_input {
        uint64_t last_reading_usec;        /* the newest consumption reading; 0 = none yet */
        bool power_known;
        int power_w;                       /* the inverter class power */
        const struct supervisor_battery *batteries; /* their latest records (.record NULL: none yet) */
        size_t n_batteries;
};

struct output_limits_result {
        enum output_limits_event event;
        int power_w;       /* FALLBACK_START, CURRENT_CAP: what to set */
        double excess_a;   /* CURRENT_CAP: the discharge current above the threshold */
        size_t battery;    /* CURRENT_CAP: the battery (index into batteries) */
};

void output_limits_init(struct output_limits *l, const struct config *c);
/* The power netzero (or the fixed power) may set: p_w under max_power and the current cap. */
int output_limits_cap(const struct output_limits *l, int p_w);
void output_limits_inverter_on(struct output_limits *l, uint64_t now_usec, bool on);
/* A consumption reading arrived; true when that ended the fallback. */
bool output_limits_reading(struct output_limits *l);
/* Once a second. */
void output_limits_tick(struct output_limits *l, uint64_t now_usec, const struct output_limits_input *in,
                        struct output_limits_result *ret);
