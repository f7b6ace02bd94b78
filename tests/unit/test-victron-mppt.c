/* SPDX-License-Identifier: MIT */
/* Unit tests of the victronMppt driver's state machine (spec/drivers.md,
 * docs/drivers.md) on the fake host: VE.Direct text blocks through the fake
 * serial port → status and power (with the hysteresis), stale data and an
 * unplugged cable → syncing, the HEX on/off command and its echo, retries,
 * giving up and the rate-limited re-assertion, busy(), energy from H20. The
 * real driver is instantiated from a config text through the real parser. */

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "config.h"
#include "drivers.h"
#include "driver-fixture.h"
#include "fake-host.h"
#include "log-setup.h"
#include "vedirect.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
#define MSEC(ms) ((uint64_t) (ms) * UINT64_C(1000))

#define SOL DEVICE_CLASS_SOLAR
#define HEX_CONFIG "{\"driver\": \"victronMppt\", \"port\": \"/dev/ttyUSB0\"}"
#define NONE_CONFIG "{\"driver\": \"victronMppt\", \"port\": \"/dev/ttyUSB0\", \"control\": \"none\"}"
/* spec/drivers.md: the device mode register 0x0200 set to 1 (on) or 4 (off). */
#define HEX_ON ":8000200014A\n"
#define HEX_OFF ":80002000447\n"

/* Charge states (CS). */
#define CS_OFF 0
#define CS_FAULT 2
#define CS_BULK 3
#define CS_ABSORPTION 4
#define CS_FLOAT 5
#define CS_STARTING 245
#define CS_EXTERNAL 252
#define OR_NONE 0x00000000u
#define OR_NO_INPUT 0x00000001u
#define OR_MODE_OFF 0x00000004u

static int setup(void **state) {
        return driver_fixture_setup(state, "mppt");
}

static int teardown(void **state) {
        return driver_fixture_teardown(state);
}

/* Creates and starts the driver from the device object, as the daemon does;
 * the cable is plugged in (the port opens) unless `plugged` is false. */
static void start(struct driver_fixture *f, const char *device_json, bool plugged) {
        char text[1024];
        struct config_errors e = {};
        const struct fake_report *rp;
        int r;

        snprintf(text, sizeof(text),
                 "{\"mqtt\": {\"host\": \"broker.example:1883\"}, \"devices\": {\"mppt\": %s}}",
                 device_json);
        r = config_parse("/etc/homebattery/config.json", text, strlen(text), &f->config, &e);
        for (size_t i = 0; i < e.n; i++)
                print_error("%s\n", e.lines[i]);
        config_errors_done(&e);
        assert_int_equal(r, 0);
        f->drv = f->config->devices[0].driver;
        assert_ptr_equal(f->drv, &driver_victron_mppt);
        assert_int_equal(f->drv->new(&f->h->dev, f->config->devices[0].driver_config, &f->state), 0);
        assert_int_equal(f->drv->start(f->state), 0);
        /* It says "syncing" until it has data, and opens the port at 19200 baud. */
        rp = fake_host_next_report(f->h);
        assert_non_null(rp);
        assert_int_equal(rp->kind, FAKE_REPORT_STATUS);
        assert_int_equal(rp->cls, SOL);
        assert_int_equal(rp->value, DEVICE_STATUS_SYNCING);
        assert_non_null(f->h->serial);
        assert_string_equal(f->h->serial->path, "/dev/ttyUSB0");
        assert_int_equal(f->h->serial->baud, 19200);
        if (plugged)
                fake_host_serial_open(f->h);
}

static int set_on(struct driver_fixture *f, bool on) {
        return f->drv->solar->set_on(f->state, on);
}

static bool busy(struct driver_fixture *f) {
        return f->drv->busy(f->state);
}

/* ---- the charger's side of the cable ---- */

struct frame {
        uint8_t buf[1024];
        size_t len;
};

static void put(struct frame *fr, const char *text) {
        size_t n = strlen(text);

        assert_true(fr->len + n <= sizeof(fr->buf));
        memcpy(fr->buf + fr->len, text, n);
        fr->len += n;
}

/* A SmartSolar's block with the given charge state, panel power, yield today
 * (0.01 kWh) and off reason; the checksum byte makes all bytes sum to 0. */
