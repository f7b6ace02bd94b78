/* SPDX-License-Identifier: MIT */
/* victronSmartShunt from bytes: the fields of its two blocks into a record
 * (no cells, SOC "---", T only when sent, cycles from block 2), and the
 * driver on the fake host's serial port: a read answered from the latest
 * block, offline after 10 s without one, a corrupt block dropped, the
 * capacity asked with HEX 0x1000 and the answer used, and the config. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "drivers.h"
#include "driver-fixture.h"
#include "fake-host.h"
#include "smartshunt-decode.h"
#include "vedirect.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))

static int setup(void **state) {
        return driver_fixture_setup(state, "shunt");
}

static int teardown(void **state) {
        return driver_fixture_teardown(state);
}

/* A text block of the given fields ("V\t26780\r\nI\t-4200..." without the leading CR LF), checksum added
 * (wrong when corrupt). */
static size_t block(uint8_t *out, const char *fields, bool corrupt) {
        size_t n = (size_t) sprintf((char *) out, "\r\n%s\r\nChecksum\t", fields);
        uint8_t sum = 0;

        for (size_t i = 0; i < n; i++)
                sum += out[i];
        out[n] = (uint8_t) (0x100 - sum + (corrupt ? 1 : 0));
        return n + 1;
}

static void feed(struct driver_fixture *f, const char *fields, bool corrupt) {
        uint8_t buf[512];
        size_t n = block(buf, fields, corrupt);

        fake_host_serial_feed(f->h, buf, n);
}

#define BLOCK1 "PID\t0xA389\r\nV\t26780\r\nVS\t12910\r\nI\t-4200\r\nP\t-112\r\nCE\t-20500\r\nSOC\t873\r\nTTG\t1234\r\n" \
               "Alarm\tOFF\r\nRelay\tOFF\r\nAR\t0\r\nBMV\tSmartShunt 500A/50mV\r\nFW\t0413\r\nMON\t0"
#define BLOCK2 "H1\t-102000\r\nH2\t-20500\r\nH3\t0\r\nH4\t57\r\nH5\t0\r\nH6\t-900000\r\nH7\t12000\r\nH8\t14500"

static void copy_block(void *userdata, const struct vedirect_block *b) {
        *(struct vedirect_block *) userdata = *b;
}

static void no_error(void *userdata, int error, const char *reason) {
        fail_msg("the test's block was refused: %s", reason);
}

/* The block the VE.Direct parser makes of the fields. */
static void parse_block(const char *fields, struct vedirect_block *ret) {
        static const struct vedirect_handlers h = { .block = copy_block, .error = no_error };
        struct vedirect_parser p;
        uint8_t buf[512];
        size_t n = block(buf, fields, false);

        memset(ret, 0, sizeof(*ret));
        vedirect_parser_init(&p);
        vedirect_feed(&p, buf, n, 1, &h, ret);
        assert_true(ret->n_fields > 0);
}

