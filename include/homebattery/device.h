/* SPDX-License-Identifier: MIT */
/* The device contract: what a driver knows about the device instance it runs
 * and the shared vocabulary of classes, statuses and battery records. What a
 * driver can do with its device is in homebattery/host.h. */
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
        DEVICE_CLASS_HEATER,
        _DEVICE_CLASS_MAX,
};

#define CLASS_BIT(c) (1u << (c))
/* The three classes the mode switcher and the supervisor act on. */
#define CLASS_SWITCHED_MASK \
        (CLASS_BIT(DEVICE_CLASS_CHARGER) | CLASS_BIT(DEVICE_CLASS_SOLAR) | CLASS_BIT(DEVICE_CLASS_INVERTER))
/* The classes of on/off devices with a status and a power: the switched ones and the heater, which its
 * temperature rule switches (never the modes, never the supervisor). */
#define CLASS_ONOFF_MASK (CLASS_SWITCHED_MASK | CLASS_BIT(DEVICE_CLASS_HEATER))

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
        double full_ah; /* NAN when the BMS does not tell (Daly, the binary mqttBattery topics): JSON
                         * null; readers test isfinite() or "> 0" before using it */
        unsigned cycles;
        size_t n_temps;
        double temps_c[BATTERY_TEMPS_MAX];
        size_t n_cells;
        double cells_v[BATTERY_CELLS_MAX];
        uint64_t time_usec; /* monotonic time of the read */
};

struct host_ops;

/* A device instance as its driver sees it: its name and the host that runs
 * it (include/homebattery/host.h). The host embeds it in its own object. */
struct device {
        const struct host_ops *host;
        const char *name;
};
