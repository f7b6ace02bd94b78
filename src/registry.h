/* SPDX-License-Identifier: MIT */
/* The driver registry: looks drivers up by their config name in the one
 * NULL-terminated table of drivers/drivers.c, and refuses a driver that was
 * not written for this contract (DRIVER_VERSION) or lacks a mandatory slot. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "homebattery/driver.h"

/* True when `d` can be instantiated: its version is DRIVER_VERSION, it has a
 * name, parse_config, free_config, new and free, and an ops table for every
 * class it claims. */
bool registry_driver_is_valid(const struct driver *d);
/* NULL for an unknown name and for a driver that is not valid. An old name
 * (registry_alias_target()) finds the driver it now names. */
const struct driver *registry_find(const char *name);
/* The current name of a driver that the original firmware called `name`
 * (e.g. "jkBmsBd" -> "jkBmsBd4"), or NULL when `name` is no such old name. */
const char *registry_alias_target(const char *name);
/* "a, b, c" sorted by name, truncated to size. */
void registry_list(char *buf, size_t size);
size_t registry_count(void);
