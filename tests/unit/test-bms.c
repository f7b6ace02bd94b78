/* SPDX-License-Identifier: MIT */
/* Unit tests of the BLE battery decoders and read sessions (drivers.md,
 * "Battery drivers over Bluetooth LE"): the real captures byte for byte,
 * frames built here from chosen values, reassembly and resync under every
 * split, rejections with their reasons, the request sequences, the JSON shape
 * and the --decode tool. Capture bytes are copied from captures/. */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bms-decode.h"
#include "bms-decode-tool.h"
#include "homebattery/record-json.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
#define MAX_OUT 16

/* ---- captures ---- */

/* bt_decode.txt: the four notifications of one read (basic info, cells). */
static const char *const llt_bursts_hex[] = {
        "dd03001b0a04000004831838001c2c9400000000",
        "000016130308020b770b78fce977",
        "dd0400100c850c860c840c830c840c870c860c8a",
        "fb6377",
};

/* daly_decode.txt: a frame of other registers, seen before the answer. */
static const char daly_foreign_06_hex[] = "d203063132333435364c69";

/* jk_decode.txt: device info (type 0x03), JK_BD4A17S4P, software 11.288 */
static const char jk_device_info_hex[] =
        "55aaeb9003754a4b5f4244344131375334500000000031312e585700000031312e3238380000f8c70300030000004a4b"
        "5f4244344131375334500000000031323334000000000000000000000000323430343234000033303831363533333638"
        "003030303000496e707574205573657264617461000030303030303000000000000000000000496e7075742055736572"
        "646174610000fcf9ffff1f3d000000000000900f00000000c0d803000000000100000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000fe"
        "0f00000000000000000000d2";

/* jk_decode.txt: settings (type 0x01) */
static const char jk_settings_hex[] =
        "55aaeb90017558020000b80b00001c0c000068100000de0d00000a000000ac0d00004e0c00000000000000000000f00a"
        "0000a86100001e0000003c000000409c00002c0100003c0000003c00000090010000bc02000058020000bc0200005802"
        "000038ffffff9cffffffe80300002003000008000000010000000100000001000000a0860100dc050000160d00000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000e093040000003c3200fc"
        "f9ffff1f3d0000000000009a";

/* jk_decode.txt: the annotated cell info frame (counter 0x75), 32-cell layout */
static const char jk_cells_annotated_hex[] =
        "55aaeb900275130d120d120d0f0d140d110d130d120d0000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000000000000ff000000120d0500040311011301140113011401160118011501"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0101000000008e680000d4b30200d9190000d900d5000000000000000029f79e0000a086010000000000625a00006400"
        "000020c9030001010000000000000000000000000000ff0001000000ac0358000000205d414000000000740adb170000"
        "0001bb0500009da51c0000000000010100000000000000000000000000000000000000000000000000000000000000fe"
        "ff7fdc0f01080000000000d7";

/* jk_decode.txt: the cell info frame at its end (counter 0x88): the spec values */
static const char jk_cells_hex[] =
        "55aaeb900288120d110d110d0e0d130d0f0d120d120d0000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000000000000ff000000110d0500040311011301140113011401160118011501"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "010100000000896800008e84020016180000d900d5000000000000000029079f0000a086010000000000625a00006400"
        "000029c9030001010000000000000000000000000000ff0001000000ac0352000000205d414000000000740adf170000"
        "0001ba050000faa51c0000000000010100000000000000000000000000000000000000000000000000000000000000fe"
        "ff7fdc0f0108000000000017";

/* daly_decode.txt: the answer ending 73 3b (the spec values) */
static const char daly_answer_hex[] =
        "d2037c0d1a0d150dca0d5e0d560d130d150d160000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000000000000003d00000000000000000000010f0003010f753003e50dca0d13003d00"
        "3d000001f20008000100160000000100010d3b00b700000000000000000000733b";

/* daly_decode.txt: the listed answer ending d0 73 (discharging) */
static const char daly_discharge_hex[] =
        "d2037c0ce50ce20ce20ce20ce30ce20ce40ce20000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000390000000000000000000001070003010774ff03170ce50ce2003900"
        "390002018b0008000100160000000100010cd7000300800000000000000000d073";

/* daly_decode.txt: d2 03 52 ..., not the answer */
static const char daly_foreign_52_hex[] =
        "d2035201f40c8000010008000000000001000000000000ffff0e420e4208fc0b540124012c00b800b072607468780075"
        "f8005f0069000500280069006e0005000001f40320000a000f0dac00320001000103e50057bc7e";

/* daly_decode.txt: d2 03 40 ... and d2 03 46 ... in one notification */
static const char daly_foreign_glued_hex[] =
        "d20340543030315f3831353032325f31330000453930332d30333244472d534d42000032303232303731392020202020"
        "202020202020202020202020202020202020203e99d20346543030315f3831353032325f31330000453930332d303332"
        "44472d534d42000032303232303731392020202020202020202020202020202020202020202020203132333435366461";

static const struct battery_record llt_expected = {
        .voltage_v = 25.64, .current_a = 0, .remaining_ah = 11.55, .full_ah = 62.00, .cycles = 28, .soc_pct = 19,
        .n_temps = 2, .temps_c = { 20.4, 20.5 },
        .n_cells = 8, .cells_v = { 3.205, 3.206, 3.204, 3.203, 3.204, 3.207, 3.206, 3.210 },
};

static const struct battery_record daly_expected = {
        .voltage_v = 27.1, .current_a = 0, .soc_pct = 99.7, .remaining_ah = 49.8, .full_ah = NAN, .cycles = 22,
        .n_temps = 1, .temps_c = { 21 },
        .n_cells = 8, .cells_v = { 3.354, 3.349, 3.530, 3.422, 3.414, 3.347, 3.349, 3.350 },
};

static const struct battery_record daly_discharge_expected = {
        .voltage_v = 26.3, .current_a = -4.9, .soc_pct = 79.1, .remaining_ah = 39.5, .full_ah = NAN, .cycles = 22,
        .n_temps = 1, .temps_c = { 17 },
        .n_cells = 8, .cells_v = { 3.301, 3.298, 3.298, 3.298, 3.299, 3.298, 3.300, 3.298 },
};

static const struct battery_record jk_expected = {
        .voltage_v = 26.761, .current_a = 6.166, .soc_pct = 41, .remaining_ah = 40.711, .full_ah = 100.0, .cycles = 0,
        .n_temps = 2, .temps_c = { 21.7, 21.3 },
        .n_cells = 8, .cells_v = { 3.346, 3.345, 3.345, 3.342, 3.347, 3.343, 3.346, 3.346 },
};

static const struct battery_record jk_annotated_expected = {
        .voltage_v = 26.766, .current_a = 6.617, .soc_pct = 41, .remaining_ah = 40.695, .full_ah = 100.0, .cycles = 0,
        .n_temps = 2, .temps_c = { 21.7, 21.3 },
        .n_cells = 8, .cells_v = { 3.347, 3.346, 3.346, 3.343, 3.348, 3.345, 3.347, 3.346 },
};

/* ---- helpers ---- */

struct bytes {
        uint8_t d[8192];
        size_t n;
};

