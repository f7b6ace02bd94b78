/* SPDX-License-Identifier: MIT */
/* The INFO layouts of the Pylontech commands pylonLv uses: 0x42 analog
 * values into a battery record, 0x93 the serial number, and the logged-only
 * 0x47 system parameters, 0x44 alarms and 0x92 management info. Pure code,
 * from the bytes pylon_parse() decoded. */
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

/* 0x47 system parameters (logged once after the battery was found). */
struct pylon_params {
        unsigned cell_high_mv, cell_low_mv, cell_under_mv;
        double charge_high_c, charge_low_c;
        double charge_limit_a;
        unsigned module_high_mv, module_low_mv, module_under_mv;
        double discharge_high_c, discharge_low_c;
        double discharge_limit_a;
};

int pylon_decode_params(const uint8_t *info, size_t n, struct pylon_params *ret);

/* 0x44 alarm info: the raw state bytes, compared as a whole to log changes only. */
#define PYLON_ALARM_STATES_MAX (BATTERY_CELLS_MAX + 16 + 3)
struct pylon_alarms {
        unsigned n_cells, n_temps;
        uint8_t cell[BATTERY_CELLS_MAX];   /* 0 normal, 1 below the lower limit, 2 above the upper, 0xF0 other */
        uint8_t temp[16];
        uint8_t charge_current, module_voltage, discharge_current;
        uint8_t status[5];                 /* status 1..5 */
};

int pylon_decode_alarms(const uint8_t *info, size_t n, struct pylon_alarms *ret);
/* The active alarms and states in words ("cell 3 above limit, module under voltage, charge MOSFET on"),
 * "none" when nothing is set; cut to size. */
void pylon_alarms_describe(const struct pylon_alarms *a, char *buf, size_t size);

/* 0x92 charge/discharge management info. */
struct pylon_management {
        unsigned charge_voltage_mv, discharge_voltage_mv;
        double charge_limit_a, discharge_limit_a;
        uint8_t status; /* bit 7 charge enable, 6 discharge enable, 5/4 charge immediately, 3 full charge */
};

int pylon_decode_management(const uint8_t *info, size_t n, struct pylon_management *ret);
