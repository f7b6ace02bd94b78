/* SPDX-License-Identifier: MIT */
/* The control core: once a second the supervisor turns battery, consumption
 * and MQTT facts into locks, the mode switcher turns locks and the requested
 * mode into per-class commands, and the classes pass them to the drivers.
 * Consumption totals drive netzero, which sets the inverter class power;
 * battery temperatures drive the heaters (heater.c), outside the modes. */

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"
#include "control.h"
#include "homebattery/log.h"
#include "netzero.h"
#include "output-limits.h"
#include "homebattery/time-util.h"


struct control_device {
        struct control *ctl;
        struct class_member member;
};

struct control {
        const struct config *config;
        struct outputs out;
        struct supervisor *supervisor;
        struct mode_switcher *modes;
        struct netzero *netzero; /* NULL when disabled */
        struct output_limits limits;
        uint64_t last_reading_usec; /* the newest consumption reading */

        struct control_device **devices;
        size_t n_devices;
        struct switch_class classes[_DEVICE_CLASS_MAX]; /* charger, solar, inverter used */
        struct class_member **batteries;
        size_t n_batteries;
        struct supervisor_battery *sup_batteries; /* the supervisor's input, one per battery */
        const struct battery_record **heater_records; /* the heater rule's input, one per battery */
        struct heater_rule heater;
        struct class_member **meters;
        size_t n_meters;

        uint64_t serial_idle_since_usec;
        const char *top_lock;
        char lock_reasons[_LOCK_MAX][96]; /* the reasons of the locks in stats, with battery names */
        bool protect_all;
        bool supervised; /* a supervisor pass has run: its locks are known */
        bool missing_logged[2]; /* log_missing_values(): cells, temperatures */
        int energy_day;
        struct control_stats stats;
};

/* The on/off classes: the three the modes switch, and the heater, which only its rule switches. */
static const enum device_class switched[] = { DEVICE_CLASS_CHARGER, DEVICE_CLASS_INVERTER, DEVICE_CLASS_SOLAR,
                                              DEVICE_CLASS_HEATER };

int control_new(const struct config *config, uint64_t start_usec, const struct outputs *out,
                struct control **ret) {
        struct control *ctl;
        int r;

        ctl = calloc(1, sizeof(*ctl));
        if (!ctl)
                return -ENOMEM;
        ctl->config = config;
        ctl->out = *out;
        ctl->top_lock = "startup";
        ctl->energy_day = -1;
        output_limits_init(&ctl->limits, config);
        heater_rule_init(&ctl->heater, &config->heater, start_usec);
        for (size_t i = 0; i < ELEMENTSOF(switched); i++)
                ctl->classes[switched[i]].cls = switched[i];
        r = supervisor_new(&config->supervisor, start_usec, &ctl->supervisor);
        if (r >= 0)
                r = mode_switcher_new(config->general.default_mode, &ctl->modes);
        if (r >= 0 && config->netzero.present && config->netzero.enabled)
                r = netzero_new(&config->netzero.nz, &ctl->netzero);
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
                free(ctl->devices[i]->member.name);
                free(ctl->devices[i]);
        }
        free(ctl->devices);
        for (size_t i = 0; i < ELEMENTSOF(switched); i++)
                free(ctl->classes[switched[i]].members);
        free(ctl->batteries);
        free(ctl->sup_batteries);
        free(ctl->heater_records);
        free(ctl->meters);
        supervisor_free(ctl->supervisor);
        mode_switcher_free(ctl->modes);
        netzero_free(ctl->netzero);
        free(ctl);
        return NULL;
}