static int nibble(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void cat(struct bytes *b, const void *p, size_t n) {
        assert_true(b->n + n <= sizeof(b->d));
        memcpy(b->d + b->n, p, n);
        b->n += n;
}

static void cat_hex(struct bytes *b, const char *hex) {
        for (const char *p = hex; *p; p += 2) {
                assert_true(nibble(p[0]) >= 0 && nibble(p[1]) >= 0);
                uint8_t v = (uint8_t) (nibble(p[0]) << 4 | nibble(p[1]));
                cat(b, &v, 1);
        }
}

static struct bytes *new_bytes(void) {
        struct bytes *b = calloc(1, sizeof(*b));
        assert_non_null(b);
        return b;
}

static struct bytes *from_hex(const char *hex) {
        struct bytes *b = new_bytes();
        cat_hex(b, hex);
        return b;
}

static struct bytes *llt_stream(void) {
        struct bytes *b = new_bytes();
        for (size_t i = 0; i < 4; i++)
                cat_hex(b, llt_bursts_hex[i]);
        return b;
}

/* NAN (a value the BMS does not report) only matches NAN. */
static void assert_near(double got, double want) {
        if (!isnan(got) != !isnan(want) || fabs(got - want) > 1e-9) {
                fail_msg("got %.6f, want %.6f", got, want);
        }
}

static void assert_record(const struct battery_record *got, const struct battery_record *want) {
        assert_near(got->voltage_v, want->voltage_v);
        assert_near(got->current_a, want->current_a);
        assert_near(got->soc_pct, want->soc_pct);
        assert_near(got->remaining_ah, want->remaining_ah);
        assert_near(got->full_ah, want->full_ah);
        assert_int_equal(got->cycles, want->cycles);
        assert_int_equal(got->n_temps, want->n_temps);
        for (size_t i = 0; i < want->n_temps; i++)
                assert_near(got->temps_c[i], want->temps_c[i]);
        assert_int_equal(got->n_cells, want->n_cells);
        for (size_t i = 0; i < want->n_cells; i++)
                assert_near(got->cells_v[i], want->cells_v[i]);
}

struct outcome {
        size_t n_records, n_rejects;
        struct battery_record records[MAX_OUT];
        char rejects[MAX_OUT][BMS_REASON_MAX];
};

/* One notification through decode_only, drained. */
static void collect(struct bms_session *s, const uint8_t *data, size_t len, struct outcome *o) {
        struct bms_event ev;

        bms_session_decode_only(s, data, len, &ev);
        for (;;) {
                if (ev.rejected) {
                        assert_non_null(ev.reason);
                        assert_true(o->n_rejects < MAX_OUT);
                        snprintf(o->rejects[o->n_rejects++], BMS_REASON_MAX, "%s", ev.reason);
                } else
                        assert_null(ev.reason);
                if (ev.action == BMS_ACTION_RECORD) {
                        assert_true(o->n_records < MAX_OUT);
                        o->records[o->n_records++] = ev.record;
                } else {
                        assert_int_equal(ev.action, BMS_ACTION_WAIT);
                        if (!ev.rejected)
                                return;
                }
                bms_session_decode_only(s, NULL, 0, &ev);
        }
}

static void collect_end(struct bms_session *s, struct outcome *o) {
        struct bms_event ev;

        bms_session_decode_end(s, &ev);
        assert_int_equal(ev.action, BMS_ACTION_WAIT);
        if (ev.rejected)
                snprintf(o->rejects[o->n_rejects++], BMS_REASON_MAX, "%s", ev.reason);
}

static struct bms_session *new_session(enum bms_kind k, enum bms_layout layout) {
        struct bms_session *s = NULL;

        assert_int_equal(bms_session_new(k, layout, &s), 0);
        assert_non_null(s);
        return s;
}

/* chunk: fixed notification size; 0 = pseudo-random sizes 1..64 from seed. */
static void decode_chunked(enum bms_kind k, enum bms_layout layout, const uint8_t *data, size_t len, size_t chunk,
                           uint32_t seed, struct outcome *o) {
        struct bms_session *s = new_session(k, layout);

        memset(o, 0, sizeof(*o));
        for (size_t off = 0; off < len;) {
                size_t n = chunk;
                if (n == 0) {
                        seed = seed * 1103515245u + 12345u;
                        n = 1 + (seed >> 16) % 64;
                }
                if (n > len - off)
                        n = len - off;
                collect(s, data + off, n, o);
                off += n;
        }
        collect_end(s, o);
        bms_session_free(s);
}

/* Notifications are at most 512 bytes over BLE; 600 still glues two JK frames. */
#define BIG_CHUNK 600

static void decode_all(enum bms_kind k, enum bms_layout layout, const struct bytes *b, struct outcome *o) {
        decode_chunked(k, layout, b->d, b->n, BIG_CHUNK, 0, o);
}

static void assert_rejects(const struct outcome *o, size_t n, ...) {
        va_list ap;

        if (o->n_rejects != n)
                fail_msg("%zu rejections (first: %s), want %zu", o->n_rejects, o->n_rejects ? o->rejects[0] : "-", n);
        va_start(ap, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(o->rejects[i], va_arg(ap, const char *));
        va_end(ap);
}

/* ---- encoders: a record into each protocol's frame ---- */

static void put_be16(uint8_t *p, long v) {
        p[0] = (uint8_t) ((unsigned long) v >> 8);
        p[1] = (uint8_t) v;
}

static void put_le(uint8_t *p, long v, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) ((unsigned long) v >> (8 * i));
}

static size_t llt_frame(uint8_t cmd, uint8_t status, const uint8_t *data, size_t n, uint8_t *out) {
        unsigned sum = status + (unsigned) n;

        out[0] = 0xdd;
        out[1] = cmd;
        out[2] = status;
        out[3] = (uint8_t) n;
        memcpy(out + 4, data, n);
        for (size_t i = 0; i < n; i++)
                sum += data[i];
        put_be16(out + 4 + n, (0x10000 - sum) & 0xffff);
        out[6 + n] = 0x77;
        return 7 + n;
}

static void llt_encode(const struct battery_record *r, struct bytes *b) {
        uint8_t d[64] = { 0 }, f[80];

        put_be16(d, lround(r->voltage_v * 100));
        put_be16(d + 2, lround(r->current_a * 100));
        put_be16(d + 4, lround(r->remaining_ah * 100));
        put_be16(d + 6, lround(r->full_ah * 100));
        put_be16(d + 8, r->cycles);
        d[18] = 0x16;
        d[19] = (uint8_t) lround(r->soc_pct);
        d[20] = 3;
        d[21] = (uint8_t) r->n_cells;
        d[22] = (uint8_t) r->n_temps;
        for (size_t i = 0; i < r->n_temps; i++)
                put_be16(d + 23 + 2 * i, lround(r->temps_c[i] * 10) + 2731);
        cat(b, f, llt_frame(0x03, 0, d, 23 + 2 * r->n_temps, f));
        for (size_t i = 0; i < r->n_cells; i++)
                put_be16(d + 2 * i, lround(r->cells_v[i] * 1000));
        cat(b, f, llt_frame(0x04, 0, d, 2 * r->n_cells, f));
}

static uint16_t crc_modbus(const uint8_t *p, size_t n) {
        uint16_t crc = 0xffff;

        for (size_t i = 0; i < n; i++) {
                crc ^= p[i];
                for (unsigned bit = 0; bit < 8; bit++)
                        crc = crc & 1 ? (uint16_t) ((crc >> 1) ^ 0xa001) : (uint16_t) (crc >> 1);
        }
        return crc;
}

static void daly_finish(uint8_t f[129]) {
        uint16_t crc = crc_modbus(f, 127);
        f[127] = (uint8_t) crc;
        f[128] = (uint8_t) (crc >> 8);
}

static void daly_encode(const struct battery_record *r, struct bytes *b) {
        uint8_t f[129] = { 0xd2, 0x03, 0x7c };

        for (size_t i = 0; i < r->n_cells && i < 32; i++)
                put_be16(f + 3 + 2 * i, lround(r->cells_v[i] * 1000));
        for (size_t i = 0; i < r->n_temps; i++)
                put_be16(f + 67 + 2 * i, lround(r->temps_c[i]) + 40);
        put_be16(f + 83, lround(r->voltage_v * 10));
        put_be16(f + 85, lround(r->current_a * 10) + 30000);
        put_be16(f + 87, lround(r->soc_pct * 10));
        put_be16(f + 97, r->current_a > 0 ? 1 : r->current_a < 0 ? 2 : 0);
        put_be16(f + 99, lround(r->remaining_ah * 10));
        put_be16(f + 101, (long) r->n_cells);
        put_be16(f + 103, (long) r->n_temps);
        put_be16(f + 105, r->cycles);
        daly_finish(f);
        cat(b, f, sizeof(f));
}

static void jk_finish(uint8_t f[300]) {
        unsigned sum = 0;
        for (size_t i = 0; i < 299; i++)
                sum += f[i];
        f[299] = (uint8_t) sum;
}

static void jk_header(uint8_t f[300], uint8_t type) {
        static const uint8_t h[] = { 0x55, 0xaa, 0xeb, 0x90 };
        memset(f, 0, 300);
        memcpy(f, h, 4);
        f[4] = type;
        f[5] = 0x42;
}

/* Temperatures: n_temps present ones, the others -2000 (absent). */
static void jk_encode(const struct battery_record *r, enum bms_layout layout, struct bytes *b) {
        bool s24 = layout == BMS_LAYOUT_24S;
        size_t base = s24 ? 118 : 150; /* voltage; the rest follows at fixed distances */
        uint8_t f[300];

        jk_header(f, 0x02);
        for (size_t i = 0; i < r->n_cells; i++)
                put_le(f + 6 + 2 * i, lround(r->cells_v[i] * 1000), 2);
        put_le(f + base, lround(r->voltage_v * 1000), 4);
        put_le(f + base + 8, lround(r->current_a * 1000), 4);
        for (size_t i = 0; i < 2; i++)
                put_le(f + base + 12 + 2 * i, i < r->n_temps ? lround(r->temps_c[i] * 10) : -2000, 2);
        f[base + 23] = (uint8_t) lround(r->soc_pct);
        put_le(f + base + 24, lround(r->remaining_ah * 1000), 4);
        put_le(f + base + 28, lround(r->full_ah * 1000), 4);
        put_le(f + base + 32, r->cycles, 4);
        jk_finish(f);
        cat(b, f, sizeof(f));
}

static void jk_device_info(const char *version, struct bytes *b) {
        uint8_t f[300];

        jk_header(f, 0x03);
        memcpy(f + 6, "JK_TEST", 7);
        memcpy(f + 22, "11.XW", 5);
        memcpy(f + 30, version, strlen(version));
        jk_finish(f);
        cat(b, f, sizeof(f));
}

static struct battery_record chosen(size_t n_cells, size_t n_temps, double temp0, double current_a) {
        struct battery_record r = {
                .voltage_v = 3.3 * (double) n_cells, .current_a = current_a, .soc_pct = 57,
                .remaining_ah = 28.5, .full_ah = 50, .cycles = 123, .n_cells = n_cells, .n_temps = n_temps,
        };
        for (size_t i = 0; i < n_cells; i++)
                r.cells_v[i] = (3000 + 17 * (double) i) / 1000;
        for (size_t i = 0; i < n_temps; i++)
                r.temps_c[i] = temp0 + (double) i;
        return r;
}

/* ---- GATT, names, requests ---- */

static void test_gatt_and_names(void **state) {
        (void) state;
        const struct bms_gatt *g = bms_gatt(BMS_KIND_LLT);
        assert_string_equal(g->service_uuids[0], "0000ff00-0000-1000-8000-00805f9b34fb");
        assert_string_equal(g->notify_uuid[0], "0000ff01-0000-1000-8000-00805f9b34fb");
        assert_string_equal(g->write_uuid[0], "0000ff02-0000-1000-8000-00805f9b34fb");
        assert_null(g->service_uuids[1]);
        assert_false(g->write_command || g->pick_by_flags);

        g = bms_gatt(BMS_KIND_DALY);
        assert_string_equal(g->service_uuids[0], "0000fff0-0000-1000-8000-00805f9b34fb");
        assert_string_equal(g->notify_uuid[0], "0000fff1-0000-1000-8000-00805f9b34fb");
        assert_string_equal(g->write_uuid[0], "0000fff2-0000-1000-8000-00805f9b34fb");
        assert_string_equal(g->service_uuids[1], "0000ff00-0000-1000-8000-00805f9b34fb");
        assert_string_equal(g->notify_uuid[1], "0000ff01-0000-1000-8000-00805f9b34fb");
        assert_string_equal(g->write_uuid[1], "0000ff02-0000-1000-8000-00805f9b34fb");
        assert_null(g->service_uuids[2]);
        assert_false(g->write_command || g->pick_by_flags);

        g = bms_gatt(BMS_KIND_JK);
        assert_string_equal(g->service_uuids[0], "0000ffe0-0000-1000-8000-00805f9b34fb");
        assert_string_equal(g->notify_uuid[0], "0000ffe1-0000-1000-8000-00805f9b34fb");
        assert_string_equal(g->write_uuid[0], "0000ffe1-0000-1000-8000-00805f9b34fb");
        assert_true(g->write_command && g->pick_by_flags);
        assert_null(bms_gatt(_BMS_KIND_MAX));

        static const char *const names[] = { "lltPowerBmsV4Ble", "daly8S24V60A", "jkBmsBd4" };
        for (enum bms_kind k = 0; k < _BMS_KIND_MAX; k++) {
                assert_int_equal(bms_kind_from_driver(names[k]), k);
                assert_string_equal(bms_kind_to_driver(k), names[k]);
        }
        assert_int_equal(bms_kind_from_driver("jkbmsbd4"), -EINVAL);
        assert_int_equal(bms_kind_from_driver("victronMppt"), -EINVAL);
        assert_int_equal(bms_kind_from_driver(NULL), -EINVAL);

        struct bms_session *s = NULL;
        assert_int_equal(bms_session_new(_BMS_KIND_MAX, BMS_LAYOUT_AUTO, &s), -EINVAL);
        assert_int_equal(bms_session_new(BMS_KIND_JK, (enum bms_layout) 7, &s), -EINVAL);
        assert_null(s);
}

static void assert_write(const struct bms_event *ev, const char *hex, uint64_t timeout_usec) {
        struct bytes *want = from_hex(hex);

        assert_int_equal(ev->action, BMS_ACTION_WRITE);
        assert_int_equal(ev->write_len, want->n);
        assert_memory_equal(ev->write, want->d, want->n);
        assert_int_equal(ev->timeout_usec, timeout_usec);
        free(want);
}

#define LLT_REQ_BASIC "dda50300fffd77"
#define LLT_REQ_CELLS "dda50400fffc77"
#define DALY_REQ "d2030000003ed7b9"
#define JK_REQ_DEVICE_INFO "aa5590eb97000000000000000000000000000011"
#define JK_REQ_CELL_INFO "aa5590eb96000000000000000000000000000010"

static void test_requests(void **state) {
        static const struct {
                enum bms_kind kind;
                const char *first;
        } cases[] = {
                { BMS_KIND_LLT, LLT_REQ_BASIC },
                { BMS_KIND_DALY, DALY_REQ },
                { BMS_KIND_JK, JK_REQ_DEVICE_INFO },
        };
        struct bms_event ev;
        uint8_t cmd[BMS_JK_COMMAND_LEN];

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct bms_session *s = new_session(cases[i].kind, BMS_LAYOUT_AUTO);
                bms_session_start(s, &ev);
                assert_write(&ev, cases[i].first, SEC(2));
                bms_session_free(s);
        }
        /* The Daly request's CRC, and a JK command with a value. */
        struct bytes *req = from_hex(DALY_REQ);
        assert_int_equal(crc_modbus(req->d, 6), req->d[6] | req->d[7] << 8);
        free(req);
        bms_jk_command(0x1d, 4, 0x01020304, cmd);
        struct bytes *want = from_hex("aa5590eb1d040403020100000000000000000000");
        unsigned sum = 0;
        for (size_t i = 0; i < 19; i++)
                sum += want->d[i];
        want->d[19] = (uint8_t) sum;
        assert_memory_equal(cmd, want->d, 20);
        free(want);
}

