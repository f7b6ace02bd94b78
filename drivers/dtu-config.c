/* SPDX-License-Identifier: MIT */
/* The config part shared by ahoyDtu and openDtu: keys, host, power LUT. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtu-config.h"

int dtu_parse_common(struct config_ctx *ctx, const char *path, struct json_object *obj,
                     const char *const *keys, const struct dtu_glue_kind *kind, struct dtu_config **ret) {
        struct dtu_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        c->kind = kind;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (config_get_hostport(ctx, path, obj, "host", true, &c->host, &c->port) < 0)
                r = -EINVAL;
        if (config_get_file(ctx, path, obj, "power_lut", true, &c->lut_path) < 0)
                return -EINVAL;

        int k = lut_load(c->lut_path, &c->lut);
        if (k < 0) {
                char kp[256], shown[CONFIG_SHOW_SIZE];
                snprintf(kp, sizeof(kp), "%s.power_lut", path);
                if (k == -ENODATA)
                        config_error(ctx, kp, "\"%s\" has no valid \"percent;watt\" line",
                                     config_show(shown, c->lut_path));
                else
                        config_error(ctx, kp, "cannot load \"%s\": %s", config_show(shown, c->lut_path),
                                     strerror(-k));
                r = -EINVAL;
        }
        return r;
}

void dtu_free_config(void *p) {
        struct dtu_config *c = p;
        if (!c)
                return;
        free(c->host);
        free(c->serial);
        free(c->lut_path);
        lut_free(c->lut);
        free(c->user);
        free(c->password);
        free(c);
}