int control_add_device(struct control *ctl, const char *name, const struct driver *drv, void *state,
                       struct control_device **ret) {
        struct control_device *d, **n;
        int r = 0;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->ctl = ctl;
        d->member = (struct class_member) {
                .drv = drv,
                .state = state,
                .read_interval_usec = 60 * USEC_PER_SEC,
                .implausible_rl = INPUT_WARN_RATELIMIT,
        };
        n = realloc(ctl->devices, (ctl->n_devices + 1) * sizeof(*n));
        if (!n || !(d->member.name = strdup(name))) {
                free(d);
                if (n)
                        ctl->devices = n;
                return -ENOMEM;
        }
        ctl->devices = n;
        ctl->devices[ctl->n_devices++] = d;
        for (size_t i = 0; i < _DEVICE_CLASS_MAX; i++)
                d->member.status[i] = DEVICE_STATUS_SYNCING;

        for (size_t i = 0; i < ELEMENTSOF(switched) && r >= 0; i++) {
                struct switch_class *c = &ctl->classes[switched[i]];
                if (drv->classes & CLASS_BIT(c->cls))
                        r = class_add_member(&c->members, &c->n_members, &d->member);
        }
        if (r >= 0 && (drv->classes & CLASS_BIT(DEVICE_CLASS_BATTERY))) {
                /* The supervisor's input grows with the batteries: no limit that
                 * a large installation would meet on every pass. */
                struct supervisor_battery *sb = realloc(ctl->sup_batteries,
                                                        (ctl->n_batteries + 1) * sizeof(*sb));
                if (!sb)
                        return -ENOMEM;
                ctl->sup_batteries = sb;
                const struct battery_record **hr = realloc(ctl->heater_records,
                                                           (ctl->n_batteries + 1) * sizeof(*hr));
                if (!hr)
                        return -ENOMEM;
                ctl->heater_records = hr;
                r = class_add_member(&ctl->batteries, &ctl->n_batteries, &d->member);
        }
        if (r >= 0 && (drv->classes & CLASS_BIT(DEVICE_CLASS_CONSUMPTION)))
                r = class_add_member(&ctl->meters, &ctl->n_meters, &d->member);
        if (r < 0)
                return r;
        *ret = d;
        return 0;
}

void control_device_set_state(struct control_device *d, void *state) {
        d->member.state = state;
}

void control_device_set_read_interval(struct control_device *d, uint64_t interval_usec) {
        d->member.read_interval_usec = interval_usec;
}

/* Returns what the inverters will produce. */
static int set_inverter_power(struct control *ctl, int p_w, const char *why) {
        struct switch_class *inv = &ctl->classes[DEVICE_CLASS_INVERTER];
        int capped = output_limits_cap(&ctl->limits, p_w);
        int applied = inverter_class_set_power(inv, capped);

        if (capped != p_w)
                log_info("inverter", "Set power %d W (%s, capped from %d W): the inverters will produce %d W",
                         capped, why, p_w, applied);
        else
                log_info("inverter", "Set power %d W (%s): the inverters will produce %d W", p_w, why, applied);
        return applied;
}

static void inverter_status_changed(struct control *ctl, uint64_t now_usec) {
        struct switch_class *inv = &ctl->classes[DEVICE_CLASS_INVERTER];

        if (ctl->netzero) {
                (void) netzero_inverter_status(ctl->netzero, now_usec, inv->status);
                output_limits_inverter_on(&ctl->limits, now_usec, inv->status == DEVICE_STATUS_ON);
        }
        /* Recovery works better when the others run at minimum. */
        if (inv->status == DEVICE_STATUS_FAULT)
                set_inverter_power(ctl, 0, "class fault");
        else if (inv->status == DEVICE_STATUS_ON && !ctl->netzero && ctl->config->general.has_inverter_power)
                set_inverter_power(ctl, ctl->config->general.inverter_power_w, "fixed power, netzero off");
}

/* After any status or power report of a switched class member. */
static void class_changed(struct control *ctl, enum device_class cls, uint64_t now_usec) {
        struct switch_class *c = &ctl->classes[cls];
        bool status_changed = switch_class_update_status(c);
        bool power_changed = switch_class_update_power(c);

        if (power_changed && c->power_known)
                OUTPUT(&ctl->out, class_power, cls, c->power_w);
        if (status_changed || power_changed)
                switch_class_publish(c, &ctl->out);
        if (status_changed)
                log_info(device_class_to_string(cls), "Class status %s", device_status_to_string(c->status));
        if (cls != DEVICE_CLASS_INVERTER)
                return;
        if (power_changed && ctl->netzero)
                (void) netzero_inverter_power(ctl->netzero, now_usec, c->power_known, c->power_w);
        if (status_changed)
                inverter_status_changed(ctl, now_usec);
}

