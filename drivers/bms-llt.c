/* SPDX-License-Identifier: MIT */
/* LLT Power / JBD ("xiaoxiang") BMS frames (drivers.md, lltPowerBmsV4Ble):
 * `dd cmd status len data chk_hi chk_lo 77`, checksum = 0x10000 - sum of the
 * status, length and data bytes. Basic info (0x03) and cell voltages (0x04),
 * big-endian. */

#include <stdio.h>
#include <string.h>

#include "bms-decode.h"

#define LLT_START 0xdd
#define LLT_END 0x77
#define LLT_CMD_BASIC 0x03
#define LLT_CMD_CELLS 0x04
#define LLT_OVERHEAD 7 /* dd cmd status len ... chk chk 77 */

const uint8_t bms_llt_request_basic[7] = { 0xdd, 0xa5, 0x03, 0x00, 0xff, 0xfd, 0x77 };
const uint8_t bms_llt_request_cells[7] = { 0xdd, 0xa5, 0x04, 0x00, 0xff, 0xfc, 0x77 };

static unsigned be16(const uint8_t *p) {
        return (unsigned) p[0] << 8 | p[1];
}

static bool is_start(const uint8_t *buf, size_t len, size_t p) {
        if (buf[p] != LLT_START)
                return false;
        /* Only the two answers we ask for start a frame: a lone 0xdd is common in data. */
        return p + 1 >= len || buf[p + 1] == LLT_CMD_BASIC || buf[p + 1] == LLT_CMD_CELLS;
}

size_t bms_llt_find_start(const uint8_t *buf, size_t len) {
        for (size_t p = 0; p < len; p++)
                if (is_start(buf, len, p))
                        return p;
        return len;
}

static enum bms_scan decode_basic(const uint8_t *d, size_t n, struct battery_record *r,
                                  char reason[static BMS_REASON_MAX]) {
        if (n < 23) {
                snprintf(reason, BMS_REASON_MAX, "truncated basic info (%u bytes)", (unsigned) (n & 0xff));
                return BMS_SCAN_REJECT;
        }
        size_t n_temps = d[22];
        if (n < 23 + 2 * n_temps) {
                snprintf(reason, BMS_REASON_MAX, "truncated basic info (%u temperatures)", (unsigned) (n_temps & 0xff));
                return BMS_SCAN_REJECT;
        }

        *r = (struct battery_record) {
                .voltage_v = be16(d) / 100.0,
                .current_a = (int16_t) be16(d + 2) / 100.0,
                .remaining_ah = be16(d + 4) / 100.0,
                .full_ah = be16(d + 6) / 100.0,
                .cycles = be16(d + 8),
                .soc_pct = d[19],
                .n_cells = d[21], /* replaced by the cell frame's count */
        };
        if (n_temps > BATTERY_TEMPS_MAX)
                n_temps = BATTERY_TEMPS_MAX;
        r->n_temps = n_temps;
        for (size_t i = 0; i < n_temps; i++)
                r->temps_c[i] = ((int) be16(d + 23 + 2 * i) - 2731) / 10.0;
        return BMS_SCAN_FRAME;
}

static enum bms_scan decode_cells(const uint8_t *d, size_t n, struct battery_record *r,
                                  char reason[static BMS_REASON_MAX]) {
        if (n % 2 != 0) {
                snprintf(reason, BMS_REASON_MAX, "odd cell data length %zu", n);
                return BMS_SCAN_REJECT;
        }
        if (n / 2 > BATTERY_CELLS_MAX) {
                snprintf(reason, BMS_REASON_MAX, "implausible: %zu cells", n / 2);
                return BMS_SCAN_REJECT;
        }
        *r = (struct battery_record) { .n_cells = n / 2 };
        for (size_t i = 0; i < r->n_cells; i++)
                r->cells_v[i] = be16(d + 2 * i) / 1000.0;
        return BMS_SCAN_FRAME;
}

enum bms_scan bms_llt_scan(const uint8_t *buf, size_t len, enum bms_layout layout, size_t *ret_consumed,
                           struct bms_frame *ret, char reason[static BMS_REASON_MAX]) {
        size_t p = bms_llt_find_start(buf, len);

        (void) layout;
        *ret_consumed = p;
        if (len - p < 4)
                return BMS_SCAN_MORE;

        const uint8_t *f = buf + p;
        size_t data_len = f[3], total = LLT_OVERHEAD + data_len;
        if (len - p < total)
                return BMS_SCAN_MORE;

        unsigned sum = 0;
        for (size_t i = 2; i < 4 + data_len; i++)
                sum += f[i];
        unsigned chk = (0x10000 - sum) & 0xffff;
        bool end_ok = f[total - 1] == LLT_END, chk_ok = be16(f + 4 + data_len) == chk;
        if (!end_ok || !chk_ok) {
                /* A frame cut short is followed by the next one: resync there. */
                size_t q = bms_llt_find_start(f + 1, total - 1) + 1;
                if (q + 2 <= total) {
                        *ret_consumed = p + q;
                        snprintf(reason, BMS_REASON_MAX, "truncated");
                } else {
                        *ret_consumed = p + total;
                        snprintf(reason, BMS_REASON_MAX, "%s", !end_ok ? "bad end marker" : "bad checksum");
                }
                return BMS_SCAN_REJECT;
        }

        *ret_consumed = p + total;
        if (f[2] != 0) {
                snprintf(reason, BMS_REASON_MAX, "status 0x%02x", f[2]);
                return BMS_SCAN_REJECT;
        }

        *ret = (struct bms_frame) { .type = f[1], .version_major = -1 };
        if (f[1] == LLT_CMD_BASIC)
                return decode_basic(f + 4, data_len, &ret->record, reason);
        return decode_cells(f + 4, data_len, &ret->record, reason);
}
