/* SPDX-License-Identifier: MIT */
/* The config part shared by ahoyDtu and openDtu: keys, host, power LUT,
 * limit refresh and daily restart. */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtu-config.h"

/* "HH:MM", 00:00..23:59. */
static int parse_restart_at(struct config_ctx *ctx, const char *path, struct json_object *obj,
                            struct dtu_config *c) {
        _cleanup_free_ char *v = NULL;
        char kp[256], shown[CONFIG_SHOW_SIZE];
        int r;

        r = config_get_string(ctx, path, obj, "restart_at", false, NULL, &v);
        if (r < 0 || !v)
                return r;
        if (strlen(v) == 5 && isdigit((unsigned char) v[0]) && isdigit((unsigned char) v[1]) && v[2] == ':' &&
            isdigit((unsigned char) v[3]) && isdigit((unsigned char) v[4])) {
                c->restart_hour = (v[0] - '0') * 10 + (v[1] - '0');
                c->restart_minute = (v[3] - '0') * 10 + (v[4] - '0');
                if (c->restart_hour < 24 && c->restart_minute < 60) {
                        c->has_restart_at = true;
                        return 0;
                }
        }
        snprintf(kp, sizeof(kp), "%s.restart_at", path);
        config_error(ctx, kp, "expected a local time \"HH:MM\" (00:00..23:59), got \"%s\"", config_show(shown, v));
        return -EINVAL;
}

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
        if (config_get_int(ctx, path, obj, "limit_refresh", false, DTU_LIMIT_REFRESH_S_DEFAULT, 10, 3600,
                           &c->limit_refresh_s) < 0)
                r = -EINVAL;
        if (parse_restart_at(ctx, path, obj, c) < 0)
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