static void apply_mode_result(struct control *ctl, const struct mode_result *res) {
        for (size_t i = 0; i < res->n_actions; i++) {
                struct switch_class *c = &ctl->classes[res->actions[i].class];
                log_info("mode", "%s: %s (devices %s)", device_class_to_string(c->cls),
                         mode_to_string(res->actions[i].mode), res->actions[i].devices_on ? "on" : "off");
                switch_class_set_on(c, res->actions[i].devices_on);
        }
        if (res->publish)
                OUTPUT(&ctl->out, mode_actual, res->displayed);
}

/* A cell or temperature check held because no battery reports what it needs (every battery delivered,
 * none has cells / a temperature): one error line naming the check and the batteries, again only after
 * one reported them. */
static void log_missing_values(struct control *ctl, const struct supervisor_result *res) {
        static const char *const what[2] = { "cell voltages", "a temperature" };
        const size_t missing_at[2] = { res->no_cells_battery, res->no_temperature_battery };

        for (size_t k = 0; k < 2; k++) {
                bool missing = missing_at[k] != SIZE_MAX;
                const char *check = NULL;
                char names[256] = "";
                size_t len = 0;

                if (missing == ctl->missing_logged[k])
                        continue;
                ctl->missing_logged[k] = missing;
                if (!missing) {
                        log_info("supervisor", "A battery reports %s again", what[k]);
                        continue;
                }
                for (size_t i = 0; i < res->n_locks && !check; i++) {
                        bool cell = res->locks[i].id == LOCK_CELL_LOW || res->locks[i].id == LOCK_CELL_HIGH;
                        if (res->locks[i].reason && cell == (k == 0))
                                check = res->locks[i].name;
                }
                for (size_t b = 0; b < ctl->n_batteries && len < sizeof(names); b++)
                        len += (size_t) snprintf(names + len, sizeof(names) - len, "%s%s", b ? ", " : "",
                                                 ctl->batteries[b]->name);
                log_error("supervisor",
                          "supervisor.%s is enabled, but no battery reports %s (%s): that lock stays active "
                          "until one does",
                          check ? check : "?", what[k], names);
        }
}

/* Reasons name the battery: "no temperature sensor on battery bat1". */
static void explain_locks(struct control *ctl, struct supervisor_result *res) {
        for (size_t i = 0; i < res->n_locks; i++) {
                struct supervisor_lock *l = &res->locks[i];

                if (!l->reason || l->battery >= ctl->n_batteries)
                        continue;
                snprintf(ctl->lock_reasons[l->id], sizeof(ctl->lock_reasons[l->id]), "%s on battery %s", l->reason,
                         ctl->batteries[l->battery]->name);
                l->reason = ctl->lock_reasons[l->id];
        }
        log_missing_values(ctl, res);
}

