/* SPDX-License-Identifier: MIT */
/* The driver registry: looks drivers up by their config name in the one
 * NULL-terminated table of drivers/drivers.c. */
#pragma once

#include <stddef.h>

#include "homebattery/driver.h"

extern const struct driver *const driver_table[];

const struct driver *registry_find(const char *name);
/* "a, b, c" sorted by name, truncated to size. */
void registry_list(char *buf, size_t size);
size_t registry_count(void);
