/* SPDX-License-Identifier: MIT */
/* The HTTP server of the `http` config section: the status page, the JSON API
 * and the Prometheus metrics (docs/http.md). libmicrohttpd runs inside the
 * manager's sd-event loop (its epoll fd and timeout are loop sources), so a
 * request never blocks the control loop and no thread is started. */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "mqtt.h"

struct http_server;

/* How late the 1 s tick ran: a blocked loop shows here first. */
struct loop_stats {
        uint64_t last_usec;
        uint64_t max_usec;        /* since start */
        uint64_t max_minute_usec; /* over the last full minute */
        uint64_t ticks;
};

/* What the server shows and acts on; everything must outlive the server. */
struct http_server_env {
        sd_event *event;
        const struct config *config;
        struct control *control;
        struct mqtt *mqtt;
        const struct loop_stats *loop;
        uint64_t start_usec;
        /* POST /api/mode: the same path as a message on <root>/mode/set. */
        void (*request_mode)(void *userdata, const char *mode);
        void *userdata;
};

/* Binds to http.listen and starts serving. Logs why it failed (the address
 * and the reason) and returns a negative errno; bind_log_level is the level
 * of the line when the address cannot be listened on (the manager retries
 * quietly after the first error). */
int http_server_new(const struct http_server_env *env, int bind_log_level, struct http_server **ret);
struct http_server *http_server_free(struct http_server *s);
