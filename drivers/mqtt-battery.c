/* SPDX-License-Identifier: MIT */
/* mqttBattery: a battery published by another controller, read back from its
 * compatibility topics (or its JSON topic). Its records count for every check
 * here but are never re-published. Decoding is in mqtt-decode.c. */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "drivers.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"
#include "mqtt-decode.h"
#include <string.h>

struct mqtt_battery_config {
        char *root_topic;
        char *filter; /* "<root_topic>/#": the subscription */
        /* Both 0 when not configured: then only the JSON on root_topic makes records (all an original 1.x
         * controller sends), as the binary sub-topics cannot be assembled without the counts. */
        bool binary;
        int cells_count;
        int temperature_count;
};

static void mqtt_battery_free_config(void *p) {
        struct mqtt_battery_config *c = p;
        if (!c)
                return;
        free(c->root_topic);
        free(c->filter);
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
        else if (asprintf(&c->filter, "%s/#", c->root_topic) < 0)
                return -ENOMEM;
        /* The original firmware's example used cell_count: accept both, not both at once. */
        bool has_cells = json_object_object_get_ex(obj, "cells_count", NULL);
        bool has_cell = json_object_object_get_ex(obj, "cell_count", NULL);
        bool has_temps = json_object_object_get_ex(obj, "temperature_count", NULL);
        if (has_cells && has_cell) {
                char kp[256];
                snprintf(kp, sizeof(kp), "%s.cell_count", path);
                config_error(ctx, kp, "give either cells_count or its alias cell_count, not both");
                r = -EINVAL;
        } else if ((has_cells || has_cell || has_temps) &&
                   config_get_int(ctx, path, obj, has_cell ? "cell_count" : "cells_count", true, 0, 1,
                                  BATTERY_CELLS_MAX, &c->cells_count) < 0)
                r = -EINVAL;
        if ((has_cells || has_cell || has_temps) &&
            config_get_int(ctx, path, obj, "temperature_count", true, 0, 0, BATTERY_TEMPS_MAX,
                           &c->temperature_count) < 0)
                r = -EINVAL;
        c->binary = has_cells || has_cell || has_temps;
        return r;
}

static size_t mqtt_battery_config_mqtt_topics(const void *config, struct driver_mqtt_topic *ret, size_t max) {
        const struct mqtt_battery_config *c = config;
        if (max < 1)
                return 0;
        /* "<root>/#" also matches "<root>" itself: the JSON topic. */
        ret[0] = (struct driver_mqtt_topic) { .key = "root_topic", .filter = c->filter };
        return 1;
}

static int mqtt_battery_config_temperature_count(const void *config) {
        const struct mqtt_battery_config *c = config;
        /* JSON only: each message tells how many it has. */
        return c->binary ? c->temperature_count : -ENODATA;
}

static int mqtt_battery_config_cell_count(const void *config) {
        const struct mqtt_battery_config *c = config;
        return c->binary ? c->cells_count : -ENODATA;
}

struct mqtt_battery {
        struct device *device;
        const struct mqtt_battery_config *config;
        char *pattern;
        size_t root_len;
        struct mqtt_battery_assembler assembler;
        struct ratelimit rl;
};

static void on_message(void *userdata, const char *topic, const void *payload, size_t len) {
        struct mqtt_battery *mb = userdata;
        const char *name = device_get_name(mb->device), *reason = "?";
        struct battery_record rec;
        int r;

        if (strncmp(topic, mb->config->root_topic, mb->root_len) != 0)
                return;
        if (topic[mb->root_len] == 0)
                r = mqtt_battery_parse_json(payload, len, &rec, &reason);
        else if (topic[mb->root_len] == '/' && !mb->config->binary)
                return; /* JSON only: the sub-topics are not this device's input */
        else if (topic[mb->root_len] == '/')
                r = mqtt_battery_feed(&mb->assembler, topic + mb->root_len + 1, payload, len,
                                      device_now_usec(mb->device), &rec, &reason);
        else
                return;
        if (r < 0) {
                log_input_warning(&mb->rl, device_now_usec(mb->device), name, mb->config->root_topic,
                                  "Ignoring %zu byte(s) on %s: %s", len, topic, reason);
                return;
        }
        if (r == 0 && topic[mb->root_len] == '/')
                return;
        log_debug(name, "Record: %.2f V %.1f A SoC %.0f %%, %zu cells", rec.voltage_v, rec.current_a, rec.soc_pct,
                  rec.n_cells);
        device_report_battery(mb->device, &rec);
}

static int mqtt_battery_new(struct device *d, const void *config, void **ret) {
        const struct mqtt_battery_config *c = config;
        struct mqtt_battery *mb = calloc(1, sizeof(*mb));
        if (!mb)
                return -ENOMEM;
        mb->device = d;
        mb->config = c;
        mb->root_len = strlen(c->root_topic);
        mb->rl = INPUT_WARN_RATELIMIT;
        mqtt_battery_assembler_init(&mb->assembler, (unsigned) c->cells_count, (unsigned) c->temperature_count);
        if (asprintf(&mb->pattern, "%s/#", c->root_topic) < 0) {
                free(mb);
                return -ENOMEM;
        }
        *ret = mb;
        return 0;
}

static void mqtt_battery_free(void *state) {
        struct mqtt_battery *mb = state;
        if (!mb)
                return;
        free(mb->pattern);
        free(mb);
}

static int mqtt_battery_start(void *state) {
        struct mqtt_battery *mb = state;
        /* "<root>/#" also matches "<root>" itself: the JSON topic. */
        return transport_mqtt_subscribe(mb->device, mb->pattern, 0, on_message, mb);
}

static const struct battery_ops mqtt_battery_ops = {
        .forwarded = true,
};

const struct driver driver_mqtt_battery = {
        .version = DRIVER_VERSION,
        .name = "mqttBattery",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .parse_config = mqtt_battery_parse_config,
        .free_config = mqtt_battery_free_config,
        .config_mqtt_topics = mqtt_battery_config_mqtt_topics,
        .config_temperature_count = mqtt_battery_config_temperature_count,
        .config_cell_count = mqtt_battery_config_cell_count,
        .new = mqtt_battery_new,
        .free = mqtt_battery_free,
        .start = mqtt_battery_start,
        .battery = &mqtt_battery_ops,
};
