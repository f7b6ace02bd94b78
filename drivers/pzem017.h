/* SPDX-License-Identifier: MIT */
/* The PZEM-017 DC meter's registers (genericSolar): the current range it is
 * set to and one sample (voltage, current, power, energy) decoded from the
 * answer to a read of input registers 0..5, scaled to the shunt installed.
 * Pure code, unit-tested from the worked example bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
        PZEM_REG_CURRENT_RANGE = 0x0003, /* holding register */
        PZEM_SAMPLE_REGISTERS = 6,       /* input registers 0x0000..0x0005 */
};

struct pzem_sample {
        double voltage_v;
        double current_a;
        double power_w;
        double energy_wh;
};

/* The range (A) a value of holding register 0x0003 stands for: 0 = 100 A,
 * 1 = 50 A, 2 = 200 A, 3 = 300 A; -ERANGE above 3. */
int pzem_range_amps(uint16_t value);

/* data: the registers of the answer (2 * PZEM_SAMPLE_REGISTERS bytes, each
 * big-endian; 32-bit values low word first); m: the shunt installed divided
 * by the range the device is set to. */
void pzem_decode_sample(const uint8_t *data, double m, struct pzem_sample *ret);
