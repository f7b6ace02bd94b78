/* SPDX-License-Identifier: MIT */
/* The config part common to lltPowerBmsV4Ble, daly8S24V60A and jkBmsBd4. */

#include <stdlib.h>

#include "ble-battery.h"

int ble_battery_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj,
                             const char *const *keys, struct ble_battery_config **ret) {
        struct ble_battery_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (config_get_mac(ctx, path, obj, "mac", c->mac) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "interval", false, 60, 5, 3600, &c->interval_s) < 0)
                r = -EINVAL;
        *ret = c;
        return r;
}

void ble_battery_free_config(void *config) {
        free(config);
}
