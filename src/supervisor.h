/* SPDX-License-Identifier: MIT */
/* Supervisor (control.md "Supervisor"): one pass per second turns the state of
 * the batteries, the consumption data and the MQTT link into a set of locks,
 * the union of the classes they lock, and whether to feed the systemd watchdog.
 * Pure logic with injected time: the caller publishes, logs and notifies. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/device.h"

/* In priority order (most important first). The names are the config keys and the MQTT names. */
enum lock_id {
        LOCK_INTERNAL,
        LOCK_STARTUP,
        LOCK_MQTT_OFFLINE,
        LOCK_LIVE_DATA_LOST_DISCHARGE,
        LOCK_LIVE_DATA_LOST_CHARGE,
        LOCK_BATTERY_OFFLINE,
        LOCK_CELL_HIGH,
        LOCK_CELL_LOW,
        LOCK_TEMP_LOW_CHARGE,
        LOCK_TEMP_LOW_DISCHARGE,
        LOCK_TEMP_HIGH_CHARGE,
        LOCK_TEMP_HIGH_DISCHARGE,
        LOCK_SOC_LOW,
        LOCK_SOC_HIGH,
        LOCK_CURRENT_CHARGE,
        _LOCK_MAX,
        _LOCK_INVALID = -EINVAL,
};

struct lock_info {
        const char *name;
        unsigned priority;     /* smaller = more important */
        unsigned class_mask;   /* CLASS_BIT() of the classes it locks */
        bool fatal;            /* while active the watchdog is not fed */
        bool configurable;     /* false for internal and startup */
};

/* "internal", "startup", "mqtt_offline", ...; NULL for anything else. */
const char *lock_to_string(enum lock_id id);
/* Exact match of a lock name (as used for the config keys); _LOCK_INVALID otherwise. */
enum lock_id lock_from_string(const char *s);
/* The static table of control.md; NULL for an invalid id. */
const struct lock_info *lock_get_info(enum lock_id id);

struct supervisor_check_config {
        bool enabled;
        double threshold;   /* s for the time checks, V for the cell checks, °C for temperatures, % for
                             * the SoC checks, A for the current checks */
        double hysteresis;  /* same unit; only used by the cell and temperature checks */
};

struct supervisor_config {
        /* Indexed by enum lock_id. The entries of LOCK_INTERNAL and LOCK_STARTUP are ignored: those
         * two cannot be configured or disabled. A check left zeroed is disabled. */
        struct supervisor_check_config checks[_LOCK_MAX];
        /* supervisor.current_discharge: not a lock (netzero reduces the inverter instead, control.c);
         * kept here because it is configured with the checks. */
        struct supervisor_check_config current_discharge;
};

struct supervisor_battery {
        const struct battery_record *record;  /* the latest record; NULL = no record yet */
        uint64_t last_good_read_usec;         /* 0 = never read */
};

struct supervisor_input {
        bool mqtt_connected;
        size_t n_consumption_devices;
        uint64_t consumption_last_seen_usec;  /* oldest last arrival of the devices; 0 = never */
        const struct supervisor_battery *batteries;
        size_t n_batteries;                   /* the configured batteries */
        bool internal_error;                  /* something the manager could not evaluate */
};

struct supervisor_lock {
        enum lock_id id;
        const char *name;
        unsigned priority;
        unsigned class_mask;
        /* Why, when it is not the measurement against the threshold (e.g. "no
         * temperature sensor"), NULL otherwise; `battery` is the index of the
         * battery it concerns (into supervisor_input.batteries) or SIZE_MAX. */
        const char *reason;
        size_t battery;
};

struct supervisor_result {
        unsigned locked_class_mask;              /* union of the active locks' classes */
        size_t n_locks;
        struct supervisor_lock locks[_LOCK_MAX]; /* active locks, most important first */
        enum lock_id top;                        /* _LOCK_INVALID when no lock is active */
        const char *top_name;                    /* "" when no lock: the <root>/locked payload */
        bool top_changed;                        /* publish <root>/locked (always on the first pass) */
        bool locks_changed;                      /* publish the JSON list (always on the first pass) */
        bool feed_watchdog;                      /* false while a fatal lock is active */
        /* Why internal is active this pass (for the log), NULL otherwise; the battery index
         * (into supervisor_input.batteries) when a record was at fault, SIZE_MAX otherwise. */
        const char *internal_reason;
        size_t internal_battery;
        /* 0 when every battery delivered and none has a temperature (cells) while such a check is
         * enabled: those locks are then held active, not fatal; SIZE_MAX otherwise. */
        size_t no_temperature_battery;
        size_t no_cells_battery;
};

struct supervisor;

/* start_usec: monotonic time of daemon start. Times of 0 in the input ("never") count as start.
 * -EINVAL when an enabled check has a non-finite or out-of-range threshold or hysteresis. */
int supervisor_new(const struct supervisor_config *config, uint64_t start_usec, struct supervisor **ret);
struct supervisor *supervisor_free(struct supervisor *sup);

/* One pass. Returns 0; ret is always filled. */
int supervisor_run(struct supervisor *sup, const struct supervisor_input *in, uint64_t now_usec,
                   struct supervisor_result *ret);
