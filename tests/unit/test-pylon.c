/* SPDX-License-Identifier: MIT */
/* Pylontech RS485 framing and INFO layouts (drivers/pylon-frame.c,
 * drivers/pylon-decode.c) from bytes: the public worked example (request and
 * answer of address 1), every check an answer must pass, and the 0x42 / 0x93
 * layouts, including the 4-item capacity form and a discharging current, and
 * the logged-only 0x47, 0x44 and 0x92 layouts. */

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
#include "pylon-test-frame.h"

static const char answer1[] =
        "~20014600C06E11010F0D450D440D450D440D450D440D3E0D450D4A0D4A0D4B0D4A0D4A0D4A0D4A050BC30BC30BC30BCD0BCD0000C725"
        "BF6802C3500002E553\r";

#define frame pylon_test_frame

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

/* 0x47: cell limits 3.650/3.000/2.900 V, charge 50.0/0.0 °C (3231, 2731), +102.0 A, module 54.750/47.000/
 * 45.000 V, discharge 60.0/-10.0 °C (3331, 2631), -150.0 A (0xFA24). */
static void test_params(void **state) {
        static const uint8_t info[] = { 0x11, 0x0E, 0x42, 0x0B, 0xB8, 0x0B, 0x54, 0x0C, 0x9F, 0x0A, 0xAB, 0x03, 0xFC,
                                        0xD5, 0xDE, 0xB7, 0x98, 0xAF, 0xC8, 0x0D, 0x03, 0x0A, 0x47, 0xFA, 0x24 };
        struct pylon_params q;

        (void) state;
        assert_int_equal(pylon_decode_params(info, sizeof(info), &q), 0);
        assert_int_equal(q.cell_high_mv, 3650);
        assert_int_equal(q.cell_low_mv, 3000);
        assert_int_equal(q.cell_under_mv, 2900);
        assert_float_equal(q.charge_high_c, 50.0, 1e-9);
        assert_float_equal(q.charge_low_c, 0.0, 1e-9);
        assert_float_equal(q.charge_limit_a, 102.0, 1e-9);
        assert_int_equal(q.module_high_mv, 54750);
        assert_int_equal(q.module_low_mv, 47000);
        assert_int_equal(q.module_under_mv, 45000);
        assert_float_equal(q.discharge_high_c, 60.0, 1e-9);
        assert_float_equal(q.discharge_low_c, -10.0, 1e-9);
        assert_float_equal(q.discharge_limit_a, -150.0, 1e-9);
        for (size_t cut = 0; cut < sizeof(info); cut++)
                assert_int_equal(pylon_decode_params(info, cut, &q), -EBADMSG);
}

/* 0x44: 3 cells (the second above its limit), 2 temperatures, status 1 bit 6 (charge over temperature),
 * status 2 both MOSFETs, status 5 bit 1 (cell 10 failure). */
static void test_alarms(void **state) {
        static const uint8_t info[] = { 0x11, 0x01, 3, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0x40, 0x03, 0x00, 0x00, 0x02 };
        static const uint8_t quiet[] = { 0x11, 0x01, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        struct pylon_alarms a;
        char text[256];

        (void) state;
        assert_int_equal(pylon_decode_alarms(info, sizeof(info), &a), 0);
        assert_int_equal(a.n_cells, 3);
        assert_int_equal(a.cell[1], 2);
        assert_int_equal(a.n_temps, 2);
        pylon_alarms_describe(&a, text, sizeof(text));
        assert_string_equal(text, "cell 2 above limit, charge MOSFET on, discharge MOSFET on, "
                                  "charge over temperature, cell 10 failure");
        /* Cut short: nothing. */
        for (size_t cut = 0; cut < sizeof(info); cut++)
                assert_int_equal(pylon_decode_alarms(info, cut, &a), -EBADMSG);
        assert_int_equal(pylon_decode_alarms((const uint8_t[]) { 0x11, 0x01, 33 }, 3, &a), -EBADMSG);
        assert_int_equal(pylon_decode_alarms(quiet, sizeof(quiet), &a), 0);
        pylon_alarms_describe(&a, text, sizeof(text));
        assert_string_equal(text, "none");
        /* A small buffer is cut, never overrun. */
        assert_int_equal(pylon_decode_alarms(info, sizeof(info), &a), 0);
        pylon_alarms_describe(&a, text, 12);
        assert_int_equal(strlen(text), 11);
}

/* 0x92: charge 53.250 V up to 37.0 A, discharge 47.000 V down to -37.0 A (0xFE8E), charge and discharge enabled. */
static void test_management(void **state) {
        static const uint8_t info[] = { 0x01, 0xD0, 0x02, 0xB7, 0x98, 0x01, 0x72, 0xFE, 0x8E, 0xC0 };
        struct pylon_management m;

        (void) state;
        assert_int_equal(pylon_decode_management(info, sizeof(info), &m), 0);
        assert_int_equal(m.charge_voltage_mv, 53250);
        assert_int_equal(m.discharge_voltage_mv, 47000);
        assert_float_equal(m.charge_limit_a, 37.0, 1e-9);
        assert_float_equal(m.discharge_limit_a, -37.0, 1e-9);
        assert_int_equal(m.status, 0xC0);
        assert_int_equal(pylon_decode_management(info, sizeof(info) - 1, &m), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request),        cmocka_unit_test(test_worked_example),
                cmocka_unit_test(test_framing),        cmocka_unit_test(test_analog_layouts),
                cmocka_unit_test(test_serial),         cmocka_unit_test(test_params),
                cmocka_unit_test(test_alarms),         cmocka_unit_test(test_management),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
