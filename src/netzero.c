/* SPDX-License-Identifier: MIT */
/* Netzero (control.md): a window of one consumption sample per second,
 * evaluated after every new total into a power step for the inverter class,
 * and the controller rules that feed, clear and act. Algorithm "classic" is
 * control.md's; "direct" (docs/netzero.md) computes the needed output from the
 * meter and the acknowledged class power, waits for each request to be
 * applied and for the output to settle, and learns the LUT steps. */

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netzero.h"
#include "netzero-pulse.h"
#include "homebattery/time-util.h"


/* One more than the span: update appends before it evicts. */
#define WINDOW_CAPACITY (NETZERO_TIME_SPAN_MAX_S + 1u)

struct sample {
        uint64_t t_s;
        int consumption_w;
};

/* "direct": a class power seen while known; no other step lies in (w, free_to_w]: a request of up to
 * free_to_w gave w. */
struct direct_step {
        int w;
        int free_to_w;
};

struct netzero {
        struct netzero_config config;
        unsigned span_s;
        int power_max_w; /* netzero_set_power_max() */

        /* Ring of samples, oldest at head, times strictly increasing. */
        struct sample window[WINDOW_CAPACITY];
        size_t head;
        size_t n;
        uint64_t last_s;

        enum device_status inverter_status;
        bool power_known;
        bool have_known_power; /* power_w holds the last known class power */
        int power_w;

        /* "direct" */
        uint64_t changed_s;     /* last change of the known power */
        int act_lo_w, act_hi_w; /* the real output is somewhere in here (it moves towards power_w) */
        bool pending;           /* a request has not changed the known power yet */
        unsigned in_flight;     /* requests sent and not answered yet: with one, the next change answers it */
        int pending_w;
        uint64_t pending_s;
        bool applied_known;     /* applied_w: what the class said the pending request will give */
        int applied_w;
        bool partial;           /* the known power moved since the request, not (yet) to applied_w */
        struct direct_step steps[NETZERO_DIRECT_STEPS_MAX]; /* sorted by w */
        size_t n_steps;
        struct netzero_pulse pulse; /* loads switching faster than the inverter follows */
};

static const char *const algorithm_table[_NETZERO_ALGORITHM_MAX] = {
        [NETZERO_ALGORITHM_CLASSIC] = "classic",
        [NETZERO_ALGORITHM_DIRECT] = "direct",
};

