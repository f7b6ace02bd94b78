/* SPDX-License-Identifier: MIT */
/* growattInverterModbus on the fake host's bus, byte-exact against the
 * spec's worked frames: Pmax first, H2 := 0 after connect, the limit before
 * the switch-on, read-backs, the linear and LUT mappings, an inverter restart
 * (H2 and the limit again), a wrong echo, the two-failure fault and its
 * recovery, and the config checks. */

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
#include "growatt-sync.h"
#include "modbus-rtu.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
#define INV DEVICE_CLASS_INVERTER

/* The inverter's address in the test that runs. */
static uint8_t inverter_address;

static int setup(void **state) {
        return driver_fixture_setup(state, "inv");
}

static int teardown(void **state) {
        return driver_fixture_teardown(state);
}

static int parse(struct driver_fixture *f, const char *device_json, char *first_error, size_t size) {
        return driver_fixture_parse(f, "\"general\": {\"inverter_power\": 500}, ", device_json, first_error, size);
}

static void start(struct driver_fixture *f, uint8_t address, const char *extra) {
        char json[512];

        inverter_address = address;
        snprintf(json, sizeof(json), "{\"driver\": \"growattInverterModbus\", \"port\": \"/dev/ttyUSB2\", "
                                     "\"address\": %u%s}", address, extra);
        assert_int_equal(parse(f, json, NULL, 0), 0);
        f->drv = f->config->devices[0].driver;
        assert_ptr_equal(f->drv, &driver_growatt_inverter_modbus);
        assert_int_equal(f->drv->new(&f->h->dev, f->config->devices[0].driver_config, &f->state), 0);
        assert_int_equal(f->drv->start(f->state), 0);
        assert_int_equal(f->h->bus->line.baud, 9600);
        assert_int_equal(f->h->bus->line.stop_bits, 1);
        assert_int_equal(f->h->bus->line.family, SERIAL_FAMILY_MODBUS_RTU);
}

/* A second passes; the request on the bus is `want` (8 bytes, CRC included), with the 1 s timeout. */
static void expect(struct driver_fixture *f, const uint8_t want[8]) {
        const struct fake_bus_request *r;

        fake_host_advance(f->h, SEC(1));
        r = fake_host_bus_pending(f->h);
        assert_non_null(r);
        assert_int_equal(r->len, 8);
        assert_memory_equal(r->data, want, 8);
        assert_int_equal(r->timeout_usec, 1000000);
}

/* The request (function, register, value) of the device's address, CRC added. */
static void req(uint8_t out[8], uint8_t address, uint8_t fc, uint16_t reg, uint16_t value) {
        struct modbus_request q = { .address = address, .function = fc, .reg = reg, .value = value };
        assert_int_equal(modbus_request_build(&q, out), 8);
}

static void expect_req(struct driver_fixture *f, uint8_t fc, uint16_t reg, uint16_t value) {
        uint8_t want[8];

        req(want, inverter_address, fc, reg, value);
        expect(f, want);
}

/* Answers a read with n registers. */
static void answer_regs(struct driver_fixture *f, const uint16_t *regs, size_t n) {
        uint8_t buf[64];
        uint16_t crc;

        buf[0] = inverter_address, buf[1] = fake_host_bus_pending(f->h)->data[1], buf[2] = (uint8_t) (2 * n);
        for (size_t i = 0; i < n; i++)
                buf[3 + 2 * i] = (uint8_t) (regs[i] >> 8), buf[4 + 2 * i] = (uint8_t) regs[i];
        crc = modbus_crc16(buf, 3 + 2 * n);
        buf[3 + 2 * n] = (uint8_t) crc, buf[4 + 2 * n] = (uint8_t) (crc >> 8);
        assert_int_equal(fake_host_bus_answer(f->h, buf, 5 + 2 * n), 0);
}

/* Answers a write with its echo. */
static void echo(struct driver_fixture *f) {
        const struct fake_bus_request *r = fake_host_bus_pending(f->h);
        uint8_t buf[8];

        memcpy(buf, r->data, 8);
        assert_int_equal(fake_host_bus_answer(f->h, buf, 8), 0);
}

