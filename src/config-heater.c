/* SPDX-License-Identifier: MIT */
/* The `heater` section (configuration.md): the temperatures of the heater
 * rule, required as soon as a heater device exists. Parsed after the devices,
 * which decide whether it is needed. */

#include <json-c/json.h>
#include <stdio.h>

#include "config-ctx.h"
#include "registry.h"

/* "activate" or "deactivate": {"battery": °C}; battery is the only source. */
static int parse_threshold(struct config_ctx *ctx, struct json_object *o, const char *key, double *ret) {
        static const char *const keys[] = {"battery", NULL};
        struct json_object *v;
        char path[32];

        if (!json_object_object_get_ex(o, key, &v)) {
                config_error(ctx, key[0] == 'a' ? "heater.activate" : "heater.deactivate",
                             "required object is missing: {\"battery\": °C}");
                return -ENOENT;
        }
        if (!json_object_is_type(v, json_type_object))
                return config_type_error(ctx, "heater", key, v, "an object {\"battery\": °C}");
        snprintf(path, sizeof(path), "heater.%s", key);
        if (config_check_keys(ctx, path, v, keys) < 0)
                return -EINVAL;
        return config_get_double(ctx, path, v, "battery", true, 0, HEATER_TEMP_MIN_C, HEATER_TEMP_MAX_C,
                                 ret);
}

/* Heater devices as written, also those whose own keys are wrong: the section's errors and warning must
 * not depend on whether a device parsed. */
static size_t count_heaters(struct json_object *root) {
        struct json_object *devices, *drv;
        size_t n = 0;

        if (!json_object_object_get_ex(root, "devices", &devices) ||
            !json_object_is_type(devices, json_type_object))
                return 0;
        json_object_object_foreach(devices, name, dev) {
                (void) name;
                if (!json_object_is_type(dev, json_type_object) ||
                    !json_object_object_get_ex(dev, "driver", &drv) ||
                    !json_object_is_type(drv, json_type_string))
                        continue;
                const struct driver *d = registry_find(json_object_get_string(drv));
                n += d && (d->classes & CLASS_BIT(DEVICE_CLASS_HEATER));
        }
        return n;
}

void config_parse_heater(struct config_ctx *ctx, struct json_object *root, struct config *c) {
        static const char *const keys[] = {"activate", "deactivate", NULL};
        struct heater_config *h = &c->heater;
        size_t n = count_heaters(root);
        struct json_object *o;
        int a, d;

        *h = (struct heater_config){};
        if (!json_object_object_get_ex(root, "heater", &o)) {
                if (n > 0)
                        config_error(ctx, "heater",
                                     "required section is missing: %zu heater device(s) configured; set "
                                     "heater.activate.battery and heater.deactivate.battery (°C)",
                                     n);
                return;
        }
        if (!json_object_is_type(o, json_type_object)) {
                config_type_error(ctx, "", "heater", o, "an object");
                return;
        }
        h->present = true;
        if (n == 0)
                config_warning(ctx, "heater",
                               "no heater device is configured (shellyHeater): nothing to switch");
        config_check_keys(ctx, "heater", o, keys);
        a = parse_threshold(ctx, o, "activate", &h->activate_c);
        d = parse_threshold(ctx, o, "deactivate", &h->deactivate_c);
        if (a >= 0 && d >= 0 && h->deactivate_c <= h->activate_c)
                config_error(ctx, "heater.deactivate.battery",
                             "%g °C must be above heater.activate.battery (%g °C): the heaters would never "
                             "switch off",
                             h->deactivate_c, h->activate_c);
}
