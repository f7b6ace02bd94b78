/* SPDX-License-Identifier: MIT */
/* Unit tests of the MQTT payload codecs: the compatibility encodings (mqtt.md) and the
 * mqttConsumption / mqttBattery decoders (drivers.md), from bytes, table-driven. */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt-decode.h"
#include "mqtt-encode.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
#define MSEC(s) ((uint64_t) (s) * UINT64_C(1000))
/* The monotonic clock is far from zero when the daemon runs. */
#define T0 SEC(5000)

/* A string literal as payload bytes and length, without the terminating NUL. */
#define S(s) (s), (sizeof(s) - 1)

#define assert_near(got, want)                                                                 \
        do {                                                                                   \
                double got_ = (got), want_ = (want);                                           \
                if (!(fabs(got_ - want_) <= 1e-9) && !(isnan(got_) && isnan(want_))) {        \
                        print_error("%s = %.12g, expected %.12g\n", #got, got_, want_);        \
                        fail();                                                                \
                }                                                                              \
        } while (0)

/* ---- encoding: round, clamp, big-endian ---- */

struct encode_case {
        const char *type;
        void (*encode)(double v, uint8_t *out);
        size_t size;
        double v;
        uint8_t bytes[2];
};

#define U8(v, b) { "u8", encode_u8, 1, (v), { (b) } }
#define S8(v, b) { "s8", encode_s8, 1, (v), { (b) } }
#define U16(v, b0, b1) { "u16", encode_u16, 2, (v), { (b0), (b1) } }
#define S16(v, b0, b1) { "s16", encode_s16, 2, (v), { (b0), (b1) } }

static const struct encode_case encode_cases[] = {
        /* The examples of mqtt.md, scaled as the outputs scale them. */
        U8(55, 0x37),                       /* SoC 55 % */
        S16(-12.34 * 10, 0xFF, 0x85),       /* current -12.34 A: round(-123.4) = -123 */
        U16(3.205 * 1000, 0x0C, 0x85),      /* cell 3.205 V: 3205 mV */
        S16(-5.0 * 10, 0xFF, 0xCE),         /* temperature -5.0 °C: -50 */

        U8(0, 0x00),
        U8(1, 0x01),
        U8(200, 0xC8),
        U8(255, 0xFF),
        U8(256, 0xFF),
        U8(300, 0xFF),
        U8(1e300, 0xFF),
        U8(INFINITY, 0xFF),
        U8(-3, 0x00),
        U8(-1e300, 0x00),
        U8(-INFINITY, 0x00),
        U8(0.4, 0x00),
        U8(0.5, 0x01),                      /* halves away from zero */
        U8(1.5, 0x02),
        U8(2.5, 0x03),                      /* not to even */
        U8(54.5, 0x37),
        U8(254.4, 0xFE),
        U8(254.5, 0xFF),
        U8(255.5, 0xFF),                    /* 256 after rounding: clamped */
        U8(-0.4, 0x00),
        U8(-0.5, 0x00),                     /* -1 after rounding: clamped */
        U8(NAN, 0x00),

        S8(0, 0x00),
        S8(1, 0x01),
        S8(-1, 0xFF),                       /* fault / syncing */
        S8(127, 0x7F),
        S8(128, 0x7F),
        S8(200, 0x7F),
        S8(INFINITY, 0x7F),
        S8(-128, 0x80),
        S8(-129, 0x80),
        S8(-200, 0x80),
        S8(-INFINITY, 0x80),
        S8(0.5, 0x01),
        S8(-0.5, 0xFF),
        S8(-0.4, 0x00),
        S8(-1.5, 0xFE),
        S8(2.5, 0x03),
        S8(-2.5, 0xFD),
        S8(126.5, 0x7F),
        S8(127.5, 0x7F),
        S8(-127.5, 0x80),
        S8(-128.5, 0x80),
        S8(NAN, 0x00),

        U16(0, 0x00, 0x00),
        U16(1, 0x00, 0x01),                 /* big-endian */
        U16(255, 0x00, 0xFF),
        U16(256, 0x01, 0x00),
        U16(0x1234, 0x12, 0x34),
        U16(2610, 0x0A, 0x32),
        U16(32768, 0x80, 0x00),             /* no sign */
        U16(65535, 0xFF, 0xFF),
        U16(65536, 0xFF, 0xFF),
        U16(70000, 0xFF, 0xFF),
        U16(1e300, 0xFF, 0xFF),
        U16(INFINITY, 0xFF, 0xFF),
        U16(-1, 0x00, 0x00),
        U16(-70000, 0x00, 0x00),
        U16(-INFINITY, 0x00, 0x00),
        U16(0.5, 0x00, 0x01),
        U16(2.5, 0x00, 0x03),
        U16(3204.5, 0x0C, 0x85),
        U16(3205.4, 0x0C, 0x85),
        U16(65534.5, 0xFF, 0xFF),
        U16(65535.5, 0xFF, 0xFF),
        U16(-0.5, 0x00, 0x00),
        U16(NAN, 0x00, 0x00),

        S16(0, 0x00, 0x00),
        S16(1, 0x00, 0x01),
        S16(-1, 0xFF, 0xFF),
        S16(0x1234, 0x12, 0x34),
        S16(-123.4, 0xFF, 0x85),
        S16(-123.5, 0xFF, 0x84),            /* -124 */
        S16(-123.6, 0xFF, 0x84),
        S16(123.5, 0x00, 0x7C),
        S16(0.5, 0x00, 0x01),
        S16(-0.5, 0xFF, 0xFF),
        S16(-0.4, 0x00, 0x00),
        S16(2.5, 0x00, 0x03),
        S16(-2.5, 0xFF, 0xFD),
        S16(32767, 0x7F, 0xFF),
        S16(32767.5, 0x7F, 0xFF),
        S16(32768, 0x7F, 0xFF),
        S16(40000, 0x7F, 0xFF),
        S16(70000, 0x7F, 0xFF),
        S16(INFINITY, 0x7F, 0xFF),
        S16(-32768, 0x80, 0x00),
        S16(-32768.5, 0x80, 0x00),
        S16(-32769, 0x80, 0x00),
        S16(-40000, 0x80, 0x00),
        S16(-70000, 0x80, 0x00),
        S16(-INFINITY, 0x80, 0x00),
        S16(NAN, 0x00, 0x00),
};

static void test_encode_table(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(encode_cases); i++) {
                const struct encode_case *c = &encode_cases[i];
                /* Guard bytes on both sides: exactly `size` bytes are written. */
                uint8_t buf[4] = { 0xA5, 0xA5, 0xA5, 0xA5 };

                print_message("case %zu: %s %.17g\n", i, c->type, c->v);
                c->encode(c->v, buf + 1);
                assert_int_equal(buf[0], 0xA5);
                assert_int_equal(buf[1], c->bytes[0]);
                if (c->size == 2)
                        assert_int_equal(buf[2], c->bytes[1]);
                else
                        assert_int_equal(buf[2], 0xA5);
                assert_int_equal(buf[3], 0xA5);
        }
}

