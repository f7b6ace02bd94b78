/* SPDX-License-Identifier: MIT */
/* Unit tests of netzero "classic": the window (update/clear), every rule of
 * evaluate with its boundaries, and the controller rules that feed, clear and
 * act. Expectations are computed by hand from control.md. */

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netzero.h"

#define S(sec) ((uint64_t) (sec) * UINT64_C(1000000))
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* The configuration of the reference examples in control.md. */
static struct netzero_config reference_config(bool signed_meter) {
        struct netzero_config c = NETZERO_CONFIG_DEFAULTS;

        /* control.md's examples are of "classic" with its own step limits (direct is the default). */
        c.signed_meter = signed_meter;
        c.algorithm = NETZERO_ALGORITHM_CLASSIC;
        netzero_config_default_steps(&c, false, false);
        return c;
}

static struct netzero *new_netzero(const struct netzero_config *c) {
        struct netzero *nz = NULL;

        assert_int_equal(netzero_new(c, &nz), 0);
        assert_non_null(nz);
        return nz;
}

static struct netzero_evaluation evaluate_at(const struct netzero *nz, uint64_t now_usec) {
        struct netzero_evaluation e;

        netzero_evaluate(nz, now_usec, &e);
        return e;
}

/* ---- evaluate: every rule, the reference examples and the boundaries ---- */

struct sample_in {
        unsigned t_s;
        int w;
};

struct eval_case {
        const char *name;
        bool signed_meter;
        struct sample_in samples[6];
        size_t n_samples;
        unsigned now_s;
        int delta_w;
        int m_w;
        size_t n;
        uint64_t age_s;
        enum netzero_rule rule;
};

