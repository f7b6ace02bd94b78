/* SPDX-License-Identifier: MIT */
/* Config shared by the three Bluetooth LE battery drivers (mac, interval). */
#pragma once

#include "homebattery/driver.h"

enum jk_layout {
        JK_LAYOUT_AUTO,
        JK_LAYOUT_24S,
        JK_LAYOUT_32S,
};

struct ble_battery_config {
        char mac[18];
        int interval_s;
        enum jk_layout layout;
};

/* Validates mac and interval; extra_keys are the driver's own further keys
 * (NULL-terminated), which the caller reads itself. */
int ble_battery_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj,
                             const char *const *keys, struct ble_battery_config **ret);
void ble_battery_free_config(void *config);
