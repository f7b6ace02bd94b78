/* SPDX-License-Identifier: MIT */
/* genericSolar (PZEM-017 over Modbus RTU) from bytes: the register decoding
 * from the worked example, and the driver on the fake host's bus: current
 * range first, then samples → status, mean power, energy; threshold, wrong
 * CRC, exceptions, timeouts with one retry, fault after 3 failed polls and
 * recovery, an unplugged port, and the config checks of its keys. */

#include <errno.h>
#include <limits.h>
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
#include "modbus-rtu.h"
#include "pzem017.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
#define SOL DEVICE_CLASS_SOLAR

/* The worked example: 27.30 V, 3.00 A, 81.9 W, 1234 Wh. */
static const uint8_t example[] = { 0x01, 0x04, 0x0C, 0x0A, 0xAA, 0x01, 0x2C, 0x03, 0x33, 0x00,
                                   0x00, 0x04, 0xD2, 0x00, 0x00, 0xD1, 0x6E };
static const uint8_t range_request[] = { 0x01, 0x03, 0x00, 0x03, 0x00, 0x01, 0x74, 0x0A };
static const uint8_t range_100a[] = { 0x01, 0x03, 0x02, 0x00, 0x00, 0xB8, 0x44 };
static const uint8_t sample_request[] = { 0x01, 0x04, 0x00, 0x00, 0x00, 0x06, 0x70, 0x08 };

static void test_decode(void **state) {
        struct pzem_sample p;

        (void) state;
        pzem_decode_sample(example + 3, 1, &p);
        assert_float_equal(p.voltage_v, 27.30, 1e-9);
        assert_float_equal(p.current_a, 3.00, 1e-9);
        assert_float_equal(p.power_w, 81.9, 1e-9);
        assert_float_equal(p.energy_wh, 1234, 1e-9);
        /* A 200 A shunt on a meter set to 100 A. */
        pzem_decode_sample(example + 3, 2, &p);
        assert_float_equal(p.voltage_v, 27.30, 1e-9);
        assert_float_equal(p.current_a, 6.00, 1e-9);
        assert_float_equal(p.power_w, 163.8, 1e-9);
        assert_float_equal(p.energy_wh, 2468, 1e-9);
        /* 32-bit values: low word first. */
        static const uint8_t high[12] = { 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04 };
        pzem_decode_sample(high, 1, &p);
        assert_float_equal(p.power_w, (2 * 65536 + 1) / 10.0, 1e-9);
        assert_float_equal(p.energy_wh, 4 * 65536 + 3, 1e-9);
        assert_int_equal(pzem_range_amps(0), 100);
        assert_int_equal(pzem_range_amps(1), 50);
        assert_int_equal(pzem_range_amps(2), 200);
        assert_int_equal(pzem_range_amps(3), 300);
        assert_int_equal(pzem_range_amps(4), -ERANGE);
}

static int setup(void **state) {
        return driver_fixture_setup(state, "sol");
}

static int teardown(void **state) {
        return driver_fixture_teardown(state);
}

static int parse(struct driver_fixture *f, const char *device_json, char *first_error, size_t size) {
        return driver_fixture_parse(f, "", device_json, first_error, size);
}

static void start(struct driver_fixture *f, const char *extra) {
        char json[512];

        snprintf(json, sizeof(json), "{\"driver\": \"genericSolar\", \"port\": \"/dev/ttyUSB1\"%s}", extra);
        assert_int_equal(parse(f, json, NULL, 0), 0);
        f->drv = f->config->devices[0].driver;
        assert_ptr_equal(f->drv, &driver_generic_solar);
        assert_int_equal(f->drv->new(&f->h->dev, f->config->devices[0].driver_config, &f->state), 0);
        assert_int_equal(f->drv->start(f->state), 0);
        assert_non_null(f->h->bus);
        assert_string_equal(f->h->bus->path, "/dev/ttyUSB1");
        assert_int_equal(f->h->bus->line.baud, 9600);
        assert_int_equal(f->h->bus->line.family, SERIAL_FAMILY_MODBUS_RTU);
}

/* The request waiting on the bus is `want`, with the 500 ms timeout. */
static void expect_request(struct driver_fixture *f, const uint8_t *want, size_t len) {
        const struct fake_bus_request *r = fake_host_bus_pending(f->h);

        assert_non_null(r);
        assert_int_equal(r->len, len);
        assert_memory_equal(r->data, want, len);
        assert_int_equal(r->timeout_usec, 500000);
}

