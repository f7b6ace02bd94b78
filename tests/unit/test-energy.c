/* SPDX-License-Identifier: MIT */
/* Unit tests of energy.c: the quarter-hour report schedule in several time zones (with both DST nights
 * of Europe/Berlin), counter deltas with reset detection, and power integration while on. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "homebattery/energy.h"
#include "homebattery/time-util.h"

#define SEC(s) ((uint64_t) (s) * USEC_PER_SEC)
#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- energy_next_report_usec ---- */

struct report_case {
        const char *what;  /* local wall-clock time of the input → of the expected report */
        uint64_t in_s;     /* epoch seconds (computed with `TZ=<zone> date -d '<local time>' +%s`) */
        uint64_t in_usec;  /* plus these microseconds */
        uint64_t next_s;   /* epoch seconds of the expected report */
};

static void use_zone(const char *tz) {
        if (strcmp(tz, "UTC") != 0) {
                char path[256];

                snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
                if (access(path, R_OK) < 0) {
                        print_message("zoneinfo for %s is missing: skipped\n", tz);
                        skip();
                }
        }
        assert_int_equal(setenv("TZ", tz, 1), 0);
        tzset();
}

static void run_report_cases(const char *tz, const struct report_case *cases, size_t n) {
        size_t failed = 0;

        use_zone(tz);
        for (size_t i = 0; i < n; i++) {
                const struct report_case *c = &cases[i];
                uint64_t in = SEC(c->in_s) + c->in_usec;
                uint64_t got = energy_next_report_usec(in);

                /* The table itself: these zones are whole quarter hours off UTC, so every report is a
                 * multiple of 900 s, strictly after the input and at most 15 minutes later. */
                assert_int_equal(c->next_s % 900, 0);
                assert_true(SEC(c->next_s) > in && SEC(c->next_s) - in <= SEC(900));

                if (got != SEC(c->next_s)) {
                        print_error("%s %s: got %+.6f s from the expected report\n", tz, c->what,
                                    ((double) got - (double) SEC(c->next_s)) / 1e6);
                        failed++;
                }
        }
        if (failed > 0)
                fail_msg("%zu of %zu %s rows failed", failed, n, tz);
}

static void test_next_report_utc(void **state) {
        static const struct report_case cases[] = {
                { "2026-01-15 10:14:59 → 10:15:00", 1768472099, 0, 1768472100 },
                { "2026-01-15 10:14:59.999999 → 10:15:00", 1768472099, 999999, 1768472100 },
                { "2026-01-15 10:15:00 → 10:30:00 (strictly after)", 1768472100, 0, 1768473000 },
                { "2026-01-15 10:15:00.000001 → 10:30:00", 1768472100, 1, 1768473000 },
                { "2026-01-15 10:59:30 → 11:00:00", 1768474770, 0, 1768474800 },
                { "2026-01-15 23:50:00 → 2026-01-16 00:00:00", 1768521000, 0, 1768521600 },
                { "2026-12-31 23:59:59 → 2027-01-01 00:00:00", 1798761599, 0, 1798761600 },
        };

        (void) state;
        run_report_cases("UTC", cases, ELEMENTS(cases));
}

static void test_next_report_berlin(void **state) {
        static const struct report_case cases[] = {
                { "2026-01-15 10:14:59 CET → 10:15:00", 1768468499, 0, 1768468500 },
                { "2026-01-15 10:15:00 CET → 10:30:00", 1768468500, 0, 1768469400 },
                { "2026-01-15 10:59:30 CET → 11:00:00", 1768471170, 0, 1768471200 },
                { "2026-07-15 23:50:00 CEST → 2026-07-16 00:00:00", 1784152200, 0, 1784152800 },
                /* spring forward: 02:00 CET does not exist, the next quarter is 03:00 CEST */
                { "2026-03-29 01:50:00 CET → 03:00:00 CEST", 1774745400, 0, 1774746000 },
                { "2026-03-29 01:45:00 CET → 03:00:00 CEST", 1774745100, 0, 1774746000 },
                { "2026-03-29 03:00:00 CEST → 03:15:00 CEST", 1774746000, 0, 1774746900 },
                /* fall back: 02:00–03:00 happens twice, each of its quarters is a report */
                { "2026-10-25 01:50:00 CEST → 02:00:00 CEST", 1792885800, 0, 1792886400 },
                { "2026-10-25 02:14:59 CEST → 02:15:00 CEST", 1792887299, 0, 1792887300 },
                { "2026-10-25 02:44:00 CEST → 02:45:00 CEST", 1792889040, 0, 1792889100 },
                { "2026-10-25 02:50:00 CEST → 02:00:00 CET", 1792889400, 0, 1792890000 },
                { "2026-10-25 02:30:00 CET → 02:45:00 CET", 1792891800, 0, 1792892700 },
                { "2026-10-25 02:14:59 CET → 02:15:00 CET", 1792890899, 0, 1792890900 },
                { "2026-10-25 02:50:00 CET → 03:00:00 CET", 1792893000, 0, 1792893600 },
        };

        (void) state;
        run_report_cases("Europe/Berlin", cases, ELEMENTS(cases));
}

