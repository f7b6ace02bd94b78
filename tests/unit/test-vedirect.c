/* SPDX-License-Identifier: MIT */
/* Unit tests of vedirect.c: text blocks built here with real MPPT fields and
 * correct checksums, fed whole, split at every position and byte by byte;
 * checksum bytes that look like ':', '\r' and '\n'; HEX frames between fields
 * and right after the checksum; garbage, corruption, oversized input, silence;
 * the HEX builder's exact strings and the HEX answer parser. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vedirect.h"

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define MSEC(s) ((uint64_t) (s) * UINT64_C(1000))
#define T0 MSEC(5000000) /* the monotonic clock is far from zero */

/* ---- building streams ---- */

struct stream {
        uint8_t buf[8192];
        size_t len;
        uint8_t sum; /* of the text bytes of the block being built */
};

static void put_text(struct stream *s, const char *t) {
        for (; *t; t++) {
                assert_true(s->len < sizeof(s->buf));
                s->buf[s->len++] = (uint8_t) *t;
                s->sum += (uint8_t) *t;
        }
}

/* HEX frames and garbage: not part of any text checksum. */
static void put_raw(struct stream *s, const void *data, size_t n) {
        assert_true(s->len + n <= sizeof(s->buf));
        memcpy(s->buf + s->len, data, n);
        s->len += n;
}

static void put_field(struct stream *s, const char *label, const char *value) {
        put_text(s, "\r\n");
        put_text(s, label);
        put_text(s, "\t");
        put_text(s, value);
}

static uint8_t put_checksum(struct stream *s) {
        put_text(s, "\r\nChecksum\t");
        uint8_t c = (uint8_t) (0x100 - s->sum);
        put_raw(s, &c, 1);
        s->sum = 0;
        return c;
}

struct kv {
        const char *label;
        const char *value;
};

/* What a SmartSolar 100/20 sends (VE.Direct protocol 3.33). */
static const struct kv mppt[] = {
        { "PID", "0xA053" }, { "FW", "159" },  { "SER#", "HQ2132ABCDE" }, { "V", "13250" },
        { "I", "4500" },     { "VPV", "35210" }, { "PPV", "62" },         { "CS", "3" },
        { "MPPT", "2" },     { "OR", "0x00000000" }, { "ERR", "0" },      { "LOAD", "ON" },
        { "IL", "0" },       { "H19", "10234" }, { "H20", "123" },        { "H21", "310" },
        { "H22", "98" },     { "H23", "295" },   { "HSDS", "17" },
};

/* One block; `hex` (if any) goes right after field number hex_after's value. */
static uint8_t put_block(struct stream *s, const struct kv *f, size_t n, int hex_after, const char *hex) {
        for (size_t i = 0; i < n; i++) {
                put_field(s, f[i].label, f[i].value);
                if (hex && (int) i == hex_after)
                        put_raw(s, hex, strlen(hex));
        }
        return put_checksum(s);
}

/* An MPPT block whose checksum byte is `want`: tries yields until it fits. */
static void put_block_with_checksum(struct stream *s, uint8_t want, const char *hex_after_checksum) {
        struct kv f[ELEMENTS(mppt)];
        char h19[16], h22[16];

        memcpy(f, mppt, sizeof(f));
        /* Values of 1 to 5 digits: their digit sums cover every residue. */
        for (int a = 1; a < 100000; a *= 3)
                for (int b = 0; b < 1000; b++) {
                        struct stream t = {};
                        snprintf(h19, sizeof(h19), "%d", a);
                        snprintf(h22, sizeof(h22), "%d", b);
                        f[13].value = h19;
                        f[16].value = h22;
                        if (put_block(&t, f, ELEMENTS(f), -1, NULL) != want)
                                continue;
                        put_raw(s, t.buf, t.len);
                        if (hex_after_checksum)
                                put_raw(s, hex_after_checksum, strlen(hex_after_checksum));
                        return;
                }
        fail_msg("no block with checksum 0x%02x", want);
}

