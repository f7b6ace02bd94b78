/* SPDX-License-Identifier: MIT */
/* Serial ports on the loop (VE.Direct): raw 8N1, non-blocking, reopened every
 * few seconds after an unplug. Drivers reach them through the host interface. */
#pragma once

#include <systemd/sd-event.h>

#include "homebattery/transport.h"

/* `name` (the device's) prefixes the log lines of the port. */
int serial_port_open(sd_event *e, const char *name, const char *path, unsigned baud,
                     const struct serial_callbacks *cb, void *userdata, struct serial_port **ret);
/* Queues bytes; -ENOTCONN while the port is closed, -ENOBUFS when full. */
int serial_port_write(struct serial_port *p, const void *data, size_t len);
bool serial_port_is_open(const struct serial_port *p);
void serial_port_close(struct serial_port *p);