static void test_next_report_kathmandu(void **state) {
        /* +05:45: local quarter hours are not UTC's :00/:15/:30/:45 minus whole hours. */
        static const struct report_case cases[] = {
                { "2026-01-15 10:14:59 → 10:15:00", 1768451399, 0, 1768451400 },
                { "2026-01-15 10:15:00 → 10:30:00", 1768451400, 0, 1768452300 },
                { "2026-01-15 10:59:30 → 11:00:00", 1768454070, 0, 1768454100 },
                { "2026-01-15 23:50:00 → 2026-01-16 00:00:00", 1768500300, 0, 1768500900 },
        };

        (void) state;
        run_report_cases("Asia/Kathmandu", cases, ELEMENTS(cases));
}

static void test_next_report_new_york(void **state) {
        /* West of UTC: local time is behind, a schedule computed in UTC would come late. */
        static const struct report_case cases[] = {
                { "2026-01-15 10:14:59 EST → 10:15:00", 1768490099, 0, 1768490100 },
                { "2026-01-15 10:15:00 EST → 10:30:00", 1768490100, 0, 1768491000 },
                { "2026-01-15 10:59:30 EST → 11:00:00", 1768492770, 0, 1768492800 },
                { "2026-01-15 23:50:00 EST → 2026-01-16 00:00:00", 1768539000, 0, 1768539600 },
        };

        (void) state;
        run_report_cases("America/New_York", cases, ELEMENTS(cases));
}

/* ---- energy_counter_delta ---- */

static void test_counter_delta(void **state) {
        static const struct {
                bool has_last;
                double last, now, delta;
        } cases[] = {
                { false, 0, 123.5, 0 },    /* first reading: nothing to compare with */
                { false, 500, 400, 0 },
                { true, 100, 150, 50 },    /* growth */
                { true, 150, 150, 0 },
                { true, 0, 0, 0 },
                /* smaller: the counter restarted (a new day), count the new value */
                { true, 1234.5, 20, 20 },
                { true, 1234.5, 0, 0 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTS(cases); i++) {
                double got = energy_counter_delta(cases[i].has_last, cases[i].last, cases[i].now);
                if (got != cases[i].delta)
                        fail_msg("case %zu: delta %g, expected %g", i, got, cases[i].delta);
        }
}

/* ---- energy_integrate / energy_take ---- */

enum step_kind { INTEGRATE, TAKE };

struct integrator_step {
        enum step_kind kind;
        unsigned t_s;
        bool on;
        int power_w;
        double wh; /* TAKE: the expected result */
};

static void run_integrator(const char *name, const struct integrator_step *steps, size_t n) {
        struct energy_integrator e = { 0 };
        const uint64_t t0 = SEC(10000);

        for (size_t i = 0; i < n; i++) {
                const struct integrator_step *s = &steps[i];
                if (s->kind == INTEGRATE) {
                        energy_integrate(&e, t0 + SEC(s->t_s), s->on, s->power_w);
                        continue;
                }
                double got = energy_take(&e, t0 + SEC(s->t_s));
                if (got < s->wh - 1e-9 || got > s->wh + 1e-9)
                        fail_msg("%s, step %zu: %.6f Wh, expected %.6f Wh", name, i, got, s->wh);
        }
}

static void test_integrator(void **state) {
        static const struct {
                const char *name;
                struct integrator_step steps[6];
                size_t n;
        } cases[] = {
                { "nothing fed", { { TAKE, 0, false, 0, 0 }, { TAKE, 3600, false, 0, 0 } }, 2 },
                { "600 W for an hour",
                  { { INTEGRATE, 0, true, 600, 0 }, { TAKE, 3600, false, 0, 600 } },
                  2 },
                /* take resets, and the sum goes on from the take */
                { "take resets",
                  { { INTEGRATE, 0, true, 600, 0 }, { TAKE, 1800, false, 0, 300 },
                    { TAKE, 1800, false, 0, 0 }, { TAKE, 3600, false, 0, 300 } },
                  4 },
                { "off half of the time",
                  { { INTEGRATE, 0, true, 600, 0 }, { INTEGRATE, 1800, false, 600, 0 },
                    { TAKE, 3600, false, 0, 300 } },
                  3 },
                /* off periods add nothing even with a power set */
                { "off, then on",
                  { { INTEGRATE, 0, false, 500, 0 }, { INTEGRATE, 600, true, 500, 0 },
                    { TAKE, 1200, false, 0, 500.0 * 600 / 3600 } },
                  3 },
                /* 100 W for 36 s + 200 W for 36 s = 1 + 2 Wh */
                { "power change",
                  { { INTEGRATE, 0, true, 100, 0 }, { INTEGRATE, 36, true, 200, 0 },
                    { TAKE, 72, false, 0, 3 } },
                  3 },
                { "on at 0 W", { { INTEGRATE, 0, true, 0, 0 }, { TAKE, 3600, false, 0, 0 } }, 2 },
                { "off for an hour", { { INTEGRATE, 0, false, 800, 0 }, { TAKE, 3600, false, 0, 0 } }, 2 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTS(cases); i++)
                run_integrator(cases[i].name, cases[i].steps, cases[i].n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_next_report_utc),
                cmocka_unit_test(test_next_report_berlin),
                cmocka_unit_test(test_next_report_kathmandu),
                cmocka_unit_test(test_next_report_new_york),
                cmocka_unit_test(test_counter_delta),
                cmocka_unit_test(test_integrator),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
