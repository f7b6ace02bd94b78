/* SPDX-License-Identifier: MIT */
/* Supervisor checks and locks (control.md "Supervisor", config.md "supervisor").
 * Each pass evaluates every check to active / inactive / no decision, derives
 * the startup and internal locks, and reports the active locks by priority. */

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"
#include "supervisor.h"
#include "homebattery/time-util.h"

#define STARTUP_USEC (60 * USEC_PER_SEC)
/* Far above any sane setting (config.md allows at most 86400 s, 5 V, 100 °C); keeps every
 * conversion to integer units far away from overflow. */
#define THRESHOLD_ABS_MAX 1e6
/* Clamp of a measurement scaled to integer units, for the same reason. */
#define UNITS_ABS_MAX 1e15

#define ALL_SWITCHED CLASS_SWITCHED_MASK
#define CHA CLASS_BIT(DEVICE_CLASS_CHARGER)
#define SOL CLASS_BIT(DEVICE_CLASS_SOLAR)
#define INV CLASS_BIT(DEVICE_CLASS_INVERTER)

static const struct lock_info lock_table[_LOCK_MAX] = {
        [LOCK_INTERNAL]                 = { "internal",                 0,  ALL_SWITCHED, true,  false },
        [LOCK_STARTUP]                  = { "startup",                  2,  ALL_SWITCHED, false, false },
        [LOCK_MQTT_OFFLINE]             = { "mqtt_offline",             5,  CHA | INV,    true,  true },
        [LOCK_LIVE_DATA_LOST_DISCHARGE] = { "live_data_lost_discharge", 10, INV,          false, true },
        [LOCK_LIVE_DATA_LOST_CHARGE]    = { "live_data_lost_charge",    11, CHA,          false, true },
        [LOCK_BATTERY_OFFLINE]          = { "battery_offline",          30, ALL_SWITCHED, false, true },
        [LOCK_CELL_HIGH]                = { "cell_high",                31, CHA | SOL,    false, true },
        [LOCK_CELL_LOW]                 = { "cell_low",                 32, INV,          false, true },
        [LOCK_TEMP_LOW_CHARGE]          = { "temp_low_charge",          33, CHA | SOL,    false, true },
        [LOCK_TEMP_LOW_DISCHARGE]       = { "temp_low_discharge",       34, INV,          false, true },
        [LOCK_TEMP_HIGH_CHARGE]         = { "temp_high_charge",         35, CHA | SOL,    false, true },
        [LOCK_TEMP_HIGH_DISCHARGE]      = { "temp_high_discharge",      36, INV,          false, true },
        [LOCK_SOC_LOW]                  = { "soc_low",                  37, INV,          false, true },
        [LOCK_SOC_HIGH]                 = { "soc_high",                 38, CHA,          false, true },
        [LOCK_CURRENT_CHARGE]           = { "current_charge",           39, CHA,          false, true },
};

enum verdict {
        VERDICT_INACTIVE,
        VERDICT_ACTIVE,
        VERDICT_NO_DECISION,
};

enum check_kind {
        KIND_NONE,      /* internal, startup: not configurable */
        KIND_TIME,      /* threshold in s, compared in usec */
        KIND_CELL,      /* threshold in V, compared in mV */
        KIND_TEMP,      /* threshold in °C, compared in tenths of °C */
        KIND_SOC,       /* threshold in %, compared in tenths of % */
        KIND_CURRENT,   /* threshold in A, compared in hundredths of A */
};

struct supervisor {
        struct supervisor_config config;
        /* Thresholds and hystereses in the integer unit of their check (usec, mV, 0.1 °C). */
        int64_t threshold[_LOCK_MAX];
        int64_t hysteresis[_LOCK_MAX];
        uint64_t start_usec;
        uint64_t mqtt_last_connected_usec;
        bool active[_LOCK_MAX];
        const char *reason[_LOCK_MAX]; /* see struct supervisor_lock */
        size_t reason_battery[_LOCK_MAX];
        /* Whether the check made a decision yet: before that, its state only stands for "no data". */
        bool decided[_LOCK_MAX];
        bool startup_done;
        bool ran;
        uint64_t prev_lock_mask;  /* bit per lock id, of the last pass */
        enum lock_id prev_top;
};

