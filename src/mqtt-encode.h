/* SPDX-License-Identifier: MIT */
/* The binary payloads of the compatibility topics (mqtt.md): values are
 * rounded, clamped to the type's range and written big-endian. And the JSON
 * battery record, shared by <root>/bat/dev/<name> and --decode. Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "homebattery/device.h"
#include "homebattery/record-json.h"

void encode_u8(double v, uint8_t out[static 1]);
void encode_s8(double v, uint8_t out[static 1]);
void encode_u16(double v, uint8_t out[static 2]);
void encode_s16(double v, uint8_t out[static 2]);

/* battery_record_to_json(): include/homebattery/record-json.h */
