/* SPDX-License-Identifier: MIT */
/* The `port` key of the serial bus drivers (genericSolar, and the Modbus and
 * Pylontech drivers to come), validated the same way for all of them. */

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "serial-config.h"

/* Absolute paths only; upstream's names get a hint; a missing one is only a warning. */
int serial_config_port(struct config_ctx *ctx, const char *path, struct json_object *obj, char **ret) {
        char kp[256], shown[CONFIG_SHOW_SIZE];

        if (config_get_string(ctx, path, obj, "port", true, NULL, ret) < 0)
                return -EINVAL;
        snprintf(kp, sizeof(kp), "%s.port", path);
        if (strcmp(*ret, "ext1") == 0 || strcmp(*ret, "ext2") == 0) {
                config_error(ctx, kp, "\"%s\" is a port name of the upstream 1.x hardware: use a device path like "
                             "/dev/ttyUSB0 (homebattery --migrate-config converts an upstream config)", *ret);
                return -EINVAL;
        }
        if ((*ret)[0] != '/') {
                config_error(ctx, kp, "expected an absolute device path like /dev/ttyUSB0, got \"%s\"",
                             config_show(shown, *ret));
                return -EINVAL;
        }
        if (access(*ret, F_OK) < 0)
                config_warning(ctx, kp, "\"%s\" does not exist (yet): the driver will keep trying",
                               config_show(shown, *ret));
        return 0;
}