/* Start on a 1500 W TL-X at address 3: Pmax (unless max_power is given), H2 := 0, H0 read (off): status off. */
static void connect_tlx(struct driver_fixture *f, const char *extra) {
        bool pmax_read = !strstr(extra, "max_power");
        static const uint8_t pmax[8] = { 0x03, 0x03, 0x00, 0x06, 0x00, 0x02, 0x25, 0xE8 };
        static const uint8_t pmax_answer[] = { 0x03, 0x03, 0x04, 0x00, 0x00, 0x3A, 0x98, 0xCA, 0xF9 };
        int status, power, min, max;

        start(f, 3, extra);
        if (pmax_read) {
                f->drv->inverter->power_range(f->state, &min, &max);
                assert_int_equal(max, 0); /* not known yet */
                expect(f, pmax);
                assert_int_equal(fake_host_bus_answer(f->h, pmax_answer, sizeof(pmax_answer)), 0);
                f->drv->inverter->power_range(f->state, &min, &max);
                assert_int_equal(min, 15);
                assert_int_equal(max, 1500);
        }
        expect_req(f, MODBUS_WRITE_SINGLE, 2, 0); /* volatile limits */
        echo(f);
        expect_req(f, MODBUS_READ_HOLDING, 0, 1);
        answer_regs(f, (uint16_t[]) { 0 }, 1);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_OFF);
}

static void test_frames(void **state) {
        static const uint8_t on_tlx[8] = { 0x03, 0x06, 0x00, 0x00, 0x00, 0x01, 0x49, 0xE8 };
        static const uint8_t on_xx00s[8] = { 0x04, 0x06, 0x00, 0x00, 0x01, 0x01, 0x49, 0xCF };
        static const uint8_t memory1[8] = { 0x03, 0x06, 0x00, 0x02, 0x00, 0x01, 0xE8, 0x28 };
        static const uint8_t limit40[8] = { 0x03, 0x06, 0x00, 0x03, 0x00, 0x28, 0x78, 0x36 };
        static const uint8_t power_tlx[8] = { 0x03, 0x04, 0x00, 0x23, 0x00, 0x02, 0x81, 0xE3 };
        struct growatt_sync s;
        struct modbus_request q;
        uint8_t buf[8];

        (void) state;
        /* Set up by hand: a known TL-X at 1500 W, H2 written, off. */
        growatt_sync_init(&s, GROWATT_TL_X, NULL, 1500, true);
        assert_int_equal(growatt_sync_next(&s, SEC(1), &q), GROWATT_TXN_WRITE_MEMORY);
        q.address = 3;
        modbus_request_build(&q, buf);
        assert_memory_equal(buf, memory1, 8); /* memorise_limit: upstream's 1 */
        growatt_sync_answer(&s, GROWATT_TXN_WRITE_MEMORY, &q, NULL, SEC(1));
        growatt_sync_answer(&s, GROWATT_TXN_READ_ONOFF, &q, (const uint8_t[]) { 0, 0 }, SEC(2));
        growatt_sync_answer(&s, GROWATT_TXN_READ_LIMIT, &q, (const uint8_t[]) { 0, 40 }, SEC(2));
        growatt_sync_set_on(&s, true);
        assert_int_equal(growatt_sync_set_power(&s, 600), 600);
        assert_int_equal(s.target_percent, 40);
        /* The limit is what H3 holds: straight to the switch-on. */
        assert_int_equal(growatt_sync_next(&s, SEC(3), &q), GROWATT_TXN_WRITE_ONOFF);
        q.address = 3;
        modbus_request_build(&q, buf);
        assert_memory_equal(buf, on_tlx, 8);
        s.h3_percent = 1;
        s.h0_readback = false;
        assert_int_equal(growatt_sync_next(&s, SEC(3), &q), GROWATT_TXN_WRITE_LIMIT);
        q.address = 3;
        modbus_request_build(&q, buf);
        assert_memory_equal(buf, limit40, 8);
        /* The output power of a TL-X: I35-I36; 450.0 W measured. */
        s.h3_percent = 40;
        s.h0_on = true;
        s.slot = 0; /* the next round robin slot is a power read */
        assert_int_equal(growatt_sync_next(&s, SEC(4), &q), GROWATT_TXN_READ_POWER);
        q.address = 3;
        modbus_request_build(&q, buf);
        assert_memory_equal(buf, power_tlx, 8);
        double w;
        growatt_sync_answer(&s, GROWATT_TXN_READ_POWER, &q, (const uint8_t[]) { 0x00, 0x00, 0x11, 0x94 }, SEC(4));
        assert_true(growatt_sync_measured_w(&s, &w));
        assert_float_equal(w, 450.0, 1e-9);
        /* xx00-S: upstream's 0x0101 for on. */
        growatt_sync_init(&s, GROWATT_XX00_S, NULL, 1000, false);
        growatt_sync_answer(&s, GROWATT_TXN_WRITE_MEMORY, &q, NULL, SEC(1));
        growatt_sync_answer(&s, GROWATT_TXN_READ_ONOFF, &q, (const uint8_t[]) { 1, 0 }, SEC(2)); /* bit 0: off */
        growatt_sync_answer(&s, GROWATT_TXN_READ_LIMIT, &q, (const uint8_t[]) { 0, 1 }, SEC(2));
        growatt_sync_set_on(&s, true);
        assert_int_equal(growatt_sync_next(&s, SEC(3), &q), GROWATT_TXN_WRITE_ONOFF);
        q.address = 4;
        modbus_request_build(&q, buf);
        assert_memory_equal(buf, on_xx00s, 8);
}