/* ---- the captures ---- */

enum capture { CAPTURE_LLT, CAPTURE_DALY, CAPTURE_JK, _CAPTURE_MAX };

static const struct {
        const char *name;
        enum bms_kind kind;
        size_t n_records;
        const struct battery_record *want[2];
} captures[] = {
        [CAPTURE_LLT] = { "bt_decode", BMS_KIND_LLT, 1, { &llt_expected } },
        [CAPTURE_DALY] = { "daly_decode", BMS_KIND_DALY, 2, { &daly_expected, &daly_discharge_expected } },
        [CAPTURE_JK] = { "jk_decode", BMS_KIND_JK, 2, { &jk_annotated_expected, &jk_expected } },
};

static struct bytes *capture_stream(enum capture c) {
        struct bytes *b;

        switch (c) {
        case CAPTURE_LLT:
                return llt_stream();
        case CAPTURE_DALY:
                b = from_hex(daly_foreign_06_hex);
                cat_hex(b, daly_foreign_52_hex);
                cat_hex(b, daly_foreign_glued_hex);
                cat_hex(b, daly_answer_hex);
                cat_hex(b, daly_discharge_hex);
                return b;
        default:
                b = from_hex(jk_device_info_hex);
                cat_hex(b, "aa5590ebc8010100000000000000000000000044"); /* the BMS's own 20-byte frame */
                cat_hex(b, jk_settings_hex);
                cat_hex(b, jk_cells_annotated_hex);
                cat_hex(b, jk_cells_hex);
                return b;
        }
}

