/* SPDX-License-Identifier: MIT */
/* Unit tests of the supervisor: the lock table, every check's active /
 * inactive / no-decision states and hysteresis edges, the time checks at their
 * thresholds, the startup and internal locks, priorities, class unions, change
 * flags and the watchdog. Expectations are computed by hand from control.md. */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
/* The monotonic clock is far from zero when the daemon starts. */
#define START SEC(5000)
#define AT(s) (START + SEC(s))

#define CHA CLASS_BIT(DEVICE_CLASS_CHARGER)
#define SOL CLASS_BIT(DEVICE_CLASS_SOLAR)
#define INV CLASS_BIT(DEVICE_CLASS_INVERTER)
#define ALL (CHA | SOL | INV)

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static struct supervisor *new_sup(const struct supervisor_config *c) {
        struct supervisor *sup = NULL;

        assert_int_equal(supervisor_new(c, START, &sup), 0);
        assert_non_null(sup);
        return sup;
}

static void enable(struct supervisor_config *c, enum lock_id id, double threshold, double hysteresis) {
        c->checks[id] = (struct supervisor_check_config) {
                .enabled = true,
                .threshold = threshold,
                .hysteresis = hysteresis,
        };
}

static struct battery_record record(double cell_lo_v, double cell_hi_v, double temp_lo_c, double temp_hi_c) {
        struct battery_record r = { .n_cells = 4, .n_temps = 3, .time_usec = 1 };

        r.cells_v[0] = (cell_lo_v + cell_hi_v) / 2;
        r.cells_v[1] = cell_lo_v;
        r.cells_v[2] = cell_hi_v;
        r.cells_v[3] = (cell_lo_v + cell_hi_v) / 2;
        r.temps_c[0] = (temp_lo_c + temp_hi_c) / 2;
        r.temps_c[1] = temp_hi_c;
        r.temps_c[2] = temp_lo_c;
        return r;
}

static struct battery_record benign(void) {
        return record(3.3, 3.3, 20, 20);
}

static bool is_active(const struct supervisor_result *r, enum lock_id id) {
        bool found = false;

        for (size_t i = 0; i < r->n_locks; i++)
                if (r->locks[i].id == id) {
                        assert_false(found);
                        found = true;
                }
        return found;
}

static void run(struct supervisor *sup, const struct supervisor_input *in, uint64_t now_usec,
                struct supervisor_result *r) {
        assert_int_equal(supervisor_run(sup, in, now_usec, r), 0);
}

static void test_lock_table(void **state) {
        static const struct {
                enum lock_id id;
                const char *name;
                unsigned priority;
                unsigned mask;
                bool fatal;
                bool configurable;
        } table[] = {
                { LOCK_INTERNAL, "internal", 0, CHA | SOL | INV, true, false },
                { LOCK_STARTUP, "startup", 2, CHA | SOL | INV, false, false },
                { LOCK_MQTT_OFFLINE, "mqtt_offline", 5, CHA | INV, true, true },
                { LOCK_LIVE_DATA_LOST_DISCHARGE, "live_data_lost_discharge", 10, INV, false, true },
                { LOCK_LIVE_DATA_LOST_CHARGE, "live_data_lost_charge", 11, CHA, false, true },
                { LOCK_BATTERY_OFFLINE, "battery_offline", 30, CHA | SOL | INV, false, true },
                { LOCK_CELL_HIGH, "cell_high", 31, CHA | SOL, false, true },
                { LOCK_CELL_LOW, "cell_low", 32, INV, false, true },
                { LOCK_TEMP_LOW_CHARGE, "temp_low_charge", 33, CHA | SOL, false, true },
                { LOCK_TEMP_LOW_DISCHARGE, "temp_low_discharge", 34, INV, false, true },
                { LOCK_TEMP_HIGH_CHARGE, "temp_high_charge", 35, CHA | SOL, false, true },
                { LOCK_TEMP_HIGH_DISCHARGE, "temp_high_discharge", 36, INV, false, true },
                { LOCK_SOC_LOW, "soc_low", 37, INV, false, true },
                { LOCK_SOC_HIGH, "soc_high", 38, CHA, false, true },
                { LOCK_CURRENT_CHARGE, "current_charge", 39, CHA, false, true },
        };

        (void) state;
        assert_int_equal(ELEMENTS(table), _LOCK_MAX);
        for (size_t i = 0; i < ELEMENTS(table); i++) {
                const struct lock_info *info = lock_get_info(table[i].id);

                assert_string_equal(lock_to_string(table[i].id), table[i].name);
                assert_int_equal(lock_from_string(table[i].name), table[i].id);
                assert_non_null(info);
                assert_string_equal(info->name, table[i].name);
                assert_int_equal(info->priority, table[i].priority);
                assert_int_equal(info->class_mask, table[i].mask);
                assert_int_equal(info->fatal, table[i].fatal);
                assert_int_equal(info->configurable, table[i].configurable);
        }
        assert_null(lock_to_string(_LOCK_MAX));
        assert_null(lock_to_string(_LOCK_INVALID));
        assert_null(lock_get_info(_LOCK_INVALID));
        assert_int_equal(lock_from_string("Cell_low"), _LOCK_INVALID);
        assert_int_equal(lock_from_string("cell"), _LOCK_INVALID);
        assert_int_equal(lock_from_string(NULL), _LOCK_INVALID);
}

static void test_new_invalid(void **state) {
        static const struct {
                enum lock_id id;
                double threshold, hysteresis;
                int ret;
        } table[] = {
                { LOCK_CELL_LOW, NAN, 0.1, -EINVAL },
                { LOCK_CELL_LOW, 3.1, -0.1, -EINVAL },
                { LOCK_CELL_LOW, 3.1, INFINITY, -EINVAL },
                { LOCK_TEMP_HIGH_CHARGE, -INFINITY, 2, -EINVAL },
                { LOCK_MQTT_OFFLINE, -1, 0, -EINVAL },
                { LOCK_BATTERY_OFFLINE, 1e12, 0, -EINVAL },
                { LOCK_TEMP_LOW_DISCHARGE, -10, 0, 0 },
                { LOCK_CELL_HIGH, 3.65, 0, 0 },
        };
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct supervisor *sup = NULL;

        (void) state;
        for (size_t i = 0; i < ELEMENTS(table); i++) {
                struct supervisor_config ci = c;

                enable(&ci, table[i].id, table[i].threshold, table[i].hysteresis);
                sup = NULL;
                assert_int_equal(supervisor_new(&ci, START, &sup), table[i].ret);
                assert_true(table[i].ret < 0 ? sup == NULL : sup != NULL);
                supervisor_free(sup);
        }

        /* Disabled checks and the two lock entries that cannot be configured are not looked at. */
        c.checks[LOCK_CELL_LOW].threshold = NAN;
        enable(&c, LOCK_INTERNAL, NAN, NAN);
        sup = new_sup(&c);
        assert_null(supervisor_free(sup));
        assert_null(supervisor_free(NULL));
}