/* target 10, hyst 5 (band 5..15), up 100, down 50, maturity 15, span 30 */
static const struct eval_case eval_cases[] = {
        { "reference: 300 280 290 285 310 over 20 s", true,
          { { 0, 300 }, { 5, 280 }, { 10, 290 }, { 15, 285 }, { 20, 310 } }, 5, 20,
          100, 285, 5, 20, NETZERO_RULE_INCREASE },
        { "reference: 3 -40 2 signed", true, { { 0, 3 }, { 1, -40 }, { 2, 2 } }, 3, 2,
          -8, 2, 3, 2, NETZERO_RULE_REDUCE },

        /* 1: n < 2, before every other rule */
        { "empty window", true, { { 0, 0 } }, 0, 5, 0, 0, 0, 0, NETZERO_RULE_TOO_FEW_SAMPLES },
        { "one sample 0, unsigned: rule 1 before 2", false, { { 0, 0 } }, 1, 0,
          0, 0, 1, 0, NETZERO_RULE_TOO_FEW_SAMPLES },
        { "one sample far below target", true, { { 0, -1000 } }, 1, 3,
          0, -1000, 1, 3, NETZERO_RULE_TOO_FEW_SAMPLES },
        { "two samples are enough to reduce", true, { { 0, -20 }, { 1, -30 } }, 2, 1,
          -30, -20, 2, 1, NETZERO_RULE_REDUCE },

        /* 2: unsigned meter showing 0 */
        { "unsigned, m == 0", false, { { 0, 0 }, { 1, 0 }, { 2, 500 } }, 3, 2,
          -50, 0, 3, 2, NETZERO_RULE_UNSIGNED_FEED_IN },
        { "signed, m == 0: plain reduce", true, { { 0, 0 }, { 1, 0 }, { 2, 500 } }, 3, 2,
          -10, 0, 3, 2, NETZERO_RULE_REDUCE },
        { "unsigned, m == 1: plain reduce", false, { { 0, 1 }, { 1, 1 }, { 2, 500 } }, 3, 2,
          -9, 1, 3, 2, NETZERO_RULE_REDUCE },
        { "unsigned, a single 0 is an outlier", false,
          { { 0, 300 }, { 5, 0 }, { 10, 300 }, { 15, 300 }, { 20, 300 } }, 5, 20,
          100, 300, 5, 20, NETZERO_RULE_INCREASE },

        /* 3: reduce, not delayed by n < 5 or maturity; clamped at -down */
        { "reduce clamped at -down", true, { { 0, -500 }, { 1, -400 }, { 2, -300 } }, 3, 2,
          -50, -400, 3, 2, NETZERO_RULE_REDUCE },
        { "m == target - hyst - 1", true, { { 0, 4 }, { 5, 4 }, { 10, 4 }, { 15, 4 }, { 20, 4 } }, 5, 20,
          -6, 4, 5, 20, NETZERO_RULE_REDUCE },
        { "m == target - hyst", true, { { 0, 5 }, { 5, 5 }, { 10, 5 }, { 15, 5 }, { 20, 5 } }, 5, 20,
          0, 5, 5, 20, NETZERO_RULE_IN_BAND },

        /* 4: wait */
        { "n == 4", true, { { 0, 300 }, { 5, 300 }, { 10, 300 }, { 20, 300 } }, 4, 20,
          0, 300, 4, 20, NETZERO_RULE_WAIT },
        { "n == 5", true, { { 0, 300 }, { 5, 300 }, { 10, 300 }, { 15, 300 }, { 20, 300 } }, 5, 20,
          100, 300, 5, 20, NETZERO_RULE_INCREASE },
        { "age == maturity - 1", true,
          { { 0, 300 }, { 1, 300 }, { 2, 300 }, { 3, 300 }, { 14, 300 } }, 5, 14,
          0, 300, 5, 14, NETZERO_RULE_WAIT },
        { "age == maturity", true,
          { { 0, 300 }, { 1, 300 }, { 2, 300 }, { 3, 300 }, { 15, 300 } }, 5, 15,
          100, 300, 5, 15, NETZERO_RULE_INCREASE },
        { "age counts to now, not to the newest sample", true,
          { { 0, 300 }, { 1, 300 }, { 2, 300 }, { 3, 300 }, { 4, 300 } }, 5, 15,
          100, 300, 5, 15, NETZERO_RULE_INCREASE },
        { "in band but immature: wait", true, { { 0, 10 }, { 1, 10 } }, 2, 1,
          0, 10, 2, 1, NETZERO_RULE_WAIT },

        /* 5: increase, clamped at up */
        { "m == target + hyst", true, { { 0, 15 }, { 5, 15 }, { 10, 15 }, { 15, 15 }, { 20, 15 } }, 5, 20,
          0, 15, 5, 20, NETZERO_RULE_IN_BAND },
        { "m == target + hyst + 1", true,
          { { 0, 16 }, { 5, 16 }, { 10, 16 }, { 15, 16 }, { 20, 16 } }, 5, 20,
          6, 16, 5, 20, NETZERO_RULE_INCREASE },
        { "increase below the step limit", true,
          { { 0, 40 }, { 5, 40 }, { 10, 40 }, { 15, 40 }, { 20, 40 } }, 5, 20,
          30, 40, 5, 20, NETZERO_RULE_INCREASE },

        /* 6: in band */
        { "m == target", true, { { 0, 10 }, { 5, 10 }, { 10, 10 }, { 15, 10 }, { 20, 10 } }, 5, 20,
          0, 10, 5, 20, NETZERO_RULE_IN_BAND },

        /* m is the second smallest: not the smallest, not the median, not the newest */
        { "one low outlier ignored", true,
          { { 0, 1000 }, { 5, -500 }, { 10, 1000 }, { 15, 1000 }, { 20, 1000 } }, 5, 20,
          100, 1000, 5, 20, NETZERO_RULE_INCREASE },
        { "two low readings are not an outlier", true,
          { { 0, 1000 }, { 5, -500 }, { 10, -500 }, { 15, 1000 }, { 20, 1000 } }, 5, 20,
          -50, -500, 5, 20, NETZERO_RULE_REDUCE },
        { "second smallest of unsorted values", true,
          { { 0, 100 }, { 5, 50 }, { 10, 20 }, { 15, 30 }, { 20, 200 } }, 5, 20,
          20, 30, 5, 20, NETZERO_RULE_INCREASE },
        { "second smallest when the smallest comes last", true,
          { { 0, 70 }, { 5, 60 }, { 10, 90 }, { 15, 80 }, { 20, 25 } }, 5, 20,
          50, 60, 5, 20, NETZERO_RULE_INCREASE },
};