static void block(struct driver_fixture *f, int cs, int ppv_w, int h20, uint32_t off_reason) {
        struct frame fr = {};
        char line[96];
        uint8_t sum = 0;

        put(&fr, "\r\nPID\t0xA053\r\nFW\t159\r\nSER#\tHQ2132ABCDE\r\nV\t26780\r\nI\t4200\r\nVPV\t36010");
        snprintf(line, sizeof(line), "\r\nPPV\t%d\r\nCS\t%d\r\nMPPT\t2\r\nOR\t0x%08X\r\nERR\t0", ppv_w, cs,
                 (unsigned) off_reason);
        put(&fr, line);
        snprintf(line, sizeof(line), "\r\nLOAD\tON\r\nH19\t10234\r\nH20\t%d\r\nH21\t310\r\nH22\t98", h20);
        put(&fr, line);
        put(&fr, "\r\nH23\t295\r\nHSDS\t17\r\nChecksum\t");
        for (size_t i = 0; i < fr.len; i++)
                sum += fr.buf[i];
        fr.buf[fr.len++] = (uint8_t) (0x100 - sum);
        fake_host_serial_feed(f->h, fr.buf, fr.len);
}

/* A HEX frame about the device mode register: the answer to a set (command
 * 8, the echo) or an async update (command A). */
static void mode_frame(struct driver_fixture *f, unsigned command, uint8_t mode, uint8_t flags) {
        const uint8_t bytes[] = { VEDIRECT_REG_DEVICE_MODE & 0xff, VEDIRECT_REG_DEVICE_MODE >> 8, flags,
                                  mode };
        char buf[64];
        int n = vedirect_hex_build(command, bytes, sizeof(bytes), buf, sizeof(buf));

        assert_true(n > 0);
        fake_host_serial_feed(f->h, buf, (size_t) n);
}

static void echo(struct driver_fixture *f, uint8_t mode, uint8_t flags) {
        mode_frame(f, VEDIRECT_HEX_SET, mode, flags);
}

static void feed_text(struct driver_fixture *f, const char *text) {
        fake_host_serial_feed(f->h, text, strlen(text));
}

/* What the driver wrote since the last call, as text. */
static const char *written(struct driver_fixture *f) {
        static char text[FAKE_HOST_WRITTEN_MAX + 1];
        struct serial_port *p = f->h->serial;

        assert_non_null(p);
        memcpy(text, p->written, p->n_written);
        text[p->n_written] = 0;
        p->n_written = 0;
        return text;
}

static void take_reports(struct driver_fixture *f, int *ret_status, int *ret_power_w) {
        fake_host_take_reports(f->h, SOL, ret_status, ret_power_w);
}

static void expect_reports(struct driver_fixture *f, int status, int power_w) {
        int s, p;

        take_reports(f, &s, &p);
        if (s != status || p != power_w)
                fail_msg("reported status %d power %d, expected status %d power %d", s, p, status, power_w);
}

#define NO_STATUS (-1)
#define NO_POWER INT_MIN

/* ---- text blocks → status and power ---- */

static void test_blocks_status_power(void **state) {
        struct driver_fixture *f = *state;
        static const struct {
                int cs, ppv_w;
                int status, power_w; /* reported; NO_STATUS / NO_POWER: nothing */
        } steps[] = {
                { CS_BULK, 150, DEVICE_STATUS_ON, 150 },
                { CS_BULK, 151, NO_STATUS, NO_POWER }, /* below the hysteresis of 2 W */
                { CS_ABSORPTION, 149, NO_STATUS, NO_POWER },
                { CS_FLOAT, 148, NO_STATUS, 148 },
                { CS_FLOAT, 148, NO_STATUS, NO_POWER },
                { CS_OFF, 3, DEVICE_STATUS_OFF, 0 }, /* power 0 while off */
                { CS_STARTING, 40, NO_STATUS, NO_POWER },
                { CS_EXTERNAL, 40, NO_STATUS, NO_POWER },
                { CS_BULK, 1, DEVICE_STATUS_ON, 1 }, /* from 0 to something is a change, however small */
                { CS_FAULT, 100, DEVICE_STATUS_FAULT, 0 },
                { 7 /* equalize */, 90, DEVICE_STATUS_ON, 90 },
                { 247 /* auto equalize */, 90, NO_STATUS, NO_POWER },
                { CS_BULK, 0, NO_STATUS, 0 },
        };

        start(f, NONE_CONFIG, true);
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                int s, p;

                block(f, steps[i].cs, steps[i].ppv_w, 12, OR_NONE);
                take_reports(f, &s, &p);
                if (s != steps[i].status || p != steps[i].power_w)
                        fail_msg("step %zu (CS %d PPV %d): status %d power %d, expected %d %d", i,
                                 steps[i].cs, steps[i].ppv_w, s, p, steps[i].status, steps[i].power_w);
                fake_host_advance(f->h, SEC(1));
        }
        /* "none" never writes. */
        assert_int_equal(set_on(f, true), 0);
        assert_false(busy(f));
        assert_string_equal(written(f), "");
}

