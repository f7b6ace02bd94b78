/* SPDX-License-Identifier: MIT */
/* The driver contract. A driver is one `const struct driver`: its name, the
 * classes it serves, a config parser that validates its keys, and one ops
 * table per class. drivers/drivers.c lists every driver; the config's
 * `devices` section instantiates them. Optional slots are NULL.
 *
 * Rules (docs/architecture.md):
 * - A driver includes only the headers of include/homebattery/, its own drivers/ headers,
 *   libc and json-c. Everything else (time, timers, MQTT, HTTP, BLE, serial
 *   ports, reports) it asks of its host through homebattery/host.h.
 * - Its ops are called from the loop, one at a time; none may block.
 * - Reports never re-enter: a device_report_*() made inside an op (e.g. a
 *   status reported from set_on()) is queued by the host and handed to the
 *   control core after the op has returned, in the order made. A driver may
 *   therefore report from anywhere, and the control core never sees a report
 *   in the middle of its own call.
 * - The host owns the `struct device`; the driver owns its private state,
 *   created in new() and freed in free(). No report is delivered after free().
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "homebattery/cleanup.h"
#include "homebattery/device.h"
#include "homebattery/host.h"

/* Bumped whenever a slot changes meaning; drivers state the version they were
 * written for, and the registry refuses a mismatch (registry_find(), checked
 * for every driver by the unit tests). */
#define DRIVER_VERSION 1

struct json_object;
struct config_ctx;

/* Battery: the class asks for a read when the data is older than the
 * interval; the driver answers later with device_report_battery() or
 * device_report_read_failed(). */
struct battery_ops {
        int (*read)(void *state);
        /* BLE drivers set this: their reads are serialized across devices. */
        bool serialized;
        /* Records that come from another controller (mqttBattery): they count
         * for every check and sum here but are never re-published. */
        bool forwarded;
};

/* Charger, solar and heater: switched on or off by the mode switcher (the
 * heater by its temperature rule). Every driver starts with its device
 * commanded OFF (at start every class is locked, the heater off until its
 * first decision), so set_on() is only called for changes. */
struct switch_ops {
        int (*set_on)(void *state, bool on);
        /* Energy since the last call, Wh; -ENODATA when unknown. */
        int (*energy_wh)(void *state, double *ret_wh);
};

struct inverter_ops {
        int (*set_on)(void *state, bool on);
        /* Asks for power_w; returns the power the device will really produce
         * (its LUT step) in *ret_applied_w. */
        int (*set_power)(void *state, int power_w, int *ret_applied_w);
        void (*power_range)(void *state, int *ret_min_w, int *ret_max_w);
        int (*energy_wh)(void *state, double *ret_wh);
};

/* An MQTT subscription a device's config asks for, and the device key it comes from. */
struct driver_mqtt_topic {
        const char *key;    /* e.g. "topic" */
        const char *filter; /* a topic, or "<topic>/#" */
};

struct driver {
        unsigned version; /* DRIVER_VERSION */
        const char *name;
        unsigned classes; /* CLASS_BIT() set */

        /* Validates the device object (path is e.g. "devices.bat1") and returns a
         * driver-private config. Every problem is reported with config_error();
         * the return value is 0 or a negative errno when anything was wrong. */
        int (*parse_config)(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret);
        void (*free_config)(void *config);
        /* What a parsed config already tells, for the rules across devices;
         * optional. The MQTT subscriptions of the device: at most max into
         * ret, returns how many (two devices must not read one topic). */
        size_t (*config_mqtt_topics)(const void *config, struct driver_mqtt_topic *ret, size_t max);
        /* Batteries: the temperatures every record carries, or -ENODATA when
         * only the device can tell (a BMS). */
        int (*config_temperature_count)(const void *config);
        /* Batteries: the cells every record carries (0: never any, e.g. a shunt), or -ENODATA when only
         * the device can tell. NULL: a battery with cells. */
        int (*config_cell_count)(const void *config);
        /* Serial drivers: the port and line settings the device needs, for
         * the rule that devices sharing a port agree on them. */
        int (*config_serial)(const void *config, const char **ret_port, struct serial_line *ret_line);