static void test_evaluate_table(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(eval_cases); i++) {
                const struct eval_case *c = &eval_cases[i];
                struct netzero_config config = reference_config(c->signed_meter);
                struct netzero *nz = new_netzero(&config);
                struct netzero_evaluation e;

                print_message("case: %s\n", c->name);
                for (size_t j = 0; j < c->n_samples; j++)
                        assert_true(netzero_update(nz, S(c->samples[j].t_s), c->samples[j].w));
                e = evaluate_at(nz, S(c->now_s));
                assert_int_equal(e.delta_w, c->delta_w);
                assert_int_equal(e.m_w, c->m_w);
                assert_int_equal(e.n, c->n);
                assert_int_equal(e.age_s, c->age_s);
                assert_int_equal(e.rule, c->rule);
                netzero_free(nz);
        }
}

struct step_case {
        int up_w, down_w;
        bool signed_meter;
        int w;
        int delta_w;
        enum netzero_rule rule;
};

static void test_step_limits(void **state) {
        static const struct step_case cases[] = {
                { 30, 20, true, 1000, 30, NETZERO_RULE_INCREASE },
                { 30, 20, true, 39, 29, NETZERO_RULE_INCREASE },
                { 30, 20, true, 40, 30, NETZERO_RULE_INCREASE },
                { 30, 20, true, -1000, -20, NETZERO_RULE_REDUCE },
                { 30, 20, true, -9, -19, NETZERO_RULE_REDUCE },
                { 30, 20, true, -10, -20, NETZERO_RULE_REDUCE },
                { 30, 20, false, 0, -20, NETZERO_RULE_UNSIGNED_FEED_IN },
                { 0, 20, true, 1000, 0, NETZERO_RULE_INCREASE },
                { 30, 0, true, -1000, 0, NETZERO_RULE_REDUCE },
                { 30, 0, false, 0, 0, NETZERO_RULE_UNSIGNED_FEED_IN },
                /* extreme consumption must not overflow m - target */
                { 30, 20, true, INT_MAX, 30, NETZERO_RULE_INCREASE },
                { 30, 20, true, INT_MIN, -20, NETZERO_RULE_REDUCE },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct netzero_config config = reference_config(cases[i].signed_meter);
                struct netzero *nz;
                struct netzero_evaluation e;

                config.power_change_upwards_w = cases[i].up_w;
                config.power_change_downwards_w = cases[i].down_w;
                nz = new_netzero(&config);
                for (unsigned t = 0; t <= 20; t += 5)
                        assert_true(netzero_update(nz, S(t), cases[i].w));
                e = evaluate_at(nz, S(20));
                print_message("case %zu: up %d down %d w %d\n", i, cases[i].up_w, cases[i].down_w,
                              cases[i].w);
                assert_int_equal(e.m_w, cases[i].w);
                assert_int_equal(e.delta_w, cases[i].delta_w);
                assert_int_equal(e.rule, cases[i].rule);
                netzero_free(nz);
        }
}

static void test_offset_negative(void **state) {
        /* A negative target aims at exporting: m == 0 on a signed meter is then above the band. */
        struct netzero_config config = reference_config(true);
        struct netzero *nz;
        struct netzero_evaluation e;
        (void) state;

        config.power_offset_w = -100;
        nz = new_netzero(&config);
        for (unsigned t = 0; t <= 20; t += 5)
                assert_true(netzero_update(nz, S(t), 0));
        e = evaluate_at(nz, S(20));
        assert_int_equal(e.rule, NETZERO_RULE_INCREASE);
        assert_int_equal(e.delta_w, 100);
        netzero_free(nz);
}

/* ---- the window ---- */

static void test_eviction_at_span(void **state) {
        struct netzero_config config = reference_config(true); /* span 30 */
        struct netzero *nz = new_netzero(&config);
        struct netzero_evaluation e;
        (void) state;

        assert_true(netzero_update(nz, S(0), -1000));
        assert_true(netzero_update(nz, S(1), 100));
        assert_true(netzero_update(nz, S(29), 200));
        e = evaluate_at(nz, S(29));
        assert_int_equal(e.n, 3); /* 0 + 30 > 29: kept */
        assert_int_equal(e.m_w, 100);
        assert_int_equal(e.age_s, 29);

        /* t = 30: 0 + 30 <= 30 goes, 1 + 30 == 31 == t + 1 stays */
        assert_true(netzero_update(nz, S(30), 300));
        e = evaluate_at(nz, S(30));
        assert_int_equal(e.n, 3);
        assert_int_equal(e.m_w, 200);
        assert_int_equal(e.age_s, 29);

        assert_true(netzero_update(nz, S(31), 400));
        e = evaluate_at(nz, S(31));
        assert_int_equal(e.n, 3);
        assert_int_equal(e.m_w, 300);
        assert_int_equal(e.age_s, 2);

        /* a long gap empties everything but the new sample */
        assert_true(netzero_update(nz, S(100), 5));
        e = evaluate_at(nz, S(100));
        assert_int_equal(e.n, 1);
        assert_int_equal(e.m_w, 5);
        assert_int_equal(e.age_s, 0);
        netzero_free(nz);
}