/* Extremes over the latest record of every battery that has one. */
struct battery_extremes {
        size_t n_records;
        size_t n_cells;
        int64_t cell_min_mv, cell_max_mv;
        size_t n_temps;
        int64_t temp_min_dc, temp_max_dc;
};

const char *lock_to_string(enum lock_id id) {
        if (id < 0 || id >= _LOCK_MAX)
                return NULL;
        return lock_table[id].name;
}

enum lock_id lock_from_string(const char *s) {
        if (!s)
                return _LOCK_INVALID;
        for (enum lock_id id = 0; id < _LOCK_MAX; id++)
                if (strcmp(lock_table[id].name, s) == 0)
                        return id;
        return _LOCK_INVALID;
}

const struct lock_info *lock_get_info(enum lock_id id) {
        if (id < 0 || id >= _LOCK_MAX)
                return NULL;
        return &lock_table[id];
}

static enum check_kind check_kind(enum lock_id id) {
        switch (id) {
        case LOCK_MQTT_OFFLINE:
        case LOCK_LIVE_DATA_LOST_DISCHARGE:
        case LOCK_LIVE_DATA_LOST_CHARGE:
        case LOCK_BATTERY_OFFLINE:
                return KIND_TIME;
        case LOCK_CELL_HIGH:
        case LOCK_CELL_LOW:
                return KIND_CELL;
        case LOCK_TEMP_LOW_CHARGE:
        case LOCK_TEMP_LOW_DISCHARGE:
        case LOCK_TEMP_HIGH_CHARGE:
        case LOCK_TEMP_HIGH_DISCHARGE:
                return KIND_TEMP;
        case LOCK_SOC_LOW:
        case LOCK_SOC_HIGH:
                return KIND_SOC;
        case LOCK_CURRENT_CHARGE:
                return KIND_CURRENT;
        default:
                return KIND_NONE;
        }
}

static double kind_scale(enum check_kind k) {
        switch (k) {
        case KIND_TIME:
                return (double) USEC_PER_SEC;
        case KIND_CELL:
                return 1000.0;
        case KIND_TEMP:
        case KIND_SOC:
                return 10.0;
        case KIND_CURRENT:
                return 100.0;
        default:
                return 1.0;
        }
}

/* Rounding both sides to integer units makes "exactly at the threshold" exact: 3.65 V is
 * 3649.999... mV as a double but 3650 mV after rounding, like the cell value read as 3.650. */
static int64_t to_units(double v, double scale) {
        double x = v * scale;

        if (x > UNITS_ABS_MAX)
                x = UNITS_ABS_MAX;
        else if (x < -UNITS_ABS_MAX)
                x = -UNITS_ABS_MAX;
        return (int64_t) llround(x);
}

int supervisor_new(const struct supervisor_config *config, uint64_t start_usec, struct supervisor **ret) {
        struct supervisor *sup;

        assert(config);
        assert(ret);

        for (enum lock_id id = 0; id < _LOCK_MAX; id++) {
                const struct supervisor_check_config *c = &config->checks[id];

                if (!lock_table[id].configurable || !c->enabled)
                        continue;
                if (!isfinite(c->threshold) || fabs(c->threshold) > THRESHOLD_ABS_MAX)
                        return -EINVAL;
                if (!isfinite(c->hysteresis) || c->hysteresis < 0 || c->hysteresis > THRESHOLD_ABS_MAX)
                        return -EINVAL;
                if (check_kind(id) == KIND_TIME && c->threshold < 0)
                        return -EINVAL;
        }

        sup = calloc(1, sizeof(*sup));
        if (!sup)
                return -ENOMEM;

        sup->config = *config;
        for (enum lock_id id = 0; id < _LOCK_MAX; id++) {
                const struct supervisor_check_config *c = &config->checks[id];
                double scale = kind_scale(check_kind(id));

                if (!lock_table[id].configurable || !c->enabled)
                        continue;
                sup->threshold[id] = to_units(c->threshold, scale);
                sup->hysteresis[id] = to_units(c->hysteresis, scale);
        }

        sup->start_usec = start_usec;
        /* A broker that is down at boot gets `threshold` seconds of grace. */
        sup->mqtt_last_connected_usec = start_usec;
        sup->active[LOCK_STARTUP] = true;
        sup->prev_top = _LOCK_INVALID;

        *ret = sup;
        return 0;
}