static void run_supervisor(struct control *ctl, uint64_t now_usec, bool mqtt_connected, bool *ret_feed) {
        struct supervisor_battery *bats = ctl->sup_batteries;
        struct supervisor_result res;
        struct mode_result mres;
        size_t nb = 0;

        for (size_t i = 0; i < ctl->n_batteries; i++)
                bats[nb++] = (struct supervisor_battery) {
                        .record = ctl->batteries[i]->has_record ? &ctl->batteries[i]->record : NULL,
                        .last_good_read_usec = ctl->batteries[i]->last_good_read_usec,
                };
        struct supervisor_input in = {
                .mqtt_connected = mqtt_connected,
                .n_consumption_devices = ctl->n_meters,
                .consumption_last_seen_usec = consumption_class_last_seen(ctl->meters, ctl->n_meters),
                .batteries = bats,
                .n_batteries = nb,
        };

        if (supervisor_run(ctl->supervisor, &in, now_usec, &res) < 0) {
                /* Cannot happen with valid input; lock everything if it does. */
                log_error("supervisor", "Supervisor pass failed: locking everything");
                *ret_feed = false;
                if (mode_set_locked(ctl->modes, CLASS_SWITCHED_MASK, &mres) >= 0)
                        apply_mode_result(ctl, &mres);
                return;
        }
        explain_locks(ctl, &res);
        ctl->top_lock = res.top_name;
        ctl->supervised = true;
        ctl->stats.n_locks = res.n_locks;
        memcpy(ctl->stats.locks, res.locks, sizeof(res.locks));
        if (res.top_changed || res.locks_changed)
                OUTPUT(&ctl->out, locks, res.locks, res.n_locks, res.top_name, res.top_changed,
                       res.locks_changed);
        if (res.locks_changed) {
                char list[256] = "";
                size_t len = 0;
                for (size_t i = 0; i < res.n_locks && len < sizeof(list); i++)
                        len += (size_t) snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                                                 res.locks[i].name);
                log_info("supervisor", "Locks: %s%s%s", res.n_locks ? list : "none",
                         res.internal_reason ? "; internal: " : "", res.internal_reason ? res.internal_reason : "");
        }
        *ret_feed = res.feed_watchdog;
        if (mode_set_locked(ctl->modes, ctl->protect_all ? CLASS_SWITCHED_MASK : res.locked_class_mask, &mres) >= 0)
                apply_mode_result(ctl, &mres);
}

static void run_output_limits(struct control *ctl, uint64_t now_usec) {
        struct switch_class *inv = &ctl->classes[DEVICE_CLASS_INVERTER];
        struct output_limits_result res;
        char why[96];

        /* ctl->sup_batteries: filled by run_supervisor() in this tick. */
        output_limits_tick(&ctl->limits, now_usec,
                           &(struct output_limits_input) {
                                   .last_reading_usec = ctl->last_reading_usec,
                                   .power_known = inv->power_known,
                                   .power_w = inv->power_w,
                                   .batteries = ctl->sup_batteries,
                                   .n_batteries = ctl->n_batteries,
                           },
                           &res);
        switch (res.event) {
        case OUTPUT_LIMITS_FALLBACK_START:
                log_warning("netzero", "No consumption reading for %d s while the inverters are on: "
                            "holding the fallback power %d W until readings return",
                            ctl->config->netzero.fallback_after_s, res.power_w);
                set_inverter_power(ctl, res.power_w, "meter fallback");
                break;
        case OUTPUT_LIMITS_CURRENT_CAP:
                snprintf(why, sizeof(why), "battery %s discharges %.1f A above supervisor.current_discharge",
                         ctl->batteries[res.battery]->name, res.excess_a);
                log_warning("inverter", "Reducing the inverters to %d W: %s", res.power_w, why);
                set_inverter_power(ctl, res.power_w, "discharge current limit");
                break;
        case OUTPUT_LIMITS_CURRENT_END:
                log_info("inverter", "Battery discharge current back below supervisor.current_discharge: "
                         "the cap is lifted");
                break;
        default:
                break;
        }
}

/* The latest record of every battery (NULL: none yet), for the heater rule. */
static const struct battery_record *const *heater_input(struct control *ctl) {
        for (size_t i = 0; i < ctl->n_batteries; i++)
                ctl->heater_records[i] = ctl->batteries[i]->has_record ? &ctl->batteries[i]->record : NULL;
        return ctl->heater_records;
}

static void apply_heater_result(struct control *ctl, const struct heater_result *res) {
        const struct heater_config *c = &ctl->config->heater;

        if (res->temperature_back)
                log_info("heater", "A battery temperature arrived again (%.1f °C): the heater rule is back",
                         res->temperature_c);
        if (res->no_temperature)
                log_error("heater", "No battery temperature for %d s: heaters %s until a battery reports one",
                          HEATER_RECORD_MAX_AGE_S, res->changed ? "switched off" : "stay off");
        else if (res->changed && res->on)
                log_info("heater", "Heaters on: lowest battery temperature %.1f °C <= %.1f °C (activate)",
                         res->temperature_c, c->activate_c);
        else if (res->changed)
                log_info("heater", "Heaters off: lowest battery temperature %.1f °C >= %.1f °C (deactivate)",
                         res->temperature_c, c->deactivate_c);
        if (res->changed)
                switch_class_set_on(&ctl->classes[DEVICE_CLASS_HEATER], res->on);
}

