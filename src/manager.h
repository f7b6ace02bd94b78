/* SPDX-License-Identifier: MIT */
/* The Manager owns the event loop and everything attached to it: signals,
 * the once-a-second control tick, the energy-report timer, the MQTT client,
 * the devices and the systemd notifications. */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"

struct manager;
struct control;

int manager_new(struct manager **ret);
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free);
/* Takes ownership of the config. */
int manager_load_config(struct manager *m, struct config *c);
int manager_start(struct manager *m);
/* Runs the loop; returns the process exit status. */
int manager_run(struct manager *m);
/* Safe state, then leave the loop with exit_status (bounded). */
void manager_shutdown(struct manager *m, int exit_status);

/* How late the 1 s tick ran: a blocked loop shows here first. */
struct loop_stats {
        uint64_t last_usec;
        uint64_t max_usec;        /* since start */
        uint64_t max_minute_usec; /* over the last full minute */
        uint64_t ticks;
};
const struct loop_stats *manager_get_loop_stats(struct manager *m);
uint64_t manager_get_start_usec(struct manager *m);
/* The same path as a message on <root>/mode/set. */
void manager_request_mode(struct manager *m, const void *payload, size_t len);

sd_event *manager_get_event(struct manager *m);
struct control *manager_get_control(struct manager *m);
struct mqtt *manager_get_mqtt(struct manager *m);
struct http_client *manager_get_http(struct manager *m);
struct ble_manager *manager_get_ble(struct manager *m);
const struct config *manager_get_config(struct manager *m);
uint64_t manager_now_usec(struct manager *m);
