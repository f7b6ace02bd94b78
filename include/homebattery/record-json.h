/* SPDX-License-Identifier: MIT */
/* The one JSON form of a battery record (the <root>/bat/dev/<name> topic and
 * `homebattery --decode`): a shared helper, implemented by the daemon
 * (src/mqtt-encode.c), that the decode tool in drivers/ uses too. */
#pragma once

#include <stddef.h>

#include "homebattery/device.h"

/* Room for the record of any value a BMS decoder produces (8 temperatures,
 * 32 cells, u32 capacities: under 700 bytes). */
#define BATTERY_JSON_MAX 1024

/* The JSON battery topic of mqtt.md:
 * {"v":..,"i":..,"soc":..,"c":..,"c_full":..,"n":..,"temps":[..],"cells":[..]}.
 * Decimals: v 2, i 2, soc 1, c and c_full 2, temps 1, cells 3 (the finest
 * resolution any supported BMS reports); a value that is not finite (NAN:
 * not reported, e.g. Daly's full capacity) is null. Returns the length
 * written (NUL-terminated) or -ENOBUFS. */
int battery_record_to_json(const struct battery_record *r, char *buf, size_t size);