static const char *const rule_table[_NETZERO_RULE_MAX] = {
        [NETZERO_RULE_TOO_FEW_SAMPLES] = "too_few_samples",
        [NETZERO_RULE_UNSIGNED_FEED_IN] = "unsigned_feed_in",
        [NETZERO_RULE_REDUCE] = "reduce",
        [NETZERO_RULE_WAIT] = "wait",
        [NETZERO_RULE_INCREASE] = "increase",
        [NETZERO_RULE_IN_BAND] = "in_band",
        [NETZERO_RULE_POWER_UNKNOWN] = "power_unknown",
        [NETZERO_RULE_ACK_WAIT] = "ack_wait",
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

void netzero_config_default_steps(struct netzero_config *c, bool up_given, bool down_given) {
        bool direct;

        assert(c);
        /* With an unsigned meter "direct" cannot see how far it overshot, so larger steps only overshoot
         * further: it takes classic's limits (bench/README.md, "Unsigned meters"). */
        direct = c->algorithm == NETZERO_ALGORITHM_DIRECT && c->signed_meter;
        if (!up_given)
                c->power_change_upwards_w = direct ? NETZERO_DIRECT_CHANGE_UPWARDS_W : NETZERO_CLASSIC_CHANGE_UPWARDS_W;
        if (!down_given)
                c->power_change_downwards_w =
                        direct ? NETZERO_DIRECT_CHANGE_DOWNWARDS_W : NETZERO_CLASSIC_CHANGE_DOWNWARDS_W;
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
        nz->power_max_w = INT_MAX;
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

static void classic_evaluate(const struct netzero *nz, struct netzero_evaluation *ret) {
        const struct netzero_config *c;
        int64_t target, hyst, up, down, m;
        int smallest = INT_MAX, second = INT_MAX;

        c = &nz->config;

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

/* ---- "direct" ---- */

/* The inverter's output is taken to wander by 1/50 (2 %) of itself. */
#define DIRECT_NOISE_DIVISOR 50
/* Without a flat meter, the output counts as settled after this many maturity spans anyway. */
#define DIRECT_SETTLE_MAX_SPANS 2
/* A request that has not changed the known power after this many maturity spans gave the same step. */
#define DIRECT_ACK_SPANS 2
/* Known steps around the load that cost more than this many dead bands are further apart than an inverter's
 * LUT steps are: probe between them. */
#define DIRECT_PROBE_DEAD_BANDS 4
/* The median is of at least this many readings (when there are). */
#define DIRECT_MEDIAN_MIN 3u
/* Pulse mode serves this percentile of the load of the last NETZERO_PULSE_WINDOW_S: the load level that
 * costs least against a load switching between a floor and a peak is the one it spends most time at. */
#define DIRECT_PULSE_PERCENTILE 50u
_Static_assert(DIRECT_MEDIAN_MIN <= NETZERO_DIRECT_MEDIAN, "the median buffer holds NETZERO_DIRECT_MEDIAN");

static int64_t max64(int64_t a, int64_t b) {
        return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b) {
        return a < b ? a : b;
}

/* Index of the first step with w >= x (n_steps when none). */
static size_t step_index(const struct netzero *nz, int64_t x) {
        size_t i = 0;

        while (i < nz->n_steps && nz->steps[i].w < x)
                i++;
        return i;
}

/* Remembers that a request of request_w gave the class power result_w (the class takes the LUT step at
 * or below the request): result_w is a step and no other one lies in (result_w, request_w]. */
static void direct_learn(struct netzero *nz, int request_w, int result_w) {
        size_t i = step_index(nz, result_w);

        if (result_w <= 0)
                return;
        if (i == nz->n_steps || nz->steps[i].w != result_w) {
                if (nz->n_steps == NETZERO_DIRECT_STEPS_MAX)
                        return;
                memmove(nz->steps + i + 1, nz->steps + i, (nz->n_steps - i) * sizeof(nz->steps[0]));
                nz->steps[i] = (struct direct_step) { .w = result_w, .free_to_w = result_w };
                nz->n_steps++;
        }
        if (request_w > nz->steps[i].free_to_w)
                nz->steps[i].free_to_w = request_w;
}

/* The configured dead band plus the inverter's own noise: a change of the reading that small means
 * nothing. */
static int64_t direct_dead_band(const struct netzero *nz) {
        return nz->config.power_hysteresis_w + max64(nz->power_w, 0) / DIRECT_NOISE_DIVISOR;
}

/* Loss of an output against the need: import the output could have covered, or export. */
static int64_t direct_cost(int64_t out, int64_t need, int64_t load) {
        return max64(0, need - out) + max64(0, out - load);
}

/* The request for a need, from the known steps; false when the known power is good enough (its loss
 * within the dead band, or nothing known is better by more than the dead band). */
static bool direct_choose(const struct netzero *nz, int64_t need, int64_t *ret_request) {
        const struct netzero_config *c = &nz->config;
        /* An unsigned meter shows a little feed-in as 0, like a lot: never aim above the need there. */
        bool above = c->signed_meter;
        int64_t known = nz->power_w, load = need + (above ? c->power_offset_w : 0), stay, best, request;
        int64_t dead = direct_dead_band(nz);
        size_t i = step_index(nz, load + 1); /* first step above the load */
        const struct direct_step *lo = i > 0 ? &nz->steps[i - 1] : NULL;

        stay = direct_cost(known, need, load);
        if (stay <= dead)
                return false;
        if (!lo) {
                /* No step known at or below the load: ask for the load; the class takes the step below. */
                *ret_request = load;
                return load != known;
        }
        /* Where the step at or below the load is not known yet, ask for the load: no export. Where it is
         * lo, asking for load + (need - lo) can only give lo, a step in the band [need, load] or one above
         * that costs less than lo. What lo->free_to_w covers is known to give lo. */
        best = direct_cost(lo->w, need, load);
        request = above && lo->free_to_w >= load ? load + best : load;
        if (above && i < nz->n_steps && direct_cost(nz->steps[i].w, need, load) < best &&
            (lo->free_to_w + dead >= load ||
             direct_cost(nz->steps[i].w, need, load) <= dead * DIRECT_PROBE_DEAD_BANDS)) {
                /* (Not when that step costs far more than the dead band and a step may lie unknown between
                 * lo and the load: a probe of the load may find one that neither exports nor leaves much
                 * uncovered; else a wide gap between the steps it happens to know holds it for good.) */
                best = direct_cost(nz->steps[i].w, need, load);
                request = nz->steps[i].w;
        } else if (lo->free_to_w + dead >= request)
                /* Known (or too close to what is known to be worth a probe) to give lo. */
                request = lo->w;
        else
                /* A probe: what it gives is not known yet, only that it is no worse than lo. */
                best = -1;
        if (best >= 0 && stay - best <= dead)
                return false;
        if (request == known || (lo->w == known && request <= lo->free_to_w))
                return false;
        *ret_request = request;
        return true;
}

/* The newest k samples, sorted. */
static size_t direct_newest(const struct netzero *nz, size_t skip, int *v, size_t k) {
        size_t n = 0;

        for (size_t i = skip; i < nz->n && n < k; i++) {
                int w = window_at(nz, nz->n - 1 - i)->consumption_w;
                size_t j = n++;

                for (; j > 0 && v[j - 1] > w; j--)
                        v[j] = v[j - 1];
                v[j] = w;
        }
        return n;
}

/* The real output still moving towards the known power shows in the meter: after an increase it falls,
 * after a decrease it rises. True when the newest samples moved less than the noise in that direction. */
static bool direct_flat(const struct netzero *nz) {
        int a[NETZERO_DIRECT_MEDIAN], b[NETZERO_DIRECT_MEDIAN];
        int64_t known = nz->power_w, tol, moved;

        if (direct_newest(nz, NETZERO_DIRECT_MEDIAN, b, NETZERO_DIRECT_MEDIAN) < NETZERO_DIRECT_MEDIAN)
                return false;
        (void) direct_newest(nz, 0, a, NETZERO_DIRECT_MEDIAN);
        moved = (int64_t) a[NETZERO_DIRECT_MEDIAN / 2] - b[NETZERO_DIRECT_MEDIAN / 2];
        tol = direct_dead_band(nz);
        if (known > nz->act_lo_w && moved < -tol)
                return false;
        if (known < nz->act_hi_w && moved > tol)
                return false;
        return true;
}

static void direct_evaluate(const struct netzero *nz, uint64_t now_s, struct netzero_evaluation *ret) {
        const struct netzero_config *c = &nz->config;
        int64_t known = nz->power_w, m_lo, m_hi, a_lo, a_hi, request = known;
        int v[NETZERO_DIRECT_MEDIAN];
        size_t recent = 0, k;

        /* The readings of the newest NETZERO_DIRECT_MEDIAN seconds, at least DIRECT_MEDIAN_MIN. */
        while (recent < nz->n && recent < NETZERO_DIRECT_MEDIAN &&
               window_at(nz, nz->n - 1 - recent)->t_s + NETZERO_DIRECT_MEDIAN >
                       window_at(nz, nz->n - 1)->t_s)
                recent++;
        k = direct_newest(nz, 0, v, recent > DIRECT_MEDIAN_MIN ? recent : DIRECT_MEDIAN_MIN);

        /* The median; of an even count, the lower for the smallest need, the upper for the largest. */
        m_lo = k == 0 ? 0 : k % 2 ? v[k / 2] : v[k / 2 - 1];
        m_hi = k == 0 ? 0 : v[k / 2];
        ret->m_w = (int) m_hi;
        ret->known_w = nz->power_w;
        ret->since_change_s = now_s > nz->changed_s ? now_s - nz->changed_s : 0;

        if (!nz->have_known_power || !nz->power_known) {
                ret->rule = NETZERO_RULE_POWER_UNKNOWN;
                return;
        }
        if (nz->n < 2) {
                ret->rule = NETZERO_RULE_TOO_FEW_SAMPLES;
                return;
        }
        ret->settled = (nz->act_lo_w == known && nz->act_hi_w == known) ||
                       ret->since_change_s >= (uint64_t) c->maturity_time_span_s * DIRECT_SETTLE_MAX_SPANS ||
                       (ret->since_change_s >= c->maturity_time_span_s && direct_flat(nz));
        a_lo = ret->settled ? known : nz->act_lo_w;
        a_hi = ret->settled ? known : nz->act_hi_w;
        ret->need_lo_w = clamp_to_int(a_lo + m_lo - c->power_offset_w);
        ret->need_hi_w = clamp_to_int(a_hi + m_hi - c->power_offset_w);
        if (c->signed_meter && netzero_pulse_active(&nz->pulse, now_s)) {
                int level;

                /* Pulses the inverter cannot follow: serve their level, not the edges. */
                if (netzero_pulse_level(&nz->pulse, now_s, DIRECT_PULSE_PERCENTILE, &level)) {
                        ret->pulsing = true;
                        ret->need_lo_w = ret->need_hi_w = clamp_to_int((int64_t) level - c->power_offset_w);
                }
        }
        if (!c->signed_meter && m_hi == 0) {
                /* Feed-in the meter cannot see: the load is at most the output. While the output is still
                 * coming down from a higher power that explains it: wait. Else step down by the largest
                 * step allowed, power_change_downwards (as "classic" does). */
                if (!ret->settled && known < a_hi)
                        ret->rule = NETZERO_RULE_WAIT;
                else {
                        ret->rule = NETZERO_RULE_UNSIGNED_FEED_IN;
                        request = known - c->power_change_downwards_w;
                }
        } else if (direct_choose(nz, ret->need_lo_w, &request) && request > known)
                ret->rule = NETZERO_RULE_INCREASE;
        else if (direct_choose(nz, ret->need_hi_w, &request) && request < known)
                ret->rule = NETZERO_RULE_REDUCE;
        else {
                ret->rule = ret->settled ? NETZERO_RULE_IN_BAND : NETZERO_RULE_WAIT;
                request = known;
        }
        /* The configured step limits hold for every algorithm, as for "classic" on the request: a need
         * further away than power_change_upwards / _downwards is reached in several steps, one per
         * acknowledged change (the class then takes the LUT step at or below the request). */
        if (request > known + c->power_change_upwards_w)
                request = known + c->power_change_upwards_w;
        if (request < known - c->power_change_downwards_w)
                request = known - c->power_change_downwards_w;
        /* A request on its way is not judged again; only a turn of the load the other way overrides it
         * (not while the class is half way through it: "known" is no step then). */
        if (nz->pending && (nz->partial || request == known || (request > known) == (nz->pending_w > known))) {
                ret->rule = NETZERO_RULE_ACK_WAIT;
                request = known;
        }
        ret->request_w = clamp_to_int(request);
        ret->delta_w = clamp_to_int(request - known);
}

void netzero_evaluate(const struct netzero *nz, uint64_t now_usec, struct netzero_evaluation *ret) {
        uint64_t now_s = usec_to_s(now_usec);

        assert(nz);
        assert(ret);

        *ret = (struct netzero_evaluation) {
                .n = nz->n,
        };
        if (nz->n > 0) {
                uint64_t oldest_s = window_at(nz, 0)->t_s;

                ret->age_s = now_s > oldest_s ? now_s - oldest_s : 0;
        }
        if (nz->config.algorithm == NETZERO_ALGORITHM_DIRECT)
                direct_evaluate(nz, now_s, ret);
        else
                classic_evaluate(nz, ret);
}

bool netzero_inverter_status(struct netzero *nz, uint64_t now_usec, enum device_status status) {
        bool leaves_on;

        assert(nz);
        assert((int) status >= 0 && status < _DEVICE_STATUS_MAX);

        leaves_on = nz->inverter_status == DEVICE_STATUS_ON && status != DEVICE_STATUS_ON;
        nz->inverter_status = status;

        if (leaves_on) {
                netzero_clear(nz, now_usec);
                nz->pending = false;
                nz->partial = false;
                nz->in_flight = 0;
                netzero_pulse_reset(&nz->pulse);
        }
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
        if (changed && nz->config.algorithm == NETZERO_ALGORITHM_DIRECT) {
                /* Several inverters follow a request one after the other: a sum between the old power and
                 * the applied one is a part of the answer, not a LUT step. Wait for the rest. */
                if (nz->pending && nz->in_flight == 1 && nz->applied_known && power_w != nz->applied_w)
                        nz->partial = true;
                else {
                        /* The request (if any) was applied; the real output now moves from where it was.
                         * Answers come in the order of the requests: this one answers the last request
                         * only when no other one was on its way. */
                        direct_learn(nz, nz->pending && nz->in_flight == 1 ? nz->pending_w : power_w, power_w);
                        nz->pending = false;
                        nz->partial = false;
                        if (nz->in_flight > 0)
                                nz->in_flight--;
                }
                nz->changed_s = usec_to_s(now_usec);
                nz->act_lo_w = (int) min64(nz->act_lo_w, power_w);
                nz->act_hi_w = (int) max64(nz->act_hi_w, power_w);
        }
        return changed;
}

void netzero_consumption(struct netzero *nz, uint64_t now_usec, int total_w, struct netzero_decision *ret) {
        bool direct;

        assert(nz);
        assert(ret);

        *ret = (struct netzero_decision) {
                .fed = false,
        };

        if (nz->inverter_status != DEVICE_STATUS_ON)
                return;

        direct = nz->config.algorithm == NETZERO_ALGORITHM_DIRECT;
        /* direct: a request that did not change the known power in time gave the same LUT step. */
        if (direct && nz->in_flight > 0 &&
            usec_to_s(now_usec) >=
                    nz->pending_s + (uint64_t) nz->config.maturity_time_span_s * DIRECT_ACK_SPANS) {
                /* (Not after a part of an answer: the power now is no step of the request.) */
                if (nz->pending && nz->in_flight == 1 && !nz->partial)
                        direct_learn(nz, nz->pending_w, nz->power_w);
                nz->pending = false;
                nz->partial = false;
                nz->in_flight = 0;
        }

        ret->fed = true;
        ret->accepted = netzero_update(nz, now_usec, total_w);
        if (direct && ret->accepted && nz->have_known_power && nz->power_known)
                netzero_pulse_add(&nz->pulse, usec_to_s(now_usec), total_w, nz->power_w);

        netzero_evaluate(nz, now_usec, &ret->evaluation);
        ret->evaluated = true;

        if (direct && ret->evaluation.settled) {
                nz->act_lo_w = nz->power_w;
                nz->act_hi_w = nz->power_w;
        }
        if (ret->evaluation.delta_w != 0 && nz->power_known) {
                ret->power_w = clamp_to_int((int64_t) nz->power_w + ret->evaluation.delta_w);
                /* Asked for within the cap, so that "direct" learns from what it really asked for. */
                if (ret->power_w > nz->power_max_w)
                        ret->power_w = nz->power_max_w;
                if (ret->power_w == nz->power_w)
                        return;
                ret->set_power = true;
                if (direct) {
                        if (nz->in_flight < UINT_MAX)
                                nz->in_flight++;
                        nz->pending = true;
                        nz->pending_w = ret->power_w;
                        nz->pending_s = usec_to_s(now_usec);
                        nz->applied_known = false;
                        nz->partial = false;
                }
        }
}

void netzero_request_applied(struct netzero *nz, int applied_w) {
        assert(nz);
        if (!nz->pending)
                return;
        nz->applied_known = true;
        nz->applied_w = applied_w;
}

void netzero_set_power_max(struct netzero *nz, int max_w) {
        assert(nz);
        nz->power_max_w = max_w;
}

int netzero_evaluation_format(const struct netzero_evaluation *e, const struct netzero_config *c, char *buf,
                              size_t size) {
        const char *rule;
        int r;

        assert(e);
        assert(c);
        assert(buf || size == 0);

        rule = netzero_rule_to_string(e->rule);
        if (c->algorithm == NETZERO_ALGORITHM_DIRECT)
                r = snprintf(buf, size,
                             "delta=%+d W need=%d..%d W known=%d W m=%d W samples=%zu since=%" PRIu64
                             "/%u s%s%s (%s)",
                             e->delta_w, e->need_lo_w, e->need_hi_w, e->known_w, e->m_w, e->n,
                             e->since_change_s, c->maturity_time_span_s, e->settled ? " settled" : "",
                             e->pulsing ? " pulsing" : "", rule ? rule : "?");
        else
                r = snprintf(buf, size, "delta=%+d W m=%d W samples=%zu/%u age=%" PRIu64 "/%u s (%s)",
                             e->delta_w, e->m_w, e->n, NETZERO_SAMPLES_MIN, e->age_s,
                             c->maturity_time_span_s, rule ? rule : "?");
        if (r < 0)
                return -EINVAL;
        if ((size_t) r >= size)
                return -ENOBUFS;
        return r;
}