static void assert_capture(enum capture c, const struct outcome *o) {
        assert_rejects(o, 0);
        assert_int_equal(o->n_records, captures[c].n_records);
        for (size_t i = 0; i < o->n_records; i++)
                assert_record(&o->records[i], captures[c].want[i]);
}

static void test_captures(void **state) {
        struct outcome o = { 0 };

        (void) state;
        /* As captured: LLT in its four notifications, Daly one frame per
         * notification, JK in 20-byte fragments. */
        struct bms_session *s = new_session(BMS_KIND_LLT, BMS_LAYOUT_AUTO);
        for (size_t i = 0; i < 4; i++) {
                struct bytes *b = from_hex(llt_bursts_hex[i]);
                collect(s, b->d, b->n, &o);
                free(b);
        }
        assert_capture(CAPTURE_LLT, &o);
        bms_session_free(s);

        s = new_session(BMS_KIND_DALY, BMS_LAYOUT_AUTO);
        memset(&o, 0, sizeof(o));
        const char *daly[] = { daly_foreign_06_hex, daly_foreign_52_hex, daly_foreign_glued_hex, daly_answer_hex,
                               daly_discharge_hex };
        for (size_t i = 0; i < 5; i++) {
                struct bytes *b = from_hex(daly[i]);
                collect(s, b->d, b->n, &o);
                free(b);
        }
        assert_capture(CAPTURE_DALY, &o);
        bms_session_free(s);

        struct bytes *jk = capture_stream(CAPTURE_JK);
        assert_int_equal(jk->n, 4 * 300 + 20);
        decode_chunked(BMS_KIND_JK, BMS_LAYOUT_AUTO, jk->d, jk->n, 20, 0, &o);
        assert_capture(CAPTURE_JK, &o);
        free(jk);

        /* The spec's JK frame alone, without a device info frame: 32s by default. */
        jk = from_hex(jk_cells_hex);
        decode_all(BMS_KIND_JK, BMS_LAYOUT_AUTO, jk, &o);
        assert_int_equal(o.n_records, 1);
        assert_record(&o.records[0], &jk_expected);
        free(jk);
}

static void test_captures_every_split(void **state) {
        struct outcome o;

        (void) state;
        for (enum capture c = 0; c < _CAPTURE_MAX; c++) {
                struct bytes *b = capture_stream(c);
                /* Cut at every position (and every 400 bytes, a notification's size). */
                for (size_t p = 1; p < b->n; p++) {
                        struct bms_session *s = new_session(captures[c].kind, BMS_LAYOUT_AUTO);
                        memset(&o, 0, sizeof(o));
                        for (size_t off = 0; off < b->n;) {
                                size_t end = off < p && p - off <= 400 ? p : off + 400;
                                if (end > b->n)
                                        end = b->n;
                                collect(s, b->d + off, end - off, &o);
                                off = end;
                        }
                        collect_end(s, &o);
                        assert_capture(c, &o);
                        bms_session_free(s);
                }
                decode_chunked(captures[c].kind, BMS_LAYOUT_AUTO, b->d, b->n, 1, 0, &o);
                assert_capture(c, &o);
                decode_all(captures[c].kind, BMS_LAYOUT_AUTO, b, &o);
                assert_capture(c, &o);
                for (uint32_t seed = 1; seed <= 200; seed++) {
                        decode_chunked(captures[c].kind, BMS_LAYOUT_AUTO, b->d, b->n, 0, seed, &o);
                        assert_capture(c, &o);
                }
                free(b);
        }
}

/* ---- frames built from chosen values ---- */

static void test_built_frames(void **state) {
        static const struct {
                const char *name;
                enum bms_kind kind;
                enum bms_layout layout;
                size_t n_cells, n_temps;
                double temp0, current_a;
        } cases[] = {
                { "llt 1 cell", BMS_KIND_LLT, BMS_LAYOUT_AUTO, 1, 1, 25.0, 0.5 },
                { "llt 32 cells, -12.34 A, frost", BMS_KIND_LLT, BMS_LAYOUT_AUTO, 32, 8, -20.5, -12.34 },
                { "llt no sensor", BMS_KIND_LLT, BMS_LAYOUT_AUTO, 16, 0, 0, 100.0 },
                { "daly 1 cell", BMS_KIND_DALY, BMS_LAYOUT_AUTO, 1, 1, 25, 0.1 },
                { "daly 32 cells, -12.3 A, -40 C", BMS_KIND_DALY, BMS_LAYOUT_AUTO, 32, 8, -40, -12.3 },
                { "daly 8 cells, 2 temps, 150 A", BMS_KIND_DALY, BMS_LAYOUT_AUTO, 8, 2, -3, 150.0 },
                { "jk 32s 1 cell", BMS_KIND_JK, BMS_LAYOUT_32S, 1, 2, 25.5, 1.234 },
                { "jk 32s 32 cells", BMS_KIND_JK, BMS_LAYOUT_32S, 32, 2, -15.5, -123.456 },
                { "jk 32s sensor 2 absent", BMS_KIND_JK, BMS_LAYOUT_32S, 16, 1, -0.5, -0.001 },
                { "jk 24s 1 cell", BMS_KIND_JK, BMS_LAYOUT_24S, 1, 2, 5, 0 },
                { "jk 24s 24 cells", BMS_KIND_JK, BMS_LAYOUT_24S, 24, 2, -25.5, -200.5 },
                { "jk 24s no sensors", BMS_KIND_JK, BMS_LAYOUT_24S, 4, 0, 0, 7.5 },
        };
        struct outcome o;

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct battery_record r = chosen(cases[i].n_cells, cases[i].n_temps, cases[i].temp0,
                                                 cases[i].current_a);
                struct bytes *b = new_bytes();
                print_message("%s\n", cases[i].name);
                if (cases[i].kind == BMS_KIND_LLT)
                        llt_encode(&r, b);
                else if (cases[i].kind == BMS_KIND_DALY)
                        daly_encode(&r, b);
                else
                        jk_encode(&r, cases[i].layout, b);
                if (cases[i].kind == BMS_KIND_DALY)
                        r.full_ah = NAN; /* not in the frame */
                decode_all(cases[i].kind, cases[i].layout, b, &o);
                assert_rejects(&o, 0);
                assert_int_equal(o.n_records, 1);
                assert_record(&o.records[0], &r);
                decode_chunked(cases[i].kind, cases[i].layout, b->d, b->n, 1, 0, &o);
                assert_int_equal(o.n_records, 1);
                assert_record(&o.records[0], &r);
                free(b);
        }
}

/* ---- damaged input ---- */

/* A damaged first frame, then the capture: the reason, then the record(s). */
static void test_damaged(void **state) {
        static const struct {
                const char *name;
                enum capture capture;
                size_t frame_len; /* of the capture's first answer frame */
                size_t cut;       /* 0: keep the whole frame */
                size_t flip;      /* byte to corrupt, or SIZE_MAX */
                const char *reason;
        } cases[] = {
                { "llt checksum", CAPTURE_LLT, 34, 0, 32, "bad checksum" },
                { "llt data", CAPTURE_LLT, 34, 0, 10, "bad checksum" },
                { "llt end marker", CAPTURE_LLT, 34, 0, 33, "bad end marker" },
                { "llt truncated", CAPTURE_LLT, 34, 20, SIZE_MAX, "truncated" },
                { "daly crc", CAPTURE_DALY, 129, 0, 127, "bad checksum" },
                { "daly data", CAPTURE_DALY, 129, 0, 50, "bad checksum" },
                { "daly truncated", CAPTURE_DALY, 129, 60, SIZE_MAX, "truncated" },
                { "jk checksum", CAPTURE_JK, 300, 0, 299, "bad checksum" },
                { "jk data", CAPTURE_JK, 300, 0, 150, "bad checksum" },
                { "jk truncated", CAPTURE_JK, 300, 150, SIZE_MAX, "truncated" },
        };
        struct outcome o;

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                enum capture c = cases[i].capture;
                struct bytes *b = new_bytes(), *good = capture_stream(c);
                /* The answer frame to damage: LLT basic info, Daly answer, JK cell info. */
                struct bytes *frame = c == CAPTURE_LLT ? llt_stream()
                                      : c == CAPTURE_DALY ? from_hex(daly_answer_hex)
                                                          : from_hex(jk_cells_hex);
                print_message("%s\n", cases[i].name);
                if (cases[i].flip != SIZE_MAX)
                        frame->d[cases[i].flip] ^= 0x01;
                cat(b, frame->d, cases[i].cut ? cases[i].cut : cases[i].frame_len);
                cat(b, good->d, good->n);
                for (size_t chunk = 0; chunk <= 20; chunk += 20) {
                        decode_chunked(captures[c].kind, BMS_LAYOUT_AUTO, b->d, b->n, chunk ? chunk : BIG_CHUNK, 0, &o);
                        assert_rejects(&o, 1, cases[i].reason);
                        assert_int_equal(o.n_records, captures[c].n_records);
                        assert_record(&o.records[0], captures[c].want[0]);
                }
                free(frame);
                free(good);
                free(b);
        }
}

