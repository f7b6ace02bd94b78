/* SPDX-License-Identifier: MIT */
/* One logging API for the whole daemon. Every line names its sender (a module
 * such as "netzero" or a device name) so that journald can filter on
 * HOMEBATTERY_SENDER=; the same line goes to stderr on a terminal and, when
 * configured, to a UDP log host. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "homebattery/cleanup.h"
#include "homebattery/time-util.h"

/* Logs a line; returns -abs(error) (or 0 when error is 0), so callers can
 * `return log_error_errno(r, ...)`. With error != 0, %m expands to strerror(error). */
int log_internal(int level, int error, const char *sender, const char *fmt, ...) _printf_(4, 5);
bool log_would_log(int level, const char *sender);

#define log_full_errno(level, error, sender, ...) \
        (log_would_log((level), (sender)) ? log_internal((level), (error), (sender), __VA_ARGS__) \
                                          : -abs(error))

#define log_debug(sender, ...) ((void) log_full_errno(LOG_DEBUG, 0, sender, __VA_ARGS__))
#define log_info(sender, ...) ((void) log_full_errno(LOG_INFO, 0, sender, __VA_ARGS__))
#define log_notice(sender, ...) ((void) log_full_errno(LOG_NOTICE, 0, sender, __VA_ARGS__))
#define log_warning(sender, ...) ((void) log_full_errno(LOG_WARNING, 0, sender, __VA_ARGS__))
#define log_error(sender, ...) ((void) log_full_errno(LOG_ERR, 0, sender, __VA_ARGS__))

#define log_debug_errno(error, sender, ...) log_full_errno(LOG_DEBUG, error, sender, __VA_ARGS__)
#define log_info_errno(error, sender, ...) log_full_errno(LOG_INFO, error, sender, __VA_ARGS__)
#define log_warning_errno(error, sender, ...) log_full_errno(LOG_WARNING, error, sender, __VA_ARGS__)
#define log_error_errno(error, sender, ...) log_full_errno(LOG_ERR, error, sender, __VA_ARGS__)

/* A token bucket for repeated device errors: at most `burst` lines per
 * `interval_usec`; the caller passes the current time. */
struct ratelimit {
        uint64_t interval_usec;
        unsigned burst;
        uint64_t begin_usec;
        unsigned count;
        unsigned suppressed;
};

#define RATELIMIT_INIT(interval, b) ((struct ratelimit) { .interval_usec = (interval), .burst = (b) })

/* True when one more line may be logged now. */
bool ratelimit_below(struct ratelimit *rl, uint64_t now_usec);

/* ratelimit_below() that also says how many lines were held back since the
 * last line that was let through (*ret_suppressed, reset by the call): the
 * caller logs "N more suppressed" before its own line. */
bool ratelimit_check(struct ratelimit *rl, uint64_t now_usec, unsigned *ret_suppressed);

/* Warnings about outside input (MQTT payloads): at most INPUT_WARN_BURST lines
 * a minute per limiter (one per topic), then one "N more suppressed" line
 * when the next is let through. */
#define INPUT_WARN_BURST 5
#define INPUT_WARN_RATELIMIT RATELIMIT_INIT(60ULL * USEC_PER_SEC, INPUT_WARN_BURST)
#define log_input_warning(rl, now_usec, sender, topic, ...)                                                     \
        do {                                                                                                   \
                unsigned _n;                                                                                   \
                if (ratelimit_check((rl), (now_usec), &_n)) {                                                  \
                        if (_n > 0)                                                                            \
                                log_warning((sender), "%u more warning(s) about %s suppressed", _n, (topic)); \
                        log_warning((sender), __VA_ARGS__);                                                    \
                }                                                                                              \
        } while (0)
