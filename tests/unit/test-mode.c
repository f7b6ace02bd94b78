/* SPDX-License-Identifier: MIT */
/* Unit tests of the mode switcher: the displayed-mode table for every requested
 * mode and lock set, the switch order, which classes are switched, payload
 * parsing and when the displayed mode is published. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mode.h"

#define CHA CLASS_BIT(DEVICE_CLASS_CHARGER)
#define SOL CLASS_BIT(DEVICE_CLASS_SOLAR)
#define INV CLASS_BIT(DEVICE_CLASS_INVERTER)

/* What the devices of each class are doing, as the caller would track it from the actions. */
struct fake_devices {
        bool on[_DEVICE_CLASS_MAX];
};

static void apply(struct fake_devices *d, const struct mode_result *r) {
        for (size_t i = 0; i < r->n_actions; i++)
                d->on[r->actions[i].class] = r->actions[i].devices_on;
}

static struct mode_switcher *new_switcher(enum mode m) {
        struct mode_switcher *ms = NULL;

        assert_int_equal(mode_switcher_new(m, &ms), 0);
        assert_non_null(ms);
        return ms;
}

static void test_strings(void **state) {
        static const struct {
                const char *s;
                enum mode m;
        } table[] = {
                { "charge", MODE_CHARGE },
                { "discharge", MODE_DISCHARGE },
                { "idle", MODE_IDLE },
                { "protect", MODE_PROTECT },
                { "Charge", _MODE_INVALID },
                { "IDLE", _MODE_INVALID },
                { "idle ", _MODE_INVALID },
                { " idle", _MODE_INVALID },
                { "charge\n", _MODE_INVALID },
                { "charg", _MODE_INVALID },
                { "protects", _MODE_INVALID },
                { "", _MODE_INVALID },
        };

        (void) state;
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                assert_int_equal(mode_from_string(table[i].s), table[i].m);
        assert_int_equal(mode_from_string(NULL), _MODE_INVALID);

        assert_string_equal(mode_to_string(MODE_CHARGE), "charge");
        assert_string_equal(mode_to_string(MODE_DISCHARGE), "discharge");
        assert_string_equal(mode_to_string(MODE_IDLE), "idle");
        assert_string_equal(mode_to_string(MODE_PROTECT), "protect");
        assert_null(mode_to_string(_MODE_MAX));
        assert_null(mode_to_string(_MODE_INVALID));
}

static void test_new(void **state) {
        struct mode_switcher *ms = NULL;

        (void) state;
        assert_int_equal(mode_switcher_new(_MODE_INVALID, &ms), -EINVAL);
        assert_int_equal(mode_switcher_new(_MODE_MAX, &ms), -EINVAL);
        assert_null(ms);

        ms = new_switcher(MODE_DISCHARGE);
        /* Locked until the supervisor's first pass: everything protect, whatever was requested. */
        assert_int_equal(mode_switcher_get_requested(ms), MODE_DISCHARGE);
        assert_int_equal(mode_switcher_get_locked(ms), CHA | SOL | INV);
        assert_int_equal(mode_switcher_get_effective(ms, DEVICE_CLASS_CHARGER), MODE_PROTECT);
        assert_int_equal(mode_switcher_get_effective(ms, DEVICE_CLASS_INVERTER), MODE_PROTECT);
        assert_int_equal(mode_switcher_get_effective(ms, DEVICE_CLASS_SOLAR), MODE_PROTECT);
        assert_int_equal(mode_switcher_get_effective(ms, DEVICE_CLASS_BATTERY), _MODE_INVALID);
        assert_int_equal(mode_switcher_get_effective(ms, DEVICE_CLASS_CONSUMPTION), _MODE_INVALID);
        assert_int_equal(mode_switcher_get_displayed(ms), MODE_PROTECT);
        assert_null(mode_switcher_free(ms));
        assert_null(mode_switcher_free(NULL));
}

/* Hand-computed from control.md: displayed = discharge if inverter's effective is discharge, else
 * charge if charger's is charge, else idle if solar's is idle, else protect; and the devices of
 * each class that are on (charger: charge, inverter: discharge, solar: not protect). */