/* ---- recording what the parser says ---- */

struct event {
        char kind; /* 'B' block, 'H' HEX frame, 'E' error */
        int error;
        struct vedirect_block block;
        char hex[VEDIRECT_HEX_FRAME_MAX];
};

struct recorder {
        size_t n;
        struct event ev[48];
};

static void rec_block(void *userdata, const struct vedirect_block *b) {
        struct recorder *r = userdata;
        assert_true(r->n < ELEMENTS(r->ev));
        r->ev[r->n] = (struct event) { .kind = 'B', .block = *b };
        r->n++;
}

static void rec_hex(void *userdata, const char *frame, size_t len) {
        struct recorder *r = userdata;
        assert_true(r->n < ELEMENTS(r->ev));
        assert_int_equal(strlen(frame), len);
        r->ev[r->n] = (struct event) { .kind = 'H' };
        memcpy(r->ev[r->n].hex, frame, len + 1);
        r->n++;
}

static void rec_error(void *userdata, int error, const char *reason) {
        struct recorder *r = userdata;
        assert_true(r->n < ELEMENTS(r->ev));
        assert_non_null(reason);
        r->ev[r->n] = (struct event) { .kind = 'E', .error = error };
        r->n++;
}

static const struct vedirect_handlers rec_handlers = {
        .block = rec_block,
        .hex = rec_hex,
        .error = rec_error,
};

static struct recorder *rec_new(void) {
        struct recorder *r = calloc(1, sizeof(*r));
        assert_non_null(r);
        return r;
}

static void feed(struct vedirect_parser *p, struct recorder *r, const void *data, size_t len, uint64_t t) {
        vedirect_feed(p, data, len, t, &rec_handlers, r);
}

/* Events as a string like "BHBE", for compact assertions. */
static void kinds(const struct recorder *r, char s[static 64]) {
        size_t i;
        for (i = 0; i < r->n && i < 63; i++)
                s[i] = r->ev[i].kind;
        s[i] = '\0';
}

static void assert_kinds(const struct recorder *r, const char *want) {
        char got[64];
        kinds(r, got);
        assert_string_equal(got, want);
}

static void assert_same_events(const struct recorder *a, const struct recorder *b) {
        char ka[64];
        kinds(a, ka);
        assert_kinds(b, ka);
        for (size_t i = 0; i < a->n; i++) {
                assert_int_equal(a->ev[i].error, b->ev[i].error);
                assert_string_equal(a->ev[i].hex, b->ev[i].hex);
                assert_int_equal(a->ev[i].block.n_fields, b->ev[i].block.n_fields);
                for (size_t k = 0; k < a->ev[i].block.n_fields; k++) {
                        assert_string_equal(a->ev[i].block.fields[k].label, b->ev[i].block.fields[k].label);
                        assert_string_equal(a->ev[i].block.fields[k].value, b->ev[i].block.fields[k].value);
                }
        }
}

/* Whole, split in two at every position, and byte by byte: same events. */
static struct recorder *check_all_splits(const struct stream *s) {
        struct recorder *whole = rec_new();
        struct vedirect_parser p;

        vedirect_parser_init(&p);
        feed(&p, whole, s->buf, s->len, T0);
        for (size_t cut = 0; cut <= s->len; cut++) {
                struct recorder *r = rec_new();
                vedirect_parser_init(&p);
                feed(&p, r, s->buf, cut, T0);
                feed(&p, r, s->buf + cut, s->len - cut, T0 + MSEC(1));
                assert_same_events(whole, r);
                free(r);
        }
        struct recorder *r = rec_new();
        vedirect_parser_init(&p);
        for (size_t i = 0; i < s->len; i++)
                feed(&p, r, s->buf + i, 1, T0 + MSEC(i / 20)); /* 19200 baud: ~2 bytes per ms */
        assert_same_events(whole, r);
        free(r);
        return whole;
}

