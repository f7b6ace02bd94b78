/* SPDX-License-Identifier: MIT */
/* Netzero "direct": the pulse detector (netzero-pulse.h): edges of the meter reading paired into pulses,
 * and a percentile of the load estimates of the last two minutes. */

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "netzero-pulse.h"

void netzero_pulse_reset(struct netzero_pulse *p) {
        assert(p);
        memset(p, 0, sizeof(*p));
}

static void pulse_ended(struct netzero_pulse *p, uint64_t t_s) {
        memmove(p->ends_s + 1, p->ends_s, (NETZERO_PULSE_COUNT - 1) * sizeof(p->ends_s[0]));
        p->ends_s[0] = t_s;
        if (p->n_ends < NETZERO_PULSE_COUNT)
                p->n_ends++;
}

/* An edge the other way than the open one, no smaller than half of it and in time, closes a pulse;
 * any other edge opens a new one. */
static void pulse_edge(struct netzero_pulse *p, uint64_t t_s, int delta_w) {
        int sign = delta_w > 0 ? 1 : -1, size = abs(delta_w);

        if (p->edge_sign == -sign && t_s <= p->edge_s + NETZERO_PULSE_MAX_S && size * 2 >= p->edge_w) {
                pulse_ended(p, t_s);
                p->edge_sign = 0;
                return;
        }
        p->edge_sign = sign;
        p->edge_w = size;
        p->edge_s = t_s;
}

void netzero_pulse_add(struct netzero_pulse *p, uint64_t t_s, int reading_w, int known_w) {
        long long load = (long long) reading_w + known_w;

        assert(p);

        if (p->have_last) {
                long long delta = (long long) reading_w - p->last_reading_w;

                if (delta >= NETZERO_PULSE_EDGE_W || delta <= -NETZERO_PULSE_EDGE_W)
                        pulse_edge(p, t_s, delta > 0 ? (int) (delta < 1000000 ? delta : 1000000)
                                                     : (int) (delta > -1000000 ? delta : -1000000));
        }
        p->have_last = true;
        p->last_reading_w = reading_w;

        /* Drop what left the window, and the oldest when full. */
        while (p->n > 0 && (p->ring[p->head].t_s + NETZERO_PULSE_WINDOW_S <= t_s || p->n == NETZERO_PULSE_WINDOW_S)) {
                p->head = (p->head + 1) % NETZERO_PULSE_WINDOW_S;
                p->n--;
        }
        p->ring[(p->head + p->n) % NETZERO_PULSE_WINDOW_S] = (struct netzero_pulse_sample) {
                .t_s = t_s,
                .load_w = load > 1000000000 ? 1000000000 : load < -1000000000 ? -1000000000 : (int) load,
        };
        p->n++;
}

bool netzero_pulse_active(const struct netzero_pulse *p, uint64_t now_s) {
        assert(p);
        return p->n_ends == NETZERO_PULSE_COUNT && p->ends_s[NETZERO_PULSE_COUNT - 1] + NETZERO_PULSE_HOLD_S > now_s;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;

        return (x > y) - (x < y);
}

bool netzero_pulse_level(const struct netzero_pulse *p, uint64_t now_s, unsigned percentile, int *ret_w) {
        int v[NETZERO_PULSE_WINDOW_S];
        size_t k = 0;

        assert(p);
        assert(ret_w);
        assert(percentile <= 100);

        for (size_t i = 0; i < p->n; i++) {
                const struct netzero_pulse_sample *s = &p->ring[(p->head + i) % NETZERO_PULSE_WINDOW_S];

                if (s->t_s + NETZERO_PULSE_WINDOW_S > now_s)
                        v[k++] = s->load_w;
        }
        if (k == 0)
                return false;
        qsort(v, k, sizeof(v[0]), cmp_int);
        *ret_w = v[(k - 1) * percentile / 100];
        return true;
}
