/* SPDX-License-Identifier: MIT */
/* mqttBattery: a battery published by another controller, read back from its
 * compatibility topics (or its JSON topic). Config here; the MQTT side comes
 * with the MQTT issue, until then the driver refuses to start. */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "drivers.h"

struct mqtt_battery_config {
        char *root_topic;
        int cells_count;
        int temperature_count;
};

static void mqtt_battery_free_config(void *p) {
        struct mqtt_battery_config *c = p;
        if (!c)
                return;
        free(c->root_topic);
        free(c);
}

static int mqtt_battery_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj,
                                     void **ret) {
        static const char *const keys[] = { "driver", "root_topic", "cells_count", "cell_count",
                                            "temperature_count", NULL };
        struct mqtt_battery_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (config_get_topic(ctx, path, obj, "root_topic", &c->root_topic) < 0)
                r = -EINVAL;
        /* The original firmware's example used cell_count: accept both, not both at once. */
        bool has_cells = json_object_object_get_ex(obj, "cells_count", NULL);
        bool has_cell = json_object_object_get_ex(obj, "cell_count", NULL);
        if (has_cells && has_cell) {
                char kp[256];
                snprintf(kp, sizeof(kp), "%s.cell_count", path);
                config_error(ctx, kp, "give either cells_count or its alias cell_count, not both");
                r = -EINVAL;
        } else if (config_get_int(ctx, path, obj, has_cell ? "cell_count" : "cells_count", true, 0, 1,
                                  BATTERY_CELLS_MAX, &c->cells_count) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "temperature_count", true, 0, 0, BATTERY_TEMPS_MAX,
                           &c->temperature_count) < 0)
                r = -EINVAL;
        return r;
}

const struct driver driver_mqtt_battery = {
        .version = DRIVER_VERSION,
        .name = "mqttBattery",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .parse_config = mqtt_battery_parse_config,
        .free_config = mqtt_battery_free_config,
};