/* A PZEM answer to the sample request of address 1: V in 0.01 V, P in 0.1 W, E in Wh. */
static void sample_answer(uint8_t buf[17], unsigned v, unsigned i, uint32_t p, uint32_t e) {
        uint16_t regs[6] = { (uint16_t) v, (uint16_t) i, (uint16_t) p, (uint16_t) (p >> 16), (uint16_t) e,
                             (uint16_t) (e >> 16) };
        uint16_t crc;

        buf[0] = 1, buf[1] = 4, buf[2] = 12;
        for (int k = 0; k < 6; k++)
                buf[3 + 2 * k] = (uint8_t) (regs[k] >> 8), buf[4 + 2 * k] = (uint8_t) regs[k];
        crc = modbus_crc16(buf, 15);
        buf[15] = (uint8_t) crc, buf[16] = (uint8_t) (crc >> 8);
}

/* One poll: a second passes, the sample request goes out and gets `answer`. */
static void poll_with(struct driver_fixture *f, const uint8_t *answer, size_t len) {
        fake_host_advance(f->h, SEC(1));
        expect_request(f, sample_request, sizeof(sample_request));
        fake_host_bus_answer(f->h, answer, len);
}

/* Start, the range read, the first sample: on, with the worked example's power. */
static void test_start_and_sample(void **state) {
        struct driver_fixture *f = *state;
        int status, power;
        double wh;

        start(f, ", \"current_range\": 100");
        assert_int_equal(f->h->bus->line.parity, SERIAL_PARITY_NONE);
        assert_int_equal(f->h->bus->line.stop_bits, 2);
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_SYNCING);
        assert_null(fake_host_bus_pending(f->h));
        fake_host_advance(f->h, SEC(1));
        expect_request(f, range_request, sizeof(range_request));
        /* The answer in two pieces: the first asks for more. */
        assert_int_equal(fake_host_bus_answer(f->h, range_100a, 3), -EAGAIN);
        assert_int_equal(fake_host_bus_answer(f->h, range_100a, sizeof(range_100a)), 0);
        assert_null(fake_host_bus_pending(f->h));
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), -ENODATA);
        poll_with(f, example, sizeof(example));
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_ON);
        assert_int_equal(power, 82);
        /* Energy: the first counter value is the base; growth is reported. */
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 0, 1e-9);
        uint8_t a[17];
        sample_answer(a, 2730, 300, 819, 1244);
        poll_with(f, a, sizeof(a));
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 10, 1e-9);
        /* A counter reset by someone else: counted from the new value. */
        sample_answer(a, 2730, 300, 819, 5);
        poll_with(f, a, sizeof(a));
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 5, 1e-9);
        /* On/off commands are accepted and change nothing. */
        assert_int_equal(f->drv->solar->set_on(f->state, false), 0);
        assert_null(fake_host_bus_pending(f->h));
        assert_int_equal(f->h->n_reads_failed, 0);
}

/* A 200 A shunt on a meter set to 100 A: everything but the voltage doubles. */
static void test_scaled(void **state) {
        struct driver_fixture *f = *state;
        int status, power;
        double wh;
        uint8_t a[17];

        start(f, ", \"current_range\": 200, \"parity\": \"even\", \"stop_bits\": 1, \"address\": 1");
        assert_int_equal(f->h->bus->line.parity, SERIAL_PARITY_EVEN);
        assert_int_equal(f->h->bus->line.stop_bits, 1);
        fake_host_advance(f->h, SEC(1));
        fake_host_bus_answer(f->h, range_100a, sizeof(range_100a));
        poll_with(f, example, sizeof(example));
        sample_answer(a, 2730, 300, 819, 1244);
        poll_with(f, a, sizeof(a));
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_ON);
        assert_int_equal(power, 164);
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 20, 1e-9);
}

/* Power is the mean of the last 5 s; below the threshold a sample counts as 0. */
static void test_mean_and_threshold(void **state) {
        struct driver_fixture *f = *state;
        int status, power;
        uint8_t a[17];

        start(f, ", \"current_range\": 100, \"threshold\": 50, \"power_hysteresis\": 1");
        fake_host_advance(f->h, SEC(1));
        fake_host_bus_answer(f->h, range_100a, sizeof(range_100a));
        sample_answer(a, 2730, 100, 400, 0); /* 40 W < 50 W: 0 */
        poll_with(f, a, sizeof(a));
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_OFF);
        assert_int_equal(power, 0);
        sample_answer(a, 2730, 300, 1000, 0); /* 100 W */
        poll_with(f, a, sizeof(a));
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_ON);
        assert_int_equal(power, 50); /* (0 + 100) / 2 */
        for (int k = 0; k < 5; k++)
                poll_with(f, a, sizeof(a));
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(power, 100); /* the 0 W sample is older than 5 s */
}

