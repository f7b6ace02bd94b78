/* SPDX-License-Identifier: MIT */
/* The BLE transport's owner: one sd-bus connection to BlueZ on the system
 * bus (DBUS_SYSTEM_BUS_ADDRESS redirects it), attached to the loop, and the
 * queue that lets only one discovery/connection run at a time. */
#pragma once

#include <systemd/sd-event.h>

#include "homebattery/transport.h"

struct ble_manager;

int ble_manager_new(sd_event *e, const char *adapter, struct ble_manager **ret);
struct ble_manager *ble_manager_free(struct ble_manager *bm);
int ble_manager_open(struct ble_manager *bm, struct device *d, const char *mac, const struct ble_profile *p,
                     const struct ble_callbacks *cb, void *userdata, struct ble_link **ret);