static void test_truncated_at_end(void **state) {
        struct outcome o;

        (void) state;
        for (enum capture c = 0; c < _CAPTURE_MAX; c++) {
                struct bytes *b = capture_stream(c), *more = capture_stream(c);
                size_t cut = c == CAPTURE_LLT ? 10 : c == CAPTURE_DALY ? 11 + 87 + 144 + 40 : 100;
                cat(b, more->d, cut);
                decode_chunked(captures[c].kind, BMS_LAYOUT_AUTO, b->d, b->n, 20, 0, &o);
                assert_int_equal(o.n_records, captures[c].n_records);
                assert_rejects(&o, 1, "truncated");
                free(more);
                free(b);
        }
}

static void test_glued_garbage_padding(void **state) {
        static const uint8_t garbage[] = { 0x00, 0x11, 0xdd, 0x05, 0x77, 0xaa, 0x55, 0x90, 0xeb,
                                           0xc8, 0x01, 0xff, 0x55, 0xaa, 0xeb, 0xd2, 0x02, 0x0d };
        static const uint8_t at[] = { 'A', 'T', '\r', '\n' };
        static const uint8_t zeros[37] = { 0 };
        struct outcome o;

        (void) state;
        for (enum capture c = 0; c < _CAPTURE_MAX; c++) {
                struct bytes *one = capture_stream(c), *b = new_bytes();
                /* Garbage (and AT\r\n) before every header, twice the stream glued. */
                cat(b, garbage, sizeof(garbage));
                cat(b, one->d, one->n);
                cat(b, at, sizeof(at));
                cat(b, garbage, sizeof(garbage));
                cat(b, one->d, one->n);
                cat(b, at, sizeof(at));
                decode_all(captures[c].kind, BMS_LAYOUT_AUTO, b, &o);
                assert_rejects(&o, 0);
                assert_int_equal(o.n_records, 2 * captures[c].n_records);
                assert_record(&o.records[o.n_records - 1], captures[c].want[captures[c].n_records - 1]);
                for (uint32_t seed = 1; seed <= 20; seed++) {
                        decode_chunked(captures[c].kind, BMS_LAYOUT_AUTO, b->d, b->n, 0, seed, &o);
                        assert_rejects(&o, 0);
                        assert_int_equal(o.n_records, 2 * captures[c].n_records);
                }
                free(one);
                free(b);
        }

        /* JK: AT\r\n between frames in one notification, frames padded past 300. */
        struct bytes *b = from_hex(jk_cells_annotated_hex);
        cat(b, zeros, sizeof(zeros));
        cat(b, at, sizeof(at));
        cat_hex(b, jk_cells_hex);
        cat(b, zeros, 20);
        cat_hex(b, jk_cells_hex);
        for (size_t chunk = 1; chunk <= 320; chunk++) {
                decode_chunked(BMS_KIND_JK, BMS_LAYOUT_AUTO, b->d, b->n, chunk, 0, &o);
                assert_rejects(&o, 0);
                assert_int_equal(o.n_records, 3);
                assert_record(&o.records[0], &jk_annotated_expected);
                assert_record(&o.records[2], &jk_expected);
        }
        free(b);
}

static void test_daly_foreign_and_llt_status(void **state) {
        struct outcome o;

        (void) state;
        struct bytes *b = from_hex(daly_foreign_06_hex);
        cat_hex(b, daly_foreign_glued_hex);
        cat_hex(b, daly_foreign_52_hex);
        decode_chunked(BMS_KIND_DALY, BMS_LAYOUT_AUTO, b->d, b->n, 20, 0, &o);
        assert_rejects(&o, 0);
        assert_int_equal(o.n_records, 0);
        free(b);

        static const uint8_t none[1];
        uint8_t f[16];
        b = new_bytes();
        cat(b, f, llt_frame(0x03, 0x80, none, 0, f));
        assert_memory_equal(b->d, "\xdd\x03\x80\x00\xff\x80\x77", 7);
        struct bytes *s = llt_stream();
        cat(b, s->d, s->n);
        cat(b, f, llt_frame(0x04, 0x01, none, 0, f));
        decode_all(BMS_KIND_LLT, BMS_LAYOUT_AUTO, b, &o);
        assert_rejects(&o, 2, "status 0x80", "status 0x01");
        assert_int_equal(o.n_records, 1);
        assert_record(&o.records[0], &llt_expected);
        free(s);
        free(b);
}

static void test_implausible(void **state) {
        static const struct {
                enum bms_kind kind;
                enum bms_layout layout;
                double soc_pct, voltage_v;
                size_t n_cells;
                const char *reason;
        } cases[] = {
                { BMS_KIND_DALY, BMS_LAYOUT_AUTO, 120, 26.4, 8, "implausible: SoC 120 %" },
                { BMS_KIND_DALY, BMS_LAYOUT_AUTO, 100.1, 26.4, 8, "implausible: SoC 100.1 %" },
                { BMS_KIND_DALY, BMS_LAYOUT_AUTO, 50, 0, 8, "implausible: voltage 0 V" },
                { BMS_KIND_DALY, BMS_LAYOUT_AUTO, 50, 26.4, 0, "implausible: 0 cells" },
                { BMS_KIND_DALY, BMS_LAYOUT_AUTO, 50, 26.4, 33, "implausible: 33 cells" },
                { BMS_KIND_LLT, BMS_LAYOUT_AUTO, 101, 26.4, 8, "implausible: SoC 101 %" },
                { BMS_KIND_LLT, BMS_LAYOUT_AUTO, 50, 0, 8, "implausible: voltage 0 V" },
                { BMS_KIND_LLT, BMS_LAYOUT_AUTO, 50, 26.4, 0, "implausible: 0 cells" },
                { BMS_KIND_JK, BMS_LAYOUT_32S, 150, 26.4, 8, "implausible: SoC 150 %" },
                { BMS_KIND_JK, BMS_LAYOUT_24S, 50, 0, 8, "implausible: voltage 0 V" },
                { BMS_KIND_JK, BMS_LAYOUT_32S, 50, 26.4, 0, "implausible: 0 cells" },
        };
        struct outcome o;

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct battery_record r = chosen(8, 1, 20, -1), good = r;
                struct bytes *b = new_bytes();
                r.soc_pct = cases[i].soc_pct;
                r.voltage_v = cases[i].voltage_v;
                r.n_cells = cases[i].n_cells;
                for (int k = 0; k < 2; k++) {
                        const struct battery_record *e = k == 0 ? &r : &good;
                        if (cases[i].kind == BMS_KIND_LLT)
                                llt_encode(e, b);
                        else if (cases[i].kind == BMS_KIND_DALY)
                                daly_encode(e, b);
                        else
                                jk_encode(e, cases[i].layout, b);
                }
                decode_all(cases[i].kind, cases[i].layout, b, &o);
                assert_rejects(&o, 1, cases[i].reason);
                assert_int_equal(o.n_records, 1);
                free(b);
        }
}

