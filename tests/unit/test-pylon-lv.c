/* SPDX-License-Identifier: MIT */
/* pylonLv on the fake host's bus: the search by serial (silent and foreign
 * addresses skipped, 3 rounds, then "not found"), the read order 0x47 (once)
 * -> 0x42 -> 0x44 -> 0x92, one retry on a bad checksum or timeout, a read
 * that fails, the search again after 3 failed reads, the `address` key and
 * the config checks. */

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
#include "pylon-frame.h"
#include "pylon-test-frame.h"

#define SERIAL "PPTAH0123456789"

static int setup(void **state) {
        return driver_fixture_setup(state, "bat");
}

static int teardown(void **state) {
        return driver_fixture_teardown(state);
}

static int parse(struct driver_fixture *f, const char *device_json, char *first_error, size_t size) {
        return driver_fixture_parse(f, "\"supervisor\": {\"battery_offline\": {\"enabled\": true, \"threshold\": 600}}, ",
                                    device_json, first_error, size);
}

static void start(struct driver_fixture *f, const char *extra) {
        char json[512];

        snprintf(json, sizeof(json), "{\"driver\": \"pylonLv\", \"port\": \"/dev/ttyUSB0\", \"serial\": \"%s\"%s}",
                 SERIAL, extra);
        assert_int_equal(parse(f, json, NULL, 0), 0);
        f->drv = f->config->devices[0].driver;
        assert_ptr_equal(f->drv, &driver_pylon_lv);
        assert_int_equal(f->drv->new(&f->h->dev, f->config->devices[0].driver_config, &f->state), 0);
        assert_int_equal(f->drv->start(f->state), 0);
        assert_non_null(f->h->bus);
        assert_int_equal(f->h->bus->line.baud, 115200);
        assert_int_equal(f->h->bus->line.family, SERIAL_FAMILY_PYLONTECH);
}

/* The request waiting is command cid2 to adr, with the 500 ms timeout. */
static void expect(struct driver_fixture *f, uint8_t adr, uint8_t cid2) {
        const struct fake_bus_request *r = fake_host_bus_pending(f->h);
        char want[PYLON_REQUEST_SIZE];

        assert_non_null(r);
        pylon_request_build(adr, cid2, want);
        assert_int_equal(r->len, PYLON_REQUEST_SIZE);
        assert_memory_equal(r->data, want, PYLON_REQUEST_SIZE);
        assert_int_equal(r->timeout_usec, 500000);
}

static int answer(struct driver_fixture *f, uint8_t adr, const char *info_hex) {
        char head[9], buf[1024];

        snprintf(head, sizeof(head), "20%02X4600", adr);
        pylon_test_frame(buf, sizeof(buf), head, info_hex);
        return fake_host_bus_answer(f->h, buf, strlen(buf));
}

static int answer_serial(struct driver_fixture *f, uint8_t adr, const char *serial) {
        char hex[128];
        int k = snprintf(hex, sizeof(hex), "%02X", adr);

        for (const char *p = serial; *p; p++)
                k += snprintf(hex + k, sizeof(hex) - (size_t) k, "%02X", (unsigned char) *p);
        snprintf(hex + k, sizeof(hex) - (size_t) k, "2020"); /* padded with spaces */
        return answer(f, adr, hex);
}

/* 2 cells 3.300/3.310 V; BMS 25.0 °C and one cell temperature 20.0 °C; -2.5 A; 6.610 V; 40 of 50 Ah; 9 cycles. */
#define ANALOG "1100" "02" "0CE4" "0CEE" "02" "0BA5" "0B73" "FFE7" "19D2" "9C40" "02" "C350" "0009"
#define PARAMS "11" "0E42" "0BB8" "0B54" "0C9F" "0AAB" "03FC" "D5DE" "B798" "AFC8" "0D03" "0A47" "FA24"
#define ALARMS "1100" "02" "0000" "02" "0000" "000000" "00" "03" "00" "00" "00"
#define MANAGEMENT "00" "D002" "B798" "0172" "FE8E" "C0"

static void expect_record(struct driver_fixture *f) {
        const struct fake_report *r = fake_host_next_report(f->h);

        assert_non_null(r);
        assert_int_equal(r->kind, FAKE_REPORT_BATTERY);
        assert_int_equal(r->record.n_cells, 2);
        assert_float_equal(r->record.cells_v[1], 3.310, 1e-9);
        assert_int_equal(r->record.n_temps, 1); /* the BMS board's is not a battery temperature */
        assert_float_equal(r->record.temps_c[0], 20.0, 1e-9);
        assert_float_equal(r->record.current_a, -2.5, 1e-9);
        assert_float_equal(r->record.soc_pct, 80.0, 1e-9);
        assert_int_equal(r->record.cycles, 9);
        assert_true(r->record.time_usec > 0);
}

static void expect_failed(struct driver_fixture *f, int error) {
        const struct fake_report *r = fake_host_next_report(f->h);

        assert_non_null(r);
        assert_int_equal(r->kind, FAKE_REPORT_READ_FAILED);
        assert_int_equal(r->value, error);
}

