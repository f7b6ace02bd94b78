/* SPDX-License-Identifier: MIT */
/* The binary payloads of the compatibility topics (mqtt.md): values are
 * rounded, clamped to the type's range and written big-endian. And the JSON
 * battery record, shared by <root>/bat/dev/<name> and --decode. Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "homebattery/device.h"

void encode_u8(double v, uint8_t out[static 1]);
void encode_s8(double v, uint8_t out[static 1]);
void encode_u16(double v, uint8_t out[static 2]);
void encode_s16(double v, uint8_t out[static 2]);

/* Room for the JSON battery record of any value a BMS decoder produces (8
 * temperatures, 32 cells, u32 capacities: under 700 bytes). */
#define BATTERY_JSON_MAX 1024

/* The JSON battery topic of mqtt.md:
 * {"v":..,"i":..,"soc":..,"c":..,"c_full":..,"n":..,"temps":[..],"cells":[..]}.
 * Decimals: v 2, i 2, soc 1, c and c_full 2, temps 1, cells 3 (the finest
 * resolution any supported BMS reports); a value that is not finite (NAN:
 * not reported, e.g. Daly's full capacity) is null. Returns the length
 * written (NUL-terminated) or -ENOBUFS. */
int battery_record_to_json(const struct battery_record *r, char *buf, size_t size);
