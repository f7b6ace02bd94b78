/* SPDX-License-Identifier: MIT */
/* Unit tests of the heater (control.md "Heater"): the pure rule (activate, deactivate, the band, the lowest
 * temperature over the batteries, stale records, no temperature → off, off at start), the heater class in
 * the control core (outside the modes and the supervisor, off in the safe state, its topics), and the
 * `heater` section of the configuration. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "config-test.h"
#include "control.h"
#include "heater.h"
#include "outputs.h"

#define SEC(s) ((uint64_t) (s) *UINT64_C(1000000))
#define START SEC(7000)
#define AT(s) (START + SEC(s))

static const struct heater_config CFG = {.present = true, .activate_c = 5, .deactivate_c = 10};

static struct battery_record rec(uint64_t t, size_t n, const double *temps) {
        struct battery_record r = {.voltage_v = 26,
                                   .soc_pct = 50,
                                   .n_cells = 1,
                                   .cells_v = {3.3},
                                   .time_usec = t,
                                   .n_temps = n};
        for (size_t i = 0; i < n; i++)
                r.temps_c[i] = temps[i];
        return r;
}

/* One battery with one sensor at temperature t, read now. */
static struct heater_result one(struct heater_rule *h, uint64_t now, double t) {
        struct battery_record r = rec(now, 1, &t);
        const struct battery_record *p = &r;
        struct heater_result res;

        heater_rule_record(h, &p, 1, now, &res);
        return res;
}

/* ---- the rule ---- */

static void test_start_off(void **state) {
        struct heater_rule h;
        struct heater_result res;

        (void) state;
        heater_rule_init(&h, &CFG, START);
        assert_false(h.on);
        /* A first temperature inside the band keeps them off: nothing to switch. */
        res = one(&h, AT(1), 7);
        assert_false(res.changed);
        assert_false(res.on);
        assert_true(res.has_temperature);
        /* Ticks before 300 s without any record change nothing and say nothing. */
        heater_rule_init(&h, &CFG, START);
        heater_rule_tick(&h, NULL, 0, AT(299), &res);
        assert_false(res.changed || res.on || res.no_temperature);
}

static void test_activate_deactivate_band(void **state) {
        struct heater_rule h;
        struct heater_result res;

        (void) state;
        heater_rule_init(&h, &CFG, START);
        res = one(&h, AT(1), 5.1);
        assert_false(res.changed);
        res = one(&h, AT(2), 5.0); /* ≤ activate, bound included */
        assert_true(res.changed);
        assert_true(res.on);
        res = one(&h, AT(3), 4.0); /* still on: no new command */
        assert_false(res.changed);
        assert_true(res.on);
        res = one(&h, AT(4), 9.9); /* the band keeps it on */
        assert_false(res.changed);
        assert_true(res.on);
        res = one(&h, AT(5), 10.0); /* ≥ deactivate, bound included */
        assert_true(res.changed);
        assert_false(res.on);
        assert_true(res.temperature_c == 10.0);
        res = one(&h, AT(6), 5.1); /* the band keeps it off */
        assert_false(res.changed);
        assert_false(res.on);
        res = one(&h, AT(7), -20);
        assert_true(res.changed && res.on);
}

static void test_lowest_over_batteries(void **state) {
        const double warm[] = {20, 18.5}, cold[] = {12, 4.5, 30};
        struct battery_record a = rec(AT(10), 2, warm), b = rec(AT(10), 3, cold),
                              none = rec(AT(10), 0, NULL);
        const struct battery_record *recs[] = {&a, NULL, &none, &b};
        struct heater_rule h;
        struct heater_result res;
        double t;

        (void) state;
        assert_true(heater_lowest_temperature(recs, 4, AT(10), &t));
        assert_true(t == 4.5);
        heater_rule_init(&h, &CFG, START);
        heater_rule_record(&h, recs, 4, AT(10), &res);
        assert_true(res.changed && res.on);
        assert_true(res.temperature_c == 4.5);
        /* Only batteries without temperatures: no decision. */
        assert_false(heater_lowest_temperature((const struct battery_record *const[]){&none, NULL}, 2,
                                               AT(10), &t));
}

