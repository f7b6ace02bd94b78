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
/* `name` (the device's) prefixes the log lines of the link. */
int ble_manager_open(struct ble_manager *bm, const char *name, const char *mac, const struct ble_profile *p,
                     const struct ble_callbacks *cb, void *userdata, struct ble_link **ret);
int ble_link_write(struct ble_link *l, const uint8_t *data, size_t len);
/* Stops notifications and disconnects in the background; no more callbacks. */
void ble_link_close(struct ble_link *l);
