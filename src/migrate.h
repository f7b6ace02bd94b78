/* SPDX-License-Identifier: MIT */
/* homebattery --migrate-config: turns a config.json of the original
 * MicroPython firmware (1.x, and the older shape before 1.0) into this
 * daemon's configuration on a stream. It reads one file and writes nothing
 * but the two streams: no device, no file is touched. */
#pragma once

#include <stdio.h>

/* The original controller's add-on board ports, in order. */
#define MIGRATE_N_PORTS 2

struct migrate_options {
        /* The device each of ext1, ext2 becomes; NULL: /dev/ttyUSB0, /dev/ttyUSB1 (with a warning). */
        const char *ports[MIGRATE_N_PORTS];
};

/* Takes "ext1=PATH" (--port). -EINVAL when it is not of that form, names
 * another port, or PATH is not absolute. */
int migrate_parse_port(struct migrate_options *o, const char *arg);

/* Migrates the text of an old config.json: the new configuration on `out`
 * (JSON, 2-space indentation), "warning: KEY: ..." and "note: KEY: ..."
 * lines on `err`. Returns the exit status: 0, 78 (EX_CONFIG) when the text
 * is not JSON or not an object, 1 when out of memory. */
int migrate_text(const char *text, size_t size, const struct migrate_options *o, FILE *out, FILE *err);

/* Reads `path` and migrates it; 66 (EX_NOINPUT) when it cannot be read. */
int migrate_file(const char *path, const struct migrate_options *o, FILE *out, FILE *err);
