/* SPDX-License-Identifier: MIT */
/* Config shared by the two Hoymiles inverter drivers (AhoyDTU, OpenDTU):
 * the DTU's address, credentials, the inverter's power LUT, the limit
 * refresh and the daily restart. */
#pragma once

#include "homebattery/driver.h"
#include "homebattery/lut.h"

struct dtu_glue_kind;

struct dtu_config {
        const struct dtu_glue_kind *kind; /* which driver: AhoyDTU or OpenDTU (dtu-glue.h) */
        char *host;
        uint16_t port;
        int id;       /* ahoyDtu: inverter id */
        char *serial; /* openDtu: inverter serial */
        char *lut_path;
        struct lut *lut;
        char *user;
        char *password;
        int limit_refresh_s;  /* re-send the limit after this long without one */
        bool has_restart_at;  /* restart the inverter daily at restart_hour:restart_minute, local time */
        int restart_hour, restart_minute;
};

/* limit_refresh when not given (configuration.md). */
#define DTU_LIMIT_REFRESH_S_DEFAULT 120

/* The start of both drivers' parse_config(): allocates *ret (on success and
 * on a config error alike; free it with dtu_free_config()), checks the keys
 * against `keys` (plus limit_refresh and restart_at, which both take) and
 * reads host, power_lut (loading and checking the LUT file), limit_refresh and
 * restart_at. -ENOMEM (*ret untouched), -EINVAL or 0. */
int dtu_parse_common(struct config_ctx *ctx, const char *path, struct json_object *obj,
                     const char *const *keys, const struct dtu_glue_kind *kind, struct dtu_config **ret);
void dtu_free_config(void *config);