static void assert_mppt_block(const struct vedirect_block *b) {
        assert_int_equal(b->n_fields, ELEMENTS(mppt));
        for (size_t i = 0; i < ELEMENTS(mppt); i++) {
                assert_string_equal(b->fields[i].label, mppt[i].label);
                if (strcmp(mppt[i].label, "H19") != 0 && strcmp(mppt[i].label, "H22") != 0)
                        assert_string_equal(b->fields[i].value, mppt[i].value);
        }
}

/* ---- text protocol ---- */

static void test_block_whole_and_split(void **state) {
        struct stream s = {};

        put_block(&s, mppt, ELEMENTS(mppt), -1, NULL);
        put_block(&s, mppt, ELEMENTS(mppt), -1, NULL);
        struct recorder *r = check_all_splits(&s);
        assert_kinds(r, "BB");
        assert_mppt_block(&r->ev[0].block);
        assert_mppt_block(&r->ev[1].block);

        struct vedirect_mppt m;
        vedirect_decode_mppt(&r->ev[0].block, &m);
        assert_true(m.has_ppv && m.has_cs && m.has_h20 && m.has_v && m.has_i && m.has_vpv && m.has_err && m.has_or);
        assert_int_equal(m.ppv_w, 62);
        assert_int_equal(m.cs, 3);
        assert_true(m.h20_wh == 1230.0);
        assert_int_equal(m.v_mv, 13250);
        assert_int_equal(m.i_ma, 4500);
        assert_int_equal(m.vpv_mv, 35210);
        assert_int_equal(m.err, 0);
        assert_int_equal(m.off_reason, 0);
        free(r);
}

static void test_checksum_byte_special(void **state) {
        /* Each special checksum byte, also followed at once by the next block
         * or a HEX frame. */
        static const uint8_t specials[] = { ':', '\r', '\n', '\t', 0x00, 0xFF };
        for (size_t i = 0; i < ELEMENTS(specials); i++) {
                struct stream s = {};
                put_block_with_checksum(&s, specials[i], NULL);
                assert_int_equal(s.buf[s.len - 1], specials[i]);
                put_block(&s, mppt, ELEMENTS(mppt), -1, NULL);
                put_block_with_checksum(&s, specials[i], ":A0102000543\n");
                put_block(&s, mppt, ELEMENTS(mppt), -1, NULL);
                struct recorder *r = check_all_splits(&s);
                assert_kinds(r, "BBBHB");
                assert_string_equal(r->ev[3].hex, ":A0102000543");
                for (size_t k = 0; k < r->n; k++)
                        if (r->ev[k].kind == 'B')
                                assert_mppt_block(&r->ev[k].block);
                free(r);
        }
}

static void test_hex_interleaved(void **state) {
        struct stream s = {};

        /* Between fields (after a value, before the next "\r\n"), after the
         * last field, right after the checksum byte, and two in a row. */
        put_block(&s, mppt, ELEMENTS(mppt), 3, ":A0102000543\n");
        put_block(&s, mppt, ELEMENTS(mppt), (int) ELEMENTS(mppt) - 1, ":7000200014B\n");
        put_raw(&s, ":8000200014A\n:80002000447\n", 26);
        put_block(&s, mppt, ELEMENTS(mppt), 0, ":4AAAAFD\n");
        struct recorder *r = check_all_splits(&s);
        assert_kinds(r, "HBHBHHHB");
        assert_string_equal(r->ev[0].hex, ":A0102000543");
        assert_string_equal(r->ev[2].hex, ":7000200014B");
        assert_string_equal(r->ev[4].hex, ":8000200014A");
        assert_string_equal(r->ev[5].hex, ":80002000447");
        assert_string_equal(r->ev[6].hex, ":4AAAAFD");
        assert_mppt_block(&r->ev[1].block);
        assert_mppt_block(&r->ev[3].block);
        assert_mppt_block(&r->ev[7].block);
        free(r);
}

