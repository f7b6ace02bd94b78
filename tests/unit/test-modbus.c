/* SPDX-License-Identifier: MIT */
/* Modbus RTU framing (drivers/modbus-rtu.c) from bytes: the worked examples of
 * the protocol (CRC, requests, a PZEM answer, an exception), resynchronising
 * past noise, incomplete frames, and every way an answer can fail. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/modbus-rtu.h"

static const struct modbus_request read6 = { .address = 1, .function = MODBUS_READ_INPUT, .reg = 0, .value = 6 };
/* A PZEM-017 answer to read6: 12 data bytes, CRC D1 6E. */
static const uint8_t answer6[] = { 0x01, 0x04, 0x0C, 0x0A, 0xAA, 0x01, 0x2C, 0x03, 0x33,
                                   0x00, 0x00, 0x04, 0xD2, 0x00, 0x00, 0xD1, 0x6E };

static void test_crc_and_requests(void **state) {
        static const uint8_t reset[] = { 0x01, 0x42 };
        uint8_t buf[8];

        (void) state;
        assert_int_equal(modbus_crc16((const uint8_t[]) { 0x01, 0x04, 0x00, 0x00, 0x00, 0x06 }, 6), 0x0870);
        assert_int_equal(modbus_request_build(&read6, buf), 8);
        assert_memory_equal(buf, ((const uint8_t[]) { 0x01, 0x04, 0x00, 0x00, 0x00, 0x06, 0x70, 0x08 }), 8);
        /* The PZEM manual's own energy reset example. */
        assert_int_equal(modbus_crc16(reset, 2), 0x1180);
        assert_int_equal(modbus_request_build(&(struct modbus_request) { .address = 1, .function = MODBUS_PZEM_RESET },
                                              buf), 4);
        assert_memory_equal(buf, ((const uint8_t[]) { 0x01, 0x42, 0x80, 0x11 }), 4);
        assert_int_equal(modbus_request_build(&(struct modbus_request) { .address = 1, .function = MODBUS_WRITE_SINGLE,
                                                                         .reg = 0x0101, .value = 0x0064 }, buf), 8);
        assert_memory_equal(buf, ((const uint8_t[]) { 0x01, 0x06, 0x01, 0x01, 0x00, 0x64 }), 6);
        assert_int_equal(modbus_crc16(buf, 6), buf[6] | buf[7] << 8);
}

static void test_request_refused(void **state) {
        uint8_t buf[8];

        (void) state;
        assert_int_equal(modbus_request_build(&(struct modbus_request) { .address = 0, .function = 4, .value = 1 }, buf),
                         -EINVAL);
        assert_int_equal(modbus_request_build(&(struct modbus_request) { .address = 248, .function = 4, .value = 1 },
                                              buf), -EINVAL);
        assert_int_equal(modbus_request_build(&(struct modbus_request) { .address = 1, .function = 4, .value = 0 }, buf),
                         -EINVAL);
        assert_int_equal(modbus_request_build(&(struct modbus_request) { .address = 1, .function = 3, .value = 126 },
                                              buf), -EINVAL);
        assert_int_equal(modbus_request_build(&(struct modbus_request) { .address = 1, .function = 0x10, .value = 1 },
                                              buf), -EINVAL);
}

static void test_answer(void **state) {
        struct modbus_answer a;

        (void) state;
        assert_int_equal(modbus_parse(&read6, answer6, sizeof(answer6), &a), 0);
        assert_int_equal(a.skipped, 0);
        assert_int_equal(a.length, sizeof(answer6));
        assert_int_equal(a.n_data, 12);
        assert_int_equal(modbus_u16(a.data, 0), 0x0AAA);
        assert_int_equal(modbus_u16(a.data, 1), 0x012C);
        assert_int_equal(modbus_u16(a.data, 4), 0x04D2);
}

/* Noise before the answer is skipped; every prefix of a good answer asks for more. */
static void test_resync_and_incomplete(void **state) {
        uint8_t buf[64];
        struct modbus_answer a;

        (void) state;
        for (size_t k = 0; k < sizeof(answer6); k++)
                assert_int_equal(modbus_parse(&read6, answer6, k, &a), -EAGAIN);
        /* 0x01 followed by something else is noise too. */
        memcpy(buf, (const uint8_t[]) { 0xFF, 0x00, 0x01, 0x03, 0x55 }, 5);
        memcpy(buf + 5, answer6, sizeof(answer6));
        assert_int_equal(modbus_parse(&read6, buf, 5 + sizeof(answer6), &a), 0);
        assert_int_equal(a.skipped, 5);
        assert_int_equal(modbus_u16(a.data, 0), 0x0AAA);
        /* Only noise: all of it may go, except a last byte that could start the answer. */
        assert_int_equal(modbus_parse(&read6, buf, 3, &a), -EAGAIN);
        assert_int_equal(a.skipped, 2);
        assert_int_equal(modbus_parse(&read6, buf, 2, &a), -EAGAIN);
        assert_int_equal(a.skipped, 2);
}

static void test_exception(void **state) {
        static const uint8_t exc[] = { 0x03, 0x84, 0x02, 0x63, 0x01 };
        const struct modbus_request r = { .address = 3, .function = MODBUS_READ_INPUT, .reg = 0, .value = 2 };
        struct modbus_answer a;

        (void) state;
        assert_int_equal(modbus_parse(&r, exc, sizeof(exc), &a), -EREMOTEIO);
        assert_int_equal(a.exception, 2);
        assert_int_equal(a.length, 5);
}

static void test_bad_answers(void **state) {
        uint8_t buf[32];
        struct modbus_answer a;
        const struct modbus_request read5 = { .address = 1, .function = MODBUS_READ_INPUT, .reg = 0, .value = 5 };
        const struct modbus_request w = { .address = 1, .function = MODBUS_WRITE_SINGLE, .reg = 0x0101, .value = 100 };
        uint16_t crc;

        (void) state;
        /* One bit flipped anywhere: the frame is dropped, nothing from it is used. */
        for (size_t i = 3; i < sizeof(answer6); i++) {
                memcpy(buf, answer6, sizeof(answer6));
                buf[i] ^= 0x10;
                assert_int_equal(modbus_parse(&read6, buf, sizeof(answer6), &a), -EBADMSG);
                assert_string_equal(a.reason, "bad CRC");
                assert_null(a.data);
        }
        /* A good frame that answers another request. */
        assert_int_equal(modbus_parse(&read5, answer6, sizeof(answer6), &a), -EBADMSG);
        assert_string_equal(a.reason, "byte count differs from the registers asked");
        /* A write echo with another value. */
        memcpy(buf, (const uint8_t[]) { 0x01, 0x06, 0x01, 0x01, 0x00, 0x65 }, 6);
        crc = modbus_crc16(buf, 6);
        buf[6] = (uint8_t) crc;
        buf[7] = (uint8_t) (crc >> 8);
        assert_int_equal(modbus_parse(&w, buf, 8, &a), -EBADMSG);
        assert_string_equal(a.reason, "echo differs from the request");
        buf[5] = 0x64;
        crc = modbus_crc16(buf, 6);
        buf[6] = (uint8_t) crc;
        buf[7] = (uint8_t) (crc >> 8);
        assert_int_equal(modbus_parse(&w, buf, 8, &a), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crc_and_requests), cmocka_unit_test(test_request_refused),
                cmocka_unit_test(test_answer),           cmocka_unit_test(test_resync_and_incomplete),
                cmocka_unit_test(test_exception),        cmocka_unit_test(test_bad_answers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