/* The rest of a read after 0x42: 0x44 and 0x92, then nothing waits. */
static void finish_read(struct driver_fixture *f, uint8_t adr) {
        expect(f, adr, PYLON_ALARMS);
        answer(f, adr, ALARMS);
        expect(f, adr, PYLON_MANAGEMENT);
        answer(f, adr, MANAGEMENT);
        assert_null(fake_host_bus_pending(f->h));
}

static void test_search_and_read(void **state) {
        struct driver_fixture *f = *state;

        start(f, "");
        assert_int_equal(f->h->read_interval_usec, 60000000); /* the default interval */
        assert_null(fake_host_bus_pending(f->h)); /* nothing before the first read */
        assert_int_equal(f->drv->battery->read(f->state), 0);
        /* Address 0 is silent: no second try during a search, on to 1. */
        expect(f, 0, PYLON_SERIAL);
        fake_host_bus_fail(f->h, -ETIMEDOUT);
        /* Address 1 is another pack. */
        expect(f, 1, PYLON_SERIAL);
        answer_serial(f, 1, "PPTAH9999999999");
        /* Address 2 answers with a bad checksum first: asked again. */
        expect(f, 2, PYLON_SERIAL);
        assert_int_equal(fake_host_bus_answer(f->h, "~2002460000000000\r", 18), -EBADMSG);
        expect(f, 2, PYLON_SERIAL);
        answer_serial(f, 2, SERIAL);
        /* Found: the system parameters once, then the record. */
        expect(f, 2, PYLON_SYSTEM_PARAMETERS);
        answer(f, 2, PARAMS);
        expect(f, 2, PYLON_ANALOG);
        assert_null(fake_host_next_report(f->h));
        answer(f, 2, ANALOG);
        expect_record(f);
        /* A read() while 0x44/0x92 are on their way waits for them. */
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect(f, 2, PYLON_ALARMS);
        answer(f, 2, ALARMS);
        expect(f, 2, PYLON_MANAGEMENT);
        answer(f, 2, MANAGEMENT);
        /* The next read: straight to 0x42, no search, no 0x47. */
        expect(f, 2, PYLON_ANALOG);
        answer(f, 2, ANALOG);
        expect_record(f);
        finish_read(f, 2);
        assert_null(fake_host_next_report(f->h));
}

static void test_not_found(void **state) {
        struct driver_fixture *f = *state;

        start(f, "");
        assert_int_equal(f->drv->battery->read(f->state), 0);
        for (unsigned round = 0; round < 3; round++)
                for (uint8_t adr = 0; adr < 16; adr++) {
                        expect(f, adr, PYLON_SERIAL);
                        assert_null(fake_host_next_report(f->h));
                        fake_host_bus_fail(f->h, -ETIMEDOUT);
                }
        assert_null(fake_host_bus_pending(f->h));
        expect_failed(f, -ENOENT);
        /* The next read searches again from address 0. */
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect(f, 0, PYLON_SERIAL);
        fake_host_bus_unplug(f->h);
        expect_failed(f, -ENODEV);
        assert_null(fake_host_bus_pending(f->h));
        /* Unplugged: the read fails at once, nothing waits. */
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect_failed(f, -ENOTCONN);
        fake_host_bus_plug(f->h);
}

/* With `address`: only that address; another serial there is a failed read. */
static void test_address_key(void **state) {
        struct driver_fixture *f = *state;

        start(f, ", \"address\": 5, \"baud\": 115200, \"interval\": 5");
        assert_int_equal(f->h->read_interval_usec, 5000000);
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect(f, 5, PYLON_SERIAL);
        answer_serial(f, 5, "PPTAH9999999999");
        expect_failed(f, -ENOENT);
        assert_null(fake_host_bus_pending(f->h));
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect(f, 5, PYLON_SERIAL);
        answer_serial(f, 5, SERIAL);
        expect(f, 5, PYLON_SYSTEM_PARAMETERS);
        fake_host_bus_fail(f->h, -ETIMEDOUT); /* logged only; retried once */
        expect(f, 5, PYLON_SYSTEM_PARAMETERS);
        fake_host_bus_fail(f->h, -ETIMEDOUT);
        expect(f, 5, PYLON_ANALOG);
        answer(f, 5, ANALOG);
        expect_record(f);
        finish_read(f, 5);
}

