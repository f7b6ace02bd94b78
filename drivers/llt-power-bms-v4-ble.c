/* SPDX-License-Identifier: MIT */
/* lltPowerBmsV4Ble: LLT Power / JBD BMS over Bluetooth LE (service 0xff00).
 * The read cycle is ble-bms.c, the protocol bms-llt.c. */

#include "ble-battery.h"
#include "ble-bms.h"
#include "drivers.h"

static int llt_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "mac", "interval", NULL };
        struct ble_battery_config *c = NULL;
        int r = ble_battery_parse_config(ctx, path, obj, keys, &c);
        *ret = c;
        return r;
}

static int llt_new(struct device *d, const void *config, void **ret) {
        return ble_bms_new(d, config, BMS_KIND_LLT, ret);
}

const struct driver driver_llt_power_bms_v4_ble = {
        .version = DRIVER_VERSION,
        .name = "lltPowerBmsV4Ble",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .parse_config = llt_parse_config,
        .free_config = ble_battery_free_config,
        .new = llt_new,
        .free = ble_bms_free,
        .battery = &ble_bms_battery_ops,
};