static void test_fields_vary(void **state) {
        /* A BlueSolar without OR/LOAD, and a tiny block: whatever comes is kept. */
        static const struct kv small[] = { { "PID", "0xA042" }, { "V", "26100" }, { "CS", "0" } };
        struct stream s = {};
        struct vedirect_mppt m;
        int64_t v;

        put_block(&s, small, ELEMENTS(small), -1, NULL);
        put_block(&s, NULL, 0, -1, NULL);
        struct recorder *r = check_all_splits(&s);
        assert_kinds(r, "BB");
        assert_int_equal(r->ev[0].block.n_fields, 3);
        assert_int_equal(r->ev[1].block.n_fields, 0);
        vedirect_decode_mppt(&r->ev[0].block, &m);
        assert_true(m.has_cs && m.has_v);
        assert_false(m.has_ppv || m.has_h20 || m.has_or || m.has_err);
        assert_int_equal(vedirect_block_get_int(&r->ev[0].block, "PID", &v), 0);
        assert_int_equal(v, 0xA042);
        assert_int_equal(vedirect_block_get_int(&r->ev[0].block, "OR", &v), -ENOENT);
        assert_null(vedirect_block_get(&r->ev[0].block, "LOAD"));
        free(r);
}

static void test_corrupt_block_ignored(void **state) {
        struct stream s = {};
        struct vedirect_parser p;
        struct recorder *r = rec_new();

        put_block(&s, mppt, ELEMENTS(mppt), -1, NULL);
        size_t first = s.len;
        put_block(&s, mppt, ELEMENTS(mppt), -1, NULL);
        /* PPV 62 → 72 in the first block: the checksum no longer fits. */
        uint8_t *ppv = memmem(s.buf, first, "PPV\t62", 6);
        assert_non_null(ppv);
        ppv[4] = '7';
        vedirect_parser_init(&p);
        feed(&p, r, s.buf, s.len, T0);
        assert_kinds(r, "EB");
        assert_int_equal(r->ev[0].error, -EBADMSG);
        assert_mppt_block(&r->ev[1].block);

        /* A wrong checksum byte alone, too. */
        r->n = 0;
        s.buf[first - 1]++;
        ppv[4] = '6';
        vedirect_parser_init(&p);
        feed(&p, r, s.buf, s.len, T0);
        assert_kinds(r, "EB");
        free(r);
}

static void test_garbage(void **state) {
        struct vedirect_parser p;
        struct recorder *r = rec_new();
        struct stream good = {};
        uint8_t junk[4096];
        uint32_t x = 12345;

        put_block(&good, mppt, ELEMENTS(mppt), -1, NULL);
        for (size_t i = 0; i < sizeof(junk); i++) {
                x = x * 1103515245 + 12345; /* any fixed sequence will do */
                junk[i] = (uint8_t) (x >> 16);
        }
        vedirect_parser_init(&p);
        /* Junk never makes a block, whatever the chunking. */
        for (size_t i = 0; i < sizeof(junk); i += 7)
                feed(&p, r, junk + i, sizeof(junk) - i < 7 ? sizeof(junk) - i : 7, T0);
        for (size_t i = 0; i < r->n; i++)
                assert_true(r->ev[i].kind != 'B');
        /* Junk, then silence: the next block is fine. */
        r->n = 0;
        feed(&p, r, good.buf, good.len, T0 + MSEC(600));
        assert_kinds(r, "B");

        /* Printable junk without a pause: at most the first block is lost. */
        r->n = 0;
        feed(&p, r, "xx\r\nfoo\tbar baz", 15, T0 + MSEC(2000));
        feed(&p, r, good.buf, good.len, T0 + MSEC(2001));
        feed(&p, r, good.buf, good.len, T0 + MSEC(2002));
        assert_true(r->n >= 1 && r->ev[r->n - 1].kind == 'B');
        assert_mppt_block(&r->ev[r->n - 1].block);

        /* Control characters inside a field drop the block at once. */
        r->n = 0;
        feed(&p, r, "\r\nV\t12\00134", 9, T0 + MSEC(3000));
        assert_kinds(r, "E");
        assert_int_equal(r->ev[0].error, -EBADMSG);
        feed(&p, r, good.buf, good.len, T0 + MSEC(3001));
        assert_kinds(r, "EB");
        free(r);
}

