/* SPDX-License-Identifier: MIT */
/* Pylontech RS485 framing and INFO layouts (drivers/pylon-frame.c,
 * drivers/pylon-decode.c) from bytes: the public worked example (request and
 * answer of address 1), every check an answer must pass, and the 0x42 / 0x93
 * layouts, including the 4-item capacity form and a discharging current. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/pylon-decode.h"
#include "drivers/pylon-frame.h"

static const char answer1[] =
        "~20014600C06E11010F0D450D440D450D440D450D440D3E0D450D4A0D4A0D4B0D4A0D4A0D4A0D4A050BC30BC30BC30BCD0BCD0000C725"
        "BF6802C3500002E553\r";

/* Builds a frame with a correct LENGTH and CHKSUM around the given fields (the test's own implementation of the
 * rules: LCHKSUM = -(sum of LENID's nibbles) mod 16, CHKSUM = -(sum of the characters VER..INFO) mod 65536). */
static void frame(char *out, size_t size, const char *ver_adr_cid1_cid2, const char *info) {
        unsigned lenid = (unsigned) strlen(info), sum = 0;
        unsigned lchk = (16 - (lenid % 16 + lenid / 16 % 16 + lenid / 256 % 16) % 16) % 16;
        char body[4200];

        snprintf(body, sizeof(body), "%s%X%03X%s", ver_adr_cid1_cid2, lchk, lenid, info);
        for (const char *p = body; *p; p++)
                sum += (unsigned char) *p;
        assert_true(strlen(body) + 7 <= size);
        out[0] = '~';
        memcpy(out + 1, body, strlen(body));
        snprintf(out + 1 + strlen(body), 6, "%04X\r", (0x10000 - sum % 0x10000) % 0x10000);
}

static void test_request(void **state) {
        char buf[PYLON_REQUEST_SIZE];

        (void) state;
        assert_int_equal(pylon_request_build(1, PYLON_ANALOG, buf), PYLON_REQUEST_SIZE);
        assert_memory_equal(buf, "~20014642E00201FD35\r", PYLON_REQUEST_SIZE);
}

static void test_worked_example(void **state) {
        uint8_t info[PYLON_INFO_MAX];
        struct pylon_answer a;
        struct pylon_analog an;
        const char *reason = NULL;
        static const double cells[] = { 3.397, 3.396, 3.397, 3.396, 3.397, 3.396, 3.390, 3.397,
                                        3.402, 3.402, 3.403, 3.402, 3.402, 3.402, 3.402 };

        (void) state;
        assert_int_equal(pylon_parse(answer1, strlen(answer1), 1, info, &a), 0);
        assert_int_equal(a.n_info, 55);
        assert_int_equal(a.length, strlen(answer1));
        assert_int_equal(pylon_decode_analog(info, a.n_info, &an, &reason), 0);
        assert_int_equal(an.record.n_cells, 15);
        for (size_t i = 0; i < 15; i++)
                assert_float_equal(an.record.cells_v[i], cells[i], 1e-9);
        assert_true(an.has_bms_temp);
        assert_float_equal(an.bms_temp_c, 28.0, 1e-9);
        assert_int_equal(an.record.n_temps, 4); /* the BMS board's is not a battery temperature */
        assert_float_equal(an.record.temps_c[0], 28.0, 1e-9);
        assert_float_equal(an.record.temps_c[3], 29.0, 1e-9);
        assert_float_equal(an.record.current_a, 0.0, 1e-9);
        assert_float_equal(an.record.voltage_v, 50.981, 1e-9);
        assert_float_equal(an.record.remaining_ah, 49.0, 1e-9);
        assert_float_equal(an.record.full_ah, 50.0, 1e-9);
        assert_int_equal(an.record.cycles, 2);
        assert_float_equal(an.record.soc_pct, 98.0, 1e-9);
}