struct supervisor *supervisor_free(struct supervisor *sup) {
        free(sup);
        return NULL;
}

static bool enabled(const struct supervisor *sup, enum lock_id id) {
        return sup->config.checks[id].enabled;
}

/* "Never" (0) counts as daemon start: the monotonic clock is far from 0 when the daemon starts.
 * A time in the future counts as age 0. */
static uint64_t age_usec(const struct supervisor *sup, uint64_t t_usec, uint64_t now_usec) {
        if (t_usec == 0)
                t_usec = sup->start_usec;
        return now_usec > t_usec ? now_usec - t_usec : 0;
}

/* Strictly older than the threshold: exactly `threshold` seconds old is still fine. */
static enum verdict time_verdict(const struct supervisor *sup, enum lock_id id, uint64_t age) {
        return age > (uint64_t) sup->threshold[id] ? VERDICT_ACTIVE : VERDICT_INACTIVE;
}

/* A record without cells (a shunt) or temperatures is valid: it gives no decision for those checks. */
static const char *record_problem(const struct battery_record *r) {
        if (r->n_cells > BATTERY_CELLS_MAX)
                return "battery record has too many cells";
        if (r->n_temps > BATTERY_TEMPS_MAX)
                return "battery record has too many temperatures";
        for (size_t i = 0; i < r->n_cells; i++)
                if (!isfinite(r->cells_v[i]))
                        return "battery record has a non-finite cell voltage";
        for (size_t i = 0; i < r->n_temps; i++)
                if (!isfinite(r->temps_c[i]))
                        return "battery record has a non-finite temperature";
        return NULL;
}

/* Returns why the records cannot be evaluated (and which battery), or NULL. */
static const char *collect_extremes(const struct supervisor_input *in, struct battery_extremes *ret,
                                    size_t *ret_battery) {
        struct battery_extremes e = {
                .cell_min_mv = INT64_MAX, .cell_max_mv = INT64_MIN,
                .temp_min_dc = INT64_MAX, .temp_max_dc = INT64_MIN,
        };

        for (size_t b = 0; b < in->n_batteries; b++) {
                const struct battery_record *r = in->batteries[b].record;
                const char *problem;

                if (!r)
                        continue;
                problem = record_problem(r);
                if (problem) {
                        *ret_battery = b;
                        return problem;
                }

                e.n_records++;
                for (size_t i = 0; i < r->n_cells; i++) {
                        int64_t mv = to_units(r->cells_v[i], 1000.0);

                        if (mv < e.cell_min_mv)
                                e.cell_min_mv = mv;
                        if (mv > e.cell_max_mv)
                                e.cell_max_mv = mv;
                        e.n_cells++;
                }
                for (size_t i = 0; i < r->n_temps; i++) {
                        int64_t dc = to_units(r->temps_c[i], 10.0);

                        if (dc < e.temp_min_dc)
                                e.temp_min_dc = dc;
                        if (dc > e.temp_max_dc)
                                e.temp_max_dc = dc;
                        e.n_temps++;
                }
        }

        *ret = e;
        return NULL;
}

/* Before its first decision a check only knows "no data yet", so no hysteresis band applies:
 * otherwise a battery that merely sits inside the band at boot would stay locked. */
static bool in_hysteresis(const struct supervisor *sup, enum lock_id id) {
        return sup->decided[id] && sup->active[id];
}