/* An unplugged inverter fails a different transaction each second: two in a row are a fault all the same. */
static void test_fault_any_two(void **state) {
        struct growatt_sync s;
        struct modbus_request q = {};

        (void) state;
        growatt_sync_init(&s, GROWATT_TL_X, NULL, 1500, false);
        growatt_sync_answer(&s, GROWATT_TXN_WRITE_MEMORY, &q, NULL, SEC(1));
        growatt_sync_answer(&s, GROWATT_TXN_READ_ONOFF, &q, (const uint8_t[]) { 0, 0 }, SEC(2));
        assert_int_equal(growatt_sync_status(&s), DEVICE_STATUS_OFF);
        growatt_sync_failed(&s, GROWATT_TXN_READ_POWER);
        assert_int_equal(growatt_sync_status(&s), DEVICE_STATUS_OFF);
        growatt_sync_failed(&s, GROWATT_TXN_READ_STATE);
        assert_int_equal(growatt_sync_status(&s), DEVICE_STATUS_FAULT);
        growatt_sync_answer(&s, GROWATT_TXN_READ_ONOFF, &q, (const uint8_t[]) { 0, 0 }, SEC(3));
        assert_int_equal(growatt_sync_status(&s), DEVICE_STATUS_OFF);
}

/* Switched on, an inverter goes from waiting to normal: no restart, no second H2 write. */
static void test_waiting_to_normal(void **state) {
        struct growatt_sync s;
        struct modbus_request q = {};

        (void) state;
        growatt_sync_init(&s, GROWATT_TL_X, NULL, 1500, false);
        growatt_sync_answer(&s, GROWATT_TXN_WRITE_MEMORY, &q, NULL, SEC(1));
        growatt_sync_answer(&s, GROWATT_TXN_READ_STATE, &q, (const uint8_t[]) { 0, 0 }, SEC(2));
        growatt_sync_set_on(&s, true);
        growatt_sync_answer(&s, GROWATT_TXN_READ_ONOFF, &q, (const uint8_t[]) { 0, 1 }, SEC(3));
        growatt_sync_answer(&s, GROWATT_TXN_READ_STATE, &q, (const uint8_t[]) { 0, 1 }, SEC(4));
        assert_false(s.memory_due);
        /* Switched off and on again: the same. */
        growatt_sync_set_on(&s, false);
        growatt_sync_answer(&s, GROWATT_TXN_READ_ONOFF, &q, (const uint8_t[]) { 0, 0 }, SEC(5));
        growatt_sync_answer(&s, GROWATT_TXN_READ_STATE, &q, (const uint8_t[]) { 0, 0 }, SEC(6));
        growatt_sync_set_on(&s, true);
        growatt_sync_answer(&s, GROWATT_TXN_READ_ONOFF, &q, (const uint8_t[]) { 0, 1 }, SEC(7));
        growatt_sync_answer(&s, GROWATT_TXN_READ_STATE, &q, (const uint8_t[]) { 0, 1 }, SEC(8));
        assert_false(s.memory_due);
}