/* The heater rule runs only when there is a heater, and never in the safe state. */
static bool heater_active(const struct control *ctl) {
        return ctl->classes[DEVICE_CLASS_HEATER].n_members > 0 && !ctl->protect_all;
}

bool control_tick(struct control *ctl, uint64_t now_usec, bool mqtt_connected) {
        bool feed = false;

        battery_class_schedule(ctl->batteries, ctl->n_batteries, now_usec, &ctl->serial_idle_since_usec);
        run_supervisor(ctl, now_usec, mqtt_connected, &feed);
        if (!ctl->protect_all)
                run_output_limits(ctl, now_usec);
        if (heater_active(ctl)) {
                struct heater_result res;
                heater_rule_tick(&ctl->heater, heater_input(ctl), ctl->n_batteries, now_usec, &res);
                apply_heater_result(ctl, &res);
        }
        return feed;
}

void control_mode_request(struct control *ctl, const void *payload, size_t len, uint64_t now_usec) {
        struct mode_result res;

        if (ctl->protect_all || mode_request(ctl->modes, payload, len, &res) < 0)
                return;
        log_info("mode", "Requested %s, effective %s", mode_to_string(mode_switcher_get_requested(ctl->modes)),
                 mode_to_string(res.displayed));
        apply_mode_result(ctl, &res);
}

void control_republish(struct control *ctl) {
        struct battery_sums sums;

        /* Whatever was published while the broker was away is lost: send the
         * current state again (the lock and power topics are "on change"
         * otherwise, so a value that changed before the first connect would
         * wait for its next change). */
        if (ctl->supervised)
                OUTPUT(&ctl->out, locks, ctl->stats.locks, ctl->stats.n_locks, ctl->top_lock, true, true);
        OUTPUT(&ctl->out, mode_actual, mode_switcher_get_displayed(ctl->modes));
        battery_class_sums(ctl->batteries, ctl->n_batteries, &sums);
        if (sums.complete)
                OUTPUT(&ctl->out, battery_sum, sums.current_a, sums.remaining_ah, sums.soc_pct);
        for (size_t i = 0; i < ELEMENTSOF(switched); i++) {
                const struct switch_class *c = &ctl->classes[switched[i]];
                /* hea/sum is new: no topic for installations without a heater. */
                if (c->cls == DEVICE_CLASS_HEATER && c->n_members == 0)
                        continue;
                if (c->power_known)
                        OUTPUT(&ctl->out, class_power, c->cls, c->power_w);
                switch_class_publish(c, &ctl->out);
                for (size_t k = 0; k < c->n_members; k++) {
                        const struct class_member *m = c->members[k];
                        bool known = m->power_known[c->cls];
                        OUTPUT(&ctl->out, device_state, c->cls, m->name, m->status[c->cls],
                               known ? m->power_w[c->cls] : -1);
                        if (known)
                                OUTPUT(&ctl->out, device_power, c->cls, m->name, m->power_w[c->cls]);
                }
        }
}

void control_energy_report(struct control *ctl, uint64_t now_usec, int local_day) {
        bool new_day = ctl->energy_day >= 0 && local_day != ctl->energy_day;

        ctl->energy_day = local_day;
        for (size_t i = 0; i < ELEMENTSOF(switched); i++) {
                struct switch_class *c = &ctl->classes[switched[i]];
                double wh = switch_class_energy_report(c, &ctl->out);
                /* The report at 00:00 still belongs to the day that ended. */
                c->energy_today_wh = new_day ? 0 : c->energy_today_wh + wh;
        }
}

