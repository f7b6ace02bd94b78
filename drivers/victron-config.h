/* SPDX-License-Identifier: MIT */
/* victronMppt's configuration: serial port, power hysteresis and how the
 * charger is switched (HEX on the same cable, a GPIO line, or not at all). */
#pragma once

#include <stdbool.h>

#include "homebattery/driver.h"

enum victron_control {
        VICTRON_CONTROL_HEX,
        VICTRON_CONTROL_GPIO,
        VICTRON_CONTROL_NONE,
};

struct victron_config {
        char *port;
        int power_hysteresis_w;
        enum victron_control control;
        char *gpio_chip;
        int gpio_line;
        bool gpio_active_low;
};

int victron_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret);
void victron_free_config(void *p);
/* GPIO control needs libgpiod in the build (have_gpio): refused at check time, not at start.
 * Returns 0 or -EOPNOTSUPP after reporting it. */
int victron_check_control_supported(struct config_ctx *ctx, const char *path, const struct victron_config *c,
                                    bool have_gpio);