struct span_case {
        unsigned configured_s;
        size_t n_at_119, n_at_120, n_at_121;
};

static void test_span_capped(void **state) {
        /* samples at 0, 1, 119, 120, 121 */
        static const struct span_case cases[] = {
                { 500, 3, 3, 3 },         /* capped at 120: 0 goes at 120, 1 at 121 */
                { 121, 3, 3, 3 },
                { 120, 3, 3, 3 },
                { 119, 2, 2, 3 },         /* 0 goes at 119, 1 at 120 */
                { 2, 1, 2, 2 },
                { 1, 1, 1, 1 },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct netzero_config config = reference_config(true);
                struct netzero *nz;

                print_message("configured span %u\n", cases[i].configured_s);
                config.evaluated_time_span_s = cases[i].configured_s;
                nz = new_netzero(&config);
                assert_true(netzero_update(nz, S(0), 1));
                assert_true(netzero_update(nz, S(1), 2));
                assert_true(netzero_update(nz, S(119), 3));
                assert_int_equal(evaluate_at(nz, S(119)).n, cases[i].n_at_119);
                assert_true(netzero_update(nz, S(120), 4));
                assert_int_equal(evaluate_at(nz, S(120)).n, cases[i].n_at_120);
                assert_true(netzero_update(nz, S(121), 5));
                assert_int_equal(evaluate_at(nz, S(121)).n, cases[i].n_at_121);
                netzero_free(nz);
        }
}

static void test_window_full(void **state) {
        /* One sample per second for 5 minutes: the window holds at most 120 and stays in order. */
        struct netzero_config config = reference_config(true);
        struct netzero *nz;
        struct netzero_evaluation e;
        (void) state;

        config.evaluated_time_span_s = 1000;
        nz = new_netzero(&config);
        for (unsigned t = 0; t < 300; t++) {
                assert_true(netzero_update(nz, S(t), (int) t));
                e = evaluate_at(nz, S(t));
                assert_int_equal(e.n, t < 120 ? t + 1 : 120);
                assert_int_equal(e.age_s, t < 120 ? t : 119);
        }
        /* oldest 180, so the second smallest is 181 */
        assert_int_equal(e.m_w, 181);
        netzero_free(nz);
}

static void test_one_sample_per_second(void **state) {
        struct netzero_config config = reference_config(true);
        struct netzero *nz = new_netzero(&config);
        struct netzero_evaluation e;
        (void) state;

        /* whole seconds, floored */
        assert_true(netzero_update(nz, S(5), 100));
        assert_false(netzero_update(nz, S(6) - 1, -100));
        assert_true(netzero_update(nz, S(6), 200));
        e = evaluate_at(nz, S(6));
        assert_int_equal(e.n, 2);
        assert_int_equal(e.m_w, 200); /* -100 was dropped, 100 was kept */

        /* t < last: dropped, and last does not go back */
        assert_false(netzero_update(nz, S(4), -500));
        assert_false(netzero_update(nz, S(5), -500));
        assert_false(netzero_update(nz, S(6), -500));
        e = evaluate_at(nz, S(6));
        assert_int_equal(e.n, 2);
        assert_int_equal(e.m_w, 200);
        netzero_free(nz);
}