void control_protect_all(struct control *ctl, uint64_t now_usec) {
        struct mode_result res;

        ctl->protect_all = true;
        if (mode_set_locked(ctl->modes, CLASS_SWITCHED_MASK, &res) >= 0) {
                /* Always say so: the requester of a reset (or whoever watches
                 * a shutdown) gets an answer even when nothing changed. */
                res.publish = true;
                apply_mode_result(ctl, &res);
        }
        /* Command off even where the effective mode already was protect: the
         * safe state must not depend on what we believe the devices do. The
         * heaters go off too (heater_active() keeps them off from here on). */
        for (size_t i = 0; i < ELEMENTSOF(switched); i++)
                switch_class_set_on(&ctl->classes[switched[i]], false);
}

static struct class_member *member(struct control_device *d) {
        return &d->member;
}

void control_device_status(struct control_device *d, enum device_class c, enum device_status s,
                           uint64_t now_usec) {
        struct control *ctl = d->ctl;

        if ((unsigned) c >= _DEVICE_CLASS_MAX || (unsigned) s >= _DEVICE_STATUS_MAX ||
            !(d->member.drv->classes & CLASS_BIT(c)))
                return;
        bool changed = d->member.status[c] != s;
        d->member.status[c] = s;
        if (!(CLASS_BIT(c) & CLASS_ONOFF_MASK))
                return;
        if (changed)
                OUTPUT(&ctl->out, device_state, c, d->member.name, s,
                       d->member.power_known[c] ? d->member.power_w[c] : -1);
        class_changed(ctl, c, now_usec);
}

void control_device_power(struct control_device *d, enum device_class c, int power_w, uint64_t now_usec) {
        struct control *ctl = d->ctl;
        struct class_member *m = member(d);

        if ((unsigned) c >= _DEVICE_CLASS_MAX || !(CLASS_BIT(c) & CLASS_ONOFF_MASK))
                return;
        if (!(m->drv->classes & CLASS_BIT(c)))
                return;
        if (m->power_known[c] && m->power_w[c] == power_w)
                return;
        m->power_known[c] = true;
        m->power_w[c] = power_w;
        OUTPUT(&ctl->out, device_power, c, m->name, power_w);
        OUTPUT(&ctl->out, device_state, c, m->name, m->status[c], power_w);
        class_changed(ctl, c, now_usec);
}

static void serial_read_done(struct control_device *d, uint64_t now_usec) {
        struct class_member *m = member(d);
        if (m->read_pending && m->drv->battery && m->drv->battery->serialized)
                d->ctl->serial_idle_since_usec = now_usec;
        m->read_pending = false;
}

void control_device_battery(struct control_device *d, const struct battery_record *r, uint64_t now_usec) {
        struct control *ctl = d->ctl;
        struct class_member *m = member(d);
        struct battery_sums sums;

        char why[96];

        if (!(m->drv->classes & CLASS_BIT(DEVICE_CLASS_BATTERY)))
                return;
        /* Refused like a failed read: never published, never seen by the supervisor. */
        if (battery_record_implausible(r, why, sizeof(why))) {
                log_input_warning(&m->implausible_rl, now_usec, m->name, "implausible records",
                                  "Refusing an implausible battery record: %s", why);
                control_device_read_failed(d, now_usec, -ERANGE, "implausible record");
                return;
        }
        serial_read_done(d, now_usec);
        m->record = *r;
        m->record.time_usec = now_usec;
        m->has_record = true;
        m->last_good_read_usec = now_usec ? now_usec : 1;
        if (!m->drv->battery || !m->drv->battery->forwarded)
                OUTPUT(&ctl->out, battery, m->name, &m->record);
        battery_class_sums(ctl->batteries, ctl->n_batteries, &sums);
        if (sums.complete)
                OUTPUT(&ctl->out, battery_sum, sums.current_a, sums.remaining_ah, sums.soc_pct);
        if (heater_active(ctl)) {
                struct heater_result res;
                heater_rule_record(&ctl->heater, heater_input(ctl), ctl->n_batteries, now_usec, &res);
                apply_heater_result(ctl, &res);
        }
}

void control_device_read_failed(struct control_device *d, uint64_t now_usec, int error, const char *step) {
        serial_read_done(d, now_usec);
        d->member.read_failures++;
        snprintf(d->member.last_error, sizeof(d->member.last_error), "%s: %s", step ? step : "read",
                 strerror(error < 0 ? -error : error));
}

