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

/* The manager hands what it owns to the parts it creates (device_services,
 * http_server_env) instead of offering getters: nothing calls back into it. */
