/* SPDX-License-Identifier: MIT */
/* JK BMS frames (drivers.md, jkBmsBd4, JK02 protocol): 300 bytes from
 * `55 aa eb 90`, type at 4, sum of bytes 0..298 at 299, possibly padded. Cell
 * info (0x02) in the 24- or 32-cell layout, device info (0x03) for the
 * software version. Also the 20-byte commands. Little-endian. */

#include <stdio.h>
#include <string.h>

#include "bms-decode.h"

#define JK_TYPE_SETTINGS 0x01
#define JK_TYPE_CELL_INFO 0x02
#define JK_TYPE_DEVICE_INFO 0x03
#define JK_SW_VERSION_OFFSET 30
#define JK_SW_VERSION_LEN 8
#define JK_TEMP_ABSENT (-2000)

static const uint8_t jk_header[4] = { 0x55, 0xaa, 0xeb, 0x90 };

struct jk_offsets {
        size_t n_cells, voltage, current, temp1, temp2, soc, remaining, full, cycles;
};

static const struct jk_offsets jk_24s = {
        .n_cells = 24, .voltage = 118, .current = 126, .temp1 = 130, .temp2 = 132,
        .soc = 141, .remaining = 142, .full = 146, .cycles = 150,
};

static const struct jk_offsets jk_32s = {
        .n_cells = 32, .voltage = 150, .current = 158, .temp1 = 162, .temp2 = 164,
        .soc = 173, .remaining = 174, .full = 178, .cycles = 182,
};

void bms_jk_command(uint8_t cmd, uint8_t len, uint32_t value, uint8_t out[static BMS_JK_COMMAND_LEN]) {
        unsigned sum = 0;

        memset(out, 0, BMS_JK_COMMAND_LEN);
        out[0] = 0xaa;
        out[1] = 0x55;
        out[2] = 0x90;
        out[3] = 0xeb;
        out[4] = cmd;
        out[5] = len;
        for (size_t i = 0; i < 4; i++)
                out[6 + i] = (uint8_t) (value >> (8 * i));
        for (size_t i = 0; i < BMS_JK_COMMAND_LEN - 1; i++)
                sum += out[i];
        out[BMS_JK_COMMAND_LEN - 1] = (uint8_t) sum;
}

static unsigned le16(const uint8_t *p) {
        return p[0] | (unsigned) p[1] << 8;
}

static uint32_t le32(const uint8_t *p) {
        return p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

size_t bms_jk_find_start(const uint8_t *buf, size_t len) {
        return bms_find_marker(buf, len, jk_header, sizeof(jk_header));
}

/* "11.288" → 11; -1 when there is no leading number. */
static int version_major(const uint8_t *f) {
        const uint8_t *v = f + JK_SW_VERSION_OFFSET;
        int major = 0;
        size_t i;

        for (i = 0; i < JK_SW_VERSION_LEN && v[i] >= '0' && v[i] <= '9' && major < 1000; i++)
                major = major * 10 + (v[i] - '0');
        return i == 0 ? -1 : major;
}

static void decode_cell_info(const uint8_t *f, enum bms_layout layout, struct battery_record *r) {
        const struct jk_offsets *o = layout == BMS_LAYOUT_24S ? &jk_24s : &jk_32s;

        *r = (struct battery_record) {
                .voltage_v = le32(f + o->voltage) / 1000.0,
                .current_a = (int32_t) le32(f + o->current) / 1000.0,
                .soc_pct = f[o->soc],
                .remaining_ah = le32(f + o->remaining) / 1000.0,
                .full_ah = le32(f + o->full) / 1000.0,
                .cycles = le32(f + o->cycles),
        };
        /* 0 mV = no cell: count up to the last one present. */
        for (size_t i = 0; i < o->n_cells; i++) {
                unsigned mv = le16(f + 6 + 2 * i);
                r->cells_v[i] = mv / 1000.0;
                if (mv != 0)
                        r->n_cells = i + 1;
        }
        for (size_t i = 0; i < 2; i++) {
                int t = (int16_t) le16(f + (i == 0 ? o->temp1 : o->temp2));
                if (t != JK_TEMP_ABSENT)
                        r->temps_c[r->n_temps++] = t / 10.0;
        }
}

enum bms_scan bms_jk_scan(const uint8_t *buf, size_t len, enum bms_layout layout, size_t *ret_consumed,
                          struct bms_frame *ret, char reason[static BMS_REASON_MAX]) {
        size_t p = bms_jk_find_start(buf, len);

        *ret_consumed = p;
        if (len - p < BMS_JK_FRAME_LEN)
                return BMS_SCAN_MORE;

        const uint8_t *f = buf + p;
        unsigned sum = 0;
        for (size_t i = 0; i < BMS_JK_FRAME_LEN - 1; i++)
                sum += f[i];
        if ((sum & 0xff) != f[BMS_JK_FRAME_LEN - 1]) {
                size_t q = bms_jk_find_start(f + 1, BMS_JK_FRAME_LEN - 1) + 1;
                if (q + sizeof(jk_header) <= BMS_JK_FRAME_LEN) {
                        *ret_consumed = p + q;
                        snprintf(reason, BMS_REASON_MAX, "truncated");
                } else {
                        *ret_consumed = p + BMS_JK_FRAME_LEN;
                        snprintf(reason, BMS_REASON_MAX, "bad checksum");
                }
                return BMS_SCAN_REJECT;
        }

        /* Padding past byte 299 is skipped as garbage before the next header. */
        *ret_consumed = p + BMS_JK_FRAME_LEN;
        *ret = (struct bms_frame) { .type = f[4], .version_major = -1 };
        switch (f[4]) {
        case JK_TYPE_CELL_INFO:
                decode_cell_info(f, layout, &ret->record);
                return BMS_SCAN_FRAME;
        case JK_TYPE_DEVICE_INFO:
                ret->version_major = version_major(f);
                return BMS_SCAN_FRAME;
        case JK_TYPE_SETTINGS:
                return BMS_SCAN_FRAME;
        default:
                return BMS_SCAN_SKIP;
        }
}