/* A hysteresis from the config; a corrupt block changes nothing. */
static void test_hysteresis_and_bad_blocks(void **state) {
        struct driver_fixture *f = *state;

        start(f, "{\"driver\": \"victronMppt\", \"port\": \"/dev/ttyUSB0\", \"power_hysteresis\": 10, "
                 "\"control\": \"none\"}",
              true);
        /* The first bytes are usually the end of a block we joined in the middle of. */
        feed_text(f, "0\r\nH23\t295\r\nHSDS\t17\r\nChecksum\t\x55");
        expect_reports(f, NO_STATUS, NO_POWER);
        block(f, CS_BULK, 200, 0, OR_NONE);
        expect_reports(f, DEVICE_STATUS_ON, 200);
        block(f, CS_BULK, 209, 0, OR_NONE);
        expect_reports(f, NO_STATUS, NO_POWER);
        block(f, CS_BULK, 190, 0, OR_NONE);
        expect_reports(f, NO_STATUS, 190);
        feed_text(f, "\r\nPPV\t900\r\nCS\t3\r\nChecksum\t\x01");
        expect_reports(f, NO_STATUS, NO_POWER);
}

/* 10 s without a good block: syncing with power 0; a block brings it back. */
static void test_stale(void **state) {
        struct driver_fixture *f = *state;

        start(f, NONE_CONFIG, true);
        /* Data that never comes is stale too: the power becomes known as 0. */
        fake_host_advance(f->h, SEC(10) - MSEC(1));
        expect_reports(f, NO_STATUS, NO_POWER);
        fake_host_advance(f->h, MSEC(1));
        expect_reports(f, NO_STATUS, 0);

        block(f, CS_BULK, 300, 50, OR_NONE);
        expect_reports(f, DEVICE_STATUS_ON, 300);
        for (int i = 0; i < 9; i++) {
                fake_host_advance(f->h, SEC(1));
                /* corrupt blocks do not count as data */
                feed_text(f, "\r\nPPV\t300\r\nCS\t3\r\nChecksum\t\x07");
        }
        fake_host_advance(f->h, SEC(1) - MSEC(1));
        expect_reports(f, NO_STATUS, NO_POWER);
        fake_host_advance(f->h, MSEC(1));
        expect_reports(f, DEVICE_STATUS_SYNCING, 0);
        block(f, CS_BULK, 310, 50, OR_NONE);
        expect_reports(f, DEVICE_STATUS_ON, 310);
}

/* The cable is pulled and plugged in again: syncing, then data as before. */
static void test_unplug(void **state) {
        struct driver_fixture *f = *state;

        start(f, NONE_CONFIG, true);
        block(f, CS_FLOAT, 120, 50, OR_NONE);
        expect_reports(f, DEVICE_STATUS_ON, 120);
        fake_host_serial_close(f->h, -ENODEV);
        expect_reports(f, DEVICE_STATUS_SYNCING, 0);
        /* The driver keeps the port: the transport reopens it. */
        assert_non_null(f->h->serial);
        fake_host_advance(f->h, SEC(30));
        expect_reports(f, NO_STATUS, NO_POWER);
        fake_host_serial_open(f->h);
        block(f, CS_FLOAT, 125, 51, OR_NONE);
        expect_reports(f, DEVICE_STATUS_ON, 125);
}