/* ---- consumption_decode ---- */

struct consumption_case {
        const char *name;
        enum consumption_format format;
        const char *path;
        const char *payload;
        size_t len;
        int r;
        int w;
};

#define BIN CONSUMPTION_FORMAT_BINARY
#define TXT CONSUMPTION_FORMAT_TEXT
#define JSN CONSUMPTION_FORMAT_JSON
#define AUTO CONSUMPTION_FORMAT_AUTO

#define Z10 "0000000000"
#define SP10 "          "

static const struct consumption_case consumption_cases[] = {
        /* binary: 2 bytes s16, 4 bytes s32, big-endian */
        { "s16 zero", BIN, NULL, S("\x00\x00"), 0, 0 },
        { "s16 123", BIN, NULL, S("\x00\x7B"), 0, 123 },
        { "s16 big-endian", BIN, NULL, S("\x12\x34"), 0, 0x1234 },
        { "s16 -123", BIN, NULL, S("\xFF\x85"), 0, -123 },
        { "s16 -1", BIN, NULL, S("\xFF\xFF"), 0, -1 },
        { "s16 max", BIN, NULL, S("\x7F\xFF"), 0, 32767 },
        { "s16 min", BIN, NULL, S("\x80\x00"), 0, -32768 },
        { "s16 ASCII bytes are still binary", BIN, NULL, S("12"), 0, 0x3132 },
        { "s32 123", BIN, NULL, S("\x00\x00\x00\x7B"), 0, 123 },
        { "s32 big-endian", BIN, NULL, S("\x00\x01\x02\x03"), 0, 0x010203 },
        { "s32 65536", BIN, NULL, S("\x00\x01\x00\x00"), 0, 65536 },
        { "s32 -123", BIN, NULL, S("\xFF\xFF\xFF\x85"), 0, -123 },
        { "s32 -100000", BIN, NULL, S("\xFF\xFE\x79\x60"), 0, -100000 },
        { "s32 10 MW", BIN, NULL, S("\x00\x98\x96\x80"), 0, 10000000 },
        { "s32 -10 MW", BIN, NULL, S("\xFF\x67\x69\x80"), 0, -10000000 },
        { "s32 above 10 MW", BIN, NULL, S("\x00\x98\x96\x81"), -EBADMSG, 0 },
        { "s32 min", BIN, NULL, S("\x80\x00\x00\x00"), -EBADMSG, 0 },
        { "binary empty", BIN, NULL, S(""), -EBADMSG, 0 },
        { "binary 1 byte", BIN, NULL, S("\x05"), -EBADMSG, 0 },
        { "binary 3 bytes", BIN, NULL, S("\x00\x00\x7B"), -EBADMSG, 0 },
        { "binary 5 bytes", BIN, NULL, S("\x00\x00\x00\x00\x7B"), -EBADMSG, 0 },
        { "binary 8 bytes", BIN, NULL, S("\x00\x00\x00\x00\x00\x00\x00\x7B"), -EBADMSG, 0 },

        /* text: optional sign, digits, one decimal point, rounded */
        { "text 123", TXT, NULL, S("123"), 0, 123 },
        { "text 0", TXT, NULL, S("0"), 0, 0 },
        { "text leading zeros", TXT, NULL, S("007"), 0, 7 },
        { "text minus", TXT, NULL, S("-5"), 0, -5 },
        { "text plus", TXT, NULL, S("+7"), 0, 7 },
        { "text decimal down", TXT, NULL, S("1.4"), 0, 1 },
        { "text half up", TXT, NULL, S("1.5"), 0, 2 },
        { "text half away from zero", TXT, NULL, S("2.5"), 0, 3 },
        { "text negative half", TXT, NULL, S("-1.5"), 0, -2 },
        { "text negative decimal", TXT, NULL, S("-123.4"), 0, -123 },
        { "text -0.4", TXT, NULL, S("-0.4"), 0, 0 },
        { "text leading point", TXT, NULL, S(".5"), 0, 1 },
        { "text trailing point", TXT, NULL, S("5."), 0, 5 },
        { "text spaces", TXT, NULL, S("  42  "), 0, 42 },
        { "text tab, CR, LF", TXT, NULL, S("\t-17\r\n"), 0, -17 },
        { "text newline", TXT, NULL, S("42\n"), 0, 42 },
        { "text 31 characters", TXT, NULL, S(Z10 Z10 "000000000" "42"), 0, 42 },
        { "text padding is not counted", TXT, NULL, S(SP10 SP10 SP10 "42" SP10 SP10 SP10), 0, 42 },
        { "text -10 MW", TXT, NULL, S("-10000000"), 0, -10000000 },
        { "text above 10 MW", TXT, NULL, S("10000001"), -EBADMSG, 0 },
        { "text length is honoured", TXT, NULL, "1234", 2, 0, 12 },
        { "text empty", TXT, NULL, S(""), -EBADMSG, 0 },
        { "text only white space", TXT, NULL, S(" \t\r\n"), -EBADMSG, 0 },
        { "text 32 characters", TXT, NULL, S(Z10 Z10 Z10 "42"), -EBADMSG, 0 },
        { "text 64 characters", TXT, NULL, S(Z10 Z10 Z10 Z10 Z10 Z10 "0042"), -EBADMSG, 0 },
        { "text sign only", TXT, NULL, S("-"), -EBADMSG, 0 },
        { "text plus only", TXT, NULL, S("+"), -EBADMSG, 0 },
        { "text point only", TXT, NULL, S("."), -EBADMSG, 0 },
        { "text sign and point", TXT, NULL, S("-."), -EBADMSG, 0 },
        { "text two signs", TXT, NULL, S("+-1"), -EBADMSG, 0 },
        { "text sign after space", TXT, NULL, S("- 5"), -EBADMSG, 0 },
        { "text two points", TXT, NULL, S("1.2.3"), -EBADMSG, 0 },
        { "text comma", TXT, NULL, S("1,5"), -EBADMSG, 0 },
        { "text inner space", TXT, NULL, S("1 2"), -EBADMSG, 0 },
        { "text unit", TXT, NULL, S("12W"), -EBADMSG, 0 },
        { "text letters", TXT, NULL, S("abc"), -EBADMSG, 0 },
        { "text exponent", TXT, NULL, S("1e3"), -EBADMSG, 0 },
        { "text hex", TXT, NULL, S("0x10"), -EBADMSG, 0 },
        { "text nan", TXT, NULL, S("nan"), -EBADMSG, 0 },
        { "text inf", TXT, NULL, S("inf"), -EBADMSG, 0 },
        { "text NUL", TXT, NULL, S("12\0"), -EBADMSG, 0 },
        { "text binary", TXT, NULL, S("\x00\x7B"), -EBADMSG, 0 },
        { "text JSON", TXT, NULL, S("{\"power\":1}"), -EBADMSG, 0 },

        /* JSON: the number at a dotted path */
        { "json top level", JSN, "power", S("{\"power\":123}"), 0, 123 },
        { "json negative", JSN, "power", S("{\"power\":-45}"), 0, -45 },
        { "json decimal", JSN, "power", S("{\"power\":1.4}"), 0, 1 },
        { "json half away from zero", JSN, "power", S("{\"power\":-45.5}"), 0, -46 },
        { "json Tasmota", JSN, "SML.Power",
          S("{\"Time\":\"2024-01-01T00:00:00\",\"SML\":{\"Total\":1.5,\"Power\":123}}"), 0, 123 },
        { "json three levels", JSN, "a.b.c", S("{\"a\":{\"x\":1,\"b\":{\"c\":-7}}}"), 0, -7 },
        { "json other keys ignored", JSN, "p", S("{\"q\":5,\"p\":6,\"r\":[1,2]}"), 0, 6 },
        { "json white space", JSN, "p", S(" { \"p\" : 9 }\n"), 0, 9 },
        { "json trailing NUL", JSN, "p", S("{\"p\":9}\0"), 0, 9 },
        { "json -10 MW", JSN, "p", S("{\"p\":-10000000}"), 0, -10000000 },
        { "json above 10 MW", JSN, "p", S("{\"p\":1e9}"), -EBADMSG, 0 },
        { "json missing key", JSN, "SML.Power", S("{\"SML\":{\"Energy\":5}}"), -EBADMSG, 0 },
        { "json missing object", JSN, "SML.Power", S("{\"Power\":5}"), -EBADMSG, 0 },
        { "json intermediate not an object", JSN, "SML.Power", S("{\"SML\":5}"), -EBADMSG, 0 },
        { "json path too deep", JSN, "p.q", S("{\"p\":5}"), -EBADMSG, 0 },
        { "json path to an object", JSN, "SML", S("{\"SML\":{\"Power\":1}}"), -EBADMSG, 0 },
        { "json path to an array", JSN, "p", S("{\"p\":[1]}"), -EBADMSG, 0 },
        { "json string", JSN, "p", S("{\"p\":\"123\"}"), -EBADMSG, 0 },
        { "json boolean", JSN, "p", S("{\"p\":true}"), -EBADMSG, 0 },
        { "json null", JSN, "p", S("{\"p\":null}"), -EBADMSG, 0 },
        { "json key case matters", JSN, "power", S("{\"Power\":5}"), -EBADMSG, 0 },
        { "json no path", JSN, NULL, S("{\"a\":5}"), -EBADMSG, 0 },
        { "json top-level array", JSN, "p", S("[{\"p\":5}]"), -EBADMSG, 0 },
        { "json top-level number", JSN, "p", S("5 "), -EBADMSG, 0 },
        { "json truncated", JSN, "p", S("{\"p\":5"), -EBADMSG, 0 },
        { "json length is honoured", JSN, "p", "{\"p\":5}", 6, -EBADMSG, 0 },
        { "json unquoted key", JSN, "p", S("{p:5}"), -EBADMSG, 0 },
        { "json not JSON", JSN, "p", S("hello"), -EBADMSG, 0 },
        { "json empty", JSN, "p", S(""), -EBADMSG, 0 },
        { "json text number", JSN, "p", S("123"), -EBADMSG, 0 },
        { "json binary", JSN, "p", S("\x00\x7B"), -EBADMSG, 0 },

        /* auto: 2 or 4 bytes are binary unless they read as a text number */
        { "auto s16", AUTO, NULL, S("\x00\x7B"), 0, 123 },
        { "auto s16 negative", AUTO, NULL, S("\xFF\x85"), 0, -123 },
        { "auto s16 zero", AUTO, NULL, S("\x00\x00"), 0, 0 },
        { "auto s32", AUTO, NULL, S("\x00\x01\x00\x00"), 0, 65536 },
        { "auto s32 negative", AUTO, NULL, S("\xFF\xFE\x79\x60"), 0, -100000 },
        { "auto s32 above 10 MW", AUTO, NULL, S("\x00\x98\x96\x81"), -EBADMSG, 0 },
        { "auto 2 digits are text", AUTO, NULL, S("12"), 0, 12 },
        { "auto 2-byte negative text", AUTO, NULL, S("-5"), 0, -5 },
        { "auto 2-byte text with newline", AUTO, NULL, S("5\n"), 0, 5 },
        { "auto 2-byte decimal text", AUTO, NULL, S(".5"), 0, 1 },
        { "auto 4 digits are text", AUTO, NULL, S("1234"), 0, 1234 },
        { "auto 4-byte negative decimal text", AUTO, NULL, S("-1.5"), 0, -2 },
        { "auto 4-byte text with CRLF", AUTO, NULL, S("12\r\n"), 0, 12 },
        { "auto 2 bytes, digit and letter", AUTO, NULL, S("1a"), 0, 0x3161 },
        { "auto 2 bytes, two signs", AUTO, NULL, S("--"), 0, 0x2D2D },
        { "auto 2 bytes, sign only", AUTO, NULL, S("-\x01"), 0, 0x2D01 },
        { "auto 4 bytes, NUL and digits", AUTO, NULL, S("\x00" "123"), 0, 0x00313233 },
        { "auto 4 bytes, digits and NUL", AUTO, NULL, S("123\0"), -EBADMSG, 0 }, /* binary, above 10 MW */
        { "auto 1 digit", AUTO, NULL, S("7"), 0, 7 },
        { "auto 3 digits", AUTO, NULL, S("123"), 0, 123 },
        { "auto 3-byte decimal", AUTO, NULL, S("1.5"), 0, 2 },
        { "auto 5 digits", AUTO, NULL, S("12345"), 0, 12345 },
        { "auto long text", AUTO, NULL, S("  -2500.25\n"), 0, -2500 },
        { "auto text above 10 MW", AUTO, NULL, S("99999999"), -EBADMSG, 0 },
        { "auto empty", AUTO, NULL, S(""), -EBADMSG, 0 },
        { "auto 1 byte binary", AUTO, NULL, S("\x05"), -EBADMSG, 0 },
        { "auto 3 bytes binary", AUTO, NULL, S("\x00\x00\x7B"), -EBADMSG, 0 },
        { "auto 5 bytes garbage", AUTO, NULL, S("abcde"), -EBADMSG, 0 },
        { "auto JSON", AUTO, NULL, S("{\"p\":1}"), -EBADMSG, 0 },
};