static void test_update_after_clear(void **state) {
        struct netzero_config config = reference_config(true);
        struct netzero *nz = new_netzero(&config);
        struct netzero_evaluation e;
        (void) state;

        /* a new window takes its first sample at t = 0 */
        assert_true(netzero_update(nz, 0, 100));
        assert_true(netzero_update(nz, S(11), 100));
        netzero_clear(nz, S(11) + 500000);
        e = evaluate_at(nz, S(11));
        assert_int_equal(e.n, 0);
        assert_int_equal(e.age_s, 0);

        /* t == last but the window is empty: accepted; the next one in that second is not */
        assert_true(netzero_update(nz, S(11) + 200000, 300));
        assert_false(netzero_update(nz, S(11) + 900000, 400));
        e = evaluate_at(nz, S(11));
        assert_int_equal(e.n, 1);
        assert_int_equal(e.m_w, 300);

        /* a clear moves last forward: older samples are dropped even into an empty window */
        netzero_clear(nz, S(20));
        assert_false(netzero_update(nz, S(19), 1));
        assert_int_equal(evaluate_at(nz, S(20)).n, 0);
        assert_true(netzero_update(nz, S(21), 1));
        assert_int_equal(evaluate_at(nz, S(21)).n, 1);
        netzero_free(nz);
}

/* ---- configuration and strings ---- */

static void test_new_invalid(void **state) {
        struct netzero_config c;
        struct netzero *nz = NULL;
        (void) state;

        c = reference_config(true);
        assert_int_equal(netzero_new(&c, &nz), 0);
        nz = netzero_free(nz);
        assert_null(nz);
        assert_null(netzero_free(NULL));

        c = reference_config(true);
        c.algorithm = _NETZERO_ALGORITHM_MAX;
        assert_int_equal(netzero_new(&c, &nz), -EINVAL);
        c.algorithm = _NETZERO_ALGORITHM_INVALID;
        assert_int_equal(netzero_new(&c, &nz), -EINVAL);

        c = reference_config(true);
        c.evaluated_time_span_s = 0;
        assert_int_equal(netzero_new(&c, &nz), -EINVAL);

        c = reference_config(true);
        c.power_hysteresis_w = -1;
        assert_int_equal(netzero_new(&c, &nz), -EINVAL);

        c = reference_config(true);
        c.power_change_upwards_w = -1;
        assert_int_equal(netzero_new(&c, &nz), -EINVAL);

        c = reference_config(true);
        c.power_change_downwards_w = -1;
        assert_int_equal(netzero_new(&c, &nz), -EINVAL);
        assert_null(nz);

        c = reference_config(false);
        c.evaluated_time_span_s = 200;
        assert_int_equal(netzero_new(&c, &nz), 0);
        assert_int_equal(netzero_get_config(nz)->evaluated_time_span_s, 200);
        assert_false(netzero_get_config(nz)->signed_meter);
        netzero_free(nz);
}

static void test_strings(void **state) {
        (void) state;

        assert_string_equal(netzero_algorithm_to_string(NETZERO_ALGORITHM_CLASSIC), "classic");
        assert_null(netzero_algorithm_to_string(_NETZERO_ALGORITHM_MAX));
        assert_null(netzero_algorithm_to_string(_NETZERO_ALGORITHM_INVALID));
        assert_int_equal(netzero_algorithm_from_string("classic"), NETZERO_ALGORITHM_CLASSIC);
        assert_int_equal(netzero_algorithm_from_string("Classic"), _NETZERO_ALGORITHM_INVALID);
        assert_int_equal(netzero_algorithm_from_string("classic "), _NETZERO_ALGORITHM_INVALID);
        assert_int_equal(netzero_algorithm_from_string(""), _NETZERO_ALGORITHM_INVALID);
        assert_int_equal(netzero_algorithm_from_string(NULL), _NETZERO_ALGORITHM_INVALID);

        assert_string_equal(netzero_rule_to_string(NETZERO_RULE_TOO_FEW_SAMPLES), "too_few_samples");
        assert_string_equal(netzero_rule_to_string(NETZERO_RULE_UNSIGNED_FEED_IN), "unsigned_feed_in");
        assert_string_equal(netzero_rule_to_string(NETZERO_RULE_REDUCE), "reduce");
        assert_string_equal(netzero_rule_to_string(NETZERO_RULE_WAIT), "wait");
        assert_string_equal(netzero_rule_to_string(NETZERO_RULE_INCREASE), "increase");
        assert_string_equal(netzero_rule_to_string(NETZERO_RULE_IN_BAND), "in_band");
        assert_null(netzero_rule_to_string(_NETZERO_RULE_MAX));
        assert_null(netzero_rule_to_string(_NETZERO_RULE_INVALID));
}

