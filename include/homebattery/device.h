/* SPDX-License-Identifier: MIT */
/* The device contract: what a driver knows about the device instance it runs,
 * the shared vocabulary of classes and statuses, and the report functions a
 * driver calls when it has learnt something. The manager owns every device. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum device_class {
        DEVICE_CLASS_BATTERY,
        DEVICE_CLASS_SOLAR,
        DEVICE_CLASS_CHARGER,
        DEVICE_CLASS_INVERTER,
        DEVICE_CLASS_CONSUMPTION,
        _DEVICE_CLASS_MAX,
};

#define CLASS_BIT(c) (1u << (c))
/* The three classes the mode switcher and the supervisor act on. */
#define CLASS_SWITCHED_MASK \
        (CLASS_BIT(DEVICE_CLASS_CHARGER) | CLASS_BIT(DEVICE_CLASS_SOLAR) | CLASS_BIT(DEVICE_CLASS_INVERTER))

enum device_status {
        DEVICE_STATUS_OFF,
        DEVICE_STATUS_ON,
        DEVICE_STATUS_SYNCING,
        DEVICE_STATUS_FAULT,
        _DEVICE_STATUS_MAX,
};

const char *device_class_to_string(enum device_class c);      /* "battery", ... */
const char *device_class_to_short(enum device_class c);       /* "bat", "sol", ... */
const char *device_status_to_string(enum device_status s);    /* "on", "off", ... */

#define BATTERY_CELLS_MAX 32
#define BATTERY_TEMPS_MAX 8

/* One complete reading of a BMS. Current is positive while charging. */
struct battery_record {
        double voltage_v;
        double current_a;
        double soc_pct;
        double remaining_ah;
        double full_ah; /* 0 when the BMS does not tell */
        unsigned cycles;
        size_t n_temps;
        double temps_c[BATTERY_TEMPS_MAX];
        size_t n_cells;
        double cells_v[BATTERY_CELLS_MAX];
        uint64_t time_usec; /* monotonic time of the read */
};

struct device;
struct sd_event;

const char *device_get_name(const struct device *d);
struct sd_event *device_get_event(const struct device *d);
uint64_t device_now_usec(const struct device *d);

/* Reports from the driver. They may be called at any time from the loop. */
void device_report_status(struct device *d, enum device_class c, enum device_status s);
void device_report_power(struct device *d, enum device_class c, int power_w);
void device_report_battery(struct device *d, const struct battery_record *r);
void device_report_read_failed(struct device *d, int error, const char *step);
void device_report_consumption(struct device *d, int power_w);
/* Devices that are not batteries (a battery's read ends with
 * device_report_battery() or _read_failed()): the outcome of each exchange
 * with the device, for its "last good read", failure count and last error
 * (status page, /api/status). 0: good data came; < 0: it failed at `step`.
 * Nothing is logged here: the driver logs failures itself, rate-limited. */
void device_report_read(struct device *d, int error, const char *step);