static void test_consumption_table(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(consumption_cases); i++) {
                const struct consumption_case *c = &consumption_cases[i];
                const char *reason = NULL;
                int w = -999999;

                print_message("case: %s\n", c->name);
                assert_int_equal(consumption_decode(c->format, c->path, c->payload, c->len, &w, &reason), c->r);
                if (c->r == 0)
                        assert_int_equal(w, c->w);
                else {
                        assert_non_null(reason);
                        assert_true(reason[0] != 0);
                }
        }
}

static void test_consumption_null_reason(void **state) {
        int w = 0;
        (void) state;

        /* The reason is optional. */
        assert_int_equal(consumption_decode(CONSUMPTION_FORMAT_BINARY, NULL, "\x00", 1, &w, NULL), -EBADMSG);
        assert_int_equal(consumption_decode(CONSUMPTION_FORMAT_TEXT, NULL, "x", 1, &w, NULL), -EBADMSG);
        assert_int_equal(consumption_decode(CONSUMPTION_FORMAT_JSON, "p", "{}", 2, &w, NULL), -EBADMSG);
        assert_int_equal(consumption_decode(CONSUMPTION_FORMAT_AUTO, NULL, "x", 1, &w, NULL), -EBADMSG);
        assert_int_equal(consumption_decode(CONSUMPTION_FORMAT_AUTO, NULL, "\x01\x00", 2, &w, NULL), 0);
        assert_int_equal(w, 256);
}

