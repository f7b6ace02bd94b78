/* SPDX-License-Identifier: MIT */
/* Serial ports on the loop (VE.Direct, RS485 buses): raw, 8 data bits, non-blocking, reopened every
 * few seconds after an unplug. Drivers reach them through the host interface. */
#pragma once

#include <systemd/sd-event.h>

#include "homebattery/transport.h"

/* `name` (the device's) prefixes the log lines of the port. */
int serial_port_open(sd_event *e, const char *name, const char *path, unsigned baud,
                     const struct serial_callbacks *cb, void *userdata, struct serial_port **ret);
/* The same with parity and stop bits (RS485 buses); line->family is not used here. */
int serial_port_open_line(sd_event *e, const char *name, const char *path, const struct serial_line *line,
                          const struct serial_callbacks *cb, void *userdata, struct serial_port **ret);
/* Drops the bytes received but not read yet (before a bus request). */
void serial_port_discard_input(struct serial_port *p);
/* Queues bytes; -ENOTCONN while the port is closed, -ENOBUFS when full. */
int serial_port_write(struct serial_port *p, const void *data, size_t len);
bool serial_port_is_open(const struct serial_port *p);
void serial_port_close(struct serial_port *p);
