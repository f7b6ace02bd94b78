/* SPDX-License-Identifier: MIT */
/* The heater rule (control.md "Heater"): the lowest battery temperature
 * switches every heater on at or below `activate`, off at or above
 * `deactivate`, and keeps the state in between. Pure: the caller passes the
 * records and the time in and switches the heaters itself. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/device.h"

/* Records older than this are not used; no usable temperature for this long switches the heaters off. */
#define HEATER_RECORD_MAX_AGE_S 300
/* The bounds of heater.activate.battery and heater.deactivate.battery, °C. */
#define HEATER_TEMP_MIN_C (-40.0)
#define HEATER_TEMP_MAX_C 100.0

/* The `heater` section of the configuration. */
struct heater_config {
        bool present; /* section given */
        double activate_c;
        double deactivate_c;
};

struct heater_rule {
        struct heater_config config;
        bool on;                    /* what the heaters are commanded */
        bool no_temperature;        /* switched off for lack of a temperature, none came since */
        uint64_t usable_since_usec; /* the newest usable record's time (the start before any) */
};

struct heater_result {
        bool changed;          /* switch every heater to `on` now */
        bool on;               /* the commanded state after this call */
        bool no_temperature;   /* just now: no usable temperature for HEATER_RECORD_MAX_AGE_S */
        bool temperature_back; /* the first usable temperature after no_temperature */
        bool has_temperature;  /* temperature_c is the lowest usable one */
        double temperature_c;
};

/* At start: heaters commanded off, no decision yet. */
void heater_rule_init(struct heater_rule *h, const struct heater_config *c, uint64_t start_usec);
/* The lowest temperature of the records no older than HEATER_RECORD_MAX_AGE_S that have temperatures
 * (NULL entries and records without temperatures are skipped). False when there is none. */
bool heater_lowest_temperature(const struct battery_record *const *records, size_t n, uint64_t now_usec,
                               double *ret_c);
/* On every new battery record: t ≤ activate → on, t ≥ deactivate → off, else keep (the heaters start
 * off, so a first t inside the band keeps them off). */
void heater_rule_record(struct heater_rule *h, const struct battery_record *const *records, size_t n,
                        uint64_t now_usec, struct heater_result *ret);
/* Once a second: off (ret->no_temperature, once) when no usable temperature remains and the last one
 * is HEATER_RECORD_MAX_AGE_S old (without any: the start is). */
void heater_rule_tick(struct heater_rule *h, const struct battery_record *const *records, size_t n,
                      uint64_t now_usec, struct heater_result *ret);