/* Bytes after the JSON document make the payload invalid JSON ("anything else: ignore it"). */
static void test_json_trailing_garbage(void **state) {
        static const char *const payloads[] = {
                "{\"p\":5}x",
                "{\"p\":5}{\"p\":6}",
                "{\"p\":5}]",
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(payloads); i++) {
                const char *reason = NULL;
                int w = -999999;

                print_message("case: %s\n", payloads[i]);
                assert_int_equal(consumption_decode(CONSUMPTION_FORMAT_JSON, "p", payloads[i], strlen(payloads[i]),
                                                    &w, &reason),
                                 -EBADMSG);
                assert_non_null(reason);
        }

        static const char battery[] = "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[3.262]}garbage";
        struct battery_record rec;
        const char *reason = NULL;

        print_message("case: battery JSON with trailing garbage\n");
        assert_int_equal(mqtt_battery_parse_json(battery, strlen(battery), &rec, &reason), -EBADMSG);
        assert_non_null(reason);
}

/* ---- mqttBattery: assembling compatibility parts ---- */

struct part {
        const char *sub;
        uint8_t bytes[2];
        size_t len;
};

/* One record of 3 cells and 2 temperatures; the values in check_record1(). */
static const struct part record1[] = {
        { "v", { 0x0A, 0x32 }, 2 },      /* 2610: 26.10 V */
        { "i", { 0xFF, 0x85 }, 2 },      /* -123: -12.3 A */
        { "soc", { 0x37 }, 1 },          /* 55 % */
        { "c", { 0x02, 0x64 }, 2 },      /* 612: 61.2 Ah */
        { "n", { 0x01, 0x2C }, 2 },      /* 300 cycles */
        { "cell/0", { 0x0C, 0xBE }, 2 }, /* 3262 mV */
        { "cell/1", { 0x0C, 0xBD }, 2 }, /* 3261 mV */
        { "cell/2", { 0x0C, 0x85 }, 2 }, /* 3205 mV */
        { "temp/0", { 0x00, 0xD7 }, 2 }, /* 215: 21.5 °C */
        { "temp/1", { 0xFF, 0xCE }, 2 }, /* -50: -5.0 °C */
};
#define RECORD1_PARTS ELEMENTSOF(record1)

static void check_record1(const struct battery_record *r, uint64_t time_usec) {
        assert_near(r->voltage_v, 26.10);
        assert_near(r->current_a, -12.3);
        assert_near(r->soc_pct, 55);
        assert_near(r->remaining_ah, 61.2);
        assert_true(isnan(r->full_ah)); /* no compatibility topic carries it */
        assert_int_equal(r->cycles, 300);
        assert_int_equal(r->n_cells, 3);
        assert_near(r->cells_v[0], 3.262);
        assert_near(r->cells_v[1], 3.261);
        assert_near(r->cells_v[2], 3.205);
        assert_int_equal(r->n_temps, 2);
        assert_near(r->temps_c[0], 21.5);
        assert_near(r->temps_c[1], -5.0);
        assert_int_equal(r->time_usec, time_usec);
}

/* The second record: large unsigned values, positive current. */
static const struct part record2[] = {
        { "temp/1", { 0x01, 0x90 }, 2 }, /* 400: 40.0 °C */
        { "cell/2", { 0x0D, 0x48 }, 2 }, /* 3400 mV */
        { "cell/1", { 0x0A, 0x8C }, 2 }, /* 2700 mV */
        { "cell/0", { 0x0E, 0x10 }, 2 }, /* 3600 mV */
        { "temp/0", { 0xFF, 0x38 }, 2 }, /* -200: -20.0 °C */
        { "v", { 0xC3, 0x50 }, 2 },      /* 50000: 500.00 V */
        { "i", { 0x7F, 0xFF }, 2 },      /* 32767: 3276.7 A */
        { "soc", { 0xFF }, 1 },          /* 255 */
        { "c", { 0xFF, 0xFF }, 2 },      /* 65535: 6553.5 Ah */
        { "n", { 0xFF, 0xFF }, 2 },      /* 65535 cycles */
};

static void check_record2(const struct battery_record *r, uint64_t time_usec) {
        assert_near(r->voltage_v, 500.00);
        assert_near(r->current_a, 3276.7);
        assert_near(r->soc_pct, 255);
        assert_near(r->remaining_ah, 6553.5);
        assert_int_equal(r->cycles, 65535);
        assert_int_equal(r->n_cells, 3);
        assert_near(r->cells_v[0], 3.600);
        assert_near(r->cells_v[1], 2.700);
        assert_near(r->cells_v[2], 3.400);
        assert_int_equal(r->n_temps, 2);
        assert_near(r->temps_c[0], -20.0);
        assert_near(r->temps_c[1], 40.0);
        assert_int_equal(r->time_usec, time_usec);
}

static int feed(struct mqtt_battery_assembler *a, const struct part *p, uint64_t now, struct battery_record *ret) {
        const char *reason = NULL;
        int r;

        r = mqtt_battery_feed(a, p->sub, p->bytes, p->len, now, ret, &reason);
        if (r < 0)
                print_error("%s rejected: %s\n", p->sub, reason ? reason : "(no reason)");
        return r;
}

/* Feeds parts[order[0..n-1]], one every 100 ms from `start`: 0 for each but the last, 1 for the last. */
static void feed_record(struct mqtt_battery_assembler *a, const struct part *parts, const unsigned *order, size_t n,
                        uint64_t start, struct battery_record *ret) {
        for (size_t k = 0; k < n; k++) {
                const struct part *p = &parts[order ? order[k] : k];

                print_message("  part %zu: %s\n", k, p->sub);
                assert_int_equal(feed(a, p, start + k * MSEC(100), ret), k + 1 == n ? 1 : 0);
        }
}