static void test_bounded_and_fuzz(void **state) {
        struct outcome o;

        (void) state;
        for (enum capture c = 0; c < _CAPTURE_MAX; c++) {
                enum bms_kind k = captures[c].kind;
                struct bytes *good = capture_stream(c), *b = new_bytes();
                struct bms_session *s = new_session(k, BMS_LAYOUT_AUTO);
                /* One oversized notification: the oldest bytes go, the rest still decodes. */
                memset(&o, 0, sizeof(o));
                memset(b->d, 0x5a, 3000);
                b->n = 3000;
                collect(s, b->d, b->n, &o);
                assert_rejects(&o, 1, "buffer overflow: 1976 bytes dropped");
                memset(&o, 0, sizeof(o));
                for (size_t off = 0; off < good->n; off += BIG_CHUNK)
                        collect(s, good->d + off, good->n - off < BIG_CHUNK ? good->n - off : BIG_CHUNK, &o);
                assert_capture(c, &o);

                /* Headers that announce long frames, then garbage, many times over. */
                static const char *const headers[] = { "dd0300ff", "d20352", "55aaeb9002" };
                b->n = 0;
                for (size_t i = 0; i < 200; i++)
                        cat_hex(b, headers[c]);
                for (size_t off = 0; off < b->n; off += 20) {
                        memset(&o, 0, sizeof(o));
                        collect(s, b->d + off, b->n - off < 20 ? b->n - off : 20, &o);
                }
                collect_end(s, &o);
                memset(&o, 0, sizeof(o));
                for (size_t off = 0; off < good->n; off += BIG_CHUNK)
                        collect(s, good->d + off, good->n - off < BIG_CHUNK ? good->n - off : BIG_CHUNK, &o);
                assert_capture(c, &o);

                /* Random bytes, random sizes: nothing breaks, records stay plausible. */
                uint32_t seed = 12345 + (uint32_t) c;
                for (size_t i = 0; i < 3000; i++) {
                        uint8_t noise[700];
                        seed = seed * 1103515245u + 12345u;
                        size_t n = (seed >> 16) % sizeof(noise);
                        for (size_t j = 0; j < n; j++) {
                                seed = seed * 1103515245u + 12345u;
                                noise[j] = (uint8_t) (seed >> 16);
                        }
                        memset(&o, 0, sizeof(o));
                        collect(s, noise, n, &o);
                        for (size_t j = 0; j < o.n_records; j++)
                                assert_true(o.records[j].n_cells >= 1 && o.records[j].n_cells <= 32 &&
                                            o.records[j].soc_pct <= 100);
                }
                bms_session_free(s);
                free(good);
                free(b);
        }
}

/* ---- read sessions ---- */

static void feed_expect(struct bms_session *s, const char *hex, enum bms_action action, struct bms_event *ev) {
        struct bytes *b = from_hex(hex);

        bms_session_feed(s, b->d, b->n, ev);
        assert_int_equal(ev->action, action);
        assert_false(ev->rejected);
        free(b);
}

static void timeouts(struct bms_session *s, unsigned n, const char *request, uint64_t timeout_usec) {
        struct bms_event ev;

        for (unsigned i = 0; i < n; i++) {
                bms_session_timeout(s, &ev);
                assert_write(&ev, request, timeout_usec);
        }
}

static void assert_failed(struct bms_session *s, const char *reason) {
        struct bms_event ev;

        bms_session_timeout(s, &ev);
        assert_int_equal(ev.action, BMS_ACTION_FAILED);
        assert_string_equal(ev.reason, reason);
        bms_session_timeout(s, &ev);
        assert_int_equal(ev.action, BMS_ACTION_WAIT);
}

static void test_session_llt(void **state) {
        struct bms_session *s = new_session(BMS_KIND_LLT, BMS_LAYOUT_AUTO);
        struct bms_event ev;

        (void) state;
        bms_session_start(s, &ev);
        assert_write(&ev, LLT_REQ_BASIC, SEC(2));
        feed_expect(s, llt_bursts_hex[0], BMS_ACTION_WAIT, &ev);
        feed_expect(s, llt_bursts_hex[1], BMS_ACTION_WRITE, &ev);
        assert_write(&ev, LLT_REQ_CELLS, SEC(2));
        feed_expect(s, llt_bursts_hex[2], BMS_ACTION_WAIT, &ev);
        feed_expect(s, llt_bursts_hex[3], BMS_ACTION_RECORD, &ev);
        assert_record(&ev.record, &llt_expected);
        assert_int_equal(ev.record.time_usec, 0);
        feed_expect(s, llt_bursts_hex[2], BMS_ACTION_WAIT, &ev); /* the read is over */

        /* Cell voltages before they were asked for are ignored. */
        bms_session_start(s, &ev);
        feed_expect(s, llt_bursts_hex[2], BMS_ACTION_WAIT, &ev);
        feed_expect(s, llt_bursts_hex[3], BMS_ACTION_WAIT, &ev);
        feed_expect(s, "dd03001b0a04000004831838001c2c9400000000000016130308020b770b78fce977", BMS_ACTION_WRITE,
                    &ev);
        feed_expect(s, "dd0400100c850c860c840c830c840c870c860c8afb6377", BMS_ACTION_RECORD, &ev);
        assert_record(&ev.record, &llt_expected);

        /* A status error is a rejection; the read goes on. */
        bms_session_start(s, &ev);
        struct bytes *b = from_hex("dd038000ff8077");
        bms_session_feed(s, b->d, b->n, &ev);
        assert_int_equal(ev.action, BMS_ACTION_WAIT);
        assert_true(ev.rejected);
        assert_int_equal(ev.n_rejected, 1);
        assert_string_equal(ev.reason, "status 0x80");
        free(b);

        /* Two rejections and the answer in one notification. */
        b = from_hex("dd038000ff8077dd038100ff7f77");
        cat_hex(b, llt_bursts_hex[0]);
        cat_hex(b, llt_bursts_hex[1]);
        bms_session_feed(s, b->d, b->n, &ev);
        assert_write(&ev, LLT_REQ_CELLS, SEC(2));
        assert_int_equal(ev.n_rejected, 2);
        assert_string_equal(ev.reason, "status 0x80");
        free(b);
        bms_session_free(s);
}

static void test_session_llt_retries(void **state) {
        struct bms_session *s = new_session(BMS_KIND_LLT, BMS_LAYOUT_AUTO);
        struct bms_event ev;

        (void) state;
        bms_session_start(s, &ev);
        timeouts(s, 4, LLT_REQ_BASIC, SEC(2));
        assert_failed(s, "no answer to the basic info request (5 attempts)");
        feed_expect(s, llt_bursts_hex[0], BMS_ACTION_WAIT, &ev);
        feed_expect(s, llt_bursts_hex[1], BMS_ACTION_WAIT, &ev); /* not reading */

        bms_session_start(s, &ev);
        timeouts(s, 2, LLT_REQ_BASIC, SEC(2));
        feed_expect(s, llt_bursts_hex[0], BMS_ACTION_WAIT, &ev);
        feed_expect(s, llt_bursts_hex[1], BMS_ACTION_WRITE, &ev);
        timeouts(s, 4, LLT_REQ_CELLS, SEC(2)); /* each request has its own 5 attempts */
        assert_failed(s, "no answer to the cell voltages request (5 attempts)");

        /* A partial answer is dropped with the retry. */
        bms_session_start(s, &ev);
        feed_expect(s, llt_bursts_hex[0], BMS_ACTION_WAIT, &ev);
        timeouts(s, 1, LLT_REQ_BASIC, SEC(2));
        feed_expect(s, llt_bursts_hex[1], BMS_ACTION_WAIT, &ev);
        feed_expect(s, llt_bursts_hex[0], BMS_ACTION_WAIT, &ev);
        feed_expect(s, llt_bursts_hex[1], BMS_ACTION_WRITE, &ev);
        timeouts(s, 4, LLT_REQ_CELLS, SEC(2));
        feed_expect(s, llt_bursts_hex[2], BMS_ACTION_WAIT, &ev);
        feed_expect(s, llt_bursts_hex[3], BMS_ACTION_RECORD, &ev);
        assert_record(&ev.record, &llt_expected);
        bms_session_free(s);
}

static void feed_fragments(struct bms_session *s, const struct bytes *b, enum bms_action last, struct bms_event *ev) {
        for (size_t off = 0; off < b->n; off += 20) {
                size_t n = b->n - off < 20 ? b->n - off : 20;
                bms_session_feed(s, b->d + off, n, ev);
                assert_false(ev->rejected);
                assert_int_equal(ev->action, off + n < b->n ? BMS_ACTION_WAIT : last);
        }
}

