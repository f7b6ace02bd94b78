/* SPDX-License-Identifier: MIT */
/* A configured device instance: its driver's state, the host interface it is
 * given (include/homebattery/host.h) and the wiring to the control core. */
#pragma once

#include "homebattery/driver.h"
#include "homebattery/host.h"

struct manager;
struct control_device;

/* Creates the driver instance. */
int device_new(struct manager *m, const char *name, const struct driver *drv, const void *config,
               struct device **ret);
struct device *device_free(struct device *d);
int device_start(struct device *d);
const struct driver *device_get_driver(const struct device *d);
void *device_get_state(const struct device *d);
void device_set_control(struct device *d, struct control_device *cd);