void control_device_read_ok(struct control_device *d, uint64_t now_usec) {
        /* A battery's last good read is its last record (battery_offline). */
        if (d->member.drv->classes & CLASS_BIT(DEVICE_CLASS_BATTERY))
                return;
        d->member.last_good_read_usec = now_usec ? now_usec : 1;
}

void control_device_consumption(struct control_device *d, int power_w, uint64_t now_usec) {
        struct control *ctl = d->ctl;
        struct class_member *m = member(d);
        struct switch_class *inv = &ctl->classes[DEVICE_CLASS_INVERTER];
        struct netzero_decision dec;
        int total;

        if (!(m->drv->classes & CLASS_BIT(DEVICE_CLASS_CONSUMPTION)))
                return;
        m->heard = true;
        m->consumption_w = power_w;
        m->last_arrival_usec = now_usec ? now_usec : 1;
        ctl->last_reading_usec = m->last_arrival_usec;
        if (output_limits_reading(&ctl->limits))
                log_info("netzero", "Consumption readings are back: netzero takes over from the fallback power");
        if (!consumption_class_total(ctl->meters, ctl->n_meters, &total))
                return;
        ctl->stats.consumption_w = total;
        OUTPUT(&ctl->out, consumption, total);
        if (!ctl->netzero || ctl->protect_all)
                return;

        netzero_set_power_max(ctl->netzero, output_limits_cap(&ctl->limits, INT_MAX));
        netzero_consumption(ctl->netzero, now_usec, total, &dec);
        if (!dec.evaluated)
                return;
        char line[160];
        if (netzero_evaluation_format(&dec.evaluation, &ctl->config->netzero.nz, line, sizeof(line)) >= 0)
                log_info("netzero", "%s", line);
        ctl->stats.netzero = dec.evaluation;
        ctl->stats.netzero_usec = now_usec;
        ctl->stats.netzero_valid = true;
        if (dec.set_power && inv->power_known) {
                ctl->stats.netzero_commands++;
                netzero_request_applied(ctl->netzero, set_inverter_power(ctl, dec.power_w, "netzero"));
        }
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

const struct control_stats *control_get_stats(const struct control *ctl) {
        return &ctl->stats;
}

size_t control_get_n_devices(const struct control *ctl) {
        return ctl->n_devices;
}

void control_get_device(const struct control *ctl, size_t i, struct control_device_info *ret) {
        const struct class_member *m = &ctl->devices[i]->member;

        *ret = (struct control_device_info) {
                .name = m->name,
                .driver = m->drv->name,
                .classes = m->drv->classes,
                .record = m->has_record ? &m->record : NULL,
                .forwarded = m->drv->battery && m->drv->battery->forwarded,
                .last_good_read_usec = m->last_good_read_usec,
                .read_failures = m->read_failures,
                .last_error = m->last_error,
                .heard = m->heard,
                .consumption_w = m->consumption_w,
                .last_arrival_usec = m->last_arrival_usec,
        };
        memcpy(ret->status, m->status, sizeof(ret->status));
        memcpy(ret->power_known, m->power_known, sizeof(ret->power_known));
        memcpy(ret->power_w, m->power_w, sizeof(ret->power_w));
}

void control_get_class(const struct control *ctl, enum device_class c, struct control_class_info *ret) {
        *ret = (struct control_class_info) {};
        if (c == DEVICE_CLASS_BATTERY)
                ret->n_devices = ctl->n_batteries;
        else if (c == DEVICE_CLASS_CONSUMPTION) {
                ret->n_devices = ctl->n_meters;
                ret->power_known = consumption_class_total(ctl->meters, ctl->n_meters, &ret->power_w);
        } else if ((unsigned) c < _DEVICE_CLASS_MAX) {
                const struct switch_class *sc = &ctl->classes[c];
                ret->n_devices = sc->n_members;
                ret->status = sc->status;
                ret->power_known = sc->power_known;
                ret->power_w = sc->power_w;
                ret->energy_today_wh = sc->energy_today_wh;
        }
}