/* A wrong CRC drops the frame (nothing used) and the request is tried once more. */
static void test_bad_crc_and_exception(void **state) {
        struct driver_fixture *f = *state;
        uint8_t bad[sizeof(example)];
        static const uint8_t exception[] = { 0x01, 0x84, 0x02, 0xC2, 0xC1 };
        int status, power;

        start(f, ", \"current_range\": 100");
        fake_host_advance(f->h, SEC(1));
        fake_host_bus_answer(f->h, range_100a, sizeof(range_100a));
        memcpy(bad, example, sizeof(bad));
        bad[sizeof(bad) - 1] ^= 0xFF;
        poll_with(f, bad, sizeof(bad));
        assert_int_equal(f->h->n_reads_failed, 0);
        expect_request(f, sample_request, sizeof(sample_request)); /* the retry */
        fake_host_bus_answer(f->h, bad, sizeof(bad));
        assert_int_equal(f->h->n_reads_failed, 1);
        assert_int_equal(f->h->last_read_error, -EBADMSG);
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_SYNCING); /* no value was used */
        assert_int_equal(power, INT_MIN);
        /* An exception (02: illegal data address), twice: a failed read. */
        assert_int_equal(modbus_crc16(exception, 3), exception[3] | exception[4] << 8);
        poll_with(f, exception, sizeof(exception));
        fake_host_bus_answer(f->h, exception, sizeof(exception));
        assert_int_equal(f->h->n_reads_failed, 2);
        assert_int_equal(f->h->last_read_error, -EREMOTEIO);
}

/* Silence: each poll is a request and a retry that time out; 3 such polls
 * make a fault with power 0; the next good answer starts over with the range. */
static void test_timeouts_fault_recovery(void **state) {
        struct driver_fixture *f = *state;
        int status, power;

        start(f, ", \"current_range\": 100");
        fake_host_advance(f->h, SEC(1));
        fake_host_bus_answer(f->h, range_100a, sizeof(range_100a));
        poll_with(f, example, sizeof(example));
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_ON);
        for (int k = 1; k <= 3; k++) {
                fake_host_advance(f->h, SEC(1));
                fake_host_bus_fail(f->h, -ETIMEDOUT);
                expect_request(f, sample_request, sizeof(sample_request));
                fake_host_bus_fail(f->h, -ETIMEDOUT);
                assert_null(fake_host_bus_pending(f->h));
                assert_int_equal(f->h->n_reads_failed, k);
                assert_int_equal(f->h->last_read_error, -ETIMEDOUT);
        }
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_FAULT);
        assert_int_equal(power, 0);
        fake_host_advance(f->h, SEC(1));
        expect_request(f, range_request, sizeof(range_request));
        fake_host_bus_answer(f->h, range_100a, sizeof(range_100a));
        poll_with(f, example, sizeof(example));
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_ON);
        assert_int_equal(power, 82);
}

/* A range register above 3 is an error; the read is tried again. */
static void test_bad_range(void **state) {
        struct driver_fixture *f = *state;
        static const uint8_t range_7[] = { 0x01, 0x03, 0x02, 0x00, 0x07 };
        uint8_t a[7];
        uint16_t crc = modbus_crc16(range_7, 5);

        memcpy(a, range_7, 5);
        a[5] = (uint8_t) crc, a[6] = (uint8_t) (crc >> 8);
        start(f, ", \"current_range\": 100");
        fake_host_advance(f->h, SEC(1));
        fake_host_bus_answer(f->h, a, sizeof(a));
        expect_request(f, range_request, sizeof(range_request));
        fake_host_bus_answer(f->h, a, sizeof(a));
        assert_int_equal(f->h->n_reads_failed, 1);
        fake_host_advance(f->h, SEC(1));
        expect_request(f, range_request, sizeof(range_request));
}

/* Unplugged: the request in flight fails, new ones cannot be queued; back when plugged in. */
static void test_unplug(void **state) {
        struct driver_fixture *f = *state;
        int status, power;

        start(f, ", \"current_range\": 100, \"address\": 7");
        fake_host_advance(f->h, SEC(1));
        fake_host_bus_unplug(f->h);
        assert_int_equal(f->h->n_reads_failed, 1);
        assert_int_equal(f->h->last_read_error, -ENODEV);
        fake_host_advance(f->h, SEC(2));
        assert_int_equal(f->h->n_reads_failed, 3);
        assert_int_equal(f->h->last_read_error, -ENOTCONN);
        fake_host_take_reports(f->h, SOL, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_FAULT);
        fake_host_bus_plug(f->h);
        fake_host_advance(f->h, SEC(1));
        const struct fake_bus_request *r = fake_host_bus_pending(f->h);
        assert_non_null(r);
        assert_int_equal(r->data[0], 7);
        assert_int_equal(r->data[1], 3);
}