        /* Creates the running instance; the host interface is usable from here
         * on (timers may be created, nothing is sent before start()). */
        int (*new)(struct device *d, const void *config, void **ret_state);
        void (*free)(void *state);
        /* Called once the loop runs; optional. */
        int (*start)(void *state);
        /* True while commands are still travelling to the device; the safe-state
         * shutdown waits (bounded) until every driver says false. Optional. */
        bool (*busy)(void *state);

        const struct battery_ops *battery;
        const struct switch_ops *solar;
        const struct switch_ops *charger;
        const struct inverter_ops *inverter;
        const struct switch_ops *heater;
};

/* Config helpers for parse_config(). Each reads `key` of `obj`, reports a
 * problem as "<file>: <path>.<key>: <what>" and returns 0 when the value is
 * usable (or absent and optional: *ret then holds the default), else a
 * negative errno. */
void config_error(struct config_ctx *ctx, const char *path, const char *fmt, ...) _printf_(3, 4);
void config_warning(struct config_ctx *ctx, const char *path, const char *fmt, ...) _printf_(3, 4);
/* "<path>.<key>: expected <expected>, got <value>" (secrets hidden); returns -EINVAL. */
/* A user's value for an error line: what precedes the last '@' (a "user:password@" written into
 * a host or URL) is masked as "***", and it is cut to CONFIG_SHOW_SIZE. Returns buf. Quote values
 * with it only for keys that cannot hold a secret. */
#define CONFIG_SHOW_SIZE 96
const char *config_show(char buf[static CONFIG_SHOW_SIZE], const char *s);
int config_type_error(struct config_ctx *ctx, const char *path, const char *key, struct json_object *v,
                      const char *expected);
int config_check_keys(struct config_ctx *ctx, const char *path, struct json_object *obj,
                      const char *const *allowed);
int config_get_string(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                      bool required, const char *def, char **ret);
int config_get_int(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                   bool required, int def, int min, int max, int *ret);
int config_get_double(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                      bool required, double def, double min, double max, double *ret);
int config_get_bool(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                    bool required, bool def, bool *ret);
/* A key that is one of `words` (NULL-terminated) or an object whose shape
 * `object_hint` describes (e.g. "{\"json\": \"path\"}"): *ret_choice is the
 * word's index, CONFIG_CHOICE_OBJECT (*ret_object set) or CONFIG_CHOICE_ABSENT. */
#define CONFIG_CHOICE_ABSENT (-1)
#define CONFIG_CHOICE_OBJECT (-2)
int config_get_choice(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                      const char *const *words, const char *object_hint, int *ret_choice,
                      struct json_object **ret_object);
/* "aa:bb:cc:dd:ee:ff", any case; returned in upper case. */
int config_get_mac(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                   char ret[static 18]);
/* "host:port", "[v6]:port" or "name:port". */
int config_get_hostport(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                        bool required, char **ret_host, uint16_t *ret_port);
/* A file name, resolved against the config file's directory, then (when it is not there) against the
 * data directory of the shipped files (/usr/share/homebattery); must be readable. */
int config_get_file(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                    bool required, char **ret_path);

/* Pure string checks shared by the config parser and tests. */
bool mac_is_valid(const char *s);
int hostport_parse(const char *s, char **ret_host, uint16_t *ret_port);
/* An MQTT topic to subscribe to or publish on: no wildcards, no leading or
 * trailing '/', no empty level, mqtt_string_is_valid(). */
bool mqtt_topic_is_valid(const char *s);
/* Valid UTF-8 without control characters or non-characters: what an MQTT client
 * accepts in a topic, a client id or a user name. */
bool mqtt_string_is_valid(const char *s);
/* Reads `key` as a topic with mqtt_topic_is_valid(). */
int config_get_topic(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                     char **ret);

