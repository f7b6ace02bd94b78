/* SPDX-License-Identifier: MIT */
/* The INFO layouts of the Pylontech commands pylonLv uses: 0x42 analog
 * values into a battery record, 0x93 the serial number. Pure code, from the
 * bytes pylon_parse() decoded. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/device.h"

struct pylon_analog {
        struct battery_record record; /* time_usec left 0: the caller stamps it */
        double bms_temp_c;            /* the first temperature: the BMS board, logged, not a battery temperature */
        bool has_bms_temp;
        bool full_unknown;            /* full capacity 0: SoC 0 and a warning */
};

/* Decodes 0x42 INFO; returns 0 or -EBADMSG with *ret_reason ("implausible: 40 cells", "truncated"). */
int pylon_decode_analog(const uint8_t *info, size_t n, struct pylon_analog *ret, const char **ret_reason);

/* Whether the 0x93 INFO (address byte, then the serial in ASCII, padded with NUL or spaces) carries
 * exactly this serial. */
bool pylon_serial_matches(const uint8_t *info, size_t n, const char *serial);
