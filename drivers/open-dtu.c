/* SPDX-License-Identifier: MIT */
/* openDtu: a Hoymiles inverter through OpenDTU's REST API. Config here; the
 * HTTP transport comes with the HTTP-devices issue, until then the driver
 * refuses to start. */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "dtu-config.h"

static int open_dtu_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "host", "serial", "power_lut", "user", "password", NULL };
        struct dtu_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (dtu_parse_common(ctx, path, obj, c) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "serial", true, NULL, &c->serial) < 0)
                r = -EINVAL;
        else {
                bool ok = strlen(c->serial) <= 20;
                for (const char *p = c->serial; ok && *p; p++)
                        ok = isalnum((unsigned char) *p);
                if (!ok) {
                        char kp[256];
                        snprintf(kp, sizeof(kp), "%s.serial", path);
                        config_error(ctx, kp, "expected the inverter serial (digits, as OpenDTU shows it), got \"%s\"",
                                     c->serial);
                        r = -EINVAL;
                }
        }
        if (config_get_string(ctx, path, obj, "user", false, "admin", &c->user) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "password", false, NULL, &c->password) < 0)
                r = -EINVAL;
        return r;
}

const struct driver driver_open_dtu = {
        .version = DRIVER_VERSION,
        .name = "openDtu",
        .classes = CLASS_BIT(DEVICE_CLASS_INVERTER),
        .parse_config = open_dtu_parse_config,
        .free_config = dtu_free_config,
};
