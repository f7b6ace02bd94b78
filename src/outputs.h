/* SPDX-License-Identifier: MIT */
/* What the control core tells the world, as one interface. The control core
 * never formats a topic or a payload: MQTT implements these ops (outputs-mqtt.c),
 * the unit tests implement them with a recorder. Every op is optional. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "homebattery/device.h"
#include "mode.h"
#include "supervisor.h"

struct outputs_ops {
        /* <root>/mode/actual */
        void (*mode_actual)(void *userdata, enum mode displayed);
        /* <root>/locked (top lock, "" = none) when top_changed; the JSON list when list_changed. */
        void (*locks)(void *userdata, const struct supervisor_lock *locks, size_t n, const char *top_name,
                      bool top_changed, bool list_changed);
        /* Merged status of a switched class; power_w < 0 when unknown. */
        void (*class_state)(void *userdata, enum device_class c, enum device_status s, int power_w);
        void (*class_power)(void *userdata, enum device_class c, int power_w);
        void (*device_state)(void *userdata, enum device_class c, const char *name, enum device_status s,
                             int power_w);
        void (*device_power)(void *userdata, enum device_class c, const char *name, int power_w);
        /* 15-minute report: name NULL = the class sum. */
        void (*energy)(void *userdata, enum device_class c, const char *name, double energy_wh,
                       enum device_status s, int power_w);
        void (*battery)(void *userdata, const char *name, const struct battery_record *r);
        void (*battery_sum)(void *userdata, double current_a, double remaining_ah, double soc_pct);
        void (*consumption)(void *userdata, int power_w);
};

struct outputs {
        const struct outputs_ops *ops;
        void *userdata;
};

#define OUTPUT(o, op, ...)                                              \
        do {                                                            \
                if ((o)->ops && (o)->ops->op)                           \
                        (o)->ops->op((o)->userdata, __VA_ARGS__);       \
        } while (0)