static void test_mapping(void **state) {
        (void) state;
        assert_int_equal(growatt_linear_percent(1500, 0), 1); /* not every model takes 0 % */
        assert_int_equal(growatt_linear_percent(1500, 29), 1);
        assert_int_equal(growatt_linear_percent(1500, 30), 2);
        assert_int_equal(growatt_linear_percent(1500, 1499), 99); /* never more than asked: 100 % is 1500 W */
        assert_int_equal(growatt_linear_percent(1500, 1500), 100);
        assert_int_equal(growatt_linear_percent(1500, 5000), 100);
        assert_int_equal(growatt_linear_power_w(1500, 2), 30);
        assert_int_equal(growatt_linear_power_w(999, 1), 9); /* floor */
}

/* Netzero on: the limit goes out before the switch-on, each read back; then the round robin. */
static void test_switch_on_and_limit(void **state) {
        struct driver_fixture *f = *state;
        int status, power, applied;

        connect_tlx(f, ", \"family\": \"TL-X\"");
        assert_int_equal(f->drv->inverter->set_on(f->state, true), 0);
        assert_int_equal(f->drv->inverter->set_power(f->state, 600, &applied), 0);
        assert_int_equal(applied, 600);
        expect_req(f, MODBUS_WRITE_SINGLE, 3, 40);
        echo(f);
        expect_req(f, MODBUS_READ_HOLDING, 3, 1);
        answer_regs(f, (uint16_t[]) { 40 }, 1);
        expect_req(f, MODBUS_WRITE_SINGLE, 0, 1);
        echo(f);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_SYNCING); /* H0 not read back yet */
        expect_req(f, MODBUS_READ_HOLDING, 0, 1);
        answer_regs(f, (uint16_t[]) { 1 }, 1);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(status, -1); /* still syncing: I0 unknown */
        /* The round robin: power, state. */
        expect_req(f, MODBUS_READ_INPUT, 35, 2);
        answer_regs(f, (uint16_t[]) { 0, 5990 }, 2);
        expect_req(f, MODBUS_READ_INPUT, 0, 1);
        answer_regs(f, (uint16_t[]) { 1 }, 1);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_ON);
        assert_int_equal(power, 600); /* the commanded power at the read-back percent, not the measured */
        /* A new limit goes out at the next second. */
        assert_int_equal(f->drv->inverter->set_power(f->state, 300, &applied), 0);
        assert_int_equal(applied, 300);
        expect_req(f, MODBUS_WRITE_SINGLE, 3, 20); /* the last write was 6 s ago */
        echo(f);
        expect_req(f, MODBUS_READ_HOLDING, 3, 1);
        answer_regs(f, (uint16_t[]) { 20 }, 1);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(power, 300);
        /* Energy: the measured 599 W integrated while on. */
        double wh;
        assert_int_equal(f->drv->inverter->energy_wh(f->state, &wh), 0);
        assert_true(wh > 0 && wh < 599.0 * 6 / 3600 + 1e-9);
        /* Off: H0 := 0 and power 0. */
        assert_int_equal(f->drv->inverter->set_on(f->state, false), 0);
        expect_req(f, MODBUS_WRITE_SINGLE, 0, 0);
        echo(f);
        expect_req(f, MODBUS_READ_HOLDING, 0, 1);
        answer_regs(f, (uint16_t[]) { 0 }, 1);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_OFF);
        assert_int_equal(power, 0);
}

/* Answers reads (I0 with i0, H0 on, H3 with h3, output power 0) second by second until a write is on the
 * bus (returned), at most `seconds`. */