static void test_decode(void **state) {
        struct smartshunt_values v = {};
        struct vedirect_block b;
        struct battery_record r;
        char text[128];

        (void) state;
        parse_block(BLOCK1, &b);
        assert_true(smartshunt_merge(&v, &b));
        smartshunt_record(&v, 200, &r);
        assert_float_equal(r.voltage_v, 26.78, 1e-9);
        assert_float_equal(r.current_a, -4.2, 1e-9);
        assert_float_equal(r.soc_pct, 87.3, 1e-9);
        assert_float_equal(r.full_ah, 200, 1e-9);
        assert_float_equal(r.remaining_ah, 174.6, 1e-9);
        assert_int_equal(r.n_cells, 0);
        assert_int_equal(r.n_temps, 0);
        assert_int_equal(r.cycles, 0); /* block 2 not seen yet */
        /* Block 2: no V/I, no record due; the cycles are kept. */
        parse_block(BLOCK2, &b);
        assert_false(smartshunt_merge(&v, &b));
        smartshunt_record(&v, 200, &r);
        assert_int_equal(r.cycles, 57);
        /* Not synchronised: SoC 0, remaining 0; T from the aux input. */
        parse_block("V\t26700\r\nI\t1000\r\nT\t23\r\nSOC\t---\r\nAlarm\tON\r\nAR\t65", &b);
        assert_true(smartshunt_merge(&v, &b));
        assert_true(v.soc_unknown);
        smartshunt_record(&v, 200, &r);
        assert_float_equal(r.soc_pct, 0, 1e-9);
        assert_float_equal(r.remaining_ah, 0, 1e-9);
        assert_int_equal(r.n_temps, 1);
        assert_float_equal(r.temps_c[0], 23, 1e-9);
        assert_true(v.alarm_on);
        smartshunt_alarm_text(v.ar, text, sizeof(text));
        assert_string_equal(text, "low voltage, high temperature");
        smartshunt_alarm_text(0, text, sizeof(text));
        assert_string_equal(text, "none");
        /* A SOC out of range is ignored. */
        parse_block("V\t26700\r\nI\t1000\r\nSOC\t1001", &b);
        smartshunt_merge(&v, &b);
        assert_false(v.has_soc);
        /* ... and leaves the last good one, as a negative H4 leaves the cycles (fuzz-smartshunt found a
         * record with SoC 2000 % and one with 2^64 - 1 cycles). */
        parse_block("V\t26700\r\nI\t1000\r\nSOC\t873", &b);
        smartshunt_merge(&v, &b);
        parse_block("V\t26700\r\nI\t1000\r\nSOC\t20000\r\nH4\t-3", &b);
        smartshunt_merge(&v, &b);
        smartshunt_record(&v, 200, &r);
        assert_float_equal(r.soc_pct, 87.3, 1e-9);
        assert_int_equal(r.cycles, 57);
}

static int parse(struct driver_fixture *f, const char *device_json, char *first_error, size_t size) {
        return driver_fixture_parse(f, "", device_json, first_error, size);
}

static void start(struct driver_fixture *f, const char *extra) {
        char json[512];

        snprintf(json, sizeof(json), "{\"driver\": \"victronSmartShunt\", \"port\": \"/dev/ttyUSB4\"%s}", extra);
        assert_int_equal(parse(f, json, NULL, 0), 0);
        f->drv = f->config->devices[0].driver;
        assert_ptr_equal(f->drv, &driver_victron_smartshunt);
        assert_int_equal(f->drv->new(&f->h->dev, f->config->devices[0].driver_config, &f->state), 0);
        assert_int_equal(f->drv->start(f->state), 0);
        assert_non_null(f->h->serial);
        assert_int_equal(f->h->serial->baud, 19200);
        fake_host_serial_open(f->h);
}

static const struct fake_report *read_now(struct driver_fixture *f) {
        const struct fake_report *r;

        assert_int_equal(f->drv->battery->read(f->state), 0);
        r = fake_host_next_report(f->h);
        assert_non_null(r);
        return r;
}

