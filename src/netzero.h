/* SPDX-License-Identifier: MIT */
/* Netzero: the loop that sets the inverter class power so that the household
 * keeps importing a small, constant power from the grid (control.md, "Netzero").
 * Two algorithms: "classic" (control.md) and "direct" (docs/netzero.md).
 * Pure logic with an injected clock: the caller feeds consumption totals and
 * inverter class reports, and gets back what to set and what to log. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/device.h"

/* The window never spans more than this, whatever is configured. */
#define NETZERO_TIME_SPAN_MAX_S 120u
/* Below this many samples the loop only reduces (rule 4, "wait"). */
#define NETZERO_SAMPLES_MIN 5u
/* "direct": the meter reading it judges is the median of this many newest samples. */
#define NETZERO_DIRECT_MEDIAN 5u
/* "direct": class powers (LUT steps) it remembers. */
#define NETZERO_DIRECT_STEPS_MAX 64u

enum netzero_algorithm {
        NETZERO_ALGORITHM_CLASSIC,
        NETZERO_ALGORITHM_DIRECT,
        _NETZERO_ALGORITHM_MAX,
        _NETZERO_ALGORITHM_INVALID = -EINVAL,
};

/* "classic", "direct"; NULL for anything else. */
const char *netzero_algorithm_to_string(enum netzero_algorithm a);
/* Exact match; _NETZERO_ALGORITHM_INVALID otherwise (also for NULL). */
enum netzero_algorithm netzero_algorithm_from_string(const char *s);

/* The "netzero" section of config.md, without "enabled" (a disabled loop is never created). */
struct netzero_config {
        bool signed_meter;
        unsigned evaluated_time_span_s; /* 1.., capped at NETZERO_TIME_SPAN_MAX_S */
        unsigned maturity_time_span_s;
        int power_offset_w;             /* target */
        int power_hysteresis_w;         /* >= 0 */
        int power_change_upwards_w;     /* >= 0 */
        int power_change_downwards_w;   /* >= 0 */
        enum netzero_algorithm algorithm;
};

/* The step limits when the configuration gives none: each algorithm's own (docs/netzero.md). "direct"
 * only moves within what the readings prove, so larger limits only let it get there in fewer commands. */
#define NETZERO_CLASSIC_CHANGE_UPWARDS_W 100
#define NETZERO_CLASSIC_CHANGE_DOWNWARDS_W 50
#define NETZERO_DIRECT_CHANGE_UPWARDS_W 400
#define NETZERO_DIRECT_CHANGE_DOWNWARDS_W 200

/* The default of every netzero key (config.md): the one place they are written. The step limits are those
 * of the default algorithm; netzero_config_default_steps() gives those of another one. */
#define NETZERO_CONFIG_DEFAULTS                                         \
        ((struct netzero_config) {                                      \
                .signed_meter = true,                                   \
                .evaluated_time_span_s = 30,                            \
                .maturity_time_span_s = 15,                             \
                .power_offset_w = 10,                                   \
                .power_hysteresis_w = 5,                                \
                .power_change_upwards_w = NETZERO_DIRECT_CHANGE_UPWARDS_W,     \
                .power_change_downwards_w = NETZERO_DIRECT_CHANGE_DOWNWARDS_W, \
                .algorithm = NETZERO_ALGORITHM_DIRECT,                  \
        })

/* Sets the step limits the configuration did not give (!up_given, !down_given) to c->algorithm's own
 * (direct with an unsigned meter: classic's). c->algorithm and c->signed_meter must be set. */
void netzero_config_default_steps(struct netzero_config *c, bool up_given, bool down_given);

/* Which rule of "evaluate" decided, in the order of control.md ("classic"); "direct" uses the same names
 * for the same situations, and two of its own. */
enum netzero_rule {
        NETZERO_RULE_TOO_FEW_SAMPLES,  /* 1: n < 2 */
        NETZERO_RULE_UNSIGNED_FEED_IN, /* 2: unsigned meter shows 0 */
        NETZERO_RULE_REDUCE,        /* 3: m < target - hyst; direct: even the largest need asks for less */
        NETZERO_RULE_WAIT,          /* 4: n < 5 or age < maturity; direct: settling, need not clear yet */
        NETZERO_RULE_INCREASE,      /* 5: m > target + hyst; direct: even the smallest need asks for more */
        NETZERO_RULE_IN_BAND,       /* 6: otherwise */
        NETZERO_RULE_POWER_UNKNOWN, /* direct: no class power known yet */
        NETZERO_RULE_ACK_WAIT,      /* direct: the last request has not changed the known power yet */
        _NETZERO_RULE_MAX,
        _NETZERO_RULE_INVALID = -EINVAL,
};

