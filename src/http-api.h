/* SPDX-License-Identifier: MIT */
/* The text the HTTP server answers with: the JSON status, the Prometheus
 * metrics and the history ring with its JSON. Builders only: they read the
 * control core's views and a snapshot the server fills in, and know nothing
 * of sockets, libmicrohttpd or the event loop (docs/http.md has the shapes). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct control;

/* What the builders need besides the control core, taken by the server at request time. */
struct http_view {
        const struct control *control;
        bool netzero_enabled;
        bool mqtt_connected;
        unsigned mqtt_connects;
        uint64_t now_usec;      /* monotonic, the clock of every *_usec in the control core */
        uint64_t start_usec;    /* monotonic time of daemon start */
        uint64_t realtime_usec; /* wall clock, for "time" */
        uint64_t loop_last_usec, loop_max_usec, loop_max_minute_usec;
        const char *version;
};

/* Each returns 0 and a malloc'ed, NUL-terminated body with its length, or -ENOMEM. */
int http_api_status(const struct http_view *v, char **ret, size_t *ret_len);
/* Prometheus text exposition format 0.0.4. */
int http_api_metrics(const struct http_view *v, char **ret, size_t *ret_len);

/* The SoC of all batteries that have a record, each weighted by its size (as <root>/bat/sum does);
 * false when no battery has a record yet. */
bool http_api_battery_soc(const struct control *ctl, double *ret_pct);

/* A fixed-size ring of power samples for the charts: allocated once, never grows. */
struct http_history;

int http_history_new(size_t capacity, struct http_history **ret);
struct http_history *http_history_free(struct http_history *h);
/* Appends one sample of the current values (the oldest one drops out when full). */
void http_history_add(struct http_history *h, const struct control *ctl, uint64_t realtime_usec);
size_t http_history_size(const struct http_history *h);
/* {"interval_s":..,"fields":[...],"samples":[[time,grid,inverter,solar,charger,soc],...]}, oldest first. */
int http_history_json(const struct http_history *h, unsigned interval_s, char **ret, size_t *ret_len);