/* H20 (yield today, 0.01 kWh): differences; a smaller value is a new day. */
static void test_energy_h20(void **state) {
        struct driver_fixture *f = *state;
        double wh = -1;

        start(f, NONE_CONFIG, true);
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), -ENODATA);
        block(f, CS_BULK, 100, 12, OR_NONE);
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 0, 1e-9); /* the first value is only the reference */
        block(f, CS_BULK, 100, 13, OR_NONE);
        block(f, CS_BULK, 100, 15, OR_NONE);
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 30, 1e-9);
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 0, 1e-9);
        block(f, CS_OFF, 0, 2, OR_NO_INPUT);
        assert_int_equal(f->drv->solar->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 20, 1e-9);
}

/* ---- switching with HEX ---- */

static void test_hex_on_off(void **state) {
        struct driver_fixture *f = *state;

        start(f, HEX_CONFIG, true);
        assert_false(busy(f));
        assert_int_equal(set_on(f, true), 0);
        assert_string_equal(written(f), HEX_ON);
        assert_true(busy(f));
        /* Asking again while the command travels sends nothing more. */
        assert_int_equal(set_on(f, true), 0);
        assert_string_equal(written(f), "");
        echo(f, VEDIRECT_DEVICE_MODE_ON, 0);
        assert_false(busy(f));
        /* No echo timeout afterwards. */
        fake_host_advance(f->h, SEC(5));
        assert_string_equal(written(f), "");

        assert_int_equal(set_on(f, false), 0);
        assert_string_equal(written(f), HEX_OFF);
        assert_true(busy(f));
        /* The echo may follow a text block on the same line. */
        block(f, CS_OFF, 0, 10, OR_MODE_OFF);
        echo(f, VEDIRECT_DEVICE_MODE_OFF, 0);
        assert_false(busy(f));
        fake_host_advance(f->h, SEC(60));
        assert_string_equal(written(f), "");
}

/* No echo within 2 s: try again, 3 tries in all, then wait for a later block
 * (at least 10 s after the last try) to start a new round. */
static void test_hex_retries_give_up(void **state) {
        struct driver_fixture *f = *state;
        uint64_t last;

        start(f, HEX_CONFIG, true);
        assert_int_equal(set_on(f, true), 0);
        assert_string_equal(written(f), HEX_ON);
        for (int try = 2; try <= 3; try++) {
                fake_host_advance(f->h, SEC(2) - MSEC(1));
                assert_string_equal(written(f), "");
                fake_host_advance(f->h, MSEC(1));
                assert_string_equal(written(f), HEX_ON);
                assert_true(busy(f));
        }
        last = f->h->now_usec;
        fake_host_advance(f->h, SEC(2));
        /* Given up: the shutdown does not wait for it. */
        assert_false(busy(f));
        assert_string_equal(written(f), "");
        /* Blocks that say nothing about the mode (night): a new round only 10 s after the last try. */
        while (f->h->now_usec + SEC(1) < last + SEC(10)) {
                fake_host_advance(f->h, SEC(1));
                block(f, CS_OFF, 0, 0, OR_NO_INPUT);
                assert_string_equal(written(f), "");
        }
        fake_host_advance(f->h, last + SEC(10) - f->h->now_usec);
        block(f, CS_OFF, 0, 0, OR_NO_INPUT);
        assert_string_equal(written(f), HEX_ON);
        echo(f, VEDIRECT_DEVICE_MODE_ON, 0);
        assert_false(busy(f));
}

/* A wrong echo, a refusal and an error frame are failed tries: the next goes at once. */
static void test_hex_bad_answers(void **state) {
        struct driver_fixture *f = *state;
        char err[32];
        uint8_t bytes[] = { 0xAA, 0xAA };
        int n;

        start(f, HEX_CONFIG, true);
        assert_int_equal(set_on(f, true), 0);
        assert_string_equal(written(f), HEX_ON);
        echo(f, VEDIRECT_DEVICE_MODE_OFF, 0);
        assert_string_equal(written(f), HEX_ON);
        echo(f, VEDIRECT_DEVICE_MODE_ON, VEDIRECT_HEX_FLAG_PARAMETER_ERROR);
        assert_string_equal(written(f), HEX_ON);
        n = vedirect_hex_build(VEDIRECT_HEX_ERROR, bytes, sizeof(bytes), err, sizeof(err));
        assert_true(n > 0);
        fake_host_serial_feed(f->h, err, (size_t) n);
        /* That was the third try: given up until a later block. */
        assert_string_equal(written(f), "");
        assert_false(busy(f));
}

