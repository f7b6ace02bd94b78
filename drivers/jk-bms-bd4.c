/* SPDX-License-Identifier: MIT */
/* jkBmsBd4: JK BMS (JK02 protocol, BD4 and later) over Bluetooth LE.
 * The read cycle is ble-bms.c, the protocol bms-jk.c. */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ble-battery.h"
#include "ble-bms.h"
#include "drivers.h"

static int jk_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "mac", "interval", "layout", NULL };
        struct ble_battery_config *c = NULL;
        _cleanup_free_ char *layout = NULL;
        int r;

        r = ble_battery_parse_config(ctx, path, obj, keys, &c);
        *ret = c;
        if (!c)
                return r;
        if (config_get_string(ctx, path, obj, "layout", false, "auto", &layout) < 0)
                return -EINVAL;
        if (strcmp(layout, "auto") == 0)
                c->layout = JK_LAYOUT_AUTO;
        else if (strcmp(layout, "24s") == 0)
                c->layout = JK_LAYOUT_24S;
        else if (strcmp(layout, "32s") == 0)
                c->layout = JK_LAYOUT_32S;
        else {
                char kp[256], shown[CONFIG_SHOW_SIZE];
                snprintf(kp, sizeof(kp), "%s.layout", path);
                config_error(ctx, kp, "expected auto, 24s or 32s, got \"%s\"", config_show(shown, layout));
                return -EINVAL;
        }
        return r;
}

static int jk_new(struct device *d, const void *config, void **ret) {
        return ble_bms_new(d, config, BMS_KIND_JK, ret);
}

const struct driver driver_jk_bms_bd4 = {
        .version = DRIVER_VERSION,
        .name = "jkBmsBd4",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .parse_config = jk_parse_config,
        .free_config = ble_battery_free_config,
        .new = jk_new,
        .free = ble_bms_free,
        .battery = &ble_bms_battery_ops,
};