static void test_framing(void **state) {
        char buf[512], lower[512];
        uint8_t info[PYLON_INFO_MAX];
        struct pylon_answer a;
        size_t n = strlen(answer1);

        (void) state;
        /* Incomplete, and noise before SOI. */
        for (size_t k = 0; k < n; k++)
                assert_int_equal(pylon_parse(answer1, k, 1, info, &a), -EAGAIN);
        snprintf(buf, sizeof(buf), "xx\r%s", answer1);
        assert_int_equal(pylon_parse(buf + 3, n, 1, info, &a), 0);
        assert_int_equal(pylon_parse(buf, 2, 1, info, &a), -EAGAIN);
        assert_int_equal(a.skipped, 2);
        /* Lowercase hex is accepted. */
        for (size_t i = 0; i <= n; i++)
                lower[i] = (char) (answer1[i] >= 'A' && answer1[i] <= 'F' ? answer1[i] + 32 : answer1[i]);
        assert_int_equal(pylon_parse(lower, n, 1, info, &a), -EBADMSG); /* the checksum is over the characters */
        /* Every single character changed: the frame is dropped. */
        for (size_t i = 1; i < n - 1; i++) {
                memcpy(buf, answer1, n + 1);
                buf[i] = buf[i] == '0' ? '1' : '0';
                assert_int_equal(pylon_parse(buf, n, 1, info, &a), -EBADMSG);
        }
        /* Another address, another CID1, a return code. */
        assert_int_equal(pylon_parse(answer1, n, 2, info, &a), -EBADMSG);
        assert_string_equal(a.reason, "another address");
        frame(buf, sizeof(buf), "20014700", "0101");
        assert_int_equal(pylon_parse(buf, strlen(buf), 1, info, &a), -EBADMSG);
        assert_string_equal(a.reason, "CID1 is not 46");
        frame(buf, sizeof(buf), "20014602", "");
        assert_int_equal(pylon_parse(buf, strlen(buf), 1, info, &a), -EREMOTEIO);
        assert_int_equal(a.rtn, 2);
        frame(buf, sizeof(buf), "20014600", "0a0b");
        assert_int_equal(pylon_parse(buf, strlen(buf), 1, info, &a), 0);
        assert_int_equal(info[0], 0x0A);
        assert_int_equal(info[1], 0x0B);
}

static void test_analog_layouts(void **state) {
        char hex[512], buf[600];
        uint8_t info[PYLON_INFO_MAX];
        struct pylon_answer a;
        struct pylon_analog an;
        const char *reason = NULL;

        (void) state;
        /* 1 cell 3.300 V, K 1 (BMS only), -1.0 A, 3.3 V, remaining FFFF, P 4, full FFFF, 7 cycles,
         * remaining 150000 mAh, full 200000 mAh (3-byte fields). */
        snprintf(hex, sizeof(hex), "1101" "01" "0CE4" "01" "0BA5" "FFF6" "0CE4" "FFFF" "04" "FFFF" "0007" "0249F0"
                                   "030D40");
        frame(buf, sizeof(buf), "20014600", hex);
        assert_int_equal(pylon_parse(buf, strlen(buf), 1, info, &a), 0);
        assert_int_equal(pylon_decode_analog(info, a.n_info, &an, &reason), 0);
        assert_int_equal(an.record.n_cells, 1);
        assert_int_equal(an.record.n_temps, 0);
        assert_float_equal(an.record.current_a, -1.0, 1e-9);
        assert_float_equal(an.record.remaining_ah, 150.0, 1e-9);
        assert_float_equal(an.record.full_ah, 200.0, 1e-9);
        assert_int_equal(an.record.cycles, 7);
        assert_float_equal(an.record.soc_pct, 75.0, 1e-9);
        /* Cut anywhere: truncated, never a record. */
        for (size_t cut = 0; cut < a.n_info; cut++)
                assert_int_equal(pylon_decode_analog(info, cut, &an, &reason), -EBADMSG);
        /* Found by the fuzzer: one byte of INFO must not be read as a cell count. */
        assert_int_equal(pylon_decode_analog((const uint8_t[]) { 200 }, 1, &an, &reason), -EBADMSG);
        assert_string_equal(reason, "truncated");
        /* Implausible counts. */
        assert_int_equal(pylon_decode_analog((const uint8_t[]) { 0x11, 0x01, 0x00 }, 3, &an, &reason), -EBADMSG);
        assert_string_equal(reason, "implausible: cell count");
        assert_int_equal(pylon_decode_analog((const uint8_t[]) { 0x11, 0x01, 33 }, 3, &an, &reason), -EBADMSG);
        /* Full capacity 0: SoC 0, flagged. */
        snprintf(hex, sizeof(hex), "1101" "01" "0CE4" "00" "0000" "0CE4" "1000" "02" "0000" "0000");
        frame(buf, sizeof(buf), "20014600", hex);
        assert_int_equal(pylon_parse(buf, strlen(buf), 1, info, &a), 0);
        assert_int_equal(pylon_decode_analog(info, a.n_info, &an, &reason), 0);
        assert_true(an.full_unknown);
        assert_float_equal(an.record.soc_pct, 0.0, 1e-9);
}

static void test_serial(void **state) {
        static const uint8_t s[] = { 0x01, 'P', 'P', 'T', 'A', 'P', '0', '1', ' ', 0, 0 };

        (void) state;
        assert_true(pylon_serial_matches(s, sizeof(s), "PPTAP01"));
        assert_false(pylon_serial_matches(s, sizeof(s), "pptap01"));
        assert_false(pylon_serial_matches(s, sizeof(s), "PPTAP0"));
        assert_false(pylon_serial_matches(s, 1, "PPTAP01"));
        assert_false(pylon_serial_matches(s, 0, ""));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request),        cmocka_unit_test(test_worked_example),
                cmocka_unit_test(test_framing),        cmocka_unit_test(test_analog_layouts),
                cmocka_unit_test(test_serial),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
