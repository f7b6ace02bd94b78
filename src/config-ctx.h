/* SPDX-License-Identifier: MIT */
/* The validation context shared by the config parser and the drivers'
 * parse_config(): where errors go and where relative files are resolved. */
#pragma once

#include <stdbool.h>

#include "config.h"

struct config_ctx {
        const char *file;
        const char *dir;
        const char *data_dir; /* second place for relative names: the shipped LUTs */
        struct config_errors *errors;
        bool failed;
        bool oom;
};

/* A line that is neither a warning nor an error (printed as "note: ..."). */
void config_note(struct config_ctx *ctx, const char *path, const char *fmt, ...) _printf_(3, 4);

void config_key_path(char *buf, size_t size, const char *path, const char *key);

struct json_object;
/* Checks the text json-c parsed into root (config-json.c): duplicate keys, keys
 * and strings that are not UTF-8 or hold NUL, and keeps the text of integers
 * json-c clamped. Problems go to ctx; returns 0 or -ENOMEM. */
int config_json_check(struct config_ctx *ctx, const char *text, size_t size, struct json_object *root);
/* The heater section, once the devices are known (config-heater.c). */
void config_parse_heater(struct config_ctx *ctx, struct json_object *root, struct config *c);
/* The rules across sections and devices (config-rules.c). */
void config_check_rules(struct config_ctx *ctx, struct config *c);

struct serial_line;
/* Whether a device of driver d with line `mine` on port can share it with devices.other_name (driver e, line
 * `theirs`); when not, why (the rest of "devices.NAME.port: ...") into buf. Also for --migrate-config. */
bool serial_lines_conflict(const char *port, const struct driver *d, const struct serial_line *mine,
                           const char *other_name, const struct driver *e, const struct serial_line *theirs,
                           char *buf, size_t size);