static const struct display_row {
        enum mode requested;
        unsigned locked;
        enum mode displayed;
        bool cha_on, inv_on, sol_on;
} display_table[] = {
        { MODE_CHARGE, 0, MODE_CHARGE, true, false, true },
        { MODE_CHARGE, CHA, MODE_PROTECT, false, false, true },
        { MODE_CHARGE, SOL, MODE_CHARGE, true, false, false },
        { MODE_CHARGE, INV, MODE_CHARGE, true, false, true },
        { MODE_CHARGE, CHA | SOL, MODE_PROTECT, false, false, false },
        { MODE_CHARGE, CHA | INV, MODE_PROTECT, false, false, true },
        { MODE_CHARGE, SOL | INV, MODE_CHARGE, true, false, false },
        { MODE_CHARGE, CHA | SOL | INV, MODE_PROTECT, false, false, false },

        { MODE_DISCHARGE, 0, MODE_DISCHARGE, false, true, true },
        { MODE_DISCHARGE, CHA, MODE_DISCHARGE, false, true, true },
        { MODE_DISCHARGE, SOL, MODE_DISCHARGE, false, true, false },
        { MODE_DISCHARGE, INV, MODE_PROTECT, false, false, true },
        { MODE_DISCHARGE, CHA | SOL, MODE_DISCHARGE, false, true, false },
        { MODE_DISCHARGE, CHA | INV, MODE_PROTECT, false, false, true },
        { MODE_DISCHARGE, SOL | INV, MODE_PROTECT, false, false, false },
        { MODE_DISCHARGE, CHA | SOL | INV, MODE_PROTECT, false, false, false },

        { MODE_IDLE, 0, MODE_IDLE, false, false, true },
        { MODE_IDLE, CHA, MODE_IDLE, false, false, true },
        { MODE_IDLE, SOL, MODE_PROTECT, false, false, false },
        { MODE_IDLE, INV, MODE_IDLE, false, false, true },
        { MODE_IDLE, CHA | SOL, MODE_PROTECT, false, false, false },
        { MODE_IDLE, CHA | INV, MODE_IDLE, false, false, true },
        { MODE_IDLE, SOL | INV, MODE_PROTECT, false, false, false },
        { MODE_IDLE, CHA | SOL | INV, MODE_PROTECT, false, false, false },

        { MODE_PROTECT, 0, MODE_PROTECT, false, false, false },
        { MODE_PROTECT, CHA, MODE_PROTECT, false, false, false },
        { MODE_PROTECT, SOL, MODE_PROTECT, false, false, false },
        { MODE_PROTECT, INV, MODE_PROTECT, false, false, false },
        { MODE_PROTECT, CHA | SOL, MODE_PROTECT, false, false, false },
        { MODE_PROTECT, CHA | INV, MODE_PROTECT, false, false, false },
        { MODE_PROTECT, SOL | INV, MODE_PROTECT, false, false, false },
        { MODE_PROTECT, CHA | SOL | INV, MODE_PROTECT, false, false, false },
};

static void check_row(const struct mode_switcher *ms, const struct fake_devices *d,
                      const struct display_row *row) {
        static const enum device_class classes[] = {
                DEVICE_CLASS_CHARGER, DEVICE_CLASS_SOLAR, DEVICE_CLASS_INVERTER,
        };

        assert_int_equal(mode_switcher_get_displayed(ms), row->displayed);
        assert_int_equal(mode_switcher_get_requested(ms), row->requested);
        for (size_t k = 0; k < 3; k++) {
                enum device_class c = classes[k];
                enum mode want = (row->locked & CLASS_BIT(c)) ? MODE_PROTECT : row->requested;

                assert_int_equal(mode_switcher_get_effective(ms, c), want);
        }
        assert_int_equal(d->on[DEVICE_CLASS_CHARGER], row->cha_on);
        assert_int_equal(d->on[DEVICE_CLASS_INVERTER], row->inv_on);
        assert_int_equal(d->on[DEVICE_CLASS_SOLAR], row->sol_on);
}

/* The row reached by changing the locks (default mode = requested mode). */
static void test_display_table_by_locks(void **state) {
        (void) state;
        assert_int_equal(sizeof(display_table) / sizeof(display_table[0]), 32);
        for (size_t i = 0; i < sizeof(display_table) / sizeof(display_table[0]); i++) {
                const struct display_row *row = &display_table[i];
                struct mode_switcher *ms = new_switcher(row->requested);
                struct fake_devices d = { .on = { false } }; /* start: all protect, all off */
                struct mode_result r;

                assert_int_equal(mode_set_locked(ms, row->locked, &r), 0);
                apply(&d, &r);
                assert_int_equal(r.displayed, row->displayed);
                /* Start displays protect: published only when that changed. */
                assert_int_equal(r.publish, row->displayed != MODE_PROTECT);
                check_row(ms, &d, row);
                mode_switcher_free(ms);
        }
}

