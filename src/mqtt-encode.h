/* SPDX-License-Identifier: MIT */
/* The binary payloads of the compatibility topics (mqtt.md): values are
 * rounded, clamped to the type's range and written big-endian. Pure. */
#pragma once

#include <stdint.h>

void encode_u8(double v, uint8_t out[static 1]);
void encode_s8(double v, uint8_t out[static 1]);
void encode_u16(double v, uint8_t out[static 2]);
void encode_s16(double v, uint8_t out[static 2]);
