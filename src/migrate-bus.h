/* SPDX-License-Identifier: MIT */
/* --migrate-config's view of the serial ports: the devices carried over so
 * far with their port and line, so that a device that could not share its
 * port (the original firmware let a Pylontech pack and a PZEM share ext2) is
 * dropped with a warning instead of making the new file fail the check. */
#pragma once

#include <stddef.h>

#include "homebattery/transport.h"

struct driver;
struct json_object;

#define MIGRATE_BUS_DEVICES 64

struct migrate_bus {
        struct {
                char name[33];
                const struct driver *driver;
                char *port;
                struct serial_line line;
        } dev[MIGRATE_BUS_DEVICES];
        size_t n;
};

/* Device `name` of driver d, its new JSON object dev: 0 when it may be added (its port, if any, is
 * remembered), 1 when it conflicts with a device carried over before (why in buf), -ENOMEM. */
int migrate_bus_add(struct migrate_bus *b, const char *name, const struct driver *d, struct json_object *dev,
                    char *buf, size_t size);
void migrate_bus_done(struct migrate_bus *b);