static void test_driver(void **state) {
        struct driver_fixture *f = *state;
        const struct fake_report *r;
        char hex[64];
        int n;

        start(f, "");
        assert_int_equal(f->h->read_interval_usec, SEC(10));
        /* The capacity is asked at once: HEX get of 0x1000. */
        assert_int_equal(f->h->serial->n_written, strlen(":70010003E\n"));
        assert_memory_equal(f->h->serial->written, ":70010003E\n", f->h->serial->n_written);
        /* No block yet: a failed read. */
        r = read_now(f);
        assert_int_equal(r->kind, FAKE_REPORT_READ_FAILED);
        assert_int_equal(r->value, -ETIMEDOUT);
        /* A cut first block is dropped quietly, then two good blocks. */
        fake_host_serial_feed(f->h, "0\r\nI\t12\r\nChecksum\t", 19);
        fake_host_serial_feed(f->h, "x", 1);
        feed(f, BLOCK1, false);
        feed(f, BLOCK2, false);
        r = read_now(f);
        assert_int_equal(r->kind, FAKE_REPORT_BATTERY);
        assert_float_equal(r->record.current_a, -4.2, 1e-9);
        assert_float_equal(r->record.full_ah, 0, 1e-9); /* not known yet */
        assert_int_equal(r->record.cycles, 57);
        assert_int_equal(r->record.n_cells, 0);
        /* The shunt's answer: 200 Ah (Victron's example). */
        n = snprintf(hex, sizeof(hex), ":7001000C80076\n");
        fake_host_serial_feed(f->h, hex, (size_t) n);
        r = read_now(f);
        assert_float_equal(r->record.full_ah, 200, 1e-9);
        assert_float_equal(r->record.remaining_ah, 174.6, 1e-9);
        /* A corrupt block claiming 99 A: dropped. */
        feed(f, "V\t26780\r\nI\t99000\r\nSOC\t873", true);
        r = read_now(f);
        assert_float_equal(r->record.current_a, -4.2, 1e-9);
        /* 10 s without a block: offline (failed reads), back with the next block. */
        fake_host_advance(f->h, SEC(11));
        r = read_now(f);
        assert_int_equal(r->kind, FAKE_REPORT_READ_FAILED);
        feed(f, BLOCK1, false);
        r = read_now(f);
        assert_int_equal(r->kind, FAKE_REPORT_BATTERY);
        /* The port vanishes: offline at once. */
        fake_host_serial_close(f->h, -EIO);
        r = read_now(f);
        assert_int_equal(r->kind, FAKE_REPORT_READ_FAILED);
}

static void test_configured_capacity(void **state) {
        struct driver_fixture *f = *state;
        const struct fake_report *r;

        start(f, ", \"capacity\": 280, \"interval\": 2");
        assert_int_equal(f->h->read_interval_usec, SEC(2));
        assert_int_equal(f->h->serial->n_written, 0); /* not asked */
        feed(f, BLOCK1, false);
        r = read_now(f);
        assert_float_equal(r->record.full_ah, 280, 1e-9);
}

static void test_config(void **state) {
        struct driver_fixture *f = *state;
        char err[512];

        assert_int_not_equal(parse(f, "{\"driver\": \"victronSmartShunt\", \"port\": \"/dev/ttyUSB4\", "
                                      "\"capacity\": 0}", err, sizeof(err)), 0);
        assert_non_null(strstr(err, "devices.shunt.capacity"));
        config_free(f->config), f->config = NULL;
        assert_int_not_equal(parse(f, "{\"driver\": \"victronSmartShunt\", \"port\": \"/dev/ttyUSB4\", "
                                      "\"interval\": 0}", err, sizeof(err)), 0);
        assert_non_null(strstr(err, "devices.shunt.interval"));
        config_free(f->config), f->config = NULL;
        assert_int_not_equal(parse(f, "{\"driver\": \"victronSmartShunt\", \"port\": \"/dev/ttyUSB4\", "
                                      "\"cells\": 0}", err, sizeof(err)), 0);
        assert_non_null(strstr(err, "cells"));
        config_free(f->config), f->config = NULL;
        /* The port is its own. */
        assert_int_not_equal(parse(f, "{\"driver\": \"victronSmartShunt\", \"port\": \"/dev/ttyUSB4\"}, \"m\": "
                                      "{\"driver\": \"victronMppt\", \"port\": \"/dev/ttyUSB4\", \"control\": \"hex\"}",
                                   err, sizeof(err)), 0);
        if (!strstr(err, "needs the port alone"))
                fail_msg("%s", err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode),
                cmocka_unit_test_setup_teardown(test_driver, setup, teardown),
                cmocka_unit_test_setup_teardown(test_configured_capacity, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