static void test_assembler_complete(void **state) {
        static const unsigned orders[][RECORD1_PARTS] = {
                { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 },
                { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 },
                { 5, 9, 0, 7, 2, 8, 1, 6, 3, 4 }, /* a cell first, a field last */
                { 4, 3, 2, 1, 0, 8, 9, 6, 5, 7 }, /* a cell last */
                { 0, 1, 2, 3, 4, 5, 6, 7, 9, 8 }, /* a temperature last */
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(orders); i++) {
                struct mqtt_battery_assembler a;
                struct battery_record rec;

                print_message("order %zu\n", i);
                mqtt_battery_assembler_init(&a, 3, 2);
                memset(&rec, 0xEE, sizeof(rec));
                feed_record(&a, record1, orders[i], RECORD1_PARTS, T0, &rec);
                /* The record's time is the arrival of its first part, not of its last. */
                check_record1(&rec, T0);
        }
}

static void test_assembler_missing_part(void **state) {
        (void) state;

        for (size_t missing = 0; missing < RECORD1_PARTS; missing++) {
                struct mqtt_battery_assembler a;
                struct battery_record rec;
                uint64_t now = T0;

                print_message("missing: %s\n", record1[missing].sub);
                mqtt_battery_assembler_init(&a, 3, 2);
                for (size_t k = 0; k < RECORD1_PARTS; k++) {
                        if (k == missing)
                                continue;
                        assert_int_equal(feed(&a, &record1[k], now, &rec), 0);
                        now += MSEC(100);
                }
                /* Repeating a part does not stand in for the missing one. */
                for (size_t k = 0; k < RECORD1_PARTS; k++) {
                        if (k == missing)
                                continue;
                        assert_int_equal(feed(&a, &record1[k], now, &rec), 0);
                }
                memset(&rec, 0xEE, sizeof(rec));
                assert_int_equal(feed(&a, &record1[missing], now, &rec), 1);
                check_record1(&rec, T0);
        }
}

static void test_assembler_second_record(void **state) {
        struct mqtt_battery_assembler a;
        struct battery_record rec;
        (void) state;

        mqtt_battery_assembler_init(&a, 3, 2);
        feed_record(&a, record1, NULL, RECORD1_PARTS, T0, &rec);
        check_record1(&rec, T0);

        /* A new record starts from nothing, 2 s later (within 10 s of the first record's start). */
        memset(&rec, 0xEE, sizeof(rec));
        feed_record(&a, record2, NULL, ELEMENTSOF(record2), T0 + SEC(2), &rec);
        check_record2(&rec, T0 + SEC(2));

        /* And a third one, much later, with the first record's values again. */
        feed_record(&a, record1, NULL, RECORD1_PARTS, T0 + SEC(3600), &rec);
        check_record1(&rec, T0 + SEC(3600));
}

struct age_case {
        const char *name;
        uint64_t middle; /* after the first part: the parts between the first and the last */
        uint64_t last;   /* after the first part: the last part */
        int r;
};

static const struct age_case age_cases[] = {
        { "all at once", 0, 0, 1 },
        { "last at 9.999999 s", SEC(1), SEC(10) - 1, 1 },
        { "last at exactly 10 s", SEC(1), SEC(10), 1 },
        { "all but the first at exactly 10 s", SEC(10), SEC(10), 1 },
        { "last at 10 s + 1 us", SEC(1), SEC(10) + 1, 0 },
        { "last at 10 s + 1 us, the others recent", SEC(9) + MSEC(900), SEC(10) + 1, 0 },
        { "last after a minute", 0, SEC(60), 0 },
};

static void test_assembler_age(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(age_cases); i++) {
                const struct age_case *c = &age_cases[i];
                struct mqtt_battery_assembler a;
                struct battery_record rec;
                const size_t n = RECORD1_PARTS;

                print_message("case: %s\n", c->name);
                mqtt_battery_assembler_init(&a, 3, 2);
                assert_int_equal(feed(&a, &record1[0], T0, &rec), 0);
                for (size_t k = 1; k + 1 < n; k++)
                        assert_int_equal(feed(&a, &record1[k], T0 + c->middle, &rec), 0);
                memset(&rec, 0xEE, sizeof(rec));
                assert_int_equal(feed(&a, &record1[n - 1], T0 + c->last, &rec), c->r);
                if (c->r == 1) {
                        check_record1(&rec, T0);
                        continue;
                }

                /* The record started again with the late part: every other part is needed once more,
                 * and the record's time is the late part's. */
                for (size_t k = 0; k + 1 < n; k++)
                        assert_int_equal(feed(&a, &record1[k], T0 + c->last + 1 + k, &rec),
                                         k + 2 == n ? 1 : 0);
                check_record1(&rec, T0 + c->last);
        }
}

static void test_assembler_age_second_part(void **state) {
        struct mqtt_battery_assembler a;
        struct battery_record rec;
        (void) state;

        /* A lone first part expires: the next part starts the record. */
        mqtt_battery_assembler_init(&a, 3, 2);
        assert_int_equal(feed(&a, &record1[0], T0, &rec), 0);
        feed_record(&a, record1, (const unsigned[]) { 1, 2, 3, 4, 5, 6, 7, 8, 9, 0 }, RECORD1_PARTS,
                    T0 + SEC(10) + 1, &rec);
        check_record1(&rec, T0 + SEC(10) + 1);
}

struct bad_part {
        const char *sub;
        size_t len;
};

static const struct bad_part bad_parts[] = {
        /* wrong size */
        { "v", 0 },
        { "v", 1 },
        { "v", 3 },
        { "i", 1 },
        { "i", 4 },
        { "c", 1 },
        { "c", 3 },
        { "n", 0 },
        { "n", 4 },
        { "soc", 0 },
        { "soc", 2 },
        { "cell/0", 1 },
        { "cell/2", 3 },
        { "temp/0", 0 },
        { "temp/1", 4 },
        /* index out of range (3 cells, 2 temperatures) */
        { "cell/3", 2 },
        { "cell/31", 2 },
        { "cell/32", 2 },
        { "cell/99", 2 },
        { "cell/100", 2 },
        { "cell/-1", 2 },
        { "cell/", 2 },
        { "cell/x", 2 },
        { "cell/1x", 2 },
        { "cell/ 1", 2 },
        { "temp/2", 2 },
        { "temp/8", 2 },
        { "temp/", 2 },
        { "temp/a", 2 },
        /* unknown sub-topic */
        { "", 2 },
        { "x", 2 },
        { "V", 2 },
        { "volt", 2 },
        { "vv", 2 },
        { "v/", 2 },
        { "v/0", 2 },
        { "so", 1 },
        { "soc/0", 1 },
        { "cell", 2 },
        { "cells/0", 2 },
        { "temp", 2 },
        { "temps/0", 2 },
        { "bat/v", 2 },
        { "/v", 2 },
};

