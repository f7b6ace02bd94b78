/* SPDX-License-Identifier: MIT */
/* Driver lookup by name over the static driver table. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

const struct driver *registry_find(const char *name) {
        if (!name)
                return NULL;
        for (const struct driver *const *d = driver_table; *d; d++)
                if (strcmp((*d)->name, name) == 0)
                        return *d;
        return NULL;
}

size_t registry_count(void) {
        size_t n = 0;
        for (const struct driver *const *d = driver_table; *d; d++)
                n++;
        return n;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

void registry_list(char *buf, size_t size) {
        const char *names[64];
        size_t n = 0, len = 0;

        for (const struct driver *const *d = driver_table; *d && n < ELEMENTSOF(names); d++)
                names[n++] = (*d)->name;
        qsort(names, n, sizeof(names[0]), cmp_names);
        buf[0] = 0;
        for (size_t i = 0; i < n && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
}
