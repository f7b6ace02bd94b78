/* SPDX-License-Identifier: MIT */
/* The bounds on the inverter class power (src/output-limits.c): the
 * netzero.max_power cap, the meter fallback, and the discharge current cap of
 * supervisor.current_discharge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "output-limits.h"

#define SEC(s) ((uint64_t) (s) * USEC_PER_SEC)
#define T0 SEC(5000)

static struct config config(void) {
        struct config c = { .netzero = { .present = true, .enabled = true } };

        c.netzero.fallback_after_s = NETZERO_FALLBACK_AFTER_S_DEFAULT;
        c.netzero.fallback_power_w = NETZERO_FALLBACK_POWER_W_DEFAULT;
        return c;
}

static void tick(struct output_limits *l, uint64_t now, uint64_t last_reading, int power_w,
                 const struct supervisor_battery *b, size_t n, struct output_limits_result *ret) {
        struct output_limits_input in = {
                .last_reading_usec = last_reading, .power_known = true, .power_w = power_w,
                .batteries = b, .n_batteries = n,
        };
        output_limits_tick(l, now, &in, ret);
}

static void test_max_power(void **state) {
        struct config c = config();
        struct output_limits l;

        (void) state;
        output_limits_init(&l, &c);
        assert_int_equal(output_limits_cap(&l, 5000), 5000);
        c.netzero.has_max_power = true;
        c.netzero.max_power_w = 800;
        assert_int_equal(output_limits_cap(&l, 5000), 800);
        assert_int_equal(output_limits_cap(&l, 800), 800);
        assert_int_equal(output_limits_cap(&l, 300), 300);
}

static void test_fallback(void **state) {
        struct config c = config();
        struct output_limits l;
        struct output_limits_result r;

        (void) state;
        c.netzero.fallback_after_s = 30;
        c.netzero.fallback_power_w = 150;
        output_limits_init(&l, &c);
        /* Off: never. */
        tick(&l, T0 + SEC(100), 0, 0, NULL, 0, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_NONE);
        /* On at T0+100 without a reading: 30 s later, once. */
        output_limits_inverter_on(&l, T0 + SEC(100), true);
        tick(&l, T0 + SEC(129), 0, 400, NULL, 0, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_NONE);
        tick(&l, T0 + SEC(130), 0, 400, NULL, 0, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_FALLBACK_START);
        assert_int_equal(r.power_w, 150);
        tick(&l, T0 + SEC(131), 0, 150, NULL, 0, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_NONE);
        /* A reading ends it (once); silence again starts it again, counted from that reading. */
        assert_true(output_limits_reading(&l));
        assert_false(output_limits_reading(&l));
        tick(&l, T0 + SEC(160), T0 + SEC(140), 150, NULL, 0, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_NONE);
        tick(&l, T0 + SEC(170), T0 + SEC(140), 150, NULL, 0, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_FALLBACK_START);
        /* The fallback power is capped by max_power too. */
        output_limits_inverter_on(&l, T0 + SEC(171), false);
        c.netzero.has_max_power = true;
        c.netzero.max_power_w = 100;
        output_limits_inverter_on(&l, T0 + SEC(200), true);
        tick(&l, T0 + SEC(230), 0, 100, NULL, 0, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_FALLBACK_START);
        assert_int_equal(r.power_w, 100);
}

static void test_current_discharge(void **state) {
        struct config c = config();
        struct battery_record rec = { .voltage_v = 50.0, .current_a = -10.0, .n_cells = 1 };
        struct supervisor_battery b[2] = { { .record = NULL }, { .record = &rec } };
        struct output_limits l;
        struct output_limits_result r;

        (void) state;
        c.supervisor.current_discharge = (struct supervisor_check_config) {
                .enabled = true, .threshold = 20, .hysteresis = 5,
        };
        output_limits_init(&l, &c);
        tick(&l, T0, 0, 900, b, 2, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_NONE);
        /* 24 A at 50 V: 4 A too much, 200 W less than the 900 W set. */
        rec.current_a = -24.0;
        tick(&l, T0 + SEC(1), 0, 900, b, 2, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_CURRENT_CAP);
        assert_int_equal(r.power_w, 700);
        assert_int_equal(r.battery, 1);
        assert_int_equal(output_limits_cap(&l, 900), 700);
        /* The inverter gets time to follow before the cap is lowered again. */
        tick(&l, T0 + SEC(10), 0, 700, b, 2, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_NONE);
        rec.current_a = -22.0;
        tick(&l, T0 + SEC(31), 0, 700, b, 2, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_CURRENT_CAP);
        assert_int_equal(r.power_w, 600);
        /* Below the threshold but within the hysteresis: the cap stays. */
        rec.current_a = -18.0;
        tick(&l, T0 + SEC(70), 0, 600, b, 2, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_NONE);
        assert_int_equal(output_limits_cap(&l, 900), 600);
        rec.current_a = -15.0;
        tick(&l, T0 + SEC(71), 0, 600, b, 2, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_CURRENT_END);
        assert_int_equal(output_limits_cap(&l, 900), 900);
        /* Charging is not a discharge. */
        rec.current_a = 40.0;
        tick(&l, T0 + SEC(72), 0, 900, b, 2, &r);
        assert_int_equal(r.event, OUTPUT_LIMITS_NONE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_max_power),
                cmocka_unit_test(test_fallback),
                cmocka_unit_test(test_current_discharge),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
