/* SPDX-License-Identifier: MIT */
/* ahoyDtu: a Hoymiles inverter through AhoyDTU's REST API. Config here; the
 * HTTP transport comes with the HTTP-devices issue, until then the driver
 * refuses to start. */

#include <stdlib.h>

#include "drivers.h"
#include "dtu-config.h"

static int ahoy_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "host", "id", "power_lut", "password", NULL };
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
        if (config_get_int(ctx, path, obj, "id", true, 0, 0, 255, &c->id) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "password", false, NULL, &c->password) < 0)
                r = -EINVAL;
        return r;
}

const struct driver driver_ahoy_dtu = {
        .version = DRIVER_VERSION,
        .name = "ahoyDtu",
        .classes = CLASS_BIT(DEVICE_CLASS_INVERTER),
        .parse_config = ahoy_parse_config,
        .free_config = dtu_free_config,
};
