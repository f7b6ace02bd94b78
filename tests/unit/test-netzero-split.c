/* SPDX-License-Identifier: MIT */
/* "direct" netzero on a class of two inverters that follow a request one
 * after the other (two Growatts on one RS485 bus, two DTUs): the class power
 * passes through a sum that is no LUT step of the request. netzero must not
 * learn it as one, or it holds a wrong power for good. */

#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "netzero.h"

#define S(sec) ((uint64_t) (sec) * UINT64_C(1000000))
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Two linear inverters with 1 % steps (a MIC 1500TL-X and a 1000-S). */
static const int max_w[2] = { 1500, 1000 };

struct pair {
        int acked_w[2];         /* what each one produces */
        int pending_w[2];       /* -1: nothing on its way */
        unsigned ack_t[2];
        unsigned ack_delay_s[2]; /* how long each takes to follow */
        unsigned commands;
};

/* One inverter's step at or below p: floor(100 p / max) % (1..100). */
static int inverter_step(int i, int p_w) {
        long pct = p_w <= 0 ? 0 : (long) p_w * 100 / max_w[i];

        pct = pct < 1 ? 1 : pct > 100 ? 100 : pct;
        return (int) (pct * max_w[i] / 100);
}

/* The class split of src/inverter.c: shared by the maximum powers, the last takes the rest. */
static int pair_request(struct pair *p, unsigned t, int p_w) {
        int a = inverter_step(0, (int) lround(max_w[0] * ((double) p_w / (max_w[0] + max_w[1]))));
        int b = inverter_step(1, p_w - a);
        int want[2] = { a, b };

        for (int i = 0; i < 2; i++)
                if (want[i] != (p->pending_w[i] >= 0 ? p->pending_w[i] : p->acked_w[i])) {
                        p->pending_w[i] = want[i];
                        p->ack_t[i] = t + p->ack_delay_s[i];
                }
        p->commands++;
        return a + b;
}

static int pair_output(const struct pair *p) {
        return p->acked_w[0] + p->acked_w[1];
}

static struct netzero *pair_start(struct pair *p, unsigned delay0_s, unsigned delay1_s) {
        struct netzero_config c = NETZERO_CONFIG_DEFAULTS;
        struct netzero *nz = NULL;

        /* The integration test's settings (tests/integration/test_growatt.py). */
        c.algorithm = NETZERO_ALGORITHM_DIRECT;
        c.signed_meter = true;
        c.maturity_time_span_s = 2;
        c.evaluated_time_span_s = 6;
        c.power_offset_w = 0;
        c.power_hysteresis_w = 10;
        c.power_change_upwards_w = 400;
        c.power_change_downwards_w = 400;
        assert_int_equal(netzero_new(&c, &nz), 0);
        *p = (struct pair) {
                .acked_w = { inverter_step(0, 0), inverter_step(1, 0) },
                .pending_w = { -1, -1 },
                .ack_delay_s = { delay0_s, delay1_s },
        };
        (void) netzero_inverter_status(nz, 0, DEVICE_STATUS_ON);
        (void) netzero_inverter_power(nz, 0, true, pair_output(p));
        return nz;
}

/* Runs from t0 to t1 with a house of load_w; the meter shows load - output once a second. */
static void pair_run(struct netzero *nz, struct pair *p, unsigned t0, unsigned t1, int load_w) {
        for (unsigned t = t0; t < t1; t++) {
                struct netzero_decision d;

                for (int i = 0; i < 2; i++)
                        if (p->pending_w[i] >= 0 && t >= p->ack_t[i]) {
                                p->acked_w[i] = p->pending_w[i];
                                p->pending_w[i] = -1;
                                (void) netzero_inverter_power(nz, S(t), true, pair_output(p));
                        }
                netzero_consumption(nz, S(t), load_w - pair_output(p), &d);
                if (d.set_power)
                        netzero_request_applied(nz, pair_request(p, t, d.power_w));
        }
}

static void test_two_inverters_follow_in_turn(void **state) {
        static const unsigned delays[][2] = { { 1, 1 }, { 1, 2 }, { 2, 1 }, { 1, 3 }, { 3, 1 }, { 2, 3 } };
        static const int loads[][2] = { { 900, 300 }, { 300, 900 }, { 1200, 150 }, { 150, 2000 }, { 640, 420 } };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(delays); i++)
                for (size_t k = 0; k < ELEMENTSOF(loads); k++) {
                        struct pair p;
                        struct netzero *nz = pair_start(&p, delays[i][0], delays[i][1]);

                        pair_run(nz, &p, 1, 120, loads[k][0]);
                        pair_run(nz, &p, 120, 240, loads[k][1]);
                        print_message("acks %u/%u s, %d -> %d W: %d W after 2 min, %u requests\n", delays[i][0],
                                      delays[i][1], loads[k][0], loads[k][1], pair_output(&p), p.commands);
                        /* Within 30 W (twice the larger step) of the new load, importing or exporting. */
                        assert_true(abs(pair_output(&p) - loads[k][1]) <= 30);
                        netzero_free(nz);
                }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_inverters_follow_in_turn),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