static void test_stale_records_ignored(void **state) {
        const double cold = 0, warm = 15;
        struct battery_record old = rec(AT(0), 1, &cold), fresh = rec(AT(301), 1, &warm);
        const struct battery_record *recs[] = {&old, &fresh};
        struct heater_rule h;
        struct heater_result res;
        double t;

        (void) state;
        /* 300 s old still counts, 301 s does not. */
        assert_true(heater_lowest_temperature(recs, 1, AT(300), &t));
        assert_false(heater_lowest_temperature(recs, 1, AT(301), &t));
        assert_true(heater_lowest_temperature(recs, 2, AT(301), &t));
        assert_true(t == 15);
        heater_rule_init(&h, &CFG, START);
        h.on = true;
        heater_rule_record(&h, recs, 2, AT(301), &res);
        assert_true(res.changed);
        assert_false(res.on); /* the cold but stale battery does not keep it on */
}

static void test_no_temperature_off(void **state) {
        struct heater_rule h;
        struct heater_result res;
        const double cold = 1;
        struct battery_record r = rec(AT(10), 1, &cold);
        const struct battery_record *p = &r;

        (void) state;
        heater_rule_init(&h, &CFG, START);
        heater_rule_record(&h, &p, 1, AT(10), &res);
        assert_true(res.on);
        heater_rule_tick(&h, &p, 1, AT(310), &res); /* 300 s old: still usable */
        assert_false(res.changed || res.no_temperature);
        assert_true(res.on);
        heater_rule_tick(&h, &p, 1, AT(311), &res);
        assert_true(res.changed && res.no_temperature);
        assert_false(res.on);
        heater_rule_tick(&h, &p, 1, AT(312), &res); /* once */
        assert_false(res.changed || res.no_temperature);
        /* A battery without temperatures does not count as a temperature. */
        struct battery_record bare = rec(AT(320), 0, NULL);
        const struct battery_record *q[] = {&r, &bare};
        heater_rule_record(&h, q, 2, AT(320), &res);
        assert_false(res.on || res.temperature_back);
        /* A temperature again: said once, and the rule decides again. */
        r = rec(AT(330), 1, &cold);
        heater_rule_record(&h, &p, 1, AT(330), &res);
        assert_true(res.temperature_back && res.changed && res.on);
        heater_rule_record(&h, &p, 1, AT(331), &res);
        assert_false(res.temperature_back || res.changed);

        /* Never a temperature: 300 s after the start, said once (they are off already). */
        heater_rule_init(&h, &CFG, START);
        heater_rule_tick(&h, NULL, 0, AT(300), &res);
        assert_true(res.no_temperature);
        assert_false(res.changed || res.on);
}

/* ---- the heater class in the control core ---- */

struct fake {
        const char *name;
        unsigned n_on, n_off;
        bool on;
};

static int fake_set_on(void *state, bool on) {
        struct fake *f = state;
        on ? f->n_on++ : f->n_off++;
        f->on = on;
        return 0;
}

static int fake_energy(void *state, double *ret_wh) {
        (void) state;
        *ret_wh = 12.4;
        return 0;
}

static int fake_read(void *state) {
        (void) state;
        return 0;
}

static const struct switch_ops heater_ops = {.set_on = fake_set_on, .energy_wh = fake_energy};
static const struct switch_ops charger_ops = {.set_on = fake_set_on};
static const struct battery_ops battery_ops = {.read = fake_read};
static const struct driver drv_heater = {
        .version = DRIVER_VERSION,
        .name = "fakeHeater",
        .classes = CLASS_BIT(DEVICE_CLASS_HEATER),
        .heater = &heater_ops,
};
static const struct driver drv_charger = {
        .version = DRIVER_VERSION,
        .name = "fakeCharger",
        .classes = CLASS_BIT(DEVICE_CLASS_CHARGER),
        .charger = &charger_ops,
};
static const struct driver drv_battery = {
        .version = DRIVER_VERSION,
        .name = "fakeBattery",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .battery = &battery_ops,
};

