/* SPDX-License-Identifier: MIT */
/* The `port` key shared by the serial bus drivers (serial-config.c). */
#pragma once

#include "homebattery/driver.h"

/* Reads path.port into *ret: an absolute device path (an error otherwise; upstream's "ext1"/"ext2" get a
 * hint to use --migrate-config); a path that does not exist yet is only a warning. */
int serial_config_port(struct config_ctx *ctx, const char *path, struct json_object *obj, char **ret);
