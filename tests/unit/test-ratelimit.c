/* SPDX-License-Identifier: MIT */
/* ratelimit_check(): the limiter behind every warning about outside input
 * (log_input_warning): a burst a minute, then the count of what was held back
 * with the next line let through. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "homebattery/log.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))

static void test_burst_then_suppressed_count(void **state) {
        struct ratelimit rl = INPUT_WARN_RATELIMIT;
        unsigned n = 99;

        (void) state;
        for (unsigned i = 0; i < INPUT_WARN_BURST; i++) {
                assert_true(ratelimit_check(&rl, SEC(100) + i, &n));
                assert_int_equal(n, 0);
        }
        /* 20 more within the minute: all held back. */
        for (unsigned i = 0; i < 20; i++)
                assert_false(ratelimit_check(&rl, SEC(101) + i, &n));
        /* A minute after the first: let through, with the 20 held back. */
        assert_true(ratelimit_check(&rl, SEC(160), &n));
        assert_int_equal(n, 20);
        /* The count is told once. */
        assert_true(ratelimit_check(&rl, SEC(161), &n));
        assert_int_equal(n, 0);
}

static void test_nothing_held_back(void **state) {
        struct ratelimit rl = INPUT_WARN_RATELIMIT;
        unsigned n = 99;

        (void) state;
        /* One line a minute is never limited and never reports a count. */
        for (unsigned i = 0; i < 10; i++) {
                assert_true(ratelimit_check(&rl, SEC(61) * i, &n));
                assert_int_equal(n, 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_burst_then_suppressed_count),
                cmocka_unit_test(test_nothing_held_back),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
