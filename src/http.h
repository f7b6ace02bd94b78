/* SPDX-License-Identifier: MIT */
/* The HTTP server of the `http` config section: the status page, the JSON API
 * and the Prometheus metrics (docs/http.md). libmicrohttpd runs inside the
 * manager's sd-event loop (its epoll fd and timeout are loop sources), so a
 * request never blocks the control loop and no thread is started. */
#pragma once

struct manager;
struct http_server;

/* Binds to http.listen and starts serving. Call it once the manager's control core and MQTT
 * client exist. Logs why it failed (the address and the reason) and returns a negative errno. */
/* bind_log_level: of the line when the address cannot be listened on (the
 * manager retries quietly after the first error). */
int http_server_new(struct manager *m, int bind_log_level, struct http_server **ret);
struct http_server *http_server_free(struct http_server *s);
