/* SPDX-License-Identifier: MIT */
/* shellyCharger: a grid charger switched by a Shelly relay (Gen1 or Gen2+).
 * Config here; the HTTP transport comes with the HTTP-devices issue, until
 * then the driver refuses to start. */

#include <json-c/json.h>
#include <stdlib.h>

#include "drivers.h"

struct shelly_config {
        char *host;
        uint16_t port;
        int relay_id;
        int generation; /* 0: detect with GET /shelly */
        char *user;
        char *password;
};

static void shelly_free_config(void *p) {
        struct shelly_config *c = p;
        if (!c)
                return;
        free(c->host);
        free(c->user);
        free(c->password);
        free(c);
}

static int shelly_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "host", "relay_id", "generation", "user", "password", NULL };
        struct shelly_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (config_get_hostport(ctx, path, obj, "host", true, &c->host, &c->port) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "relay_id", false, 0, 0, 15, &c->relay_id) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "generation", false, 0, 1, 2, &c->generation) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "user", false, NULL, &c->user) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "password", false, NULL, &c->password) < 0)
                r = -EINVAL;
        return r;
}

const struct driver driver_shelly_charger = {
        .version = DRIVER_VERSION,
        .name = "shellyCharger",
        .classes = CLASS_BIT(DEVICE_CLASS_CHARGER),
        .parse_config = shelly_parse_config,
        .free_config = shelly_free_config,
};