/* Failed reads: a retry each, a failed read reported, after 3 the search again. */
static void test_failures_and_research(void **state) {
        struct driver_fixture *f = *state;
        char bad[512];

        start(f, ", \"address\": 1");
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect(f, 1, PYLON_SERIAL);
        answer_serial(f, 1, SERIAL);
        expect(f, 1, PYLON_SYSTEM_PARAMETERS);
        answer(f, 1, PARAMS);
        expect(f, 1, PYLON_ANALOG);
        /* A bad checksum, then the retry times out: the read failed; no value is used. */
        pylon_test_frame(bad, sizeof(bad), "20014600", ANALOG);
        bad[strlen(bad) - 2] ^= 1;
        assert_int_equal(fake_host_bus_answer(f->h, bad, strlen(bad)), -EBADMSG);
        expect(f, 1, PYLON_ANALOG);
        fake_host_bus_fail(f->h, -ETIMEDOUT);
        expect_failed(f, -ETIMEDOUT);
        assert_null(fake_host_bus_pending(f->h));
        /* A return code is a failed read too; an implausible record as well. */
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect(f, 1, PYLON_ANALOG);
        pylon_test_frame(bad, sizeof(bad), "20014602", "");
        assert_int_equal(fake_host_bus_answer(f->h, bad, strlen(bad)), -EREMOTEIO);
        expect_failed(f, -EREMOTEIO);
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect(f, 1, PYLON_ANALOG);
        answer(f, 1, "110021");
        expect_failed(f, -EBADMSG);
        /* Three in a row: the next read checks the serial again (and logs the limits again). */
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect(f, 1, PYLON_SERIAL);
        answer_serial(f, 1, SERIAL);
        expect(f, 1, PYLON_SYSTEM_PARAMETERS);
        answer(f, 1, PARAMS);
        expect(f, 1, PYLON_ANALOG);
        answer(f, 1, ANALOG);
        expect_record(f);
        finish_read(f, 1);
}

/* The port opens from the loop: the first read waits for it (up to 3 s) instead of failing. */
static void test_first_read_waits_for_port(void **state) {
        struct driver_fixture *f = *state;

        start(f, "");
        fake_host_bus_unplug(f->h); /* not open yet */
        assert_int_equal(f->drv->battery->read(f->state), 0);
        assert_null(fake_host_bus_pending(f->h));
        fake_host_advance(f->h, 600000);
        assert_null(fake_host_next_report(f->h));
        fake_host_bus_plug(f->h);
        fake_host_advance(f->h, 250000);
        expect(f, 0, PYLON_SERIAL);
        fake_host_bus_fail(f->h, -ENODEV);
        expect_failed(f, -ENODEV);
        /* Once seen open, a closed port fails the read at once. */
        fake_host_bus_unplug(f->h);
        assert_int_equal(f->drv->battery->read(f->state), 0);
        expect_failed(f, -ENOTCONN);
        fake_host_bus_plug(f->h);
}

static void test_config(void **state) {
        struct driver_fixture *f = *state;
        char err[512];

        assert_int_not_equal(parse(f, "{\"driver\": \"pylonLv\", \"port\": \"/dev/ttyUSB0\"}", err, sizeof(err)), 0);
        assert_non_null(strstr(err, "devices.bat.serial"));
        config_free(f->config), f->config = NULL;
        assert_int_not_equal(parse(f, "{\"driver\": \"pylonLv\", \"port\": \"/dev/ttyUSB0\", \"serial\": "
                                      "\"012345678901234567890123456789012\"}", err, sizeof(err)), 0);
        assert_non_null(strstr(err, "devices.bat.serial: expected 1 to 32 characters"));
        config_free(f->config), f->config = NULL;
        assert_int_not_equal(parse(f, "{\"driver\": \"pylonLv\", \"port\": \"/dev/ttyUSB0\", \"serial\": \"A\", "
                                      "\"baud\": 19200}", err, sizeof(err)), 0);
        assert_non_null(strstr(err, "devices.bat.baud: expected 9600 or 115200"));
        config_free(f->config), f->config = NULL;
        assert_int_not_equal(parse(f, "{\"driver\": \"pylonLv\", \"port\": \"/dev/ttyUSB0\", \"serial\": \"A\", "
                                      "\"address\": 16}", err, sizeof(err)), 0);
        assert_non_null(strstr(err, "devices.bat.address"));
        config_free(f->config), f->config = NULL;
        assert_int_not_equal(parse(f, "{\"driver\": \"pylonLv\", \"port\": \"/dev/ttyUSB0\", \"serial\": \"A\", "
                                      "\"interval\": 4}", err, sizeof(err)), 0);
        assert_non_null(strstr(err, "devices.bat.interval"));
        config_free(f->config), f->config = NULL;
        assert_int_not_equal(parse(f, "{\"driver\": \"pylonLv\", \"port\": \"ext1\", \"serial\": \"A\"}", err,
                                   sizeof(err)), 0);
        assert_non_null(strstr(err, "--migrate-config"));
        config_free(f->config), f->config = NULL;
        assert_int_not_equal(parse(f, "{\"driver\": \"pylonLv\", \"port\": \"/dev/ttyUSB0\", \"serial\": \"A\", "
                                      "\"cells\": 15}", err, sizeof(err)), 0);
        assert_non_null(strstr(err, "cells"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_search_and_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
                cmocka_unit_test_setup_teardown(test_address_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failures_and_research, setup, teardown),
                cmocka_unit_test_setup_teardown(test_first_read_waits_for_port, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
