/* SPDX-License-Identifier: MIT */
/* Device classes (control.md "Device status", "Classes", "Inverter class",
 * "Battery class", "Consumption"): members, merged status, sums, and the
 * commands a class sends to its drivers. Pure; used by control.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "homebattery/driver.h"
#include "homebattery/log.h"
#include "outputs.h"

struct class_member {
        char *name;
        const struct driver *drv;
        void *state;
        /* A driver may serve several switched classes: one status and power each. */
        enum device_status status[_DEVICE_CLASS_MAX];
        bool power_known[_DEVICE_CLASS_MAX];
        int power_w[_DEVICE_CLASS_MAX];
        /* inverter: the device's range */
        int min_w, max_w;
        /* battery */
        struct battery_record record;
        bool has_record;
        uint64_t last_good_read_usec; /* 0 = never */
        uint64_t last_attempt_usec;   /* 0 = never */
        uint64_t read_interval_usec;
        bool read_pending;
        unsigned read_failures;
        char last_error[96];
        struct ratelimit implausible_rl;
        /* consumption */
        bool heard;
        int consumption_w;
        uint64_t last_arrival_usec; /* 0 = never */
};

/* Merge rule of control.md: none → off, any fault → fault, all on → on,
 * all off → off, otherwise syncing. */
enum device_status class_merge_status(const enum device_status *s, size_t n);

/* A class of on/off devices (charger, solar, inverter; the heater). */
struct switch_class {
        enum device_class cls;
        struct class_member **members;
        size_t n_members;
        enum device_status status;
        bool status_published;
        bool power_known;
        int power_w;
        double energy_today_wh;
};

int class_add_member(struct class_member ***members, size_t *n, struct class_member *m);
/* Recomputes the merged status; returns true when it changed. */
bool switch_class_update_status(struct switch_class *c);
/* Recomputes the class power (known only when every member knows its power;
 * a member that is not on counts 0 W); returns true when it changed. */
bool switch_class_update_power(struct switch_class *c);
/* Switches every member; failures are logged at debug by the caller. */
void switch_class_set_on(struct switch_class *c, bool on);
void switch_class_publish(const struct switch_class *c, const struct outputs *out);
/* Energy since the last report, per member and summed; returns the sum. */
double switch_class_energy_report(const struct switch_class *c, const struct outputs *out);

/* Inverter class: total power split by maximum power (see inverter.c). */
int inverter_class_max_w(const struct switch_class *c);
/* Sets the class power to p_w; returns the total the drivers will produce. */
int inverter_class_set_power(struct switch_class *c, int p_w);

/* Battery class. */
struct battery_sums {
        bool complete; /* every battery has a record */
        double current_a;
        double remaining_ah;
        double soc_pct;
};
void battery_class_sums(struct class_member *const *members, size_t n, struct battery_sums *ret);
/* The weight of a battery's SoC in a sum (bat/sum, supervisor.soc_*): its size in Ah. */
double battery_record_size_ah(const struct battery_record *r);
/* Plausibility of a record from a BMS or another controller: every cell 0..5 V,
 * every temperature -40..+100 °C, |current| <= 2000 A, SoC 0..100 %, at least
 * one cell, voltage, current, SoC, cells and temperatures finite (bounds
 * inclusive; full_ah may be NAN = not reported). Returns NULL when plausible,
 * else why not, in `buf`. */
const char *battery_record_implausible(const struct battery_record *r, char *buf, size_t size);
/* Starts the reads that are due: at most one serialized (BLE) read at a time,
 * with a pause between serialized reads. */
void battery_class_schedule(struct class_member *const *members, size_t n, uint64_t now_usec,
                            uint64_t *serial_idle_since_usec);

/* Consumption class: total of the last values; false until every device was heard. */
bool consumption_class_total(struct class_member *const *members, size_t n, int *ret_total_w);
/* The oldest last arrival (0 when a device was never heard). */
uint64_t consumption_class_last_seen(struct class_member *const *members, size_t n);
