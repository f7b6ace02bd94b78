/* SPDX-License-Identifier: MIT */
/* The control core as one object: devices grouped into classes, the
 * supervisor, the mode switcher, netzero and energy reports. Pure logic: the
 * caller passes the time in, driver ops are called through their tables, and
 * everything visible goes out through `struct outputs`. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "homebattery/driver.h"
#include "netzero.h"
#include "outputs.h"

struct control;
struct control_device;

int control_new(const struct config *config, uint64_t start_usec, const struct outputs *out,
                struct control **ret);
struct control *control_free(struct control *ctl);

/* A running device: its driver ops are called with `state` (which may be
 * set later, before the first tick, with control_device_set_state()). */
int control_add_device(struct control *ctl, const char *name, const struct driver *drv, void *state,
                       struct control_device **ret);
void control_device_set_state(struct control_device *d, void *state);
void control_device_set_read_interval(struct control_device *d, uint64_t interval_usec);

/* Once a second: battery reads that are due, the supervisor pass, locks →
 * mode switcher → device commands. Returns whether the watchdog may be fed. */
bool control_tick(struct control *ctl, uint64_t now_usec, bool mqtt_connected);

/* A message on <root>/mode/set (raw bytes). */
void control_mode_request(struct control *ctl, const void *payload, size_t len, uint64_t now_usec);
/* After every MQTT (re)connect: re-publish class states. */
void control_republish(struct control *ctl);
/* The 15-minute energy report; local_day (e.g. tm_yday) resets "energy today". */
void control_energy_report(struct control *ctl, uint64_t now_usec, int local_day);
/* Safe state: every class to protect (chargers, inverters and solar off). */
void control_protect_all(struct control *ctl, uint64_t now_usec);

/* Reports from devices. */
void control_device_status(struct control_device *d, enum device_class c, enum device_status s,
                           uint64_t now_usec);
void control_device_power(struct control_device *d, enum device_class c, int power_w, uint64_t now_usec);
void control_device_battery(struct control_device *d, const struct battery_record *r, uint64_t now_usec);
void control_device_read_failed(struct control_device *d, uint64_t now_usec, int error, const char *step);
/* A good read of a device that is not a battery. */
void control_device_read_ok(struct control_device *d, uint64_t now_usec);
void control_device_consumption(struct control_device *d, int power_w, uint64_t now_usec);

/* Counters and last values for the status line, logs and the HTTP API. */
struct control_stats {
        unsigned netzero_commands;
        bool netzero_valid;
        struct netzero_evaluation netzero;
        uint64_t netzero_usec;
        int consumption_w;
        size_t n_locks;
        struct supervisor_lock locks[_LOCK_MAX];
};
const struct control_stats *control_get_stats(const struct control *ctl);

/* Read-only views for the HTTP API and metrics. */
struct control_device_info {
        const char *name;
        const char *driver;
        unsigned classes;
        enum device_status status[_DEVICE_CLASS_MAX];
        bool power_known[_DEVICE_CLASS_MAX];
        int power_w[_DEVICE_CLASS_MAX];
        const struct battery_record *record; /* NULL: none yet */
        bool forwarded;
        uint64_t last_good_read_usec;        /* 0: never */
        unsigned read_failures;
        const char *last_error;              /* "" when none */
        bool heard;
        int consumption_w;
        uint64_t last_arrival_usec;
};
size_t control_get_n_devices(const struct control *ctl);
void control_get_device(const struct control *ctl, size_t i, struct control_device_info *ret);

struct control_class_info {
        size_t n_devices;
        enum device_status status;
        bool power_known;
        int power_w;
        double energy_today_wh; /* sum of today's 15-minute reports */
};
void control_get_class(const struct control *ctl, enum device_class c, struct control_class_info *ret);

/* For the status line and the API. */
enum mode control_get_displayed(const struct control *ctl);
enum mode control_get_requested(const struct control *ctl);
const char *control_get_top_lock(const struct control *ctl);