/* Active above the threshold; once active, until value <= threshold - hysteresis. */
static enum verdict high_verdict(const struct supervisor *sup, enum lock_id id, int64_t value) {
        int64_t limit = sup->threshold[id] - (in_hysteresis(sup, id) ? sup->hysteresis[id] : 0);

        return value > limit ? VERDICT_ACTIVE : VERDICT_INACTIVE;
}

/* Active below the threshold; once active, until value >= threshold + hysteresis. */
static enum verdict low_verdict(const struct supervisor *sup, enum lock_id id, int64_t value) {
        int64_t limit = sup->threshold[id] + (in_hysteresis(sup, id) ? sup->hysteresis[id] : 0);

        return value < limit ? VERDICT_ACTIVE : VERDICT_INACTIVE;
}

/* With no decision and none before, a configured battery means "no data = locked" (the safe
 * side); decided states are kept. */
static void apply_verdict(struct supervisor *sup, enum lock_id id, enum verdict v, bool have_batteries) {
        switch (v) {
        case VERDICT_ACTIVE:
        case VERDICT_INACTIVE:
                sup->active[id] = v == VERDICT_ACTIVE;
                sup->decided[id] = true;
                break;
        case VERDICT_NO_DECISION:
                if (!sup->decided[id])
                        sup->active[id] = have_batteries;
                break;
        }
}

static void run_time_checks(struct supervisor *sup, const struct supervisor_input *in, uint64_t now_usec) {
        static const enum lock_id live_locks[] = {
                LOCK_LIVE_DATA_LOST_DISCHARGE, LOCK_LIVE_DATA_LOST_CHARGE,
        };
        uint64_t oldest_age = 0;

        if (in->mqtt_connected)
                sup->mqtt_last_connected_usec = now_usec;
        sup->active[LOCK_MQTT_OFFLINE] = enabled(sup, LOCK_MQTT_OFFLINE) &&
                time_verdict(sup, LOCK_MQTT_OFFLINE,
                             age_usec(sup, sup->mqtt_last_connected_usec, now_usec)) == VERDICT_ACTIVE;

        for (size_t i = 0; i < sizeof(live_locks) / sizeof(live_locks[0]); i++) {
                enum lock_id id = live_locks[i];

                sup->active[id] = enabled(sup, id) && in->n_consumption_devices > 0 &&
                        time_verdict(sup, id, age_usec(sup, in->consumption_last_seen_usec, now_usec)) ==
                        VERDICT_ACTIVE;
        }

        for (size_t b = 0; b < in->n_batteries; b++) {
                uint64_t a = age_usec(sup, in->batteries[b].last_good_read_usec, now_usec);

                if (a > oldest_age)
                        oldest_age = a;
        }
        sup->active[LOCK_BATTERY_OFFLINE] = enabled(sup, LOCK_BATTERY_OFFLINE) && in->n_batteries > 0 &&
                time_verdict(sup, LOCK_BATTERY_OFFLINE, oldest_age) == VERDICT_ACTIVE;
}

/* Every configured battery has delivered a record. */
static bool all_delivered(const struct supervisor_input *in) {
        for (size_t b = 0; b < in->n_batteries; b++)
                if (!in->batteries[b].record)
                        return false;
        return in->n_batteries > 0;
}

/* Every battery has delivered and none carries what a check of this kind needs: the check holds (fail
 * safe), with a reason; before that, the start rule holds (no decision yet). */
