/* SPDX-License-Identifier: MIT */
/* The Victron SmartShunt / BMV-7xx fields (victronSmartShunt): the latest
 * value of each field kept across its two text blocks, and the battery
 * record made of them (no cells; a temperature only when the aux input
 * measures one). Pure code, unit-tested and fuzzed from blocks. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "homebattery/device.h"
#include "vedirect.h"

#define SMARTSHUNT_REG_CAPACITY 0x1000 /* HEX register: battery capacity, u16 Ah */

struct smartshunt_values {
        bool has_v, has_i, has_soc, soc_unknown, has_t, has_h4, has_alarm, has_ar;
        int64_t v_mv, i_ma, soc_permille, t_c, h4, ar;
        bool alarm_on;
};

/* Takes the known fields of a good block into v; true when the block carried both V and I (a record is
 * due). A field that does not parse is left as it was. */
bool smartshunt_merge(struct smartshunt_values *v, const struct vedirect_block *b);
/* The record of the latest values; full_ah as configured or read from the shunt (0: unknown). */
void smartshunt_record(const struct smartshunt_values *v, double full_ah, struct battery_record *ret);
/* "low voltage, high temperature" for the AR bits, "none" for 0; cut to size. */
void smartshunt_alarm_text(int64_t ar, char *buf, size_t size);