static void test_session_daly(void **state) {
        struct bms_session *s = new_session(BMS_KIND_DALY, BMS_LAYOUT_AUTO);
        struct bms_event ev;

        (void) state;
        bms_session_start(s, &ev);
        assert_write(&ev, DALY_REQ, SEC(2));
        feed_expect(s, daly_foreign_06_hex, BMS_ACTION_WAIT, &ev);
        feed_expect(s, daly_foreign_52_hex, BMS_ACTION_WAIT, &ev);
        feed_expect(s, daly_foreign_glued_hex, BMS_ACTION_WAIT, &ev);
        struct bytes *b = from_hex(daly_answer_hex);
        feed_fragments(s, b, BMS_ACTION_RECORD, &ev);
        assert_record(&ev.record, &daly_expected);
        free(b);

        bms_session_start(s, &ev);
        timeouts(s, 4, DALY_REQ, SEC(2));
        assert_failed(s, "no answer to the status request (5 attempts)");
        bms_session_start(s, &ev);
        feed_expect(s, daly_discharge_hex, BMS_ACTION_RECORD, &ev);
        assert_record(&ev.record, &daly_discharge_expected);
        bms_session_free(s);
}

static void test_session_jk(void **state) {
        struct bms_session *s = new_session(BMS_KIND_JK, BMS_LAYOUT_AUTO);
        struct bms_event ev;

        (void) state;
        assert_int_equal(bms_session_get_layout(s), BMS_LAYOUT_AUTO);
        bms_session_start(s, &ev);
        assert_write(&ev, JK_REQ_DEVICE_INFO, SEC(2));
        /* Cell info before the device info: not asked for, ignored. */
        feed_expect(s, jk_cells_annotated_hex, BMS_ACTION_WAIT, &ev);
        struct bytes *b = from_hex(jk_device_info_hex);
        feed_fragments(s, b, BMS_ACTION_WRITE, &ev);
        assert_write(&ev, JK_REQ_CELL_INFO, SEC(5));
        assert_int_equal(bms_session_get_layout(s), BMS_LAYOUT_32S);
        free(b);
        feed_expect(s, "aa5590ebc8010100000000000000000000000044", BMS_ACTION_WAIT, &ev);
        b = from_hex(jk_settings_hex);
        feed_fragments(s, b, BMS_ACTION_WAIT, &ev);
        free(b);
        b = from_hex(jk_cells_hex);
        feed_fragments(s, b, BMS_ACTION_RECORD, &ev);
        assert_record(&ev.record, &jk_expected);
        free(b);

        /* Everything in one notification: WRITE first, the rest stays buffered. */
        bms_session_start(s, &ev);
        b = from_hex(jk_device_info_hex);
        cat_hex(b, jk_settings_hex);
        cat_hex(b, jk_cells_hex);
        bms_session_feed(s, b->d, b->n, &ev);
        assert_write(&ev, JK_REQ_CELL_INFO, SEC(5));
        bms_session_feed(s, NULL, 0, &ev);
        assert_int_equal(ev.action, BMS_ACTION_RECORD);
        assert_record(&ev.record, &jk_expected);
        free(b);

        bms_session_start(s, &ev);
        timeouts(s, 2, JK_REQ_DEVICE_INFO, SEC(2));
        feed_expect(s, jk_device_info_hex, BMS_ACTION_WRITE, &ev);
        timeouts(s, 2, JK_REQ_CELL_INFO, SEC(5));
        assert_failed(s, "no answer to the cell info request (3 attempts)");
        bms_session_free(s);
}

static void test_session_jk_layouts(void **state) {
        static const struct {
                enum bms_layout config;
                const char *version;
                enum bms_layout want;
        } cases[] = {
                { BMS_LAYOUT_AUTO, "10.07", BMS_LAYOUT_24S },
                { BMS_LAYOUT_AUTO, "9.1", BMS_LAYOUT_24S },
                { BMS_LAYOUT_AUTO, "11.288", BMS_LAYOUT_32S },
                { BMS_LAYOUT_AUTO, "15.10", BMS_LAYOUT_32S },
                { BMS_LAYOUT_24S, "11.288", BMS_LAYOUT_24S },
                { BMS_LAYOUT_32S, "10.07", BMS_LAYOUT_32S },
                { BMS_LAYOUT_AUTO, "V?", BMS_LAYOUT_AUTO }, /* unreadable: decoded as 32s */
        };
        struct bms_event ev;

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct bms_session *s = new_session(BMS_KIND_JK, cases[i].config);
                enum bms_layout l = cases[i].want == BMS_LAYOUT_AUTO ? BMS_LAYOUT_32S : cases[i].want;
                struct battery_record r = chosen(l == BMS_LAYOUT_24S ? 24 : 32, 2, -7.5, -42.042);
                struct bytes *info = new_bytes(), *cells = new_bytes();
                jk_device_info(cases[i].version, info);
                jk_encode(&r, l, cells);

                bms_session_start(s, &ev);
                bms_session_feed(s, info->d, info->n, &ev);
                assert_write(&ev, JK_REQ_CELL_INFO, SEC(5));
                assert_int_equal(bms_session_get_layout(s), cases[i].want);
                bms_session_feed(s, cells->d, cells->n, &ev);
                assert_int_equal(ev.action, BMS_ACTION_RECORD);
                assert_record(&ev.record, &r);

                /* A new read keeps the learnt layout, even decoding without device info. */
                bms_session_reset(s);
                assert_int_equal(bms_session_get_layout(s), cases[i].want);
                bms_session_decode_only(s, cells->d, cells->n, &ev);
                assert_int_equal(ev.action, BMS_ACTION_RECORD);
                assert_record(&ev.record, &r);
                free(info);
                free(cells);
                bms_session_free(s);
        }

        /* A firmware update is learnt at the next device info frame. */
        struct bms_session *s = new_session(BMS_KIND_JK, BMS_LAYOUT_AUTO);
        struct bytes *b = new_bytes();
        jk_device_info("10.01", b);
        jk_device_info("11.01", b);
        bms_session_decode_only(s, b->d, b->n, &ev);
        assert_int_equal(ev.action, BMS_ACTION_WAIT);
        assert_int_equal(bms_session_get_layout(s), BMS_LAYOUT_32S);
        free(b);
        bms_session_free(s);
}

/* ---- JSON and the decode tool ---- */

static void test_json(void **state) {
        char buf[512];
        int r;

        (void) state;
        r = battery_record_to_json(&daly_expected, buf, sizeof(buf));
        assert_string_equal(buf, "{\"v\":27.10,\"i\":0.00,\"soc\":99.7,\"c\":49.80,\"c_full\":null,\"n\":22,"
                                 "\"temps\":[21.0],\"cells\":[3.354,3.349,3.530,3.422,3.414,3.347,3.349,3.350]}");
        assert_int_equal(r, (int) strlen(buf));
        r = battery_record_to_json(&llt_expected, buf, sizeof(buf));
        assert_string_equal(buf, "{\"v\":25.64,\"i\":0.00,\"soc\":19.0,\"c\":11.55,\"c_full\":62.00,\"n\":28,"
                                 "\"temps\":[20.4,20.5],"
                                 "\"cells\":[3.205,3.206,3.204,3.203,3.204,3.207,3.206,3.210]}");
        assert_int_equal(battery_record_to_json(&llt_expected, buf, (size_t) r + 1), r);
        assert_int_equal(battery_record_to_json(&llt_expected, buf, (size_t) r), -ENOBUFS);
        assert_int_equal(battery_record_to_json(&llt_expected, buf, 0), -ENOBUFS);

        struct battery_record x = { .voltage_v = 3.3, .current_a = -0.004, .soc_pct = 40.55, .n_temps = 1,
                                    .temps_c = { -5.5 }, .n_cells = 0, .remaining_ah = NAN };
        battery_record_to_json(&x, buf, sizeof(buf));
        assert_string_equal(buf, "{\"v\":3.30,\"i\":0.00,\"soc\":40.5,\"c\":null,\"c_full\":0.00,\"n\":0,"
                                 "\"temps\":[-5.5],\"cells\":[]}");
}