static bool values_missing(const struct supervisor_input *in, const struct battery_extremes *e,
                           enum check_kind kind) {
        return all_delivered(in) && (kind == KIND_CELL ? e->n_cells == 0 : e->n_temps == 0);
}
/* Returns the reason why the battery data cannot be evaluated, or NULL. */
static const char *run_battery_checks(struct supervisor *sup, const struct supervisor_input *in,
                                      size_t *ret_battery, size_t *ret_no_temperature, size_t *ret_no_cells) {
        struct battery_extremes e = { .n_records = 0 };
        bool have_batteries = in->n_batteries > 0;
        const char *problem;

        *ret_no_temperature = *ret_no_cells = SIZE_MAX;
        problem = collect_extremes(in, &e, ret_battery);

        for (enum lock_id id = 0; id < _LOCK_MAX; id++) {
                enum check_kind kind = check_kind(id);
                enum verdict v;

                if (kind != KIND_CELL && kind != KIND_TEMP)
                        continue;
                sup->reason[id] = NULL;
                sup->reason_battery[id] = SIZE_MAX;
                if (!enabled(sup, id) || !have_batteries) {
                        sup->active[id] = false;
                        sup->decided[id] = false;
                        continue;
                }
                /* Batteries without cells or temperatures give no decision for those checks; when
                 * every battery has delivered and none has them, the lock holds (unknown is not safe)
                 * as a visible, non-fatal lock with a reason. Judged afresh once one reports them. */
                if (!problem && values_missing(in, &e, kind)) {
                        sup->active[id] = true;
                        sup->decided[id] = false;
                        sup->reason[id] = kind == KIND_CELL ? "no cell voltages" : "no temperature sensor";
                        sup->reason_battery[id] = 0;
                        *(kind == KIND_CELL ? ret_no_cells : ret_no_temperature) = 0;
                        continue;
                }

                /* A bad record makes the whole pass undecided: the other batteries alone could
                 * clear a lock that the bad one should hold. */
                if (problem || e.n_records == 0 || (kind == KIND_TEMP && e.n_temps == 0) ||
                    (kind == KIND_CELL && e.n_cells == 0))
                        v = VERDICT_NO_DECISION;
                else if (id == LOCK_CELL_HIGH)
                        v = high_verdict(sup, id, e.cell_max_mv);
                else if (id == LOCK_CELL_LOW)
                        v = low_verdict(sup, id, e.cell_min_mv);
                else if (id == LOCK_TEMP_LOW_CHARGE || id == LOCK_TEMP_LOW_DISCHARGE)
                        v = low_verdict(sup, id, e.temp_min_dc);
                else
                        v = high_verdict(sup, id, e.temp_max_dc);

                apply_verdict(sup, id, v, have_batteries);
        }

        return problem;
}

/* The SoC of all batteries with a record, weighted by their size (as bat/sum), in tenths of %, and the
 * largest charge current of one battery in hundredths of A. false when no battery has a record: then the
 * SoC and current checks make no decision (they are comfort limits, not safety: the cell checks are). */
static bool soc_and_charge(const struct supervisor_input *in, int64_t *ret_soc_dpct, int64_t *ret_charge_ca) {
        double weight = 0, weighted = 0, soc_sum = 0, charge = -INFINITY;
        size_t n = 0;

        for (size_t b = 0; b < in->n_batteries; b++) {
                const struct battery_record *r = in->batteries[b].record;
                double w;

                if (!r || !isfinite(r->soc_pct) || !isfinite(r->current_a))
                        continue;
                w = battery_record_size_ah(r);
                weight += w;
                weighted += w * r->soc_pct;
                soc_sum += r->soc_pct;
                if (r->current_a > charge)
                        charge = r->current_a;
                n++;
        }
        if (n == 0)
                return false;
        *ret_soc_dpct = to_units(weight > 0 ? weighted / weight : soc_sum / (double) n, 10.0);
        *ret_charge_ca = to_units(charge, 100.0);
        return true;
}

static void run_soc_current_checks(struct supervisor *sup, const struct supervisor_input *in) {
        static const enum lock_id ids[] = { LOCK_SOC_LOW, LOCK_SOC_HIGH, LOCK_CURRENT_CHARGE };
        int64_t soc_dpct = 0, charge_ca = 0;
        bool known = soc_and_charge(in, &soc_dpct, &charge_ca);

        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
                enum lock_id id = ids[i];
                enum verdict v;

                if (!enabled(sup, id)) {
                        sup->active[id] = sup->decided[id] = false;
                        continue;
                }
                /* No SoC yet: no decision, and no lock before the first one. */
                if (!known)
                        continue;
                if (id == LOCK_SOC_LOW)
                        v = low_verdict(sup, id, soc_dpct);
                else if (id == LOCK_SOC_HIGH)
                        v = high_verdict(sup, id, soc_dpct);
                else
                        v = high_verdict(sup, id, charge_ca);
                apply_verdict(sup, id, v, true);
        }
}