static const struct fake_bus_request *reads_for(struct driver_fixture *f, int seconds, uint16_t i0, uint16_t h3) {
        for (int i = 0; i < seconds; i++) {
                const struct fake_bus_request *r;
                fake_host_advance(f->h, SEC(1));
                r = fake_host_bus_pending(f->h);
                assert_non_null(r);
                if (r->data[1] == MODBUS_WRITE_SINGLE)
                        return r;
                if (r->data[1] == MODBUS_READ_INPUT && r->data[3] == 0)
                        answer_regs(f, &i0, 1);
                else if (r->data[1] == MODBUS_READ_INPUT)
                        answer_regs(f, (uint16_t[]) { 0, 0 }, 2);
                else
                        answer_regs(f, (uint16_t[]) { r->data[3] == 3 ? h3 : 1 }, 1);
        }
        return NULL;
}

static const struct fake_bus_request *reads_until_write(struct driver_fixture *f, uint16_t i0, uint16_t h3) {
        const struct fake_bus_request *r = reads_for(f, 20, i0, h3);

        if (!r)
                fail_msg("no write within 20 s");
        return r;
}

/* The TL-X connected, commanded on at 600 W: the limit (40 %) first, then H0 := 1, each read back. */
static void switch_on_600(struct driver_fixture *f) {
        int applied;

        connect_tlx(f, ", \"family\": \"TL-X\"");
        f->drv->inverter->set_on(f->state, true);
        f->drv->inverter->set_power(f->state, 600, &applied);
        expect_req(f, MODBUS_WRITE_SINGLE, 3, 40);
        echo(f);
        expect_req(f, MODBUS_READ_HOLDING, 3, 1);
        answer_regs(f, (uint16_t[]) { 40 }, 1);
        expect_req(f, MODBUS_WRITE_SINGLE, 0, 1);
        echo(f);
        expect_req(f, MODBUS_READ_HOLDING, 0, 1);
        answer_regs(f, (uint16_t[]) { 1 }, 1);
        assert_int_equal(applied, 600);
}

/* The inverter restarts (I0 leaves normal and comes back): H2 and the limit again. */
static void test_restart(void **state) {
        struct driver_fixture *f = *state;
        const struct fake_bus_request *r;
        int status, power;

        switch_on_600(f);
        expect_req(f, MODBUS_READ_INPUT, 35, 2);
        answer_regs(f, (uint16_t[]) { 0, 6000 }, 2);
        expect_req(f, MODBUS_READ_INPUT, 0, 1);
        answer_regs(f, (uint16_t[]) { 1 }, 1);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_ON);
        assert_int_equal(power, 600);
        /* It restarts: I0 fault, and H3 reads "not limited": the limit goes out again. */
        r = reads_until_write(f, 3, 255);
        assert_int_equal(r->data[3], 3);
        assert_int_equal(r->data[5], 40);
        echo(f);
        assert_null(reads_for(f, 8, 3, 40)); /* a round robin: I0 read */
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_FAULT);
        assert_int_equal(power, 0);
        /* Normal again: H2 := 0 first (it may be back to its default), then the limit once more. */
        r = reads_until_write(f, 1, 40);
        assert_int_equal(r->data[3], 2);
        assert_int_equal(r->data[5], 0);
        echo(f);
        r = reads_until_write(f, 1, 40);
        assert_int_equal(r->data[3], 3);
        assert_int_equal(r->data[5], 40);
        echo(f);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_ON);
}

/* A new limit goes out at the next second however recent the last write; only a repeat of a limit the
 * inverter did not take waits 5 s (netzero would take a late limit for the step below its request). */
