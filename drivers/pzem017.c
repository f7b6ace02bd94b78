/* SPDX-License-Identifier: MIT */
/* The PZEM-017 register decoding of pzem017.h: fixed-point registers to
 * volts, amps, watts and watt-hours. */

#include <errno.h>

#include "modbus-rtu.h"
#include "pzem017.h"

int pzem_range_amps(uint16_t value) {
        static const int amps[] = { 100, 50, 200, 300 };

        return value < 4 ? amps[value] : -ERANGE;
}

/* Register n holds the low 16 bits, n + 1 the high 16 bits. */
static uint32_t u32_low_first(const uint8_t *data, size_t reg) {
        return (uint32_t) modbus_u16(data, reg + 1) << 16 | modbus_u16(data, reg);
}

void pzem_decode_sample(const uint8_t *data, double m, struct pzem_sample *ret) {
        /* The device computes current (and so power and energy) from the
         * shunt's 75 mV with its own range setting: scale to the real shunt. */
        *ret = (struct pzem_sample) {
                .voltage_v = modbus_u16(data, 0) / 100.0,
                .current_a = modbus_u16(data, 1) / 100.0 * m,
                .power_w = u32_low_first(data, 2) / 10.0 * m,
                .energy_wh = u32_low_first(data, 4) * m,
        };
}