static void test_format(void **state) {
        struct netzero_config c = reference_config(true);
        struct netzero_evaluation inc = {
                .delta_w = 100, .m_w = 285, .n = 5, .age_s = 20, .rule = NETZERO_RULE_INCREASE,
        };
        struct netzero_evaluation red = {
                .delta_w = -8, .m_w = 2, .n = 3, .age_s = 2, .rule = NETZERO_RULE_REDUCE,
        };
        struct netzero_evaluation none = {
                .delta_w = 0, .m_w = 0, .n = 0, .age_s = 0, .rule = NETZERO_RULE_TOO_FEW_SAMPLES,
        };
        const char *expected = "delta=+100 W m=285 W samples=5/5 age=20/15 s (increase)";
        char buf[128];
        (void) state;

        assert_int_equal(netzero_evaluation_format(&inc, &c, buf, sizeof(buf)), strlen(expected));
        assert_string_equal(buf, expected);
        assert_true(netzero_evaluation_format(&red, &c, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "delta=-8 W m=2 W samples=3/5 age=2/15 s (reduce)");
        assert_true(netzero_evaluation_format(&none, &c, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "delta=+0 W m=0 W samples=0/5 age=0/15 s (too_few_samples)");

        assert_int_equal(netzero_evaluation_format(&inc, &c, buf, strlen(expected) + 1), strlen(expected));
        assert_int_equal(netzero_evaluation_format(&inc, &c, buf, strlen(expected)), -ENOBUFS);
        assert_int_equal(netzero_evaluation_format(&inc, &c, buf, 1), -ENOBUFS);
        assert_string_equal(buf, "");
        assert_int_equal(netzero_evaluation_format(&inc, &c, NULL, 0), -ENOBUFS);
}

/* ---- controller: feeding, clear and act ---- */

struct feed_step {
        unsigned t_s;
        int w;
        bool set_power;
        int power_w;
        int delta_w;
        enum netzero_rule rule;
};

static void run_feed(struct netzero *nz, const struct feed_step *steps, size_t n) {
        for (size_t i = 0; i < n; i++) {
                struct netzero_decision d;

                netzero_consumption(nz, S(steps[i].t_s), steps[i].w, &d);
                print_message("step %zu: t=%u w=%d\n", i, steps[i].t_s, steps[i].w);
                assert_true(d.fed);
                assert_true(d.accepted);
                assert_true(d.evaluated);
                assert_int_equal(d.evaluation.n, i + 1);
                assert_int_equal(d.evaluation.delta_w, steps[i].delta_w);
                assert_int_equal(d.evaluation.rule, steps[i].rule);
                assert_int_equal(d.set_power, steps[i].set_power);
                if (steps[i].set_power)
                        assert_int_equal(d.power_w, steps[i].power_w);
        }
}

static void test_act_reference_increase(void **state) {
        static const struct feed_step steps[] = {
                { 0, 300, false, 0, 0, NETZERO_RULE_TOO_FEW_SAMPLES },
                { 5, 280, false, 0, 0, NETZERO_RULE_WAIT },
                { 10, 290, false, 0, 0, NETZERO_RULE_WAIT },
                { 15, 285, false, 0, 0, NETZERO_RULE_WAIT },
                { 20, 310, true, 500, 100, NETZERO_RULE_INCREASE },
        };
        struct netzero_config c = reference_config(true);
        struct netzero *nz = new_netzero(&c);
        (void) state;

        assert_false(netzero_inverter_status(nz, 0, DEVICE_STATUS_ON));
        assert_true(netzero_inverter_power(nz, 0, true, 400));
        run_feed(nz, steps, ELEMENTSOF(steps));
        netzero_free(nz);
}

static void test_act_reference_reduce(void **state) {
        static const struct feed_step steps[] = {
                { 0, 3, false, 0, 0, NETZERO_RULE_TOO_FEW_SAMPLES },
                { 1, -40, true, 393, -7, NETZERO_RULE_REDUCE },
                { 2, 2, true, 392, -8, NETZERO_RULE_REDUCE },
        };
        struct netzero_config c = reference_config(true);
        struct netzero *nz = new_netzero(&c);
        (void) state;

        netzero_inverter_status(nz, 0, DEVICE_STATUS_ON);
        netzero_inverter_power(nz, 0, true, 400);
        run_feed(nz, steps, ELEMENTSOF(steps));
        netzero_free(nz);
}

static void test_act_clamped_to_int(void **state) {
        static const struct feed_step steps[] = {
                { 0, 1000, false, 0, 0, NETZERO_RULE_TOO_FEW_SAMPLES },
                { 5, 1000, false, 0, 0, NETZERO_RULE_WAIT },
                { 10, 1000, false, 0, 0, NETZERO_RULE_WAIT },
                { 15, 1000, false, 0, 0, NETZERO_RULE_WAIT },
                { 20, 1000, true, INT_MAX, 100, NETZERO_RULE_INCREASE },
        };
        struct netzero_config c = reference_config(true);
        struct netzero *nz = new_netzero(&c);
        (void) state;

        netzero_inverter_status(nz, 0, DEVICE_STATUS_ON);
        netzero_inverter_power(nz, 0, true, INT_MAX - 10);
        run_feed(nz, steps, ELEMENTSOF(steps));
        netzero_free(nz);
}

static void test_no_act_when_unknown(void **state) {
        struct netzero_config c = reference_config(true);
        struct netzero *nz = new_netzero(&c);
        struct netzero_decision d;
        (void) state;

        /* never known */
        netzero_inverter_status(nz, 0, DEVICE_STATUS_ON);
        netzero_consumption(nz, S(0), 3, &d);
        netzero_consumption(nz, S(1), -40, &d);
        netzero_consumption(nz, S(2), 2, &d);
        assert_true(d.evaluated);
        assert_int_equal(d.evaluation.delta_w, -8);
        assert_false(d.set_power);

        /* known, then unknown again */
        assert_true(netzero_inverter_power(nz, S(3), true, 400));
        netzero_consumption(nz, S(3), 3, &d);
        netzero_consumption(nz, S(4), -40, &d);
        assert_true(d.set_power);
        assert_int_equal(d.power_w, 393);
        assert_false(netzero_inverter_power(nz, S(4), false, 0));
        netzero_consumption(nz, S(5), 2, &d);
        assert_int_equal(d.evaluation.delta_w, -8);
        assert_false(d.set_power);
        netzero_free(nz);
}

static void test_no_act_in_band(void **state) {
        struct netzero_config c = reference_config(true);
        struct netzero *nz = new_netzero(&c);
        struct netzero_decision d;
        (void) state;

        netzero_inverter_status(nz, 0, DEVICE_STATUS_ON);
        netzero_inverter_power(nz, 0, true, 400);
        for (unsigned t = 0; t <= 20; t += 5) {
                netzero_consumption(nz, S(t), 12, &d);
                assert_true(d.evaluated);
                assert_int_equal(d.evaluation.delta_w, 0);
                assert_false(d.set_power);
        }
        assert_int_equal(d.evaluation.rule, NETZERO_RULE_IN_BAND);
        netzero_free(nz);
}

static void test_no_feeding_while_not_on(void **state) {
        static const enum device_status statuses[] = {
                DEVICE_STATUS_OFF, DEVICE_STATUS_SYNCING, DEVICE_STATUS_FAULT,
        };
        (void) state;

        /* also before any status report */
        for (size_t i = 0; i <= ELEMENTSOF(statuses); i++) {
                struct netzero_config c = reference_config(true);
                struct netzero *nz = new_netzero(&c);
                struct netzero_decision d;

                netzero_inverter_power(nz, 0, true, 400);
                if (i < ELEMENTSOF(statuses))
                        assert_false(netzero_inverter_status(nz, 0, statuses[i]));
                for (unsigned t = 0; t <= 20; t += 5) {
                        netzero_consumption(nz, S(t), -1000, &d);
                        assert_false(d.fed);
                        assert_false(d.accepted);
                        assert_false(d.evaluated);
                        assert_false(d.set_power);
                }
                assert_int_equal(evaluate_at(nz, S(20)).n, 0);

                /* once on, it feeds */
                assert_false(netzero_inverter_status(nz, S(21), DEVICE_STATUS_ON));
                netzero_consumption(nz, S(21), -1000, &d);
                assert_true(d.fed);
                assert_true(d.evaluated);
                assert_int_equal(d.evaluation.n, 1);
                netzero_free(nz);
        }
}

static void test_clear_on_status_leaving_on(void **state) {
        static const enum device_status statuses[] = {
                DEVICE_STATUS_OFF, DEVICE_STATUS_SYNCING, DEVICE_STATUS_FAULT,
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(statuses); i++) {
                struct netzero_config c = reference_config(true);
                struct netzero *nz = new_netzero(&c);
                struct netzero_decision d;

                netzero_inverter_status(nz, 0, DEVICE_STATUS_ON);
                for (unsigned t = 0; t < 3; t++)
                        netzero_consumption(nz, S(t), 100, &d);
                assert_int_equal(d.evaluation.n, 3);

                /* on -> on keeps the window */
                assert_false(netzero_inverter_status(nz, S(3), DEVICE_STATUS_ON));
                assert_int_equal(evaluate_at(nz, S(3)).n, 3);

                assert_true(netzero_inverter_status(nz, S(3), statuses[i]));
                assert_int_equal(evaluate_at(nz, S(3)).n, 0);

                /* not on -> another not on: nothing to clear */
                assert_false(netzero_inverter_status(nz, S(4), statuses[(i + 1) % ELEMENTSOF(statuses)]));

                /* back on: a new window, and last moved to the clear */
                assert_false(netzero_inverter_status(nz, S(5), DEVICE_STATUS_ON));
                netzero_consumption(nz, S(5), 100, &d);
                assert_true(d.accepted);
                assert_int_equal(d.evaluation.n, 1);
                assert_int_equal(d.evaluation.age_s, 0);
                netzero_free(nz);
        }
}

static void test_clear_on_power_change(void **state) {
        struct netzero_config c = reference_config(true);
        struct netzero *nz = new_netzero(&c);
        struct netzero_decision d;
        (void) state;

        netzero_inverter_status(nz, 0, DEVICE_STATUS_ON);
        /* the first known power starts the window */
        assert_true(netzero_inverter_power(nz, 0, true, 400));
        for (unsigned t = 0; t < 4; t++)
                netzero_consumption(nz, S(t), 100, &d);
        assert_int_equal(d.evaluation.n, 4);

        /* unchanged reports keep it, also across an unknown spell */
        assert_false(netzero_inverter_power(nz, S(4), true, 400));
        assert_false(netzero_inverter_power(nz, S(4), false, 0));
        assert_false(netzero_inverter_power(nz, S(4), true, 400));
        assert_int_equal(evaluate_at(nz, S(4)).n, 4);

        /* a changed power clears; a sample in the second of the clear is the first of the new window */
        assert_true(netzero_inverter_power(nz, S(5), true, 500));
        assert_int_equal(evaluate_at(nz, S(5)).n, 0);
        netzero_consumption(nz, S(5), 100, &d);
        assert_true(d.accepted);
        assert_int_equal(d.evaluation.n, 1);
        netzero_consumption(nz, S(5) + 1, 100, &d);
        assert_true(d.fed);
        assert_false(d.accepted);
        assert_true(d.evaluated);
        assert_int_equal(d.evaluation.n, 1);

        /* a change via unknown clears too, at the moment it is known again */
        assert_false(netzero_inverter_power(nz, S(6), false, 0));
        assert_true(netzero_inverter_power(nz, S(7), true, 450));
        assert_int_equal(evaluate_at(nz, S(7)).n, 0);

        /* act uses the latest known power */
        for (unsigned t = 7; t <= 27; t += 5)
                netzero_consumption(nz, S(t), 300, &d);
        assert_true(d.set_power);
        assert_int_equal(d.power_w, 550);
        netzero_free(nz);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_evaluate_table),
                cmocka_unit_test(test_step_limits),
                cmocka_unit_test(test_offset_negative),
                cmocka_unit_test(test_eviction_at_span),
                cmocka_unit_test(test_span_capped),
                cmocka_unit_test(test_window_full),
                cmocka_unit_test(test_one_sample_per_second),
                cmocka_unit_test(test_update_after_clear),
                cmocka_unit_test(test_new_invalid),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_act_reference_increase),
                cmocka_unit_test(test_act_reference_reduce),
                cmocka_unit_test(test_act_clamped_to_int),
                cmocka_unit_test(test_no_act_when_unknown),
                cmocka_unit_test(test_no_act_in_band),
                cmocka_unit_test(test_no_feeding_while_not_on),
                cmocka_unit_test(test_clear_on_status_leaving_on),
                cmocka_unit_test(test_clear_on_power_change),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
