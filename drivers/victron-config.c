/* SPDX-License-Identifier: MIT */
/* Validation of the victronMppt device keys (drivers.md). */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "victron-config.h"

#if __has_include("hb-build-config.h")
#include "hb-build-config.h"
#endif
#ifndef HAVE_LIBGPIOD
#define HAVE_LIBGPIOD 0
#endif

void victron_free_config(void *p) {
        struct victron_config *c = p;
        if (!c)
                return;
        free(c->port);
        free(c->gpio_chip);
        free(c);
}

static int parse_gpio(struct config_ctx *ctx, const char *path, struct json_object *g, struct victron_config *c) {
        static const char *const keys[] = { "chip", "line", "active_low", NULL };
        int r = 0;

        if (!json_object_is_type(g, json_type_object))
                return config_type_error(ctx, path, "gpio", g, "an object {\"chip\", \"line\", \"active_low\"}");
        char gp[300];
        snprintf(gp, sizeof(gp), "%s.gpio", path);
        if (config_check_keys(ctx, gp, g, keys) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, gp, g, "chip", false, "gpiochip0", &c->gpio_chip) < 0)
                r = -EINVAL;
        else if (strchr(c->gpio_chip, '/') && c->gpio_chip[0] != '/') {
                char kp[340];
                snprintf(kp, sizeof(kp), "%s.chip", gp);
                config_error(ctx, kp, "expected a chip name like gpiochip0 or a /dev path");
                r = -EINVAL;
        }
        if (config_get_int(ctx, gp, g, "line", true, 0, 0, 1023, &c->gpio_line) < 0)
                r = -EINVAL;
        if (config_get_bool(ctx, gp, g, "active_low", false, false, &c->gpio_active_low) < 0)
                r = -EINVAL;
        return r;
}

static int parse_control(struct config_ctx *ctx, const char *path, struct json_object *obj,
                         struct victron_config *c) {
        static const char *const words[] = { "hex", "none", NULL };
        static const char *const obj_keys[] = { "gpio", NULL };
        struct json_object *v, *g;
        char kp[256];
        int choice;

        c->control = VICTRON_CONTROL_HEX;
        if (config_get_choice(ctx, path, obj, "control", words, "{\"gpio\": {...}}", &choice, &v) < 0)
                return -EINVAL;
        if (choice >= 0)
                c->control = choice == 0 ? VICTRON_CONTROL_HEX : VICTRON_CONTROL_NONE;
        if (choice != CONFIG_CHOICE_OBJECT)
                return 0;
        snprintf(kp, sizeof(kp), "%s.control", path);
        if (config_check_keys(ctx, kp, v, obj_keys) < 0)
                return -EINVAL;
        if (!json_object_object_get_ex(v, "gpio", &g)) {
                config_error(ctx, kp, "expected \"hex\", \"none\" or {\"gpio\": {...}}");
                return -EINVAL;
        }
        c->control = VICTRON_CONTROL_GPIO;
        return parse_gpio(ctx, kp, g, c);
}

int victron_check_control_supported(struct config_ctx *ctx, const char *path, const struct victron_config *c,
                                    bool have_gpio) {
        char kp[256];

        if (c->control != VICTRON_CONTROL_GPIO || have_gpio)
                return 0;
        snprintf(kp, sizeof(kp), "%s.control.gpio", path);
        config_error(ctx, kp,
                     "this build has no GPIO support (libgpiod): use \"hex\" or \"none\", or rebuild with "
                     "libgpiod-dev installed");
        return -EOPNOTSUPP;
}

int victron_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "port", "power_hysteresis", "control", NULL };
        struct victron_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "port", true, NULL, &c->port) < 0)
                r = -EINVAL;
        else if (c->port[0] != '/') {
                char kp[256], shown[CONFIG_SHOW_SIZE];
                snprintf(kp, sizeof(kp), "%s.port", path);
                config_error(ctx, kp, "expected an absolute device path like /dev/ttyUSB0, got \"%s\"",
                             config_show(shown, c->port));
                r = -EINVAL;
        } else if (access(c->port, F_OK) < 0) {
                /* Not an error: a USB cable may be plugged in later; the driver retries. */
                char kp[256], shown[CONFIG_SHOW_SIZE];
                snprintf(kp, sizeof(kp), "%s.port", path);
                config_warning(ctx, kp, "\"%s\" does not exist (yet): the driver will keep trying",
                               config_show(shown, c->port));
        }
        if (config_get_int(ctx, path, obj, "power_hysteresis", false, 2, 1, 1000, &c->power_hysteresis_w) < 0)
                r = -EINVAL;
        if (parse_control(ctx, path, obj, c) < 0)
                r = -EINVAL;
        else if (victron_check_control_supported(ctx, path, c, HAVE_LIBGPIOD) < 0)
                r = -EINVAL;
        return r;
}