static void test_parse_hex(void **state) {
        static const struct {
                const char *line;
                int r;
                const char *bytes_hex;
                const char *error;
        } cases[] = {
                { "", 0, "", NULL },
                { "   \t\r\n", 0, "", NULL },
                { "# a comment", 0, "", NULL },
                { "dd a5 03 00 ff fd 77\n", 0, "dda50300fffd77", NULL },
                { "DD:A5:03\r\n", 0, "dda503", NULL },
                { "d2037c # the answer", 0, "d2037c", NULL },
                { "d2 0", -EINVAL, "", "odd number of hex digits" },
                { "0x12", -EINVAL, "", "not hex" },
                { "hello", -EINVAL, "", "not hex" },
                { "00112233445566778899", -ENOBUFS, "", NULL },
        };
        uint8_t out[8];

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *error = NULL;
                size_t n = 99;
                struct bytes *want = from_hex(cases[i].bytes_hex);
                assert_int_equal(decode_tool_parse_hex(cases[i].line, out, sizeof(out), &n, &error), cases[i].r);
                if (cases[i].r == 0) {
                        assert_int_equal(n, want->n);
                        assert_memory_equal(out, want->d, n);
                }
                if (cases[i].error)
                        assert_string_equal(error, cases[i].error);
                free(want);
        }
}

static char *run_tool(const char *driver, const char *input, char **ret_err, int *ret) {
        FILE *in = tmpfile();
        char *out_buf = NULL, *err_buf = NULL;
        size_t out_size = 0, err_size = 0;

        assert_non_null(in);
        assert_int_equal(fputs(input, in) >= 0, 1);
        rewind(in);
        FILE *out = open_memstream(&out_buf, &out_size), *err = open_memstream(&err_buf, &err_size);
        assert_non_null(out);
        assert_non_null(err);
        *ret = decode_tool_run(driver, in, out, err);
        fclose(in);
        fclose(out);
        fclose(err);
        *ret_err = err_buf;
        return out_buf;
}

static void test_decode_tool(void **state) {
        char input[8192], want[2048], json[2][512], *out, *err;
        int r;

        (void) state;
        snprintf(input, sizeof(input),
                 "# bt_decode.txt, as notified\n"
                 "%s\n"
                 "00 00 16 13 03 08 02 0b 77 0b 78 fc e9 77   # spaces\n"
                 "this is not hex\n"
                 "\n"
                 "dd:04:00:10:0c:85:0c:86:0c:84:0c:83:0c:84:0c:87:0c:86:0c:8a\n"
                 "fb6377\n"
                 "dd038000ff8077\n"
                 "abc\n"
                 "dd03001b0a04\n",
                 llt_bursts_hex[0]);
        out = run_tool("lltPowerBmsV4Ble", input, &err, &r);
        assert_int_equal(r, 0);
        battery_record_to_json(&llt_expected, json[0], sizeof(json[0]));
        snprintf(want, sizeof(want), "%s\nrejected: status 0x80\nrejected: truncated\n", json[0]);
        assert_string_equal(out, want);
        assert_string_equal(err, "line 4: not hex, skipped\nline 9: odd number of hex digits, skipped\n");
        free(out);
        free(err);

        snprintf(input, sizeof(input), "%s\n%s\nzz\n%s\n%s\n%s\n", daly_foreign_06_hex, daly_foreign_52_hex,
                 daly_foreign_glued_hex, daly_answer_hex, daly_discharge_hex);
        out = run_tool("daly8S24V60A", input, &err, &r);
        assert_int_equal(r, 0);
        battery_record_to_json(&daly_expected, json[0], sizeof(json[0]));
        battery_record_to_json(&daly_discharge_expected, json[1], sizeof(json[1]));
        snprintf(want, sizeof(want), "%s\n%s\n", json[0], json[1]);
        assert_string_equal(out, want);
        assert_string_equal(err, "line 3: not hex, skipped\n");
        free(out);
        free(err);

        /* JK: whole frames per line, AT\r\n, two frames on one line. */
        snprintf(input, sizeof(input), "%s\n41540d0a\n%s\n%s%s\n", jk_device_info_hex, jk_settings_hex,
                 jk_cells_annotated_hex, jk_cells_hex);
        out = run_tool("jkBmsBd4", input, &err, &r);
        assert_int_equal(r, 0);
        battery_record_to_json(&jk_annotated_expected, json[0], sizeof(json[0]));
        battery_record_to_json(&jk_expected, json[1], sizeof(json[1]));
        snprintf(want, sizeof(want), "%s\n%s\n", json[0], json[1]);
        assert_string_equal(out, want);
        assert_string_equal(err, "");
        free(out);
        free(err);

        out = run_tool("victronMppt", "dd\n", &err, &r);
        assert_int_equal(r, -EINVAL);
        assert_string_equal(out, "");
        free(out);
        free(err);
}

/* Bytes as one line of hex for the decode tool. */
static void hex_line(const struct bytes *b, char *out, size_t size) {
        assert_true(2 * b->n + 2 <= size);
        for (size_t i = 0; i < b->n; i++)
                snprintf(out + 2 * i, 3, "%02x", b->d[i]);
        strcpy(out + 2 * b->n, "\n");
}

/* The --decode output (and the daemon's JSON topic, the same encoder) keeps
 * the resolution the BMS reports: 10 mA / 10 mAh (JBD), mA / mAh (JK,
 * rounded to 0.01), 0.1 % SoC (Daly); Daly's missing full capacity is null.
 * Literal strings, so they do not depend on the encoder under test. */
static void test_json_precision(void **state) {
        static char input[16384];
        struct battery_record llt = chosen(4, 1, 21.5, -12.34), jk = chosen(2, 2, 20, 6.166);
        struct bytes *b = new_bytes();
        char *out, *err;
        int r;

        (void) state;
        llt.remaining_ah = 31.27;
        llt.full_ah = 62.5;
        llt_encode(&llt, b);
        hex_line(b, input, sizeof(input));
        out = run_tool("lltPowerBmsV4Ble", input, &err, &r);
        assert_int_equal(r, 0);
        assert_string_equal(out, "{\"v\":13.20,\"i\":-12.34,\"soc\":57.0,\"c\":31.27,\"c_full\":62.50,\"n\":123,"
                                 "\"temps\":[21.5],\"cells\":[3.000,3.017,3.034,3.051]}\n");
        free(out);
        free(err);

        jk.remaining_ah = 40.711;
        jk.full_ah = 100;
        b->n = 0;
        jk_encode(&jk, BMS_LAYOUT_32S, b);
        hex_line(b, input, sizeof(input));
        out = run_tool("jkBmsBd4", input, &err, &r);
        assert_int_equal(r, 0);
        assert_string_equal(out, "{\"v\":6.60,\"i\":6.17,\"soc\":57.0,\"c\":40.71,\"c_full\":100.00,\"n\":123,"
                                 "\"temps\":[20.0,21.0],\"cells\":[3.000,3.017]}\n");
        free(out);
        free(err);

        snprintf(input, sizeof(input), "%s\n%s\n", daly_answer_hex, daly_discharge_hex);
        out = run_tool("daly8S24V60A", input, &err, &r);
        assert_int_equal(r, 0);
        assert_string_equal(out, "{\"v\":27.10,\"i\":0.00,\"soc\":99.7,\"c\":49.80,\"c_full\":null,\"n\":22,"
                                 "\"temps\":[21.0],\"cells\":[3.354,3.349,3.530,3.422,3.414,3.347,3.349,3.350]}\n"
                                 "{\"v\":26.30,\"i\":-4.90,\"soc\":79.1,\"c\":39.50,\"c_full\":null,\"n\":22,"
                                 "\"temps\":[17.0],\"cells\":[3.301,3.298,3.298,3.298,3.299,3.298,3.300,3.298]}\n");
        free(out);
        free(err);
        free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_gatt_and_names),
                cmocka_unit_test(test_requests),
                cmocka_unit_test(test_captures),
                cmocka_unit_test(test_captures_every_split),
                cmocka_unit_test(test_built_frames),
                cmocka_unit_test(test_damaged),
                cmocka_unit_test(test_truncated_at_end),
                cmocka_unit_test(test_glued_garbage_padding),
                cmocka_unit_test(test_daly_foreign_and_llt_status),
                cmocka_unit_test(test_implausible),
                cmocka_unit_test(test_bounded_and_fuzz),
                cmocka_unit_test(test_session_llt),
                cmocka_unit_test(test_session_llt_retries),
                cmocka_unit_test(test_session_daly),
                cmocka_unit_test(test_session_jk),
                cmocka_unit_test(test_session_jk_layouts),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_json_precision),
                cmocka_unit_test(test_parse_hex),
                cmocka_unit_test(test_decode_tool),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