/* Not plugged in: the command waits for the port; a port that closes while
 * a command waits for its echo sends it again once it is back. */
static void test_hex_port_closed(void **state) {
        struct driver_fixture *f = *state;

        start(f, HEX_CONFIG, false);
        assert_int_equal(set_on(f, true), 0);
        assert_string_equal(written(f), "");
        assert_false(busy(f)); /* nothing can travel: the shutdown need not wait */
        fake_host_serial_open(f->h);
        assert_string_equal(written(f), HEX_ON);
        assert_true(busy(f));
        fake_host_serial_close(f->h, -EIO);
        fake_host_advance(f->h, SEC(10));
        assert_string_equal(written(f), "");
        fake_host_serial_open(f->h);
        assert_string_equal(written(f), HEX_ON);
        echo(f, VEDIRECT_DEVICE_MODE_ON, 0);
        assert_false(busy(f));
}

/* At start the charger should be off: running blocks (CS on) switch it off.
 * A charger that drifts away is re-asserted at most every 10 s, and one that
 * shows the wanted mode is never written to (a non-volatile setting). */
static void test_hex_drift(void **state) {
        struct driver_fixture *f = *state;
        uint64_t last;

        start(f, HEX_CONFIG, true);
        block(f, CS_BULK, 200, 10, OR_NONE);
        assert_string_equal(written(f), HEX_OFF);
        last = f->h->now_usec;
        echo(f, VEDIRECT_DEVICE_MODE_OFF, 0);
        /* It keeps running: again only 10 s after the last command. */
        while (f->h->now_usec + SEC(1) < last + SEC(10)) {
                fake_host_advance(f->h, SEC(1));
                block(f, CS_BULK, 200, 10, OR_NONE);
                assert_string_equal(written(f), "");
        }
        fake_host_advance(f->h, last + SEC(10) - f->h->now_usec);
        block(f, CS_BULK, 200, 10, OR_NONE);
        assert_string_equal(written(f), HEX_OFF);
        echo(f, VEDIRECT_DEVICE_MODE_OFF, 0);

        /* Off as wanted: nothing is written, however long. */
        for (int i = 0; i < 120; i++) {
                fake_host_advance(f->h, SEC(1));
                block(f, CS_OFF, 0, 10, OR_MODE_OFF);
        }
        assert_string_equal(written(f), "");
        /* Already there: set_on(false) writes nothing either; on does. */
        assert_int_equal(set_on(f, false), 0);
        assert_string_equal(written(f), "");
        assert_int_equal(set_on(f, true), 0);
        assert_string_equal(written(f), HEX_ON);
        echo(f, VEDIRECT_DEVICE_MODE_ON, 0);
        for (int i = 0; i < 60; i++) {
                fake_host_advance(f->h, SEC(1));
                block(f, CS_BULK, 250, 11, OR_NONE);
        }
        assert_string_equal(written(f), "");
        assert_false(busy(f));
        /* An async report of the register showing another mode: re-asserted. */
        mode_frame(f, VEDIRECT_HEX_ASYNC, VEDIRECT_DEVICE_MODE_OFF, 0);
        assert_string_equal(written(f), HEX_ON);
}

/* A wish that changes while a command travels goes out after its echo. */
static void test_hex_wish_changes(void **state) {
        struct driver_fixture *f = *state;

        start(f, HEX_CONFIG, true);
        assert_int_equal(set_on(f, true), 0);
        assert_string_equal(written(f), HEX_ON);
        assert_int_equal(set_on(f, false), 0);
        assert_string_equal(written(f), "");
        echo(f, VEDIRECT_DEVICE_MODE_ON, 0);
        assert_string_equal(written(f), HEX_OFF);
        assert_true(busy(f));
        echo(f, VEDIRECT_DEVICE_MODE_OFF, 0);
        assert_false(busy(f));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_blocks_status_power, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hysteresis_and_bad_blocks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stale, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unplug, setup, teardown),
                cmocka_unit_test_setup_teardown(test_energy_h20, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hex_on_off, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hex_retries_give_up, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hex_bad_answers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hex_port_closed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hex_drift, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hex_wish_changes, setup, teardown),
        };

        log_set_max_level(LOG_ERR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
