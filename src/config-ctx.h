/* SPDX-License-Identifier: MIT */
/* The validation context shared by the config parser and the drivers'
 * parse_config(): where errors go and where relative files are resolved. */
#pragma once

#include <stdbool.h>

#include "config.h"

struct config_ctx {
        const char *file;
        const char *dir;
        struct config_errors *errors;
        bool failed;
        bool oom;
};

void config_key_path(char *buf, size_t size, const char *path, const char *key);
