/* SPDX-License-Identifier: MIT */
/* Helpers of the config unit tests (test-config.c, test-config-refuse.c):
 * print the collected problems, find a problem line. Include after cmocka.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "config.h"

static inline void dump(const struct config_errors *e) {
        for (size_t i = 0; i < e->n; i++)
                print_message("    error:   %s\n", e->lines[i]);
        for (size_t i = 0; i < e->n_warnings; i++)
                print_message("    warning: %s\n", e->warnings[i]);
}

/* The first line containing a, and b too when b is not NULL; NULL when there is none. */
static inline const char *find_line(char *const *lines, size_t n, const char *a, const char *b) {
        for (size_t i = 0; i < n; i++)
                if (strstr(lines[i], a) && (!b || strstr(lines[i], b)))
                        return lines[i];
        return NULL;
}
