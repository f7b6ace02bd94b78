/* SPDX-License-Identifier: MIT */
/* RS485 buses on the loop (transport-bus.c): the daemon's implementation of
 * the bus slots of the host interface. One bus per port, created by the first
 * device that opens it and freed with the last. */
#pragma once

#include <systemd/sd-event.h>

#include "homebattery/transport.h"

/* `device` names the caller in the log. -EINVAL when the port is already a
 * bus with other settings (the config check refuses that first). */
int bus_client_open(sd_event *e, const char *device, const char *path, const struct serial_line *line,
                    struct bus_client **ret);
int bus_client_request(struct bus_client *c, const void *data, size_t len, uint64_t timeout_usec,
                       bus_answer_fn fn, void *userdata);
bool bus_client_is_open(const struct bus_client *c);
/* Not from inside one of the client's answer callbacks. */
void bus_client_close(struct bus_client *c);
