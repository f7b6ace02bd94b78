/* SPDX-License-Identifier: MIT */
/* Driver lookup by name over the static driver table. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "registry.h"

bool registry_driver_is_valid(const struct driver *d) {
        if (!d || d->version != DRIVER_VERSION || !d->name || !d->parse_config || !d->free_config || !d->new ||
            !d->free || d->classes == 0)
                return false;
        if (!!(d->classes & CLASS_BIT(DEVICE_CLASS_BATTERY)) != !!d->battery ||
            !!(d->classes & CLASS_BIT(DEVICE_CLASS_SOLAR)) != !!d->solar ||
            !!(d->classes & CLASS_BIT(DEVICE_CLASS_CHARGER)) != !!d->charger ||
            !!(d->classes & CLASS_BIT(DEVICE_CLASS_INVERTER)) != !!d->inverter ||
            !!(d->classes & CLASS_BIT(DEVICE_CLASS_HEATER)) != !!d->heater)
                return false;
        if (d->battery && !d->battery->read && !d->battery->forwarded)
                return false;
        if ((d->solar && !d->solar->set_on) || (d->charger && !d->charger->set_on) ||
            (d->heater && !d->heater->set_on))
                return false;
        return !d->inverter || (d->inverter->set_on && d->inverter->set_power && d->inverter->power_range);
}

/* Names the original firmware's configs use for drivers that are called
 * differently here: the one place config.c, --decode and --migrate-config
 * look them up. */
static const struct {
        const char *old_name;
        const char *name;
} aliases[] = {
        { "jkBmsBd", "jkBmsBd4" },
        { "growattinvertermodbus", "growattInverterModbus" },
};

const char *registry_alias_target(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
                if (strcmp(aliases[i].old_name, name) == 0)
                        return aliases[i].name;
        return NULL;
}

static const struct driver *find_exact(const char *name) {
        for (const struct driver *const *d = driver_table; *d; d++)
                if (strcmp((*d)->name, name) == 0)
                        return registry_driver_is_valid(*d) ? *d : NULL;
        return NULL;
}

const struct driver *registry_find(const char *name) {
        const char *target;

        if (!name)
                return NULL;
        target = registry_alias_target(name);
        return find_exact(target ? target : name);
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
