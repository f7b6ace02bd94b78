/* SPDX-License-Identifier: MIT */
/* The serial port rule of --check-config applied while migrating
 * (migrate-bus.h): the driver's own parser reads the new device object, its
 * config_serial() tells port and line, config-rules.c's predicate decides. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-ctx.h"
#include "migrate-bus.h"

/* The port and line of a device, via its driver (errors of the scratch parse are not shown: the check of
 * the whole new file reports them). 0 with *ret_port NULL when the device has no serial port. */
static int serial_of(const struct driver *d, struct json_object *dev, char **ret_port, struct serial_line *ret) {
        struct config_errors e = {};
        struct config_ctx ctx = { .file = "migrated", .dir = ".", .errors = &e };
        void *cfg = NULL;
        const char *port = NULL;
        int r = 0;

        *ret_port = NULL;
        if (!d->config_serial)
                return 0;
        if (d->parse_config(&ctx, "devices.new", dev, &cfg) >= 0 && d->config_serial(cfg, &port, ret) >= 0 && port)
                if (!(*ret_port = strdup(port)))
                        r = -ENOMEM;
        if (d->free_config)
                d->free_config(cfg);
        config_errors_done(&e);
        return r;
}

int migrate_bus_add(struct migrate_bus *b, const char *name, const struct driver *d, struct json_object *dev,
                    char *buf, size_t size) {
        struct serial_line line;
        char *port;
        int r = serial_of(d, dev, &port, &line);

        if (r < 0 || !port)
                return r;
        for (size_t i = 0; i < b->n; i++)
                if (strcmp(b->dev[i].port, port) == 0 &&
                    serial_lines_conflict(port, d, &line, b->dev[i].name, b->dev[i].driver, &b->dev[i].line, buf,
                                          size)) {
                        free(port);
                        return 1;
                }
        if (b->n == MIGRATE_BUS_DEVICES) {
                free(port); /* more than any real file: the check of the new file still sees them all */
                return 0;
        }
        snprintf(b->dev[b->n].name, sizeof(b->dev[b->n].name), "%s", name);
        b->dev[b->n].driver = d;
        b->dev[b->n].port = port;
        b->dev[b->n].line = line;
        b->n++;
        return 0;
}

void migrate_bus_done(struct migrate_bus *b) {
        for (size_t i = 0; i < b->n; i++)
                free(b->dev[i].port);
        b->n = 0;
}