static void test_assembler_bad_parts(void **state) {
        static const uint8_t junk[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
        struct mqtt_battery_assembler a;
        struct battery_record rec;
        (void) state;

        /* Everything but the last part has arrived; bad parts in between change nothing. */
        mqtt_battery_assembler_init(&a, 3, 2);
        for (size_t k = 0; k + 1 < RECORD1_PARTS; k++)
                assert_int_equal(feed(&a, &record1[k], T0, &rec), 0);

        for (size_t i = 0; i < ELEMENTSOF(bad_parts); i++) {
                const char *reason = NULL;

                print_message("case: \"%s\", %zu byte(s)\n", bad_parts[i].sub, bad_parts[i].len);
                assert_int_equal(mqtt_battery_feed(&a, bad_parts[i].sub, junk, bad_parts[i].len, T0 + MSEC(100),
                                                   &rec, &reason),
                                 -EBADMSG);
                assert_non_null(reason);
                assert_true(reason[0] != 0);
        }

        /* The reason is optional. */
        assert_int_equal(mqtt_battery_feed(&a, "x", junk, 2, T0 + MSEC(100), &rec, NULL), -EBADMSG);

        memset(&rec, 0xEE, sizeof(rec));
        assert_int_equal(feed(&a, &record1[RECORD1_PARTS - 1], T0 + MSEC(200), &rec), 1);
        check_record1(&rec, T0);
}

/* A rejected payload is ignored (drivers.md): it is not the record's first part. */
static void test_assembler_bad_part_ignored(void **state) {
        static const uint8_t junk[3] = { 0 };
        struct mqtt_battery_assembler a;
        struct battery_record rec;
        (void) state;

        mqtt_battery_assembler_init(&a, 3, 2);
        assert_int_equal(mqtt_battery_feed(&a, "v", junk, 3, T0, &rec, NULL), -EBADMSG);
        assert_int_equal(mqtt_battery_feed(&a, "cell/7", junk, 2, T0, &rec, NULL), -EBADMSG);
        assert_int_equal(mqtt_battery_feed(&a, "x", junk, 2, T0, &rec, NULL), -EBADMSG);
        /* The record starts 9 s later and takes 2 s: complete, and timed by its first real part. */
        for (size_t k = 0; k + 1 < RECORD1_PARTS; k++)
                assert_int_equal(feed(&a, &record1[k], T0 + SEC(9), &rec), 0);
        memset(&rec, 0xEE, sizeof(rec));
        assert_int_equal(feed(&a, &record1[RECORD1_PARTS - 1], T0 + SEC(11), &rec), 1);
        check_record1(&rec, T0 + SEC(9));
}

static void test_assembler_counts(void **state) {
        static const uint8_t two[2] = { 0x0C, 0x80 }; /* 3200 mV, 320.0 °C */
        struct mqtt_battery_assembler a;
        struct battery_record rec;
        char sub[16];
        (void) state;

        /* No cells, no temperatures: the five fields make a record. */
        mqtt_battery_assembler_init(&a, 0, 0);
        assert_int_equal(mqtt_battery_feed(&a, "cell/0", two, 2, T0, &rec, NULL), -EBADMSG);
        assert_int_equal(mqtt_battery_feed(&a, "temp/0", two, 2, T0, &rec, NULL), -EBADMSG);
        for (size_t k = 0; k < 5; k++)
                assert_int_equal(feed(&a, &record1[k], T0 + k, &rec), k == 4 ? 1 : 0);
        assert_int_equal(rec.n_cells, 0);
        assert_int_equal(rec.n_temps, 0);
        assert_near(rec.current_a, -12.3);
        assert_int_equal(rec.time_usec, T0);

        /* The counts are capped at 32 cells and 8 temperatures; all 32 bits are needed. */
        mqtt_battery_assembler_init(&a, 40, 9);
        assert_int_equal(mqtt_battery_feed(&a, "cell/32", two, 2, T0, &rec, NULL), -EBADMSG);
        assert_int_equal(mqtt_battery_feed(&a, "temp/8", two, 2, T0, &rec, NULL), -EBADMSG);
        for (size_t k = 0; k < 5; k++)
                assert_int_equal(feed(&a, &record1[k], T0, &rec), 0);
        for (unsigned k = 0; k < BATTERY_TEMPS_MAX; k++) {
                snprintf(sub, sizeof(sub), "temp/%u", k);
                assert_int_equal(mqtt_battery_feed(&a, sub, two, 2, T0, &rec, NULL), 0);
        }
        for (unsigned k = 0; k < BATTERY_CELLS_MAX; k++) {
                uint8_t b[2] = { 0x0C, (uint8_t) k };

                snprintf(sub, sizeof(sub), "cell/%u", BATTERY_CELLS_MAX - 1 - k);
                assert_int_equal(mqtt_battery_feed(&a, sub, b, 2, T0, &rec, NULL), k + 1 == BATTERY_CELLS_MAX ? 1 : 0);
        }
        assert_int_equal(rec.n_cells, BATTERY_CELLS_MAX);
        assert_int_equal(rec.n_temps, BATTERY_TEMPS_MAX);
        assert_near(rec.cells_v[31], 3.072);
        assert_near(rec.cells_v[0], (0x0C00 + 31) / 1000.0);
        assert_near(rec.temps_c[7], 320.0);
}

/* What the outputs publish, the assembler reads back. */
static void test_encode_decode_roundtrip(void **state) {
        static const struct battery_record in = {
                .voltage_v = 52.37,
                .current_a = -12.34,
                .soc_pct = 55,
                .remaining_ah = 61.26,
                .cycles = 1234,
                .n_temps = 2,
                .temps_c = { -5.0, 21.54 },
                .n_cells = 2,
                .cells_v = { 3.205, 3.2619 },
        };
        struct mqtt_battery_assembler a;
        struct battery_record rec;
        uint8_t b[2];
        int r;
        (void) state;

        mqtt_battery_assembler_init(&a, 2, 2);
        encode_u16(in.voltage_v * 100, b);
        assert_int_equal(mqtt_battery_feed(&a, "v", b, 2, T0, &rec, NULL), 0);
        encode_s16(in.current_a * 10, b);
        assert_int_equal(mqtt_battery_feed(&a, "i", b, 2, T0, &rec, NULL), 0);
        encode_u8(in.soc_pct, b);
        assert_int_equal(mqtt_battery_feed(&a, "soc", b, 1, T0, &rec, NULL), 0);
        encode_u16(in.remaining_ah * 10, b);
        assert_int_equal(mqtt_battery_feed(&a, "c", b, 2, T0, &rec, NULL), 0);
        encode_u16(in.cycles, b);
        assert_int_equal(mqtt_battery_feed(&a, "n", b, 2, T0, &rec, NULL), 0);
        encode_s16(in.temps_c[0] * 10, b);
        assert_int_equal(mqtt_battery_feed(&a, "temp/0", b, 2, T0, &rec, NULL), 0);
        encode_s16(in.temps_c[1] * 10, b);
        assert_int_equal(mqtt_battery_feed(&a, "temp/1", b, 2, T0, &rec, NULL), 0);
        encode_u16(in.cells_v[0] * 1000, b);
        assert_int_equal(mqtt_battery_feed(&a, "cell/0", b, 2, T0, &rec, NULL), 0);
        encode_u16(in.cells_v[1] * 1000, b);
        r = mqtt_battery_feed(&a, "cell/1", b, 2, T0, &rec, NULL);
        assert_int_equal(r, 1);

        assert_near(rec.voltage_v, 52.37);
        assert_near(rec.current_a, -12.3);
        assert_near(rec.soc_pct, 55);
        assert_near(rec.remaining_ah, 61.3);
        assert_int_equal(rec.cycles, 1234);
        assert_near(rec.temps_c[0], -5.0);
        assert_near(rec.temps_c[1], 21.5);
        assert_near(rec.cells_v[0], 3.205);
        assert_near(rec.cells_v[1], 3.262);
}

/* ---- mqttBattery: one JSON record ---- */

#define SPEC_JSON                                                                                           \
        "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"c_full\":100.0,\"n\":12,\"temps\":[21.5,22.0],"     \
        "\"cells\":[3.262,3.261]}"

struct json_case {
        const char *name;
        const char *json;
        int r;
        /* when r == 0 */
        double v, i, soc, c, c_full;
        unsigned n;
        size_t n_temps;
        double temp0, temp_last;
        size_t n_cells;
        double cell0, cell_last;
};

#define REJECT(n, j) { .name = (n), .json = (j), .r = -EBADMSG }

static const struct json_case json_cases[] = {
        { "mqtt.md example", SPEC_JSON, 0, 26.1, -3.2, 55, 61.2, 100.0, 12, 2, 21.5, 22.0, 2, 3.262, 3.261 },
        { "white space, other order, extra keys",
          " {\n \"cells\" : [ 3.3 ] , \"x\" : \"y\", \"c\" : 5 , \"soc\" : 0 , \"i\" : 0 , \"v\" : 3.3 }\n", 0,
          3.3, 0, 0, 5, NAN, 0, 0, 0, 0, 1, 3.3, 3.3 },
        { "integers", "{\"v\":26,\"i\":-3,\"soc\":100,\"c\":61,\"c_full\":100,\"n\":7,\"temps\":[-5],\"cells\":[3]}",
          0, 26, -3, 100, 61, 100, 7, 1, -5, -5, 1, 3, 3 },
        { "no temps, c_full, n", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[3.262]}", 0,
          26.1, -3.2, 55, 61.2, NAN, 0, 0, 0, 0, 1, 3.262, 3.262 },
        /* A peer's battery without cells (a SmartShunt): valid, the supervisor's cell checks skip it. */
        { "cells empty", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[]}", 0,
          26.1, -3.2, 55, 61.2, NAN, 0, 0, 0, 0, 0, 0, 0 },
        { "temps empty", "{\"v\":26.1,\"i\":3.2,\"soc\":55,\"c\":61.2,\"temps\":[],\"cells\":[3.262]}", 0,
          26.1, 3.2, 55, 61.2, NAN, 0, 0, 0, 0, 1, 3.262, 3.262 },
        { "negative temperature and current", "{\"v\":26.1,\"i\":-120.5,\"soc\":1,\"c\":0,\"temps\":[-12.5,-0.5],"
          "\"cells\":[2.8]}", 0, 26.1, -120.5, 1, 0, NAN, 0, 2, -12.5, -0.5, 1, 2.8, 2.8 },
        { "soc 0", "{\"v\":0,\"i\":0,\"soc\":0,\"c\":0,\"cells\":[0]}", 0, 0, 0, 0, 0, NAN, 0, 0, 0, 0, 1, 0, 0 },
        /* A peer's Daly: full capacity null, 0.01 A and 0.1 % kept; keys of a newer peer ignored. */
        { "c_full null, 0.01 and 0.1 resolution, unknown keys",
          "{\"v\":27.10,\"i\":-12.34,\"soc\":99.7,\"c\":49.75,\"c_full\":null,\"n\":22,\"temps\":[21.0],"
          "\"cells\":[3.354],\"model\":\"daly\",\"extra\":{\"a\":[1,null]}}",
          0, 27.1, -12.34, 99.7, 49.75, NAN, 22, 1, 21.0, 21.0, 1, 3.354, 3.354 },
        { "c_full a string", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"c_full\":\"100\",\"cells\":[3.262]}",
          0, 26.1, -3.2, 55, 61.2, NAN, 0, 0, 0, 0, 1, 3.262, 3.262 },

        REJECT("missing v", "{\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("missing i", "{\"v\":26.1,\"soc\":55,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("missing soc", "{\"v\":26.1,\"i\":-3.2,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("missing c", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"cells\":[3.262]}"),
        REJECT("missing cells", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2}"),
        REJECT("v a string", "{\"v\":\"26.1\",\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("i null", "{\"v\":26.1,\"i\":null,\"soc\":55,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("soc a boolean", "{\"v\":26.1,\"i\":-3.2,\"soc\":true,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("c an object", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":{},\"cells\":[3.262]}"),
        REJECT("cells a number", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":3.262}"),
        REJECT("cells with a string",
               "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[3.262,\"3.2\"]}"),
        REJECT("cells with null", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[3.262,null]}"),
        REJECT("temps a number",
               "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"temps\":20,\"cells\":[3.262]}"),
        REJECT("temps null", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"temps\":null,\"cells\":[3.262]}"),
        REJECT("temps with a string",
               "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"temps\":[\"20\"],\"cells\":[3.2]}"),
        REJECT("soc 100.5", "{\"v\":26.1,\"i\":-3.2,\"soc\":100.5,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("soc 101", "{\"v\":26.1,\"i\":-3.2,\"soc\":101,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("soc -1", "{\"v\":26.1,\"i\":-3.2,\"soc\":-1,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("v negative", "{\"v\":-0.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("v above 1000", "{\"v\":1000.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[3.262]}"),
        REJECT("top-level array", "[" SPEC_JSON "]"),
        REJECT("top-level string", "\"soc\""),
        REJECT("top-level null", "null"),
        REJECT("truncated", "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2,\"cells\":[3.262]"),
        REJECT("not JSON", "hello"),
        REJECT("empty", ""),
        REJECT("binary", "\x0A\x32"),
};

static void test_battery_json_table(void **state) {
        (void) state;

        for (size_t k = 0; k < ELEMENTSOF(json_cases); k++) {
                const struct json_case *c = &json_cases[k];
                struct battery_record rec;
                const char *reason = NULL;

                print_message("case: %s\n", c->name);
                memset(&rec, 0xEE, sizeof(rec));
                assert_int_equal(mqtt_battery_parse_json(c->json, strlen(c->json), &rec, &reason), c->r);
                if (c->r < 0) {
                        assert_non_null(reason);
                        assert_true(reason[0] != 0);
                        continue;
                }
                assert_near(rec.voltage_v, c->v);
                assert_near(rec.current_a, c->i);
                assert_near(rec.soc_pct, c->soc);
                assert_near(rec.remaining_ah, c->c);
                assert_near(rec.full_ah, c->c_full);
                assert_int_equal(rec.cycles, c->n);
                assert_int_equal(rec.n_temps, c->n_temps);
                if (c->n_temps > 0) {
                        assert_near(rec.temps_c[0], c->temp0);
                        assert_near(rec.temps_c[c->n_temps - 1], c->temp_last);
                }
                assert_int_equal(rec.n_cells, c->n_cells);
                if (c->n_cells > 0) {
                        assert_near(rec.cells_v[0], c->cell0);
                        assert_near(rec.cells_v[c->n_cells - 1], c->cell_last);
                }
        }
}

/* A record with n_cells cells (3.0xx V) and n_temps temperatures (n_temps < 0: no "temps" key). */
static char *make_battery_json(int n_cells, int n_temps) {
        size_t size = 256 + 16 * (size_t) (n_cells + (n_temps > 0 ? n_temps : 0));
        char *s = malloc(size), *p;

        assert_non_null(s);
        p = s + sprintf(s, "{\"v\":26.1,\"i\":-3.2,\"soc\":55,\"c\":61.2");
        if (n_temps >= 0) {
                p += sprintf(p, ",\"temps\":[");
                for (int k = 0; k < n_temps; k++)
                        p += sprintf(p, "%s%d.5", k > 0 ? "," : "", k - 4);
                p += sprintf(p, "]");
        }
        p += sprintf(p, ",\"cells\":[");
        for (int k = 0; k < n_cells; k++)
                p += sprintf(p, "%s3.%03d", k > 0 ? "," : "", k);
        sprintf(p, "]}");
        return s;
}

static void test_battery_json_lists(void **state) {
        static const struct {
                int cells, temps, r;
        } cases[] = {
                { 1, -1, 0 },
                { 1, 0, 0 },
                { 1, 1, 0 },
                { 16, 4, 0 },
                { 32, 8, 0 },
                { 0, -1, 0 }, /* a battery without cells (a shunt) */
                { 0, 8, 0 },
                { 33, -1, -EBADMSG },
                { 33, 0, -EBADMSG },
                { 64, 2, -EBADMSG },
                { 1, 9, -EBADMSG },
                { 32, 9, -EBADMSG },
                { 8, 16, -EBADMSG },
        };
        (void) state;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                char *json = make_battery_json(cases[k].cells, cases[k].temps);
                struct battery_record rec;
                const char *reason = NULL;

                print_message("case: %d cells, %d temps\n", cases[k].cells, cases[k].temps);
                assert_int_equal(mqtt_battery_parse_json(json, strlen(json), &rec, &reason), cases[k].r);
                free(json);
                if (cases[k].r < 0) {
                        assert_non_null(reason);
                        continue;
                }
                assert_int_equal(rec.n_cells, (size_t) cases[k].cells);
                for (int c = 0; c < cases[k].cells; c++)
                        assert_near(rec.cells_v[c], 3.0 + c / 1000.0);
                assert_int_equal(rec.n_temps, (size_t) (cases[k].temps > 0 ? cases[k].temps : 0));
                for (int t = 0; t < cases[k].temps; t++)
                        assert_near(rec.temps_c[t], t - 4 + (t - 4 < 0 ? -0.5 : 0.5));
                assert_near(rec.current_a, -3.2);
        }
}

/* The daemon's JSON battery topic, read back by a peer's mqttBattery: the
 * 0.01 A / 0.01 Ah / 0.1 % resolution and the unknown full capacity (null)
 * survive; the compatibility topics of the same record keep their scaling. */
static void test_battery_json_record_roundtrip(void **state) {
        static const struct battery_record in = {
                .voltage_v = 26.44, .current_a = -12.34, .soc_pct = 99.7, .remaining_ah = 31.27,
                .full_ah = NAN, .cycles = 28, .n_temps = 2, .temps_c = { -5.2, 21.5 },
                .n_cells = 2, .cells_v = { 3.205, 3.3 },
        };
        struct battery_record rec;
        char json[BATTERY_JSON_MAX];
        uint8_t b[2];
        (void) state;

        int r = battery_record_to_json(&in, json, sizeof(json));
        assert_int_equal(r, (int) strlen(json));
        assert_string_equal(json, "{\"v\":26.44,\"i\":-12.34,\"soc\":99.7,\"c\":31.27,\"c_full\":null,\"n\":28,"
                                  "\"temps\":[-5.2,21.5],\"cells\":[3.205,3.300]}");
        assert_int_equal(mqtt_battery_parse_json(json, strlen(json), &rec, NULL), 0);
        assert_near(rec.current_a, -12.34);
        assert_near(rec.soc_pct, 99.7);
        assert_near(rec.remaining_ah, 31.27);
        assert_true(isnan(rec.full_ah));

        encode_s16(in.current_a * 10, b);
        assert_memory_equal(b, "\xff\x85", 2); /* -123: A/10 */
        encode_u8(in.soc_pct, b);
        assert_int_equal(b[0], 100);
        encode_u16(in.remaining_ah * 10, b);
        assert_memory_equal(b, "\x01\x39", 2); /* 313: Ah/10 */
}

static void test_battery_json_length(void **state) {
        struct battery_record rec;
        const char *reason = NULL;
        (void) state;

        /* The payload is not NUL-terminated: the length is honoured. */
        assert_int_equal(mqtt_battery_parse_json(SPEC_JSON, strlen(SPEC_JSON) - 1, &rec, &reason), -EBADMSG);
        assert_non_null(reason);
        assert_int_equal(mqtt_battery_parse_json(SPEC_JSON "\0", sizeof(SPEC_JSON), &rec, &reason), 0);
        assert_int_equal(rec.n_cells, 2);
        assert_int_equal(mqtt_battery_parse_json("{}", 2, &rec, NULL), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_encode_table),
                cmocka_unit_test(test_consumption_table),
                cmocka_unit_test(test_consumption_null_reason),
                cmocka_unit_test(test_json_trailing_garbage),
                cmocka_unit_test(test_assembler_complete),
                cmocka_unit_test(test_assembler_missing_part),
                cmocka_unit_test(test_assembler_second_record),
                cmocka_unit_test(test_assembler_age),
                cmocka_unit_test(test_assembler_age_second_part),
                cmocka_unit_test(test_assembler_bad_parts),
                cmocka_unit_test(test_assembler_bad_part_ignored),
                cmocka_unit_test(test_assembler_counts),
                cmocka_unit_test(test_encode_decode_roundtrip),
                cmocka_unit_test(test_battery_json_table),
                cmocka_unit_test(test_battery_json_lists),
                cmocka_unit_test(test_battery_json_length),
                cmocka_unit_test(test_battery_json_record_roundtrip),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
