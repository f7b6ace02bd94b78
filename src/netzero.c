/* SPDX-License-Identifier: MIT */
/* Netzero, algorithm "classic" (control.md): a window of one consumption sample
 * per second, evaluated after every new total into a power step for the
 * inverter class. Also the controller rules that feed, clear and act. */

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netzero.h"

#define USEC_PER_SEC UINT64_C(1000000)

/* One more than the span: update appends before it evicts. */
#define WINDOW_CAPACITY (NETZERO_TIME_SPAN_MAX_S + 1u)

struct sample {
        uint64_t t_s;
        int consumption_w;
};

struct netzero {
        struct netzero_config config;
        unsigned span_s;

        /* Ring of samples, oldest at head, times strictly increasing. */
        struct sample window[WINDOW_CAPACITY];
        size_t head;
        size_t n;
        uint64_t last_s;

        enum device_status inverter_status;
        bool power_known;
        bool have_known_power; /* power_w holds the last known class power */
        int power_w;
};

static const char *const algorithm_table[_NETZERO_ALGORITHM_MAX] = {
        [NETZERO_ALGORITHM_CLASSIC] = "classic",
};

static const char *const rule_table[_NETZERO_RULE_MAX] = {
        [NETZERO_RULE_TOO_FEW_SAMPLES] = "too_few_samples",
        [NETZERO_RULE_UNSIGNED_FEED_IN] = "unsigned_feed_in",
        [NETZERO_RULE_REDUCE] = "reduce",
        [NETZERO_RULE_WAIT] = "wait",
        [NETZERO_RULE_INCREASE] = "increase",
        [NETZERO_RULE_IN_BAND] = "in_band",
};

const char *netzero_algorithm_to_string(enum netzero_algorithm a) {
        if (a < 0 || a >= _NETZERO_ALGORITHM_MAX)
                return NULL;
        return algorithm_table[a];
}

enum netzero_algorithm netzero_algorithm_from_string(const char *s) {
        if (!s)
                return _NETZERO_ALGORITHM_INVALID;
        for (int i = 0; i < _NETZERO_ALGORITHM_MAX; i++)
                if (strcmp(algorithm_table[i], s) == 0)
                        return (enum netzero_algorithm) i;
        return _NETZERO_ALGORITHM_INVALID;
}

const char *netzero_rule_to_string(enum netzero_rule r) {
        if (r < 0 || r >= _NETZERO_RULE_MAX)
                return NULL;
        return rule_table[r];
}

static uint64_t usec_to_s(uint64_t usec) {
        return usec / USEC_PER_SEC;
}

static int clamp_to_int(int64_t v) {
        if (v > INT_MAX)
                return INT_MAX;
        if (v < INT_MIN)
                return INT_MIN;
        return (int) v;
}

int netzero_new(const struct netzero_config *config, struct netzero **ret) {
        struct netzero *nz;

        assert(config);
        assert(ret);

        if (!netzero_algorithm_to_string(config->algorithm))
                return -EINVAL;
        /* A span of 0 would evict every sample as soon as it is appended. */
        if (config->evaluated_time_span_s == 0)
                return -EINVAL;
        /* Negative values would turn the clamps of evaluate() upside down. */
        if (config->power_hysteresis_w < 0 || config->power_change_upwards_w < 0 ||
            config->power_change_downwards_w < 0)
                return -EINVAL;

        nz = calloc(1, sizeof(*nz));
        if (!nz)
                return -ENOMEM;

        nz->config = *config;
        nz->span_s = config->evaluated_time_span_s < NETZERO_TIME_SPAN_MAX_S ? config->evaluated_time_span_s
                                                                             : NETZERO_TIME_SPAN_MAX_S;
        nz->inverter_status = DEVICE_STATUS_OFF;

        *ret = nz;
        return 0;
}

struct netzero *netzero_free(struct netzero *nz) {
        free(nz);
        return NULL;
}

const struct netzero_config *netzero_get_config(const struct netzero *nz) {
        assert(nz);
        return &nz->config;
}

static const struct sample *window_at(const struct netzero *nz, size_t i) {
        assert(i < nz->n);
        return &nz->window[(nz->head + i) % WINDOW_CAPACITY];
}

void netzero_clear(struct netzero *nz, uint64_t now_usec) {
        assert(nz);

        nz->head = 0;
        nz->n = 0;
        nz->last_s = usec_to_s(now_usec);
}

bool netzero_update(struct netzero *nz, uint64_t now_usec, int consumption_w) {
        uint64_t t = usec_to_s(now_usec);

        assert(nz);

        if (t < nz->last_s)
                return false;
        /* One sample per second; but the first one after a clear in that same second counts. */
        if (t == nz->last_s && nz->n > 0)
                return false;

        /* Times are strictly increasing and the previous update evicted everything older than its span,
         * so at most span (<= 120) samples are in the window here. */
        assert(nz->n < WINDOW_CAPACITY);
        nz->window[(nz->head + nz->n) % WINDOW_CAPACITY] = (struct sample) {
                .t_s = t,
                .consumption_w = consumption_w,
        };
        nz->n++;

        while (nz->n > 0 && window_at(nz, 0)->t_s + nz->span_s <= t) {
                nz->head = (nz->head + 1) % WINDOW_CAPACITY;
                nz->n--;
        }

        nz->last_s = t;
        return true;
}