/* "too_few_samples", "unsigned_feed_in", "reduce", "wait", "increase", "in_band", "power_unknown",
 * "ack_wait"; NULL otherwise. */
const char *netzero_rule_to_string(enum netzero_rule r);

struct netzero_evaluation {
        int delta_w;
        int m_w;        /* second smallest consumption; the only one when n == 1; 0 when n == 0
                         * (direct: the median of the readings of the newest NETZERO_DIRECT_MEDIAN s) */
        size_t n;       /* samples in the window */
        uint64_t age_s; /* now - time of the oldest sample; 0 when the window is empty */
        enum netzero_rule rule;
        /* "direct" only (0 for classic): */
        int known_w;              /* the known (acknowledged) class power */
        int need_lo_w, need_hi_w; /* the output the household needs (load - target), as bounds while the
                                   * real output may still be moving between the old and the new power */
        int request_w;            /* what the class is asked for when delta != 0 (known + delta) */
        bool settled;             /* the real output is taken to be the known power */
        uint64_t since_change_s;  /* now - time of the last change of the known power */
        bool pulsing;             /* pulse mode: the need is a level of the load of the last minutes */
};

struct netzero_decision {
        bool fed;        /* the inverter class was on, so the total was offered to the window */
        bool accepted;   /* ... and the window took it (not a second sample in the same second) */
        bool evaluated;  /* evaluation is valid (== fed) */
        struct netzero_evaluation evaluation;
        bool set_power;  /* set the inverter class power to power_w now */
        int power_w;     /* known power + delta (not clamped: the class clamps per device) */
};

struct netzero;

/* -EINVAL for an invalid config (unknown algorithm, span 0, negative hysteresis or step). */
int netzero_new(const struct netzero_config *config, struct netzero **ret);
struct netzero *netzero_free(struct netzero *nz);

const struct netzero_config *netzero_get_config(const struct netzero *nz);

/* Low level: the window. Times are whole seconds, now_usec / 1000000. */
void netzero_clear(struct netzero *nz, uint64_t now_usec);
/* true when the sample was appended; false when it was dropped: older than the last sample or clear, or a
 * second sample in the second of the last one. */
bool netzero_update(struct netzero *nz, uint64_t now_usec, int consumption_w);
void netzero_evaluate(const struct netzero *nz, uint64_t now_usec, struct netzero_evaluation *ret);

/* Controller level: the inverter class reports. Both return true when they cleared the window.
 * "direct" also takes a change of the known power as the answer to its last request (and learns the
 * LUT step from it), and leaving on as the end of that request. */
bool netzero_inverter_status(struct netzero *nz, uint64_t now_usec, enum device_status status);
bool netzero_inverter_power(struct netzero *nz, uint64_t now_usec, bool known, int power_w);
/* What the inverter class said it will produce for the request just made (set_power): with several
 * inverters the known power reaches it in parts, and "direct" learns a LUT step only from the whole
 * answer. */
void netzero_request_applied(struct netzero *nz, int applied_w);
/* The most it may ask for (netzero.max_power, the discharge current cap; INT_MAX: none). A request
 * above it is cut to it before it is made, so that "direct" never learns that a request gave a lower
 * LUT step when only the cap held it. */
void netzero_set_power_max(struct netzero *nz, int max_w);
/* A new consumption total arrived: feed (while the inverter class is on), evaluate, decide. */
void netzero_consumption(struct netzero *nz, uint64_t now_usec, int total_w, struct netzero_decision *ret);

/* One log line, e.g. "delta=+100 W m=285 W samples=5/5 age=20/15 s (increase)".
 * Returns the length written (without the NUL), or -ENOBUFS when buf is too small. */
int netzero_evaluation_format(const struct netzero_evaluation *e, const struct netzero_config *c, char *buf,
                              size_t size);
