/* SPDX-License-Identifier: MIT */
/* Config shared by the two Hoymiles inverter drivers (AhoyDTU, OpenDTU):
 * the DTU's address, credentials and the inverter's power LUT. */
#pragma once

#include "homebattery/driver.h"
#include "lut.h"

struct dtu_config {
        char *host;
        uint16_t port;
        int id;       /* ahoyDtu: inverter id */
        char *serial; /* openDtu: inverter serial */
        char *lut_path;
        struct lut *lut;
        char *user;
        char *password;
};

/* Reads host and power_lut (loading and checking the LUT file). */
int dtu_parse_common(struct config_ctx *ctx, const char *path, struct json_object *obj, struct dtu_config *c);
void dtu_free_config(void *config);