/* The same row reached by a request after the locks were set (from a different mode). */
static void test_display_table_by_request(void **state) {
        (void) state;
        for (size_t i = 0; i < sizeof(display_table) / sizeof(display_table[0]); i++) {
                const struct display_row *row = &display_table[i];
                enum mode other = row->requested == MODE_CHARGE ? MODE_DISCHARGE : MODE_CHARGE;
                struct mode_switcher *ms = new_switcher(other);
                struct fake_devices d = { .on = { false } };
                struct mode_result r;
                const char *name = mode_to_string(row->requested);

                assert_int_equal(mode_set_locked(ms, row->locked, &r), 0);
                apply(&d, &r);
                assert_int_equal(mode_request(ms, name, strlen(name), &r), 0);
                apply(&d, &r);
                assert_int_equal(r.displayed, row->displayed);
                assert_true(r.publish);
                check_row(ms, &d, row);
                mode_switcher_free(ms);
        }
}

static void assert_action(const struct mode_result *r, size_t i, enum device_class c, enum mode m, bool on) {
        assert_true(i < r->n_actions);
        assert_int_equal(r->actions[i].class, c);
        assert_int_equal(r->actions[i].mode, m);
        assert_int_equal(r->actions[i].devices_on, on);
}

static void test_switch_order(void **state) {
        struct mode_switcher *ms = new_switcher(MODE_DISCHARGE);
        struct mode_result r;

        (void) state;
        assert_int_equal(mode_set_locked(ms, 0, &r), 0);
        assert_int_equal(r.n_actions, 3);
        assert_action(&r, 0, DEVICE_CLASS_CHARGER, MODE_DISCHARGE, false);
        assert_action(&r, 1, DEVICE_CLASS_INVERTER, MODE_DISCHARGE, true);
        assert_action(&r, 2, DEVICE_CLASS_SOLAR, MODE_DISCHARGE, true);
        assert_int_equal(r.displayed, MODE_DISCHARGE);
        assert_true(r.publish);

        assert_int_equal(mode_request(ms, "charge", 6, &r), 0);
        assert_int_equal(r.n_actions, 3);
        assert_action(&r, 0, DEVICE_CLASS_CHARGER, MODE_CHARGE, true);
        assert_action(&r, 1, DEVICE_CLASS_INVERTER, MODE_CHARGE, false);
        assert_action(&r, 2, DEVICE_CLASS_SOLAR, MODE_CHARGE, true);
        assert_int_equal(r.displayed, MODE_CHARGE);

        /* Locking everything again switches all three to protect, same order. */
        assert_int_equal(mode_set_locked(ms, CHA | SOL | INV, &r), 0);
        assert_int_equal(r.n_actions, 3);
        assert_action(&r, 0, DEVICE_CLASS_CHARGER, MODE_PROTECT, false);
        assert_action(&r, 1, DEVICE_CLASS_INVERTER, MODE_PROTECT, false);
        assert_action(&r, 2, DEVICE_CLASS_SOLAR, MODE_PROTECT, false);
        assert_int_equal(r.displayed, MODE_PROTECT);
        assert_true(r.publish);
        mode_switcher_free(ms);
}

static void test_only_changed_classes(void **state) {
        struct mode_switcher *ms = new_switcher(MODE_IDLE);
        struct mode_result r;

        (void) state;
        assert_int_equal(mode_set_locked(ms, 0, &r), 0);
        assert_int_equal(r.n_actions, 3);

        assert_int_equal(mode_set_locked(ms, INV, &r), 0);
        assert_int_equal(r.n_actions, 1);
        assert_action(&r, 0, DEVICE_CLASS_INVERTER, MODE_PROTECT, false);

        /* Inverter stays locked (protect): only charger and solar change. */
        assert_int_equal(mode_request(ms, "discharge", 9, &r), 0);
        assert_int_equal(r.n_actions, 2);
        assert_action(&r, 0, DEVICE_CLASS_CHARGER, MODE_DISCHARGE, false);
        assert_action(&r, 1, DEVICE_CLASS_SOLAR, MODE_DISCHARGE, true);
        assert_int_equal(r.displayed, MODE_PROTECT);

        assert_int_equal(mode_set_locked(ms, 0, &r), 0);
        assert_int_equal(r.n_actions, 1);
        assert_action(&r, 0, DEVICE_CLASS_INVERTER, MODE_DISCHARGE, true);
        assert_int_equal(r.displayed, MODE_DISCHARGE);

        /* Bits of classes that are not switched are no locks. */
        assert_int_equal(mode_set_locked(ms, CLASS_BIT(DEVICE_CLASS_BATTERY) |
                                                     CLASS_BIT(DEVICE_CLASS_CONSUMPTION), &r), 0);
        assert_int_equal(r.n_actions, 0);
        assert_false(r.publish);
        assert_int_equal(mode_switcher_get_locked(ms), 0);
        mode_switcher_free(ms);
}