void netzero_evaluate(const struct netzero *nz, uint64_t now_usec, struct netzero_evaluation *ret) {
        const struct netzero_config *c;
        uint64_t now_s = usec_to_s(now_usec);
        int64_t target, hyst, up, down, m;
        int smallest = INT_MAX, second = INT_MAX;

        assert(nz);
        assert(ret);

        c = &nz->config;
        *ret = (struct netzero_evaluation) {
                .n = nz->n,
        };

        /* One low outlier (e.g. a meter glitch) must not pull the power down: use the second smallest. */
        for (size_t i = 0; i < nz->n; i++) {
                int w = window_at(nz, i)->consumption_w;

                if (i == 0 || w < smallest) {
                        second = smallest;
                        smallest = w;
                } else if (i == 1 || w < second)
                        second = w;
        }

        if (nz->n == 0)
                ret->m_w = 0;
        else if (nz->n == 1)
                ret->m_w = smallest;
        else
                ret->m_w = second;

        if (nz->n > 0) {
                uint64_t oldest_s = window_at(nz, 0)->t_s;

                ret->age_s = now_s > oldest_s ? now_s - oldest_s : 0;
        }

        /* 64 bit: config and consumption are arbitrary ints, their differences must not overflow. */
        m = ret->m_w;
        target = c->power_offset_w;
        hyst = c->power_hysteresis_w;
        up = c->power_change_upwards_w;
        down = c->power_change_downwards_w;

        if (nz->n < 2) {
                ret->rule = NETZERO_RULE_TOO_FEW_SAMPLES;
                ret->delta_w = 0;
        } else if (!c->signed_meter && m == 0) {
                ret->rule = NETZERO_RULE_UNSIGNED_FEED_IN;
                ret->delta_w = clamp_to_int(-down);
        } else if (m < target - hyst) {
                ret->rule = NETZERO_RULE_REDUCE;
                ret->delta_w = clamp_to_int(m - target > -down ? m - target : -down);
        } else if (nz->n < NETZERO_SAMPLES_MIN || ret->age_s < c->maturity_time_span_s) {
                ret->rule = NETZERO_RULE_WAIT;
                ret->delta_w = 0;
        } else if (m > target + hyst) {
                ret->rule = NETZERO_RULE_INCREASE;
                ret->delta_w = clamp_to_int(m - target < up ? m - target : up);
        } else {
                ret->rule = NETZERO_RULE_IN_BAND;
                ret->delta_w = 0;
        }
}

bool netzero_inverter_status(struct netzero *nz, uint64_t now_usec, enum device_status status) {
        bool leaves_on;

        assert(nz);
        assert((int) status >= 0 && status < _DEVICE_STATUS_MAX);

        leaves_on = nz->inverter_status == DEVICE_STATUS_ON && status != DEVICE_STATUS_ON;
        nz->inverter_status = status;

        if (leaves_on)
                netzero_clear(nz, now_usec);
        return leaves_on;
}

bool netzero_inverter_power(struct netzero *nz, uint64_t now_usec, bool known, int power_w) {
        bool changed;

        assert(nz);

        nz->power_known = known;
        if (!known)
                /* Samples taken while the power is unknown still describe the last known power. */
                return false;

        changed = !nz->have_known_power || nz->power_w != power_w;
        nz->have_known_power = true;
        nz->power_w = power_w;

        /* Old samples describe the old power: start the window again. */
        if (changed)
                netzero_clear(nz, now_usec);
        return changed;
}

void netzero_consumption(struct netzero *nz, uint64_t now_usec, int total_w, struct netzero_decision *ret) {
        assert(nz);
        assert(ret);

        *ret = (struct netzero_decision) {
                .fed = false,
        };

        if (nz->inverter_status != DEVICE_STATUS_ON)
                return;

        ret->fed = true;
        ret->accepted = netzero_update(nz, now_usec, total_w);

        netzero_evaluate(nz, now_usec, &ret->evaluation);
        ret->evaluated = true;

        if (ret->evaluation.delta_w != 0 && nz->power_known) {
                ret->set_power = true;
                ret->power_w = clamp_to_int((int64_t) nz->power_w + ret->evaluation.delta_w);
        }
}

int netzero_evaluation_format(const struct netzero_evaluation *e, const struct netzero_config *c, char *buf,
                              size_t size) {
        const char *rule;
        int r;

        assert(e);
        assert(c);
        assert(buf || size == 0);

        rule = netzero_rule_to_string(e->rule);
        r = snprintf(buf, size, "delta=%+d W m=%d W samples=%zu/%u age=%" PRIu64 "/%u s (%s)", e->delta_w,
                     e->m_w, e->n, NETZERO_SAMPLES_MIN, e->age_s, c->maturity_time_span_s,
                     rule ? rule : "?");
        if (r < 0)
                return -EINVAL;
        if ((size_t) r >= size)
                return -ENOBUFS;
        return r;
}