static void test_new_limit_not_held(void **state) {
        struct driver_fixture *f = *state;
        const struct fake_bus_request *r;
        int applied;

        switch_on_600(f);
        /* 2 s after the last limit write: a new one at once. */
        f->drv->inverter->set_power(f->state, 450, &applied);
        expect_req(f, MODBUS_WRITE_SINGLE, 3, 30);
        echo(f);
        expect_req(f, MODBUS_READ_HOLDING, 3, 1);
        answer_regs(f, (uint16_t[]) { 40 }, 1); /* not taken */
        /* The repeat of 30 waits until 5 s after the write, then goes out. */
        assert_null(reads_for(f, 3, 1, 40));
        r = reads_until_write(f, 1, 40);
        assert_int_equal(r->data[3], 3);
        assert_int_equal(r->data[5], 30);
        echo(f);
        /* The same target again is not a new limit: no write before 5 s. */
        f->drv->inverter->set_power(f->state, 450, &applied);
        assert_null(reads_for(f, 3, 1, 40));
        r = reads_until_write(f, 1, 40);
        assert_int_equal(r->data[5], 30);
        echo(f);
}

/* A wrong echo, a timeout: each a failed transaction; the same one twice is a fault, the next success clears it. */
static void test_failures(void **state) {
        struct driver_fixture *f = *state;
        int status, power, applied;
        uint8_t bad[8];

        connect_tlx(f, ", \"family\": \"TL-X\", \"max_power\": 1000");
        f->drv->inverter->set_on(f->state, true);
        f->drv->inverter->set_power(f->state, 500, &applied);
        assert_int_equal(applied, 500);
        expect_req(f, MODBUS_WRITE_SINGLE, 3, 50);
        memcpy(bad, fake_host_bus_pending(f->h)->data, 8);
        bad[5] = 51;
        uint16_t crc = modbus_crc16(bad, 6);
        bad[6] = (uint8_t) crc, bad[7] = (uint8_t) (crc >> 8);
        assert_int_not_equal(fake_host_bus_answer(f->h, bad, 8), 0);
        assert_int_equal(f->h->n_reads_failed, 1);
        expect_req(f, MODBUS_WRITE_SINGLE, 3, 50); /* not written: tried again */
        fake_host_bus_fail(f->h, -ETIMEDOUT);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_equal(status, DEVICE_STATUS_FAULT);
        expect_req(f, MODBUS_WRITE_SINGLE, 3, 50);
        echo(f);
        fake_host_take_reports(f->h, INV, &status, &power);
        assert_int_not_equal(status, DEVICE_STATUS_FAULT);
}

static void test_config(void **state) {
        struct driver_fixture *f = *state;
        char err[512];
        static const struct {
                const char *json, *want;
        } bad[] = {
                { "\"address\": 1", "devices.inv.family: required" },
                { "\"address\": 1, \"family\": \"MIC\"", "devices.inv.family" },
                { "\"family\": \"TL-X\"", "devices.inv.address" },
                { "\"address\": 248, \"family\": \"TL-X\"", "devices.inv.address" },
                { "\"address\": 1, \"family\": \"TL-X\", \"baud\": 19200", "expected 9600 or 38400" },
                { "\"address\": 1, \"family\": \"TL-X\", \"max_power\": 0", "devices.inv.max_power" },
                { "\"address\": 1, \"family\": \"TL-X\", \"limit\": 5", "limit" },
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char json[512];
                snprintf(json, sizeof(json), "{\"driver\": \"growattInverterModbus\", \"port\": \"/dev/ttyUSB2\", %s}",
                         bad[i].json);
                assert_int_not_equal(parse(f, json, err, sizeof(err)), 0);
                if (!strstr(err, bad[i].want))
                        fail_msg("%s: got \"%s\", want \"%s\"", bad[i].json, err, bad[i].want);
                config_free(f->config), f->config = NULL;
        }
        /* The upstream spelling is accepted for the same driver. */
        assert_int_equal(parse(f, "{\"driver\": \"growattinvertermodbus\", \"port\": \"/dev/ttyUSB2\", \"address\": 1, "
                                  "\"family\": \"xx00-S\", \"baud\": 38400}", err, sizeof(err)), 0);
        assert_ptr_equal(f->config->devices[0].driver, &driver_growatt_inverter_modbus);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_frames),
                cmocka_unit_test(test_mapping),
                cmocka_unit_test(test_fault_any_two),
                cmocka_unit_test(test_waiting_to_normal),
                cmocka_unit_test_setup_teardown(test_switch_on_and_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_new_limit_not_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
