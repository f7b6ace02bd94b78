/* SPDX-License-Identifier: MIT */
/* A configured device instance: its driver's state, the host interface it is
 * given (include/homebattery/host.h) and the wiring to the control core. */
#pragma once

#include "homebattery/driver.h"
#include "homebattery/host.h"

#include <systemd/sd-event.h>

struct control;
struct control_device;
struct mqtt;
struct http_client;
struct ble_manager;

/* What the host interface is built on: the manager's loop and clients. */
struct device_services {
        sd_event *event;
        struct control *control;
        struct mqtt *mqtt;
        struct http_client *http;
        struct ble_manager *ble;
};

/* Creates a device in one step: its record in the control core, then the
 * driver instance (which may set the read interval from new()). `services`
 * must outlive the device. */
int device_new(const struct device_services *services, const char *name, const struct driver *drv,
               const void *config, struct device **ret);
struct device *device_free(struct device *d);
int device_start(struct device *d);
const struct driver *device_get_driver(const struct device *d);
void *device_get_state(const struct device *d);
