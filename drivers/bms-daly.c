/* SPDX-License-Identifier: MIT */
/* Daly H-series frames (drivers.md, daly8S24V60A): Modbus style `d2 03 len`,
 * len data bytes, CRC-16/Modbus low byte first. Only the 0x7c answer (129
 * bytes) carries the status; other checked frames are skipped. Big-endian. */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bms-decode.h"

#define DALY_ADDR 0xd2
#define DALY_READ 0x03
#define DALY_ANSWER_LEN 0x7c /* 124 data bytes */
#define DALY_OVERHEAD 5      /* d2 03 len ... crc crc */

const uint8_t bms_daly_request[8] = { 0xd2, 0x03, 0x00, 0x00, 0x00, 0x3e, 0xd7, 0xb9 };

uint16_t bms_crc16_modbus(const uint8_t *p, size_t len) {
        uint16_t crc = 0xffff;

        for (size_t i = 0; i < len; i++) {
                crc ^= p[i];
                for (unsigned b = 0; b < 8; b++)
                        crc = (crc & 1) ? (crc >> 1) ^ 0xa001 : crc >> 1;
        }
        return crc;
}

static unsigned be16(const uint8_t *p) {
        return (unsigned) p[0] << 8 | p[1];
}

size_t bms_daly_find_start(const uint8_t *buf, size_t len) {
        static const uint8_t header[] = { DALY_ADDR, DALY_READ };

        return bms_find_marker(buf, len, header, sizeof(header));
}

static enum bms_scan decode_answer(const uint8_t *f, struct battery_record *r, char reason[static BMS_REASON_MAX]) {
        unsigned n_cells = be16(f + 101), n_temps = be16(f + 103);

        if (n_cells == 0 || n_cells > BATTERY_CELLS_MAX) {
                snprintf(reason, BMS_REASON_MAX, "implausible: %u cells", n_cells);
                return BMS_SCAN_REJECT;
        }
        if (n_temps > BATTERY_TEMPS_MAX) {
                snprintf(reason, BMS_REASON_MAX, "implausible: %u temperature sensors", n_temps);
                return BMS_SCAN_REJECT;
        }

        *r = (struct battery_record) {
                .voltage_v = be16(f + 83) / 10.0,
                .current_a = ((int) be16(f + 85) - 30000) / 10.0,
                .soc_pct = be16(f + 87) / 10.0,
                .remaining_ah = be16(f + 99) / 10.0,
                .full_ah = NAN, /* not in this frame */
                .cycles = be16(f + 105),
                .n_cells = n_cells,
                .n_temps = n_temps,
        };
        for (size_t i = 0; i < n_cells; i++)
                r->cells_v[i] = be16(f + 3 + 2 * i) / 1000.0;
        for (size_t i = 0; i < n_temps; i++)
                r->temps_c[i] = (int) be16(f + 67 + 2 * i) - 40;
        return BMS_SCAN_FRAME;
}

enum bms_scan bms_daly_scan(const uint8_t *buf, size_t len, enum bms_layout layout, size_t *ret_consumed,
                            struct bms_frame *ret, char reason[static BMS_REASON_MAX]) {
        size_t p = bms_daly_find_start(buf, len);

        (void) layout;
        *ret_consumed = p;
        if (len - p < 3)
                return BMS_SCAN_MORE;

        const uint8_t *f = buf + p;
        size_t total = DALY_OVERHEAD + f[2];
        if (len - p < total)
                return BMS_SCAN_MORE;

        uint16_t crc = bms_crc16_modbus(f, total - 2);
        if ((unsigned) (f[total - 2] | f[total - 1] << 8) != crc) {
                size_t q = bms_daly_find_start(f + 1, total - 1) + 1;
                if (q + 2 <= total) {
                        *ret_consumed = p + q;
                        snprintf(reason, BMS_REASON_MAX, "truncated");
                } else {
                        *ret_consumed = p + total;
                        snprintf(reason, BMS_REASON_MAX, "bad checksum");
                }
                return BMS_SCAN_REJECT;
        }

        *ret_consumed = p + total;
        if (f[2] != DALY_ANSWER_LEN)
                return BMS_SCAN_SKIP; /* e.g. d2 03 06 / d2 03 52: other registers, not the answer */

        *ret = (struct bms_frame) { .type = DALY_ANSWER_LEN, .version_major = -1 };
        return decode_answer(f, &ret->record, reason);
}
