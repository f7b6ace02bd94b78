/* SPDX-License-Identifier: MIT */
/* mqttConsumption: the live household power at the grid meter, from an MQTT
 * topic (binary s16/s32, text, or a number at a JSON path). The decoding is in
 * mqtt-decode.c; this file is config and glue. */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"
#include "mqtt-decode.h"

struct mqtt_consumption_config {
        char *topic;
        enum consumption_format format;
        char *json_path; /* dotted, for CONSUMPTION_FORMAT_JSON */
};

static void mqtt_consumption_free_config(void *p) {
        struct mqtt_consumption_config *c = p;
        if (!c)
                return;
        free(c->topic);
        free(c->json_path);
        free(c);
}

static bool json_path_is_valid(const char *s) {
        size_t len = strlen(s);
        return len > 0 && len <= 128 && s[0] != '.' && s[len - 1] != '.' && !strstr(s, "..");
}

static int parse_format(struct config_ctx *ctx, const char *path, struct json_object *obj,
                        struct mqtt_consumption_config *c) {
        static const char *const words[] = { "auto", "binary", "text", NULL };
        static const char *const json_keys[] = { "json", NULL };
        static const enum consumption_format formats[] = {
                CONSUMPTION_FORMAT_AUTO, CONSUMPTION_FORMAT_BINARY, CONSUMPTION_FORMAT_TEXT };
        struct json_object *f;
        char kp[256], shown[CONFIG_SHOW_SIZE];
        int choice;

        c->format = CONSUMPTION_FORMAT_AUTO;
        if (config_get_choice(ctx, path, obj, "format", words, "{\"json\": \"path\"}", &choice, &f) < 0)
                return -EINVAL;
        if (choice >= 0)
                c->format = formats[choice];
        if (choice != CONFIG_CHOICE_OBJECT)
                return 0;
        snprintf(kp, sizeof(kp), "%s.format", path);
        if (config_check_keys(ctx, kp, f, json_keys) < 0)
                return -EINVAL;
        if (config_get_string(ctx, kp, f, "json", true, NULL, &c->json_path) < 0)
                return -EINVAL;
        if (!json_path_is_valid(c->json_path)) {
                char jp[320];
                snprintf(jp, sizeof(jp), "%s.json", kp);
                config_error(ctx, jp, "expected a dotted path like \"SML.Power\", got \"%s\"",
                             config_show(shown, c->json_path));
                return -EINVAL;
        }
        c->format = CONSUMPTION_FORMAT_JSON;
        return 0;
}

static int mqtt_consumption_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj,
                                         void **ret) {
        static const char *const keys[] = { "driver", "topic", "format", NULL };
        struct mqtt_consumption_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (config_get_topic(ctx, path, obj, "topic", &c->topic) < 0)
                r = -EINVAL;
        if (parse_format(ctx, path, obj, c) < 0)
                r = -EINVAL;
        return r;
}

static size_t mqtt_consumption_config_mqtt_topics(const void *config, struct driver_mqtt_topic *ret, size_t max) {
        const struct mqtt_consumption_config *c = config;
        if (max < 1)
                return 0;
        ret[0] = (struct driver_mqtt_topic) { .key = "topic", .filter = c->topic };
        return 1;
}

struct mqtt_consumption {
        struct device *device;
        const struct mqtt_consumption_config *config;
        struct ratelimit rl;
};

static void on_message(void *userdata, const char *topic, const void *payload, size_t len) {
        struct mqtt_consumption *mc = userdata;
        const char *reason = "?";
        int w, r;

        r = consumption_decode(mc->config->format, mc->config->json_path, payload, len, &w, &reason);
        if (r < 0) {
                device_report_read(mc->device, r, "payload");
                log_input_warning(&mc->rl, device_now_usec(mc->device), device_get_name(mc->device), topic,
                                  "Ignoring %zu byte(s) on %s: %s", len, topic, reason);
                return;
        }
        log_debug(device_get_name(mc->device), "Consumption %d W", w);
        device_report_consumption(mc->device, w);
}

static int mqtt_consumption_new(struct device *d, const void *config, void **ret) {
        struct mqtt_consumption *mc = calloc(1, sizeof(*mc));
        if (!mc)
                return -ENOMEM;
        mc->device = d;
        mc->config = config;
        mc->rl = INPUT_WARN_RATELIMIT;
        *ret = mc;
        return 0;
}

static void mqtt_consumption_free(void *state) {
        free(state);
}

static int mqtt_consumption_start(void *state) {
        struct mqtt_consumption *mc = state;
        return transport_mqtt_subscribe(mc->device, mc->config->topic, 0, on_message, mc);
}

const struct driver driver_mqtt_consumption = {
        .version = DRIVER_VERSION,
        .name = "mqttConsumption",
        .classes = CLASS_BIT(DEVICE_CLASS_CONSUMPTION),
        .parse_config = mqtt_consumption_parse_config,
        .free_config = mqtt_consumption_free_config,
        .config_mqtt_topics = mqtt_consumption_config_mqtt_topics,
        .new = mqtt_consumption_new,
        .free = mqtt_consumption_free,
        .start = mqtt_consumption_start,
};
