/* SPDX-License-Identifier: MIT */
/* The control core: once a second the supervisor turns battery, consumption
 * and MQTT facts into locks, the mode switcher turns locks and the requested
 * mode into per-class commands, and the classes pass them to the drivers. */

#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "homebattery/log.h"

#define SENDER "control"

struct control_device {
        struct control *ctl;
        char *name;
        const struct driver *drv;
        void *state;
        enum device_status status[_DEVICE_CLASS_MAX];
        struct battery_record record;
        bool has_record;
        uint64_t last_good_read_usec;
        uint64_t read_interval_usec;
        int consumption_w;
        uint64_t consumption_usec;
};

struct control {
        const struct config *config;
        struct outputs out;
        struct supervisor *supervisor;
        struct mode_switcher *modes;
        struct control_device **devices;
        size_t n_devices;
        const char *top_lock;
        uint64_t start_usec;
};

int control_new(const struct config *config, uint64_t start_usec, const struct outputs *out,
                struct control **ret) {
        struct control *ctl;
        int r;

        ctl = calloc(1, sizeof(*ctl));
        if (!ctl)
                return -ENOMEM;
        ctl->config = config;
        ctl->out = *out;
        ctl->start_usec = start_usec;
        ctl->top_lock = "startup";
        r = supervisor_new(&config->supervisor, start_usec, &ctl->supervisor);
        if (r >= 0)
                r = mode_switcher_new(config->general.default_mode, &ctl->modes);
        if (r < 0) {
                control_free(ctl);
                return r;
        }
        *ret = ctl;
        return 0;
}

struct control *control_free(struct control *ctl) {
        if (!ctl)
                return NULL;
        for (size_t i = 0; i < ctl->n_devices; i++) {
                free(ctl->devices[i]->name);
                free(ctl->devices[i]);
        }
        free(ctl->devices);
        supervisor_free(ctl->supervisor);
        mode_switcher_free(ctl->modes);
        free(ctl);
        return NULL;
}

int control_add_device(struct control *ctl, const char *name, const struct driver *drv, void *state,
                       struct control_device **ret) {
        struct control_device *d, **n;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        n = realloc(ctl->devices, (ctl->n_devices + 1) * sizeof(*n));
        if (!n || !(d->name = strdup(name))) {
                free(d);
                if (n)
                        ctl->devices = n;
                return -ENOMEM;
        }
        ctl->devices = n;
        d->ctl = ctl;
        d->drv = drv;
        d->state = state;
        d->read_interval_usec = 60ULL * 1000000ULL;
        ctl->devices[ctl->n_devices++] = d;
        *ret = d;
        return 0;
}

void control_device_set_read_interval(struct control_device *d, uint64_t interval_usec) {
        d->read_interval_usec = interval_usec;
}

static void apply_mode_result(struct control *ctl, const struct mode_result *res) {
        for (size_t i = 0; i < res->n_actions; i++) {
                enum device_class c = res->actions[i].class;
                for (size_t k = 0; k < ctl->n_devices; k++) {
                        struct control_device *d = ctl->devices[k];
                        const struct switch_ops *sw = NULL;
                        int (*set_on)(void *, bool) = NULL;

                        if (!(d->drv->classes & CLASS_BIT(c)))
                                continue;
                        if (c == DEVICE_CLASS_CHARGER)
                                sw = d->drv->charger;
                        else if (c == DEVICE_CLASS_SOLAR)
                                sw = d->drv->solar;
                        if (sw)
                                set_on = sw->set_on;
                        else if (c == DEVICE_CLASS_INVERTER && d->drv->inverter)
                                set_on = d->drv->inverter->set_on;
                        if (set_on) {
                                int r = set_on(d->state, res->actions[i].devices_on);
                                if (r < 0)
                                        log_warning_errno(r, d->name, "Cannot switch %s: %m",
                                                          res->actions[i].devices_on ? "on" : "off");
                        }
                }
        }
        if (res->publish)
                OUTPUT(&ctl->out, mode_actual, res->displayed);
}