static void expect_refused(void **state, const char *device_json, const char *message) {
        struct driver_fixture *f = *state;
        char first[512];

        assert_int_not_equal(parse(f, device_json, first, sizeof(first)), 0);
        if (!strstr(first, message)) {
                print_error("expected \"%s\" in \"%s\"\n", message, first);
                fail();
        }
        config_free(f->config);
        f->config = NULL;
}

static void test_config(void **state) {
        expect_refused(state, "{\"driver\": \"genericSolar\", \"port\": \"ext1\", \"current_range\": 100}",
                       "devices.sol.port: \"ext1\" is a port name of the upstream 1.x hardware");
        expect_refused(state, "{\"driver\": \"genericSolar\", \"port\": \"ext2\", \"current_range\": 100}",
                       "--migrate-config");
        expect_refused(state, "{\"driver\": \"genericSolar\", \"port\": \"ttyUSB0\", \"current_range\": 100}",
                       "devices.sol.port: expected an absolute device path");
        expect_refused(state, "{\"driver\": \"genericSolar\", \"port\": \"/dev/x\"}", "devices.sol.current_range");
        expect_refused(state, "{\"driver\": \"genericSolar\", \"port\": \"/dev/x\", \"current_range\": 150}",
                       "expected 50, 100, 200 or 300");
        expect_refused(state, "{\"driver\": \"genericSolar\", \"port\": \"/dev/x\", \"current_range\": 50, "
                       "\"address\": 249}", "devices.sol.address");
        expect_refused(state, "{\"driver\": \"genericSolar\", \"port\": \"/dev/x\", \"current_range\": 50, "
                       "\"parity\": \"mark\"}", "devices.sol.parity");
        expect_refused(state, "{\"driver\": \"genericSolar\", \"port\": \"/dev/x\", \"current_range\": 50, "
                       "\"stop_bits\": 3}", "devices.sol.stop_bits");
        expect_refused(state, "{\"driver\": \"genericSolar\", \"port\": \"/dev/x\", \"current_range\": 50, "
                       "\"speed\": 9600}", "devices.sol.speed");
}

/* Devices on one port must agree on the line and the protocol; the message names both. */
static void expect_devices(void **state, const char *devices, const char *message) {
        struct driver_fixture *f = *state;
        char text[1024];
        struct config_errors e = {};
        bool found = !message;
        int r;

        snprintf(text, sizeof(text), "{\"mqtt\": {\"host\": \"broker.example:1883\"}, \"devices\": {%s}}", devices);
        r = config_parse("/etc/homebattery/config.json", text, strlen(text), &f->config, &e);
        for (size_t i = 0; i < e.n; i++) {
                if (message && strstr(e.lines[i], message))
                        found = true;
                else
                        print_message("%s\n", e.lines[i]);
        }
        config_errors_done(&e);
        assert_true(found);
        if (message)
                assert_int_not_equal(r, 0);
        else
                assert_int_equal(r, 0);
        config_free(f->config);
        f->config = NULL;
}

#define PZEM(name, port, extra) \
        "\"" name "\": {\"driver\": \"genericSolar\", \"port\": \"" port "\", \"current_range\": 100" extra "}"

static void test_shared_port(void **state) {
        /* Two meters at two addresses on one bus: fine. */
        expect_devices(state, PZEM("sol", "/dev/ttyUSB1", ", \"address\": 1") ", "
                       PZEM("sol2", "/dev/ttyUSB1", ", \"address\": 2"), NULL);
        expect_devices(state, PZEM("inv", "/dev/ttyUSB1", ", \"stop_bits\": 1") ", "
                       PZEM("sol", "/dev/ttyUSB1", ""),
                       "devices.sol.port: /dev/ttyUSB1 is also used by devices.inv with 9600 8N1; genericSolar needs "
                       "9600 8N2");
        expect_devices(state, PZEM("a", "/dev/ttyUSB1", "") ", " PZEM("b", "/dev/ttyUSB1", ", \"parity\": \"even\""),
                       "devices.b.port: /dev/ttyUSB1 is also used by devices.a with 9600 8N2; genericSolar needs "
                       "9600 8E2");
        expect_devices(state, "\"mppt\": {\"driver\": \"victronMppt\", \"port\": \"/dev/ttyUSB1\"}, "
                       PZEM("sol", "/dev/ttyUSB1", ""),
                       "devices.sol.port: /dev/ttyUSB1 is also used by devices.mppt (victronMppt): victronMppt needs "
                       "the port alone");
        /* Other ports do not meet. */
        expect_devices(state, PZEM("a", "/dev/ttyUSB1", "") ", " PZEM("b", "/dev/ttyUSB2", ", \"stop_bits\": 1"),
                       NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode),
                cmocka_unit_test_setup_teardown(test_start_and_sample, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scaled, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mean_and_threshold, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_crc_and_exception, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeouts_fault_recovery, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_range, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unplug, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shared_port, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