static bool any_other_lock(const struct supervisor *sup) {
        for (enum lock_id id = 0; id < _LOCK_MAX; id++)
                if (id != LOCK_STARTUP && sup->active[id])
                        return true;
        return false;
}

static void build_result(struct supervisor *sup, struct supervisor_result *ret) {
        uint64_t lock_mask = 0;

        /* The table is in id order; sort by its priority anyway so that the order is the table's. */
        for (enum lock_id id = 0; id < _LOCK_MAX; id++) {
                struct supervisor_lock l;
                size_t i;

                if (!sup->active[id])
                        continue;
                l = (struct supervisor_lock) {
                        .id = id,
                        .name = lock_table[id].name,
                        .priority = lock_table[id].priority,
                        .class_mask = lock_table[id].class_mask,
                        .reason = sup->reason[id],
                        .battery = sup->reason[id] ? sup->reason_battery[id] : SIZE_MAX,
                };
                for (i = ret->n_locks; i > 0 && ret->locks[i - 1].priority > l.priority; i--)
                        ret->locks[i] = ret->locks[i - 1];
                ret->locks[i] = l;
                ret->n_locks++;

                lock_mask |= UINT64_C(1) << id;
                ret->locked_class_mask |= l.class_mask;
                if (lock_table[id].fatal)
                        ret->feed_watchdog = false;
        }

        ret->top = ret->n_locks > 0 ? ret->locks[0].id : _LOCK_INVALID;
        ret->top_name = ret->n_locks > 0 ? ret->locks[0].name : "";
        /* Nothing was published before the first pass. */
        ret->top_changed = !sup->ran || ret->top != sup->prev_top;
        ret->locks_changed = !sup->ran || lock_mask != sup->prev_lock_mask;

        sup->ran = true;
        sup->prev_top = ret->top;
        sup->prev_lock_mask = lock_mask;
}

int supervisor_run(struct supervisor *sup, const struct supervisor_input *in, uint64_t now_usec,
                   struct supervisor_result *ret) {
        const char *reason = NULL;
        size_t battery = SIZE_MAX;

        assert(sup);
        assert(in);
        assert(ret);
        assert(in->batteries || in->n_batteries == 0);

        *ret = (struct supervisor_result) {
                .top = _LOCK_INVALID,
                .top_name = "",
                .feed_watchdog = true,
                .internal_battery = SIZE_MAX,
                .no_temperature_battery = SIZE_MAX,
                .no_cells_battery = SIZE_MAX,
        };

        run_time_checks(sup, in, now_usec);
        reason = run_battery_checks(sup, in, &battery, &ret->no_temperature_battery, &ret->no_cells_battery);
        /* A bad record (reason) leaves them as they were: it must not clear a lock. */
        if (!reason)
                run_soc_current_checks(sup, in);
        if (in->internal_error && !reason) {
                reason = "the manager could not evaluate a check";
                battery = SIZE_MAX;
        }
        /* internal holds for this pass only: the next pass evaluates afresh. */
        sup->active[LOCK_INTERNAL] = reason != NULL;
        ret->internal_reason = reason;
        ret->internal_battery = reason ? battery : SIZE_MAX;

        /* startup only ever goes from active to done, never back. */
        if (!sup->startup_done &&
            (age_usec(sup, sup->start_usec, now_usec) >= STARTUP_USEC || !any_other_lock(sup)))
                sup->startup_done = true;
        sup->active[LOCK_STARTUP] = !sup->startup_done;

        build_result(sup, ret);
        return 0;
}
