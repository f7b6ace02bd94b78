/* SPDX-License-Identifier: MIT */
/* daly8S24V60A: Daly H-series smart BMS over Bluetooth LE (service 0xfff0 or 0xff00).
 * The read cycle is ble-bms.c, the protocol bms-daly.c. */

#include "ble-battery.h"
#include "ble-bms.h"
#include "drivers.h"

static int daly_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "mac", "interval", NULL };
        struct ble_battery_config *c = NULL;
        int r = ble_battery_parse_config(ctx, path, obj, keys, &c);
        *ret = c;
        return r;
}

static int daly_new(struct device *d, const void *config, void **ret) {
        return ble_bms_new(d, config, BMS_KIND_DALY, ret);
}

const struct driver driver_daly_8s_24v_60a = {
        .version = DRIVER_VERSION,
        .name = "daly8S24V60A",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .parse_config = daly_parse_config,
        .free_config = ble_battery_free_config,
        .new = daly_new,
        .free = ble_bms_free,
        .battery = &ble_bms_battery_ops,
};