static void test_oversized(void **state) {
        struct vedirect_parser p;
        struct recorder *r = rec_new();
        struct stream good = {}, s = {};
        char big[2000];
        size_t size_before = sizeof(p);

        put_block(&good, mppt, ELEMENTS(mppt), -1, NULL);
        vedirect_parser_init(&p);

        /* A label, a value and a HEX frame far beyond any real one. */
        memset(big, 'A', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        put_field(&s, big, "1");
        put_checksum(&s);
        put_field(&s, "V", big);
        put_checksum(&s);
        put_raw(&s, ":", 1);
        put_raw(&s, big, sizeof(big) - 1);
        put_raw(&s, "\n", 1);
        feed(&p, r, s.buf, s.len, T0);
        for (size_t i = 0; i < r->n; i++)
                assert_true(r->ev[i].kind == 'E');
        assert_int_equal(r->ev[0].error, -EMSGSIZE);
        r->n = 0;
        feed(&p, r, good.buf, good.len, T0 + MSEC(1));
        assert_kinds(r, "B");

        /* More fields than fit, with a correct checksum: refused as a whole. */
        struct stream many = {};
        for (int i = 0; i < VEDIRECT_FIELDS_MAX + 5; i++)
                put_field(&many, "H20", "1");
        put_checksum(&many);
        r->n = 0;
        feed(&p, r, many.buf, many.len, T0 + MSEC(2));
        assert_kinds(r, "E");
        assert_int_equal(r->ev[0].error, -E2BIG);
        feed(&p, r, good.buf, good.len, T0 + MSEC(3));
        assert_kinds(r, "EB");
        assert_int_equal(sizeof(p), size_before);
        free(r);
}

static void test_silence_reset(void **state) {
        struct vedirect_parser p;
        struct recorder *r = rec_new();
        struct stream s = {};

        put_block(&s, mppt, ELEMENTS(mppt), -1, NULL);
        size_t half = s.len / 2;

        /* A pause below 500 ms is just a slow line. */
        vedirect_parser_init(&p);
        feed(&p, r, s.buf, half, T0);
        feed(&p, r, s.buf + half, s.len - half, T0 + MSEC(499));
        assert_kinds(r, "B");

        /* 500 ms or more: the first half is gone, the rest alone is not a
         * block, and the next whole block is fine. */
        r->n = 0;
        feed(&p, r, s.buf, half, T0 + MSEC(1000));
        feed(&p, r, s.buf + half, s.len - half, T0 + MSEC(1500));
        assert_kinds(r, "E");
        feed(&p, r, s.buf, s.len, T0 + MSEC(1600));
        assert_kinds(r, "EB");

        /* Also in the middle of a HEX frame. */
        r->n = 0;
        feed(&p, r, ":80002", 6, T0 + MSEC(3000));
        feed(&p, r, s.buf, s.len, T0 + MSEC(3600));
        assert_kinds(r, "B");

        /* An explicit reset does the same. */
        r->n = 0;
        feed(&p, r, s.buf, half, T0 + MSEC(5000));
        vedirect_parser_reset(&p);
        feed(&p, r, s.buf, s.len, T0 + MSEC(5001));
        assert_kinds(r, "B");
        free(r);
}

static void test_get_int(void **state) {
        static const struct kv f[] = {
                { "OR", "0x00000004" }, { "I", "-150" }, { "A", "12a" }, { "B", " 12" }, { "C", "+3" },
                { "D", "" },            { "E", "-0x1" }, { "F", "0x" },  { "G", "99999999999999999999" },
        };
        struct vedirect_block b = { .n_fields = ELEMENTS(f) };
        int64_t v;

        for (size_t i = 0; i < ELEMENTS(f); i++) {
                strcpy(b.fields[i].label, f[i].label);
                strcpy(b.fields[i].value, f[i].value);
        }
        assert_int_equal(vedirect_block_get_int(&b, "OR", &v), 0);
        assert_int_equal(v, 4);
        assert_int_equal(vedirect_block_get_int(&b, "I", &v), 0);
        assert_int_equal(v, -150);
        for (const char *l = "ABCDEFG"; *l; l++) {
                char label[2] = { *l, '\0' };
                assert_int_equal(vedirect_block_get_int(&b, label, &v), -EBADMSG);
        }
        assert_int_equal(vedirect_block_get_int(&b, "X", &v), -ENOENT);
}

static void test_cs_kind(void **state) {
        static const int on[] = { 3, 4, 5, 7, 247 };
        static const int off[] = { 0, 1, 6, 9, 11, 245, 246, 248, 252, 99 };

        for (size_t i = 0; i < ELEMENTS(on); i++)
                assert_int_equal(vedirect_cs_kind(on[i]), VEDIRECT_CS_ON);
        for (size_t i = 0; i < ELEMENTS(off); i++)
                assert_int_equal(vedirect_cs_kind(off[i]), VEDIRECT_CS_OFF);
        assert_int_equal(vedirect_cs_kind(2), VEDIRECT_CS_FAULT);
        assert_string_equal(vedirect_cs_to_string(3), "bulk");
        assert_null(vedirect_cs_to_string(99));
        assert_non_null(vedirect_err_to_string(33));
}

/* ---- HEX protocol ---- */

static void test_hex_build(void **state) {
        char buf[64];
        uint8_t on = 1, off = 4;

        assert_int_equal(vedirect_hex_build_set(0x0200, 0, &on, 1, buf, sizeof(buf)), 13);
        assert_string_equal(buf, ":8000200014A\n");
        assert_int_equal(vedirect_hex_build_set(0x0200, 0, &off, 1, buf, sizeof(buf)), 13);
        assert_string_equal(buf, ":80002000447\n");
        assert_int_equal(vedirect_hex_build_get(0x0200, buf, sizeof(buf)), 11);
        assert_string_equal(buf, ":70002004C\n");
        /* Ping: command 1, no bytes. */
        assert_int_equal(vedirect_hex_build(1, NULL, 0, buf, sizeof(buf)), 5);
        assert_string_equal(buf, ":154\n");
        /* A 16-bit register and value, little-endian, upper case. */
        uint8_t v16[2] = { 0x34, 0x12 };
        assert_true(vedirect_hex_build_set(0xEDF0, 0, v16, 2, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, ":8F0ED0034122A\n");

        assert_int_equal(vedirect_hex_build_set(0x0200, 0, &on, 1, buf, 13), -ENOBUFS);
        assert_int_equal(vedirect_hex_build_set(0x0200, 0, &on, 1, buf, 14), 13);
        assert_int_equal(vedirect_hex_build(16, NULL, 0, buf, sizeof(buf)), -EINVAL);
}

static void test_hex_parse(void **state) {
        struct vedirect_hex_msg m;

        /* Echo of a set. */
        assert_int_equal(vedirect_hex_parse(":8000200014A", 12, &m), 0);
        assert_int_equal(m.command, VEDIRECT_HEX_SET);
        assert_true(m.has_register);
        assert_int_equal(m.reg, VEDIRECT_REG_DEVICE_MODE);
        assert_int_equal(m.flags, 0);
        assert_int_equal(m.n_value, 1);
        assert_int_equal(m.value, 1);
        assert_int_equal(vedirect_hex_parse(":80002000447\n", 13, &m), 0);
        assert_int_equal(m.value, VEDIRECT_DEVICE_MODE_OFF);

        /* Answer to a get, lower case, with "\r\n". */
        assert_int_equal(vedirect_hex_parse(":7000200014b\r\n", 14, &m), 0);
        assert_int_equal(m.command, VEDIRECT_HEX_GET);
        assert_int_equal(m.value, 1);

        /* Async, 16-bit value. */
        assert_int_equal(vedirect_hex_parse(":AF0ED00341228", 14, &m), 0);
        assert_int_equal(m.command, VEDIRECT_HEX_ASYNC);
        assert_int_equal(m.reg, 0xEDF0);
        assert_int_equal(m.n_value, 2);
        assert_int_equal(m.value, 0x1234);

        /* A refused set: flags say "unknown id", no value. */
        assert_int_equal(vedirect_hex_parse(":834120106", 10, &m), 0);
        assert_int_equal(m.reg, 0x1234);
        assert_int_equal(m.flags, VEDIRECT_HEX_FLAG_UNKNOWN_ID);
        assert_int_equal(m.n_value, 0);

        /* Frame error and unknown command answers: no register. */
        assert_int_equal(vedirect_hex_parse(":4AAAAFD", 8, &m), 0);
        assert_int_equal(m.command, VEDIRECT_HEX_ERROR);
        assert_false(m.has_register);
        assert_int_equal(m.n_bytes, 2);
        assert_int_equal(vedirect_hex_parse(":154", 4, &m), 0);
        assert_int_equal(m.command, 1);
        assert_int_equal(m.n_bytes, 0);

        /* Whatever the builder makes, the parser reads back. */
        char buf[64];
        uint8_t v = 4;
        int n = vedirect_hex_build_set(0x0200, 0, &v, 1, buf, sizeof(buf));
        assert_int_equal(vedirect_hex_parse(buf, (size_t) n, &m), 0);
        assert_int_equal(m.value, 4);

        static const char *const bad[] = {
                ":8000200014B", /* wrong checksum */
                ":8000200014",  /* odd number of digits */
                ":80002000G4A", /* not hex */
                "8000200014A",  /* no ':' */
                ":8",           /* no checksum */
                ":",            "",
                ":X0002004C",
        };
        for (size_t i = 0; i < ELEMENTS(bad); i++)
                assert_int_equal(vedirect_hex_parse(bad[i], strlen(bad[i]), &m), -EBADMSG);
        char longf[2 * VEDIRECT_HEX_BYTES_MAX + 16];
        memset(longf, '0', sizeof(longf));
        longf[0] = ':';
        assert_int_equal(vedirect_hex_parse(longf, sizeof(longf), &m), -EBADMSG);
}

static void test_hex_broken_in_stream(void **state) {
        struct vedirect_parser p;
        struct recorder *r = rec_new();
        struct stream s = {};

        /* A HEX frame cut by a text block: reported, and the block after it
         * is fine (the '\r' that broke the frame starts it). */
        put_raw(&s, ":80002", 6);
        put_block(&s, mppt, ELEMENTS(mppt), -1, NULL);
        vedirect_parser_init(&p);
        feed(&p, r, s.buf, s.len, T0);
        assert_kinds(r, "EB");
        assert_int_equal(r->ev[0].error, -EBADMSG);
        free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_block_whole_and_split),
                cmocka_unit_test(test_checksum_byte_special),
                cmocka_unit_test(test_hex_interleaved),
                cmocka_unit_test(test_fields_vary),
                cmocka_unit_test(test_corrupt_block_ignored),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_oversized),
                cmocka_unit_test(test_silence_reset),
                cmocka_unit_test(test_get_int),
                cmocka_unit_test(test_cs_kind),
                cmocka_unit_test(test_hex_build),
                cmocka_unit_test(test_hex_parse),
                cmocka_unit_test(test_hex_broken_in_stream),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