static void test_bad_payloads(void **state) {
        static const char idle_no_nul[4] = { 'i', 'd', 'l', 'e' };
        static const char charge_nul[7] = { 'c', 'h', 'a', 'r', 'g', 'e', '\0' };
        static const struct {
                const char *p;
                size_t len;
                enum mode want;
        } table[] = {
                { "", 0, MODE_PROTECT },
                { NULL, 0, MODE_PROTECT },
                { "Charge", 6, MODE_PROTECT },
                { "charge\n", 7, MODE_PROTECT },
                { "charge ", 7, MODE_PROTECT },
                { "charg", 5, MODE_PROTECT },
                { "discharge", 6, MODE_PROTECT },         /* "discha": prefix only */
                { charge_nul, 7, MODE_PROTECT },           /* embedded NUL */
                { "\xff\xfe\x00\x01", 4, MODE_PROTECT },
                { "{\"mode\":\"idle\"}", 15, MODE_PROTECT },
                { idle_no_nul, 4, MODE_IDLE },             /* valid, not NUL-terminated */
                { "dischargeXYZ", 9, MODE_DISCHARGE },     /* length decides, not the NUL */
                { "protect", 7, MODE_PROTECT },
        };

        (void) state;
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                struct mode_switcher *ms = new_switcher(MODE_CHARGE);
                struct mode_result r;

                assert_int_equal(mode_set_locked(ms, 0, &r), 0);
                assert_int_equal(r.displayed, MODE_CHARGE);

                assert_int_equal(mode_request(ms, table[i].p, table[i].len, &r), 0);
                assert_int_equal(mode_switcher_get_requested(ms), table[i].want);
                assert_int_equal(mode_switcher_get_effective(ms, DEVICE_CLASS_CHARGER), table[i].want);
                assert_int_equal(r.displayed, table[i].want);
                assert_true(r.publish);
                mode_switcher_free(ms);
        }
}

static void test_publish_after_request(void **state) {
        struct mode_switcher *ms = new_switcher(MODE_IDLE);
        struct mode_result r;

        (void) state;
        /* Everything locked: a request changes nothing but is still answered. */
        assert_int_equal(mode_request(ms, "charge", 6, &r), 0);
        assert_int_equal(r.n_actions, 0);
        assert_int_equal(r.displayed, MODE_PROTECT);
        assert_true(r.publish);

        assert_int_equal(mode_set_locked(ms, 0, &r), 0);
        assert_int_equal(r.displayed, MODE_CHARGE);
        assert_true(r.publish);

        assert_int_equal(mode_request(ms, "charge", 6, &r), 0);
        assert_int_equal(r.n_actions, 0);
        assert_int_equal(r.displayed, MODE_CHARGE);
        assert_true(r.publish);
        mode_switcher_free(ms);
}

static void test_no_publish_when_display_unchanged(void **state) {
        struct mode_switcher *ms = new_switcher(MODE_CHARGE);
        struct mode_result r;

        (void) state;
        assert_int_equal(mode_set_locked(ms, 0, &r), 0);
        assert_int_equal(r.displayed, MODE_CHARGE);
        assert_true(r.publish);

        /* The inverter is switched (charge -> protect) but the display stays charge. */
        assert_int_equal(mode_set_locked(ms, INV, &r), 0);
        assert_int_equal(r.n_actions, 1);
        assert_int_equal(r.displayed, MODE_CHARGE);
        assert_false(r.publish);

        assert_int_equal(mode_set_locked(ms, INV | SOL, &r), 0);
        assert_int_equal(r.n_actions, 1);
        assert_action(&r, 0, DEVICE_CLASS_SOLAR, MODE_PROTECT, false);
        assert_false(r.publish);

        assert_int_equal(mode_set_locked(ms, INV | SOL, &r), 0);
        assert_int_equal(r.n_actions, 0);
        assert_false(r.publish);

        assert_int_equal(mode_set_locked(ms, INV | SOL | CHA, &r), 0);
        assert_int_equal(r.displayed, MODE_PROTECT);
        assert_true(r.publish);
        mode_switcher_free(ms);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_new),
                cmocka_unit_test(test_display_table_by_locks),
                cmocka_unit_test(test_display_table_by_request),
                cmocka_unit_test(test_switch_order),
                cmocka_unit_test(test_only_changed_classes),
                cmocka_unit_test(test_bad_payloads),
                cmocka_unit_test(test_publish_after_request),
                cmocka_unit_test(test_no_publish_when_display_unchanged),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