bool control_tick(struct control *ctl, uint64_t now_usec, bool mqtt_connected) {
        struct supervisor_battery bats[64];
        struct supervisor_input in = { .mqtt_connected = mqtt_connected };
        struct supervisor_result res;
        struct mode_result mres;
        uint64_t oldest = UINT64_MAX;
        size_t nb = 0;

        for (size_t i = 0; i < ctl->n_devices; i++) {
                struct control_device *d = ctl->devices[i];
                if ((d->drv->classes & CLASS_BIT(DEVICE_CLASS_BATTERY)) && nb < ELEMENTSOF(bats))
                        bats[nb++] = (struct supervisor_battery) {
                                .record = d->has_record ? &d->record : NULL,
                                .last_good_read_usec = d->last_good_read_usec,
                        };
                if (d->drv->classes & CLASS_BIT(DEVICE_CLASS_CONSUMPTION)) {
                        in.n_consumption_devices++;
                        if (d->consumption_usec < oldest)
                                oldest = d->consumption_usec;
                }
        }
        in.batteries = bats;
        in.n_batteries = nb;
        in.consumption_last_seen_usec = in.n_consumption_devices ? oldest : 0;

        if (supervisor_run(ctl->supervisor, &in, now_usec, &res) < 0) {
                log_error(SENDER, "Supervisor pass failed: locking everything");
                return false;
        }
        ctl->top_lock = res.top_name;
        if (res.top_changed || res.locks_changed)
                OUTPUT(&ctl->out, locks, res.locks, res.n_locks, res.top_name, res.top_changed,
                       res.locks_changed);
        if (res.top_changed)
                log_info("supervisor", "Top lock: %s", *res.top_name ? res.top_name : "none");
        if (mode_set_locked(ctl->modes, res.locked_class_mask, &mres) >= 0)
                apply_mode_result(ctl, &mres);
        return res.feed_watchdog;
}

void control_mode_request(struct control *ctl, const void *payload, size_t len, uint64_t now_usec) {
        struct mode_result res;

        if (mode_request(ctl->modes, payload, len, &res) < 0)
                return;
        log_info("mode", "Requested %s, effective %s", mode_to_string(mode_switcher_get_requested(ctl->modes)),
                 mode_to_string(res.displayed));
        apply_mode_result(ctl, &res);
}

void control_republish(struct control *ctl) {
        OUTPUT(&ctl->out, mode_actual, mode_switcher_get_displayed(ctl->modes));
}

void control_energy_report(struct control *ctl, uint64_t now_usec) {
}

void control_protect_all(struct control *ctl, uint64_t now_usec) {
        struct mode_result res;
        if (mode_set_locked(ctl->modes, CLASS_SWITCHED_MASK, &res) >= 0)
                apply_mode_result(ctl, &res);
}

void control_device_status(struct control_device *d, enum device_class c, enum device_status s,
                           uint64_t now_usec) {
        d->status[c] = s;
}

void control_device_power(struct control_device *d, enum device_class c, int power_w, uint64_t now_usec) {
}

void control_device_battery(struct control_device *d, const struct battery_record *r, uint64_t now_usec) {
        d->record = *r;
        d->has_record = true;
        d->last_good_read_usec = now_usec;
        OUTPUT(&d->ctl->out, battery, d->name, r);
}

void control_device_read_failed(struct control_device *d, uint64_t now_usec) {
}

void control_device_consumption(struct control_device *d, int power_w, uint64_t now_usec) {
        d->consumption_w = power_w;
        d->consumption_usec = now_usec;
}

enum mode control_get_displayed(const struct control *ctl) {
        return mode_switcher_get_displayed(ctl->modes);
}

enum mode control_get_requested(const struct control *ctl) {
        return mode_switcher_get_requested(ctl->modes);
}

const char *control_get_top_lock(const struct control *ctl) {
        return ctl->top_lock;
}