/* One pass of a cell or temperature check: battery 0 is benign, battery 1 carries the extreme. */
struct step {
        double value;
        bool active;
};

static const struct hyst_row {
        enum lock_id id;
        double threshold, hysteresis;
        struct step steps[7];
} hyst_table[] = {
        /* highest cell > 3.65; once active until <= 3.45 */
        { LOCK_CELL_HIGH, 3.65, 0.2, {
                { 3.650, false }, { 3.651, true }, { 3.650, true }, { 3.451, true },
                { 3.450, false }, { 3.600, false }, { 3.651, true } } },
        /* hysteresis 0: plain threshold both ways */
        { LOCK_CELL_HIGH, 3.6, 0, {
                { 3.600, false }, { 3.601, true }, { 3.600, false }, { 3.601, true },
                { 3.599, false }, { 3.601, true }, { 3.600, false } } },
        /* lowest cell < 3.1; once active until >= 3.2 */
        { LOCK_CELL_LOW, 3.1, 0.1, {
                { 3.100, false }, { 3.099, true }, { 3.100, true }, { 3.199, true },
                { 3.200, false }, { 3.150, false }, { 3.099, true } } },
        /* lowest temperature < 10; once active until >= 12 */
        { LOCK_TEMP_LOW_CHARGE, 10, 2, {
                { 10.0, false }, { 9.9, true }, { 10.0, true }, { 11.9, true },
                { 12.0, false }, { 11.0, false }, { 9.9, true } } },
        /* lowest temperature < 0; once active until >= 2 */
        { LOCK_TEMP_LOW_DISCHARGE, 0, 2, {
                { 0.0, false }, { -0.1, true }, { 0.0, true }, { 1.9, true },
                { 2.0, false }, { 1.0, false }, { -0.1, true } } },
        /* highest temperature > 40; once active until <= 38 */
        { LOCK_TEMP_HIGH_CHARGE, 40, 2, {
                { 40.0, false }, { 40.1, true }, { 40.0, true }, { 38.1, true },
                { 38.0, false }, { 39.0, false }, { 40.1, true } } },
        /* highest temperature > 45; once active until <= 42.5 */
        { LOCK_TEMP_HIGH_DISCHARGE, 45, 2.5, {
                { 45.0, false }, { 45.1, true }, { 45.0, true }, { 42.6, true },
                { 42.5, false }, { 44.0, false }, { 45.1, true } } },
};

/* A record whose relevant extreme for check `id` is `value`, the other values benign. */
static struct battery_record extreme_record(enum lock_id id, double v) {
        switch (id) {
        case LOCK_CELL_HIGH:
                return record(v - 0.1, v, 20, 20);
        case LOCK_CELL_LOW:
                return record(v, v + 0.1, 20, 20);
        case LOCK_TEMP_LOW_CHARGE:
        case LOCK_TEMP_LOW_DISCHARGE:
                return record(3.3, 3.3, v, v + 1);
        default:
                return record(3.3, 3.3, v - 1, v);
        }
}

static void test_hysteresis_edges(void **state) {
        (void) state;
        for (size_t i = 0; i < ELEMENTS(hyst_table); i++) {
                const struct hyst_row *row = &hyst_table[i];
                struct supervisor_config c = { .checks = { { .enabled = false } } };
                struct battery_record recs[2] = { benign(), benign() };
                struct supervisor_battery bats[2] = {
                        { .record = &recs[0], .last_good_read_usec = START },
                        { .record = &recs[1], .last_good_read_usec = START },
                };
                struct supervisor_input in = { .mqtt_connected = true, .batteries = bats, .n_batteries = 2 };
                struct supervisor *sup;
                struct supervisor_result r;

                enable(&c, row->id, row->threshold, row->hysteresis);
                sup = new_sup(&c);
                for (size_t s = 0; s < ELEMENTS(row->steps); s++) {
                        recs[1] = extreme_record(row->id, row->steps[s].value);
                        run(sup, &in, AT(s), &r);
                        if (is_active(&r, row->id) != row->steps[s].active)
                                fail_msg("%s row %zu step %zu value %.3f: expected %s",
                                         lock_to_string(row->id), i, s, row->steps[s].value,
                                         row->steps[s].active ? "active" : "inactive");
                        assert_false(is_active(&r, LOCK_INTERNAL));
                }
                supervisor_free(sup);
        }
}

/* Values are compared in whole mV and tenths of °C, rounded to the nearest unit. */
static void test_rounding_to_units(void **state) {
        static const struct {
                enum lock_id id;
                double threshold, value;
                bool active;
        } table[] = {
                { LOCK_CELL_HIGH, 3.65, 3.6504, false },   /* 3650 mV */
                { LOCK_CELL_HIGH, 3.65, 3.6506, true },    /* 3651 mV */
                { LOCK_CELL_LOW, 3.1, 3.0996, false },     /* 3100 mV */
                { LOCK_CELL_LOW, 3.1, 3.0994, true },      /* 3099 mV */
                { LOCK_TEMP_LOW_DISCHARGE, 0, -0.04, false },
                { LOCK_TEMP_LOW_DISCHARGE, 0, -0.06, true },
                { LOCK_TEMP_HIGH_CHARGE, 40, 40.04, false },
                { LOCK_TEMP_HIGH_CHARGE, 40, 40.06, true },
                { LOCK_TEMP_LOW_CHARGE, 10, 9.96, false },
                { LOCK_TEMP_LOW_CHARGE, 10, 9.94, true },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTS(table); i++) {
                struct supervisor_config c = { .checks = { { .enabled = false } } };
                struct battery_record rec = extreme_record(table[i].id, table[i].value);
                struct supervisor_battery bat = { .record = &rec, .last_good_read_usec = START };
                struct supervisor_input in = { .mqtt_connected = true, .batteries = &bat, .n_batteries = 1 };
                struct supervisor *sup;
                struct supervisor_result r;

                enable(&c, table[i].id, table[i].threshold, 1);
                sup = new_sup(&c);
                run(sup, &in, AT(100), &r);
                if (is_active(&r, table[i].id) != table[i].active)
                        fail_msg("row %zu: expected %s", i, table[i].active ? "active" : "inactive");
                supervisor_free(sup);
        }
}

/* For every cell/temperature check: no record → no decision (ACTIVE before the first decision,
 * kept afterwards), good → inactive, bad → active. */