/* What the control core published about the heater class. */
struct seen {
        unsigned class_states, device_states, energies;
        enum device_status status;
        int power_w;
        double energy_wh;
};

static void out_class_state(void *u, enum device_class c, enum device_status s, int power_w) {
        struct seen *w = u;
        if (c != DEVICE_CLASS_HEATER)
                return;
        w->class_states++;
        w->status = s;
        w->power_w = power_w;
}

static void out_device_state(void *u, enum device_class c, const char *name, enum device_status s,
                             int power_w) {
        struct seen *w = u;
        (void) name, (void) s, (void) power_w;
        w->device_states += c == DEVICE_CLASS_HEATER;
}

static void out_energy(void *u, enum device_class c, const char *name, double wh, enum device_status s,
                       int power_w) {
        struct seen *w = u;
        (void) s, (void) power_w;
        if (c == DEVICE_CLASS_HEATER && !name) {
                w->energies++;
                w->energy_wh = wh;
        }
}

static const struct outputs_ops ops = {
        .class_state = out_class_state, .device_state = out_device_state, .energy = out_energy};

struct fixture {
        struct config config;
        struct seen seen;
        struct outputs out;
        struct control *ctl;
        struct fake h1, h2, cha, bat;
        struct control_device *dh1, *dh2, *dbat;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->config.general.default_mode = MODE_IDLE;
        f->config.heater = CFG;
        /* A lock that never clears: the heater must not care. */
        f->config.supervisor.checks[LOCK_BATTERY_OFFLINE] =
                (struct supervisor_check_config){.enabled = true, .threshold = 1};
        f->out = (struct outputs){.ops = &ops, .userdata = &f->seen};
        f->h1.name = "h1", f->h2.name = "h2", f->cha.name = "cha", f->bat.name = "bat";
        assert_int_equal(control_new(&f->config, START, &f->out, &f->ctl), 0);
        assert_int_equal(control_add_device(f->ctl, "h1", &drv_heater, &f->h1, &f->dh1), 0);
        assert_int_equal(control_add_device(f->ctl, "h2", &drv_heater, &f->h2, &f->dh2), 0);
        struct control_device *dc;
        assert_int_equal(control_add_device(f->ctl, "cha", &drv_charger, &f->cha, &dc), 0);
        assert_int_equal(control_add_device(f->ctl, "bat", &drv_battery, &f->bat, &f->dbat), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        control_free(f->ctl);
        free(f);
        return 0;
}

static void battery(struct fixture *f, uint64_t now, double t) {
        struct battery_record r = rec(now, 1, &t);
        control_device_battery(f->dbat, &r, now);
}

static void test_control_rule(void **state) {
        struct fixture *f = *state;

        for (int s = 1; s <= 5; s++)
                (void) control_tick(f->ctl, AT(s), true);
        assert_int_equal(f->h1.n_on + f->h2.n_on, 0); /* off until the first decision */
        battery(f, AT(6), 3);
        assert_true(f->h1.on && f->h2.on);
        assert_int_equal(f->cha.n_on, 0); /* idle, locked: the charger stays off */
        battery(f, AT(7), 8);
        assert_int_equal(f->h1.n_on, 1);
        assert_int_equal(f->h1.n_off, 0);
        battery(f, AT(8), 11);
        assert_false(f->h1.on || f->h2.on);
        battery(f, AT(9), 2);
        assert_true(f->h1.on);
        /* Ticks with the battery_offline lock active and protect requested keep them on. */
        control_mode_request(f->ctl, "protect", 7, AT(10));
        for (int s = 10; s < 300; s += 10)
                (void) control_tick(f->ctl, AT(s), true);
        assert_true(f->h1.on && f->h2.on);
        assert_int_equal(f->h1.n_off, 1);
        /* The temperatures stop: off 300 s after the last one. */
        (void) control_tick(f->ctl, AT(309), true);
        assert_true(f->h1.on);
        (void) control_tick(f->ctl, AT(310), true);
        assert_false(f->h1.on || f->h2.on);
}

static void test_control_status_and_energy(void **state) {
        struct fixture *f = *state;

        control_device_status(f->dh1, DEVICE_CLASS_HEATER, DEVICE_STATUS_ON, AT(1));
        control_device_power(f->dh1, DEVICE_CLASS_HEATER, 35, AT(1));
        assert_int_equal(f->seen.status, DEVICE_STATUS_SYNCING); /* h2 does not know yet */
        control_device_status(f->dh2, DEVICE_CLASS_HEATER, DEVICE_STATUS_ON, AT(1));
        control_device_power(f->dh2, DEVICE_CLASS_HEATER, 40, AT(1));
        assert_int_equal(f->seen.status, DEVICE_STATUS_ON);
        assert_int_equal(f->seen.power_w, 75);
        assert_true(f->seen.device_states >= 4);

        struct control_class_info ci;
        control_get_class(f->ctl, DEVICE_CLASS_HEATER, &ci);
        assert_int_equal(ci.n_devices, 2);
        assert_int_equal(ci.status, DEVICE_STATUS_ON);
        assert_int_equal(ci.power_w, 75);

        unsigned before = f->seen.class_states;
        control_republish(f->ctl);
        assert_int_equal(f->seen.class_states, before + 1);

        control_energy_report(f->ctl, AT(900), 1);
        assert_int_equal(f->seen.energies, 1);
        assert_true(f->seen.energy_wh > 24.7 && f->seen.energy_wh < 24.9);
}

static void test_control_safe_state(void **state) {
        struct fixture *f = *state;

        battery(f, AT(1), 0);
        assert_true(f->h1.on && f->h2.on);
        control_protect_all(f->ctl, AT(2));
        assert_false(f->h1.on || f->h2.on);
        /* No decision brings them back, not even one that changes the rule's mind. */
        battery(f, AT(3), 20);
        battery(f, AT(4), -5);
        (void) control_tick(f->ctl, AT(5), true);
        (void) control_tick(f->ctl, AT(400), true);
        assert_false(f->h1.on || f->h2.on);
        assert_int_equal(f->h1.n_on, 1);
}

/* ---- the configuration ---- */

#define MQ "\"mqtt\": {\"host\": \"broker.example:1883\"}"
#define HEATER_DEV "\"devices\": {\"hz\": {\"driver\": \"shellyHeater\", \"host\": \"10.0.0.9:80\"}}"
#define SECTION(a, d)                                                                                       \
        "\"heater\": {\"activate\": {\"battery\": " a "}, \"deactivate\": {\"battery\": " d "}}"

static int parse(const char *text, struct config **c, struct config_errors *e) {
        *c = NULL;
        *e = (struct config_errors){};
        return config_parse("/nonexistent/config.json", text, strlen(text), c, e);
}

/* want: a text of an error line, or NULL (valid); warn: a text of a warning line, or NULL (none). */
static void check(const char *text, const char *want, const char *warn) {
        struct config_errors e;
        struct config *c;
        int r = parse(text, &c, &e);
        bool ok = want ? r == -EINVAL && find_line(e.lines, e.n, want, NULL) : r == 0;

        ok = ok && (warn ? find_line(e.warnings, e.n_warnings, warn, NULL) != NULL : e.n_warnings == 0);
        if (!ok) {
                print_message("  %s\n  want %s, warning %s; got %d\n", text, want ? want : "valid",
                              warn ? warn : "none", r);
                dump(&e);
        }
        config_free(c);
        config_errors_done(&e);
        assert_true(ok);
}

static void test_config(void **state) {
        struct config_errors e;
        struct config *c;

        (void) state;
        assert_int_equal(parse("{" MQ ", " HEATER_DEV ", " SECTION("5", "10.5") "}", &c, &e), 0);
        assert_true(c->heater.present);
        assert_true(c->heater.activate_c == 5 && c->heater.deactivate_c == 10.5);
        assert_int_equal(config_count_class(c, DEVICE_CLASS_HEATER), 1);
        config_free(c);
        config_errors_done(&e);

        check("{" MQ ", " HEATER_DEV "}", "heater: required section is missing", NULL);
        check("{" MQ ", " HEATER_DEV ", \"heater\": {\"activate\": {\"battery\": 5}}}",
              "heater.deactivate: required object is missing", NULL);
        check("{" MQ ", " HEATER_DEV ", \"heater\": {\"activate\": {}, \"deactivate\": {\"battery\": 9}}}",
              "heater.activate.battery: required number is missing", NULL);
        check("{" MQ ", " HEATER_DEV ", " SECTION("-41", "10") "}",
              "heater.activate.battery: -41 out of range", NULL);
        check("{" MQ ", " HEATER_DEV ", " SECTION("5", "100.5") "}",
              "heater.deactivate.battery: 100.5 out of range", NULL);
        check("{" MQ ", " HEATER_DEV ", " SECTION("-40", "100") "}", NULL, NULL);
        check("{" MQ ", " HEATER_DEV ", " SECTION("10", "10") "}",
              "heater.deactivate.battery: 10 °C must be above heater.activate.battery", NULL);
        check("{" MQ ", " HEATER_DEV ", " SECTION("12", "10") "}", "must be above heater.activate.battery",
              NULL);
        check("{" MQ ", " HEATER_DEV ", " SECTION("\"5\"", "10") "}",
              "heater.activate.battery: expected a number", NULL);
        check("{" MQ ", " HEATER_DEV ", \"heater\": {\"activate\": {\"battery\": 5, \"ambient\": 3}, "
              "\"deactivate\": {\"battery\": 9}}}",
              "heater.activate.ambient: unknown key", NULL);
        check("{" MQ ", " HEATER_DEV ", \"heater\": {\"activate\": {\"battery\": 5}, "
              "\"deactivate\": {\"battery\": 9}, \"enabled\": true}}",
              "heater.enabled: unknown key", NULL);
        check("{" MQ ", " HEATER_DEV ", \"heater\": 5}", "heater: expected an object", NULL);
        check("{" MQ ", " SECTION("5", "10") "}", NULL, "heater: no heater device is configured");
        check("{" MQ "}", NULL, NULL);
        /* shellyHeater takes shellyCharger's keys, and no others. */
        check("{" MQ ", \"devices\": {\"hz\": {\"driver\": \"shellyHeater\", \"host\": \"10.0.0.9:80\", "
              "\"relay_id\": 1, \"generation\": 2, \"user\": \"admin\", \"password\": \"pw\"}}, " SECTION(
                      "5", "10") "}",
              NULL, NULL);
        check("{" MQ ", \"devices\": {\"hz\": {\"driver\": \"shellyHeater\", \"host\": \"10.0.0.9:80\", "
              "\"interval\": 5}}, " SECTION("5", "10") "}",
              "devices.hz.interval: unknown key", NULL);
        check("{" MQ ", \"devices\": {\"hz\": {\"driver\": \"shellyHeater\"}}, " SECTION("5", "10") "}",
              "devices.hz.host: required", NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start_off),
                cmocka_unit_test(test_activate_deactivate_band),
                cmocka_unit_test(test_lowest_over_batteries),
                cmocka_unit_test(test_stale_records_ignored),
                cmocka_unit_test(test_no_temperature_off),
                cmocka_unit_test_setup_teardown(test_control_rule, setup, teardown),
                cmocka_unit_test_setup_teardown(test_control_status_and_energy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_control_safe_state, setup, teardown),
                cmocka_unit_test(test_config),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