static void test_battery_checks_no_decision(void **state) {
        static const struct {
                enum lock_id id;
                double threshold, hysteresis;
                double good, bad;
        } table[] = {
                { LOCK_CELL_HIGH, 3.65, 0.2, 3.4, 3.7 },
                { LOCK_CELL_LOW, 3.1, 0.1, 3.3, 3.0 },
                { LOCK_TEMP_LOW_CHARGE, 10, 2, 20, 5 },
                { LOCK_TEMP_LOW_DISCHARGE, 0, 2, 20, -5 },
                { LOCK_TEMP_HIGH_CHARGE, 40, 2, 20, 45 },
                { LOCK_TEMP_HIGH_DISCHARGE, 45, 2, 20, 50 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTS(table); i++) {
                struct supervisor_config c = { .checks = { { .enabled = false } } };
                struct battery_record rec;
                struct supervisor_battery bats[2] = {
                        { .record = NULL, .last_good_read_usec = 0 },
                        { .record = NULL, .last_good_read_usec = 0 },
                };
                struct supervisor_input in = { .mqtt_connected = true, .batteries = bats, .n_batteries = 2 };
                struct supervisor *sup;
                struct supervisor_result r;

                enable(&c, table[i].id, table[i].threshold, table[i].hysteresis);
                sup = new_sup(&c);

                /* No data yet: locked, which also holds startup. */
                run(sup, &in, AT(1), &r);
                assert_true(is_active(&r, table[i].id));
                assert_true(is_active(&r, LOCK_STARTUP));
                assert_false(is_active(&r, LOCK_INTERNAL));
                assert_int_equal(r.n_locks, 2);
                run(sup, &in, AT(2), &r);
                assert_true(is_active(&r, table[i].id));

                rec = extreme_record(table[i].id, table[i].good);
                bats[1].record = &rec;
                run(sup, &in, AT(3), &r);
                assert_false(is_active(&r, table[i].id));
                assert_int_equal(r.n_locks, 0);

                bats[1].record = NULL;
                run(sup, &in, AT(4), &r);
                assert_false(is_active(&r, table[i].id));

                rec = extreme_record(table[i].id, table[i].bad);
                bats[1].record = &rec;
                run(sup, &in, AT(5), &r);
                assert_true(is_active(&r, table[i].id));
                assert_int_equal(r.locked_class_mask, lock_get_info(table[i].id)->class_mask);

                bats[1].record = NULL;
                run(sup, &in, AT(6), &r);
                assert_true(is_active(&r, table[i].id));

                /* Disabled: never active, even with bad data. */
                supervisor_free(sup);
                c.checks[table[i].id].enabled = false;
                sup = new_sup(&c);
                bats[1].record = &rec;
                run(sup, &in, AT(1), &r);
                assert_int_equal(r.n_locks, 0);
                supervisor_free(sup);
        }
}

/* The first decision uses the plain threshold: a cell inside the band at boot is not held. */
static void test_no_hysteresis_before_first_decision(void **state) {
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct battery_record rec = record(3.40, 3.50, 20, 20);
        struct supervisor_battery bat = { .record = NULL, .last_good_read_usec = 0 };
        struct supervisor_input in = { .mqtt_connected = true, .batteries = &bat, .n_batteries = 1 };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        enable(&c, LOCK_CELL_HIGH, 3.65, 0.2);
        sup = new_sup(&c);
        run(sup, &in, AT(1), &r);
        assert_true(is_active(&r, LOCK_CELL_HIGH));
        bat.record = &rec;
        run(sup, &in, AT(2), &r);
        assert_false(is_active(&r, LOCK_CELL_HIGH));
        supervisor_free(sup);
}

static void test_no_batteries(void **state) {
        static const enum lock_id battery_checks[] = {
                LOCK_BATTERY_OFFLINE, LOCK_CELL_HIGH, LOCK_CELL_LOW, LOCK_TEMP_LOW_CHARGE,
                LOCK_TEMP_LOW_DISCHARGE, LOCK_TEMP_HIGH_CHARGE, LOCK_TEMP_HIGH_DISCHARGE,
        };
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct supervisor_input in = { .mqtt_connected = true, .batteries = NULL, .n_batteries = 0 };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        enable(&c, LOCK_BATTERY_OFFLINE, 120, 0);
        enable(&c, LOCK_CELL_HIGH, 3.65, 0.2);
        enable(&c, LOCK_CELL_LOW, 3.1, 0.1);
        enable(&c, LOCK_TEMP_LOW_CHARGE, 10, 2);
        enable(&c, LOCK_TEMP_LOW_DISCHARGE, 0, 2);
        enable(&c, LOCK_TEMP_HIGH_CHARGE, 40, 2);
        enable(&c, LOCK_TEMP_HIGH_DISCHARGE, 40, 2);
        sup = new_sup(&c);
        run(sup, &in, AT(0), &r);
        assert_int_equal(r.n_locks, 0);
        run(sup, &in, AT(100000), &r);
        for (size_t i = 0; i < ELEMENTS(battery_checks); i++)
                assert_false(is_active(&r, battery_checks[i]));
        assert_int_equal(r.n_locks, 0);
        assert_int_equal(r.locked_class_mask, 0);
        assert_true(r.feed_watchdog);
        supervisor_free(sup);
}

static void test_battery_offline(void **state) {
        static const struct {
                uint64_t read0_usec, read1_usec;  /* 0 = never */
                uint64_t now_usec;
                bool active;
        } table[] = {
                /* oldest read at +10 s, threshold 120 s: exactly 120 s old is not yet offline */
                { AT(10), AT(50), AT(130), false },
                { AT(10), AT(50), AT(131), true },
                { AT(10), AT(50), AT(130) + 1, true },
                { AT(50), AT(10), AT(131), true },
                { AT(130), AT(50), AT(170), false },
                { AT(130), AT(50), AT(171), true },
                /* never read counts as daemon start */
                { 0, 0, AT(120), false },
                { 0, 0, AT(121), true },
                { AT(200), 0, AT(121), true },
                { AT(100), 0, AT(100), false },
                /* a read in the future (clock skew of the caller) is age 0, not a wrap-around */
                { AT(300), AT(300), AT(200), false },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTS(table); i++) {
                struct supervisor_config c = { .checks = { { .enabled = false } } };
                struct supervisor_battery bats[2] = {
                        { .record = NULL, .last_good_read_usec = table[i].read0_usec },
                        { .record = NULL, .last_good_read_usec = table[i].read1_usec },
                };
                struct supervisor_input in = { .mqtt_connected = true, .batteries = bats, .n_batteries = 2 };
                struct supervisor *sup;
                struct supervisor_result r;

                enable(&c, LOCK_BATTERY_OFFLINE, 120, 0);
                sup = new_sup(&c);
                run(sup, &in, table[i].now_usec, &r);
                if (is_active(&r, LOCK_BATTERY_OFFLINE) != table[i].active)
                        fail_msg("row %zu: expected battery_offline %s", i,
                                 table[i].active ? "active" : "inactive");
                assert_int_equal(r.locked_class_mask, table[i].active ? ALL : 0u);
                supervisor_free(sup);
        }
}

static void test_live_data_lost(void **state) {
        static const enum lock_id ids[] = { LOCK_LIVE_DATA_LOST_DISCHARGE, LOCK_LIVE_DATA_LOST_CHARGE };
        static const struct {
                size_t n_devices;
                uint64_t last_seen_usec;
                uint64_t now_usec;
                bool active;
        } table[] = {
                { 1, AT(5), AT(65), false },
                { 1, AT(5), AT(66), true },
                { 2, AT(5), AT(65) + 1, true },
                { 1, 0, AT(60), false },      /* never heard counts as daemon start */
                { 1, 0, AT(61), true },
                { 0, 0, AT(100000), false },  /* no consumption device configured */
                { 0, AT(5), AT(100000), false },
        };

        (void) state;
        for (size_t k = 0; k < ELEMENTS(ids); k++)
                for (size_t i = 0; i < ELEMENTS(table); i++) {
                        struct supervisor_config c = { .checks = { { .enabled = false } } };
                        struct supervisor_input in = {
                                .mqtt_connected = true,
                                .n_consumption_devices = table[i].n_devices,
                                .consumption_last_seen_usec = table[i].last_seen_usec,
                        };
                        struct supervisor *sup;
                        struct supervisor_result r;

                        enable(&c, ids[k], 60, 0);
                        sup = new_sup(&c);
                        run(sup, &in, table[i].now_usec, &r);
                        if (is_active(&r, ids[k]) != table[i].active)
                                fail_msg("%s row %zu: expected %s", lock_to_string(ids[k]), i,
                                         table[i].active ? "active" : "inactive");
                        assert_int_equal(r.n_locks, table[i].active ? 1u : 0u);
                        assert_int_equal(r.locked_class_mask,
                                         table[i].active ? lock_get_info(ids[k])->class_mask : 0u);
                        supervisor_free(sup);
                }
}

static void test_live_data_lost_thresholds_separate(void **state) {
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct supervisor_input in = {
                .mqtt_connected = true,
                .n_consumption_devices = 1,
                .consumption_last_seen_usec = AT(0),
        };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        enable(&c, LOCK_LIVE_DATA_LOST_DISCHARGE, 60, 0);
        enable(&c, LOCK_LIVE_DATA_LOST_CHARGE, 300, 0);
        sup = new_sup(&c);
        run(sup, &in, AT(100), &r);
        assert_int_equal(r.n_locks, 1);
        assert_int_equal(r.top, LOCK_LIVE_DATA_LOST_DISCHARGE);
        assert_int_equal(r.locked_class_mask, INV);
        run(sup, &in, AT(301), &r);
        assert_int_equal(r.n_locks, 2);
        assert_int_equal(r.locks[0].id, LOCK_LIVE_DATA_LOST_DISCHARGE);
        assert_int_equal(r.locks[1].id, LOCK_LIVE_DATA_LOST_CHARGE);
        assert_int_equal(r.locked_class_mask, INV | CHA);
        in.consumption_last_seen_usec = AT(300);
        run(sup, &in, AT(302), &r);
        assert_int_equal(r.n_locks, 0);
        supervisor_free(sup);
}

static void test_mqtt_offline(void **state) {
        static const struct {
                uint64_t now_usec;
                bool connected;
                bool active;
        } steps[] = {
                /* broker down at boot: threshold seconds of grace from daemon start */
                { AT(0), false, false },
                { AT(30), false, false },
                { AT(60), false, false },
                { AT(61), false, true },
                { AT(70), true, false },
                { AT(80), false, false },
                { AT(130), false, false },
                { AT(130) + 1, false, true },
                { AT(131), true, false },
                { AT(500), true, false },
                { AT(560), false, false },
                { AT(561), false, true },
        };
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct supervisor_input in = { .mqtt_connected = false };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        enable(&c, LOCK_MQTT_OFFLINE, 60, 0);
        sup = new_sup(&c);
        for (size_t i = 0; i < ELEMENTS(steps); i++) {
                in.mqtt_connected = steps[i].connected;
                run(sup, &in, steps[i].now_usec, &r);
                if (is_active(&r, LOCK_MQTT_OFFLINE) != steps[i].active)
                        fail_msg("step %zu: expected mqtt_offline %s", i,
                                 steps[i].active ? "active" : "inactive");
                assert_int_equal(r.feed_watchdog, !steps[i].active);
                assert_int_equal(r.locked_class_mask, steps[i].active ? CHA | INV : 0u);
        }
        supervisor_free(sup);
}

/* cell_low is the "other lock" the startup tests switch on and off at will. */
struct startup_fixture {
        struct battery_record low, ok;
        struct supervisor_battery bat;
        struct supervisor_input in;
        struct supervisor *sup;
};

static void startup_setup(struct startup_fixture *f) {
        struct supervisor_config c = { .checks = { { .enabled = false } } };

        enable(&c, LOCK_CELL_LOW, 3.1, 0.1);
        f->low = record(3.0, 3.3, 20, 20);
        f->ok = record(3.3, 3.3, 20, 20);
        f->bat = (struct supervisor_battery) { .record = &f->low, .last_good_read_usec = START };
        f->in = (struct supervisor_input) { .mqtt_connected = true, .batteries = &f->bat, .n_batteries = 1 };
        f->sup = new_sup(&c);
}

static void test_startup_until_60s(void **state) {
        struct startup_fixture f;
        struct supervisor_result r;

        (void) state;
        startup_setup(&f);
        run(f.sup, &f.in, AT(0), &r);
        assert_true(is_active(&r, LOCK_STARTUP));
        assert_int_equal(r.top, LOCK_STARTUP);
        assert_int_equal(r.locked_class_mask, ALL);
        assert_true(r.feed_watchdog);

        run(f.sup, &f.in, AT(59), &r);
        assert_true(is_active(&r, LOCK_STARTUP));
        run(f.sup, &f.in, AT(60) - 1, &r);
        assert_true(is_active(&r, LOCK_STARTUP));

        run(f.sup, &f.in, AT(60), &r);
        assert_false(is_active(&r, LOCK_STARTUP));
        assert_true(is_active(&r, LOCK_CELL_LOW));
        assert_int_equal(r.top, LOCK_CELL_LOW);
        assert_int_equal(r.locked_class_mask, INV);
        assert_true(r.top_changed);

        /* Never comes back. */
        f.bat.record = &f.ok;
        run(f.sup, &f.in, AT(61), &r);
        assert_int_equal(r.n_locks, 0);
        f.bat.record = &f.low;
        run(f.sup, &f.in, AT(62), &r);
        assert_false(is_active(&r, LOCK_STARTUP));
        assert_int_equal(r.n_locks, 1);
        supervisor_free(f.sup);
}

static void test_startup_clears_when_alone(void **state) {
        struct startup_fixture f;
        struct supervisor_result r;

        (void) state;
        startup_setup(&f);
        run(f.sup, &f.in, AT(10), &r);
        assert_true(is_active(&r, LOCK_STARTUP));

        f.bat.record = &f.ok;
        run(f.sup, &f.in, AT(20), &r);
        assert_int_equal(r.n_locks, 0);
        assert_int_equal(r.top, _LOCK_INVALID);
        assert_string_equal(r.top_name, "");
        assert_int_equal(r.locked_class_mask, 0);

        f.bat.record = &f.low;
        run(f.sup, &f.in, AT(30), &r);
        assert_false(is_active(&r, LOCK_STARTUP));
        assert_int_equal(r.top, LOCK_CELL_LOW);
        assert_int_equal(r.locked_class_mask, INV);
        supervisor_free(f.sup);
}

static void test_startup_alone_at_first_pass(void **state) {
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct supervisor_input in = { .mqtt_connected = true };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        sup = new_sup(&c);
        run(sup, &in, AT(0), &r);
        assert_int_equal(r.n_locks, 0);
        assert_int_equal(r.locked_class_mask, 0);
        /* Nothing was published before: the first pass always reports. */
        assert_true(r.top_changed);
        assert_true(r.locks_changed);
        supervisor_free(sup);
}

/* Everything at once, inside the first 60 s: every lock, in table order. */
static void test_priority_order(void **state) {
        static const struct {
                enum lock_id id;
                const char *name;
                unsigned priority;
                unsigned mask;
        } want[] = {
                { LOCK_INTERNAL, "internal", 0, ALL },
                { LOCK_STARTUP, "startup", 2, ALL },
                { LOCK_MQTT_OFFLINE, "mqtt_offline", 5, CHA | INV },
                { LOCK_LIVE_DATA_LOST_DISCHARGE, "live_data_lost_discharge", 10, INV },
                { LOCK_LIVE_DATA_LOST_CHARGE, "live_data_lost_charge", 11, CHA },
                { LOCK_BATTERY_OFFLINE, "battery_offline", 30, ALL },
                { LOCK_CELL_HIGH, "cell_high", 31, CHA | SOL },
                { LOCK_CELL_LOW, "cell_low", 32, INV },
                { LOCK_TEMP_LOW_CHARGE, "temp_low_charge", 33, CHA | SOL },
                { LOCK_TEMP_LOW_DISCHARGE, "temp_low_discharge", 34, INV },
                { LOCK_TEMP_HIGH_CHARGE, "temp_high_charge", 35, CHA | SOL },
                { LOCK_TEMP_HIGH_DISCHARGE, "temp_high_discharge", 36, INV },
        };
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct battery_record rec = record(2.9, 3.8, -5, 50);
        struct supervisor_battery bat = { .record = &rec, .last_good_read_usec = 0 };
        struct supervisor_input in = {
                .mqtt_connected = false,
                .n_consumption_devices = 1,
                .consumption_last_seen_usec = 0,
                .batteries = &bat,
                .n_batteries = 1,
                .internal_error = true,
        };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        enable(&c, LOCK_MQTT_OFFLINE, 30, 0);
        enable(&c, LOCK_LIVE_DATA_LOST_DISCHARGE, 10, 0);
        enable(&c, LOCK_LIVE_DATA_LOST_CHARGE, 20, 0);
        enable(&c, LOCK_BATTERY_OFFLINE, 40, 0);
        enable(&c, LOCK_CELL_HIGH, 3.65, 0.2);
        enable(&c, LOCK_CELL_LOW, 3.1, 0.1);
        enable(&c, LOCK_TEMP_LOW_CHARGE, 10, 2);
        enable(&c, LOCK_TEMP_LOW_DISCHARGE, 0, 2);
        enable(&c, LOCK_TEMP_HIGH_CHARGE, 40, 2);
        enable(&c, LOCK_TEMP_HIGH_DISCHARGE, 45, 2);
        sup = new_sup(&c);

        run(sup, &in, AT(50), &r);
        assert_int_equal(r.n_locks, ELEMENTS(want));
        for (size_t i = 0; i < ELEMENTS(want); i++) {
                assert_int_equal(r.locks[i].id, want[i].id);
                assert_string_equal(r.locks[i].name, want[i].name);
                assert_int_equal(r.locks[i].priority, want[i].priority);
                assert_int_equal(r.locks[i].class_mask, want[i].mask);
        }
        assert_int_equal(r.top, LOCK_INTERNAL);
        assert_string_equal(r.top_name, "internal");
        assert_int_equal(r.locked_class_mask, ALL);
        assert_false(r.feed_watchdog);

        /* Later, fewer locks: order still by priority, top follows. */
        in.internal_error = false;
        in.mqtt_connected = true;
        in.consumption_last_seen_usec = AT(100);
        bat.last_good_read_usec = AT(100);
        rec = record(3.0, 3.3, 20, 41);
        run(sup, &in, AT(101), &r);
        assert_int_equal(r.n_locks, 2);
        assert_int_equal(r.locks[0].id, LOCK_CELL_LOW);
        assert_int_equal(r.locks[1].id, LOCK_TEMP_HIGH_CHARGE);
        assert_int_equal(r.top, LOCK_CELL_LOW);
        assert_string_equal(r.top_name, "cell_low");
        assert_int_equal(r.locked_class_mask, INV | CHA | SOL);
        assert_true(r.feed_watchdog);
        supervisor_free(sup);
}

/* Which checks are active (hand-chosen values) → which classes are locked. */
static void test_class_union(void **state) {
        static const struct {
                bool live_discharge, live_charge;
                double cell_lo_v, cell_hi_v, temp_lo_c, temp_hi_c;
                unsigned mask;
        } table[] = {
                { false, false, 3.3, 3.3, 20, 20, 0 },
                { false, true, 3.3, 3.3, 20, 20, CHA },
                { true, false, 3.3, 3.3, 20, 20, INV },
                { true, true, 3.3, 3.3, 20, 20, CHA | INV },
                { false, false, 3.3, 3.7, 20, 20, CHA | SOL },        /* cell_high */
                { false, false, 3.0, 3.3, 20, 20, INV },              /* cell_low */
                { false, false, 3.3, 3.3, -5, 20, CHA | SOL | INV },  /* temp_low_charge + _discharge */
                { false, false, 3.3, 3.3, 5, 20, CHA | SOL },         /* temp_low_charge */
                { false, false, 3.3, 3.3, 20, 50, CHA | SOL | INV },  /* temp_high both */
                { false, false, 3.3, 3.3, 20, 42, CHA | SOL },        /* temp_high_charge */
                { true, false, 3.3, 3.7, 20, 20, CHA | SOL | INV },
                { false, true, 3.0, 3.3, 20, 20, CHA | INV },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTS(table); i++) {
                struct supervisor_config c = { .checks = { { .enabled = false } } };
                struct battery_record rec = record(table[i].cell_lo_v, table[i].cell_hi_v,
                                                   table[i].temp_lo_c, table[i].temp_hi_c);
                struct supervisor_battery bat = { .record = &rec, .last_good_read_usec = AT(100) };
                struct supervisor_input in = {
                        .mqtt_connected = true,
                        .n_consumption_devices = 1,
                        .consumption_last_seen_usec = AT(100),
                        .batteries = &bat,
                        .n_batteries = 1,
                };
                struct supervisor *sup;
                struct supervisor_result r;

                /* Only the live checks of the row are enabled; 20 s of silence > 10 s threshold. */
                if (table[i].live_discharge)
                        enable(&c, LOCK_LIVE_DATA_LOST_DISCHARGE, 10, 0);
                if (table[i].live_charge)
                        enable(&c, LOCK_LIVE_DATA_LOST_CHARGE, 10, 0);
                if (table[i].live_discharge || table[i].live_charge)
                        in.consumption_last_seen_usec = AT(80);
                enable(&c, LOCK_CELL_HIGH, 3.65, 0.2);
                enable(&c, LOCK_CELL_LOW, 3.1, 0.1);
                enable(&c, LOCK_TEMP_LOW_CHARGE, 10, 2);
                enable(&c, LOCK_TEMP_LOW_DISCHARGE, 0, 2);
                enable(&c, LOCK_TEMP_HIGH_CHARGE, 40, 2);
                enable(&c, LOCK_TEMP_HIGH_DISCHARGE, 45, 2);
                sup = new_sup(&c);
                run(sup, &in, AT(100), &r);
                if (r.locked_class_mask != table[i].mask)
                        fail_msg("row %zu: mask 0x%x, expected 0x%x", i, r.locked_class_mask, table[i].mask);
                supervisor_free(sup);
        }
}

static void test_change_flags(void **state) {
        static const struct {
                double cell_lo_v, temp_hi_c;
                enum lock_id top;
                size_t n_locks;
                bool top_changed, locks_changed;
        } steps[] = {
                { 3.3, 20, _LOCK_INVALID, 0, true, true },          /* first pass */
                { 3.3, 20, _LOCK_INVALID, 0, false, false },
                { 3.0, 20, LOCK_CELL_LOW, 1, true, true },
                { 3.0, 20, LOCK_CELL_LOW, 1, false, false },
                { 3.0, 50, LOCK_CELL_LOW, 2, false, true },         /* temp_high_discharge below it */
                { 3.0, 50, LOCK_CELL_LOW, 2, false, false },
                { 3.3, 50, LOCK_TEMP_HIGH_DISCHARGE, 1, true, true },
                { 3.0, 50, LOCK_CELL_LOW, 2, true, true },
                { 3.0, 20, LOCK_CELL_LOW, 1, false, true },
                { 3.3, 20, _LOCK_INVALID, 0, true, true },
        };
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct battery_record rec;
        struct supervisor_battery bat = { .record = &rec };
        struct supervisor_input in = { .mqtt_connected = true, .batteries = &bat, .n_batteries = 1 };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        enable(&c, LOCK_CELL_LOW, 3.1, 0);
        enable(&c, LOCK_TEMP_HIGH_DISCHARGE, 45, 0);
        sup = new_sup(&c);
        for (size_t i = 0; i < ELEMENTS(steps); i++) {
                rec = record(steps[i].cell_lo_v, 3.3, 20, steps[i].temp_hi_c);
                bat.last_good_read_usec = AT(100 + i);
                run(sup, &in, AT(100 + i), &r);
                if (r.top != steps[i].top || r.n_locks != steps[i].n_locks ||
                    r.top_changed != steps[i].top_changed || r.locks_changed != steps[i].locks_changed)
                        fail_msg("step %zu: top %d n %zu top_changed %d locks_changed %d",
                                 i, r.top, r.n_locks, r.top_changed, r.locks_changed);
                assert_string_equal(r.top_name,
                                    steps[i].top == _LOCK_INVALID ? "" : lock_to_string(steps[i].top));
        }
        supervisor_free(sup);
}

static void test_watchdog(void **state) {
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct battery_record rec = record(3.0, 3.3, 20, 20);
        struct supervisor_battery bat = { .record = &rec, .last_good_read_usec = 0 };
        struct supervisor_input in = { .mqtt_connected = true, .batteries = &bat, .n_batteries = 1 };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        enable(&c, LOCK_CELL_LOW, 3.1, 0.1);
        enable(&c, LOCK_BATTERY_OFFLINE, 120, 0);
        enable(&c, LOCK_MQTT_OFFLINE, 60, 0);
        sup = new_sup(&c);

        /* startup + cell_low: not fatal */
        run(sup, &in, AT(1), &r);
        assert_int_equal(r.n_locks, 2);
        assert_true(r.feed_watchdog);

        /* + battery_offline: still not fatal */
        run(sup, &in, AT(200), &r);
        assert_int_equal(r.n_locks, 2);
        assert_true(is_active(&r, LOCK_BATTERY_OFFLINE));
        assert_true(r.feed_watchdog);

        in.internal_error = true;
        run(sup, &in, AT(201), &r);
        assert_true(is_active(&r, LOCK_INTERNAL));
        assert_non_null(r.internal_reason);
        assert_int_equal(r.internal_battery, SIZE_MAX);
        assert_false(r.feed_watchdog);

        /* internal holds for that pass only */
        in.internal_error = false;
        run(sup, &in, AT(202), &r);
        assert_false(is_active(&r, LOCK_INTERNAL));
        assert_null(r.internal_reason);
        assert_true(r.feed_watchdog);

        in.mqtt_connected = false;
        run(sup, &in, AT(262), &r);
        assert_false(is_active(&r, LOCK_MQTT_OFFLINE));
        assert_true(r.feed_watchdog);
        run(sup, &in, AT(263), &r);
        assert_true(is_active(&r, LOCK_MQTT_OFFLINE));
        assert_false(r.feed_watchdog);
        supervisor_free(sup);
}

static void test_bad_record_internal(void **state) {
        enum bad { BAD_NAN_CELL, BAD_INF_CELL, BAD_NINF_TEMP, BAD_NAN_TEMP, BAD_MANY_CELLS,
                   BAD_MANY_TEMPS };
        static const enum bad table[] = {
                BAD_NAN_CELL, BAD_INF_CELL, BAD_NINF_TEMP, BAD_NAN_TEMP, BAD_MANY_CELLS,
                BAD_MANY_TEMPS,
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTS(table); i++) {
                struct supervisor_config c = { .checks = { { .enabled = false } } };
                struct battery_record recs[2] = { record(3.0, 3.3, 20, 20), record(3.3, 3.3, 20, 20) };
                struct supervisor_battery bats[2] = {
                        { .record = &recs[0], .last_good_read_usec = AT(0) },
                        { .record = &recs[1], .last_good_read_usec = AT(0) },
                };
                struct supervisor_input in = { .mqtt_connected = true, .batteries = bats, .n_batteries = 2 };
                struct supervisor *sup;
                struct supervisor_result r;

                enable(&c, LOCK_CELL_LOW, 3.1, 0.1);
                sup = new_sup(&c);
                run(sup, &in, AT(100), &r);
                assert_int_equal(r.n_locks, 1);
                assert_true(is_active(&r, LOCK_CELL_LOW));

                /* Battery 1 goes bad; battery 0 now good: cell_low must not be cleared by it. */
                recs[0] = record(3.3, 3.3, 20, 20);
                switch (table[i]) {
                case BAD_NAN_CELL:
                        recs[1].cells_v[2] = NAN;
                        break;
                case BAD_INF_CELL:
                        recs[1].cells_v[0] = INFINITY;
                        break;
                case BAD_NINF_TEMP:
                        recs[1].temps_c[1] = -INFINITY;
                        break;
                case BAD_NAN_TEMP:
                        recs[1].temps_c[0] = NAN;
                        break;
                case BAD_MANY_CELLS:
                        recs[1].n_cells = BATTERY_CELLS_MAX + 1;
                        break;
                case BAD_MANY_TEMPS:
                        recs[1].n_temps = BATTERY_TEMPS_MAX + 1;
                        break;
                }
                run(sup, &in, AT(101), &r);
                assert_true(is_active(&r, LOCK_INTERNAL));
                assert_true(is_active(&r, LOCK_CELL_LOW));
                assert_int_equal(r.top, LOCK_INTERNAL);
                assert_non_null(r.internal_reason);
                assert_int_equal(r.internal_battery, 1);
                assert_int_equal(r.locked_class_mask, ALL);
                assert_false(r.feed_watchdog);

                recs[1] = record(3.3, 3.3, 20, 20);
                run(sup, &in, AT(102), &r);
                assert_int_equal(r.n_locks, 0);
                assert_true(r.feed_watchdog);
                supervisor_free(sup);
        }
}

/* An enabled temperature check and only a battery that reports no temperature: the temperature locks
 * hold (fail safe: unknown temperature, no charging), with a reason naming the battery, and they
 * are NOT fatal: the watchdog keeps being fed (they used to raise internal, and systemd restarted
 * the daemon every 30 s). */
static void test_no_temperatures_lock_not_fatal(void **state) {
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct battery_record rec = record(3.3, 3.3, 20, 20);
        struct supervisor_battery bat = { .record = &rec, .last_good_read_usec = AT(0) };
        struct supervisor_input in = { .mqtt_connected = true, .batteries = &bat, .n_batteries = 1 };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        rec.n_temps = 0;
        /* Without a temperature check, a battery without sensors is fine. */
        enable(&c, LOCK_CELL_LOW, 3.1, 0.1);
        sup = new_sup(&c);
        run(sup, &in, AT(100), &r);
        assert_int_equal(r.n_locks, 0);
        supervisor_free(sup);

        enable(&c, LOCK_TEMP_LOW_CHARGE, 10, 2);
        sup = new_sup(&c);
        run(sup, &in, AT(100), &r);
        assert_false(is_active(&r, LOCK_INTERNAL));
        assert_true(is_active(&r, LOCK_TEMP_LOW_CHARGE));
        assert_false(is_active(&r, LOCK_CELL_LOW));
        assert_true(r.feed_watchdog);
        assert_int_equal(r.no_temperature_battery, 0);
        for (size_t i = 0; i < r.n_locks; i++)
                if (r.locks[i].id == LOCK_TEMP_LOW_CHARGE) {
                        assert_string_equal(r.locks[i].reason, "no temperature sensor");
                        assert_int_equal(r.locks[i].battery, 0);
                }

        /* A second battery with a sensor decides: the one without gives no decision (a shunt among BMS). */
        struct battery_record warm = record(3.3, 3.3, 25, 25);
        struct supervisor_battery two[2] = { bat, { .record = &warm, .last_good_read_usec = AT(100) } };
        in.batteries = two;
        in.n_batteries = 2;
        run(sup, &in, AT(101), &r);
        assert_false(is_active(&r, LOCK_TEMP_LOW_CHARGE));
        assert_int_equal(r.no_temperature_battery, SIZE_MAX);
        assert_true(r.feed_watchdog);
        warm.temps_c[0] = 5;
        run(sup, &in, AT(102), &r);
        assert_true(is_active(&r, LOCK_TEMP_LOW_CHARGE));
        for (size_t i = 0; i < r.n_locks; i++)
                if (r.locks[i].id == LOCK_TEMP_LOW_CHARGE)
                        assert_null(r.locks[i].reason); /* a measured lock */

        /* Once the first reports a temperature it counts too. */
        warm.temps_c[0] = 25;
        rec.n_temps = 1;
        rec.temps_c[0] = 12.5;
        run(sup, &in, AT(103), &r);
        assert_false(is_active(&r, LOCK_TEMP_LOW_CHARGE));
        assert_int_equal(r.no_temperature_battery, SIZE_MAX);
        supervisor_free(sup);
}

/* Batteries without cells (a shunt): no decision for the cell checks; a shunt alone keeps them active
 * with a reason once it has delivered (not fatal); before every battery delivered, the start rule. */
static void test_battery_without_cells(void **state) {
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct battery_record shunt = record(3.3, 3.3, 20, 20), bms = record(3.3, 3.3, 20, 20);
        struct supervisor_battery two[2] = { { .record = NULL, .last_good_read_usec = 0 },
                                             { .record = &bms, .last_good_read_usec = AT(100) } };
        struct supervisor_input in = { .mqtt_connected = true, .batteries = two, .n_batteries = 2 };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        shunt.n_cells = 0;
        shunt.n_temps = 0;
        enable(&c, LOCK_CELL_LOW, 3.1, 0.1);
        enable(&c, LOCK_CELL_HIGH, 3.65, 0.2);
        sup = new_sup(&c);
        /* The BMS alone decides while the shunt has not delivered (a record exists). */
        run(sup, &in, AT(100), &r);
        assert_false(is_active(&r, LOCK_CELL_LOW));
        /* The shunt's record without cells: valid, no decision, the BMS still decides. */
        two[0] = (struct supervisor_battery) { .record = &shunt, .last_good_read_usec = AT(100) };
        run(sup, &in, AT(101), &r);
        assert_false(is_active(&r, LOCK_INTERNAL));
        assert_false(is_active(&r, LOCK_CELL_LOW));
        assert_false(is_active(&r, LOCK_CELL_HIGH));
        assert_int_equal(r.no_cells_battery, SIZE_MAX);
        bms.cells_v[0] = 3.0;
        run(sup, &in, AT(102), &r);
        assert_true(is_active(&r, LOCK_CELL_LOW));
        supervisor_free(sup);

        /* The shunt alone: before its first record the start rule (locked, no reason); after it, held
         * with the reason "no cell voltages", the watchdog fed. */
        sup = new_sup(&c);
        in.n_batteries = 1;
        two[0].record = NULL;
        run(sup, &in, AT(100), &r);
        assert_true(is_active(&r, LOCK_CELL_LOW));
        assert_int_equal(r.no_cells_battery, SIZE_MAX);
        two[0].record = &shunt;
        run(sup, &in, AT(101), &r);
        assert_true(is_active(&r, LOCK_CELL_LOW));
        assert_true(is_active(&r, LOCK_CELL_HIGH));
        assert_false(is_active(&r, LOCK_INTERNAL));
        assert_true(r.feed_watchdog);
        assert_int_equal(r.no_cells_battery, 0);
        for (size_t i = 0; i < r.n_locks; i++)
                if (r.locks[i].id == LOCK_CELL_LOW)
                        assert_string_equal(r.locks[i].reason, "no cell voltages");
        supervisor_free(sup);
}

/* soc_low / soc_high on the SoC of all batteries weighted by size, and current_charge on the largest
 * charge current of one battery; no record: no decision and no lock. */
static void test_soc_and_current_charge(void **state) {
        struct supervisor_config c = { .checks = { { .enabled = false } } };
        struct battery_record big = benign(), small = benign();
        struct supervisor_battery bats[2] = { { .record = NULL }, { .record = NULL } };
        struct supervisor_input in = { .mqtt_connected = true, .batteries = bats, .n_batteries = 2 };
        struct supervisor *sup;
        struct supervisor_result r;

        (void) state;
        enable(&c, LOCK_SOC_LOW, 20, 5);
        enable(&c, LOCK_SOC_HIGH, 90, 10);
        enable(&c, LOCK_CURRENT_CHARGE, 30, 5);
        sup = new_sup(&c);
        /* No SoC yet: nothing. */
        run(sup, &in, AT(0), &r);
        assert_false(is_active(&r, LOCK_SOC_LOW) || is_active(&r, LOCK_SOC_HIGH) ||
                     is_active(&r, LOCK_CURRENT_CHARGE));

        /* 300 Ah at 10 % and 100 Ah at 70 %: 25 % weighted (the plain mean 40 % would hide it). */
        big.full_ah = 300, big.soc_pct = 10, big.current_a = -5;
        small.full_ah = 100, small.soc_pct = 70, small.current_a = -5;
        bats[0].record = &big, bats[1].record = &small;
        run(sup, &in, AT(1), &r);
        assert_false(is_active(&r, LOCK_SOC_LOW));
        big.soc_pct = 5; /* 21.25 % */
        run(sup, &in, AT(2), &r);
        assert_false(is_active(&r, LOCK_SOC_LOW));
        big.soc_pct = 2; /* 19.0 % */
        run(sup, &in, AT(3), &r);
        assert_true(is_active(&r, LOCK_SOC_LOW));
        assert_int_equal(r.locked_class_mask & (CHA | INV), INV);
        /* Clears at threshold + hysteresis (25 %), not before. */
        big.soc_pct = 8; /* 23.5 % */
        run(sup, &in, AT(4), &r);
        assert_true(is_active(&r, LOCK_SOC_LOW));
        big.soc_pct = 10; /* 25 % */
        run(sup, &in, AT(5), &r);
        assert_false(is_active(&r, LOCK_SOC_LOW));

        /* soc_high: above 90 %, until 80 %. */
        big.soc_pct = 95, small.soc_pct = 95;
        run(sup, &in, AT(6), &r);
        assert_true(is_active(&r, LOCK_SOC_HIGH));
        assert_int_equal(r.locked_class_mask & (CHA | INV), CHA);
        big.soc_pct = 85, small.soc_pct = 85;
        run(sup, &in, AT(7), &r);
        assert_true(is_active(&r, LOCK_SOC_HIGH));
        big.soc_pct = 80, small.soc_pct = 80;
        run(sup, &in, AT(8), &r);
        assert_false(is_active(&r, LOCK_SOC_HIGH));

        /* current_charge: one battery charging with 31 A locks the charger; clears at 25 A. */
        small.current_a = 31;
        run(sup, &in, AT(9), &r);
        assert_true(is_active(&r, LOCK_CURRENT_CHARGE));
        assert_int_equal(r.locked_class_mask & (CHA | INV), CHA);
        small.current_a = 26;
        run(sup, &in, AT(10), &r);
        assert_true(is_active(&r, LOCK_CURRENT_CHARGE));
        small.current_a = 25;
        run(sup, &in, AT(11), &r);
        assert_false(is_active(&r, LOCK_CURRENT_CHARGE));

        /* The records vanish (no SoC any more): no decision, the state stays. */
        big.soc_pct = small.soc_pct = 1;
        run(sup, &in, AT(12), &r);
        assert_true(is_active(&r, LOCK_SOC_LOW));
        bats[0].record = bats[1].record = NULL;
        run(sup, &in, AT(13), &r);
        assert_true(is_active(&r, LOCK_SOC_LOW));
        supervisor_free(sup);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lock_table),
                cmocka_unit_test(test_new_invalid),
                cmocka_unit_test(test_hysteresis_edges),
                cmocka_unit_test(test_rounding_to_units),
                cmocka_unit_test(test_battery_checks_no_decision),
                cmocka_unit_test(test_no_hysteresis_before_first_decision),
                cmocka_unit_test(test_no_batteries),
                cmocka_unit_test(test_battery_offline),
                cmocka_unit_test(test_live_data_lost),
                cmocka_unit_test(test_live_data_lost_thresholds_separate),
                cmocka_unit_test(test_mqtt_offline),
                cmocka_unit_test(test_startup_until_60s),
                cmocka_unit_test(test_startup_clears_when_alone),
                cmocka_unit_test(test_startup_alone_at_first_pass),
                cmocka_unit_test(test_priority_order),
                cmocka_unit_test(test_class_union),
                cmocka_unit_test(test_change_flags),
                cmocka_unit_test(test_watchdog),
                cmocka_unit_test(test_bad_record_internal),
                cmocka_unit_test(test_no_temperatures_lock_not_fatal),
                cmocka_unit_test(test_battery_without_cells),
                cmocka_unit_test(test_soc_and_current_charge),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
