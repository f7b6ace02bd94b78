/* SPDX-License-Identifier: MIT */
/* The daemon's RS485 bus (src/transport-bus.c) on a real sd-event loop and a
 * pty: one request on the wire at a time in FIFO order over two devices, the
 * answer delivered until the driver says it is complete, the 20 ms idle gap,
 * the response timeout, bytes nobody asked for dropped, one bus per port with
 * one setting, a bounded queue, and an unplug failing what is in flight. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "homebattery/time-util.h"
#include "transport-bus.h"

struct seen {
        int calls;
        int error;
        char data[64];
        uint64_t usec; /* when the request ended */
        int want;      /* bytes that make the answer complete */
};

static sd_event *loop;
static int master = -1;
static char slave_path[64];
static const struct serial_line line = { .baud = 9600, .parity = SERIAL_PARITY_NONE, .stop_bits = 2,
                                         .family = SERIAL_FAMILY_MODBUS_RTU };

static uint64_t now(void) {
        uint64_t t;

        assert_int_equal(sd_event_now(loop, CLOCK_MONOTONIC, &t), 0);
        return t;
}

static int on_answer(void *userdata, int error, const uint8_t *data, size_t len) {
        struct seen *s = userdata;

        s->calls++;
        s->error = error;
        memcpy(s->data, data, len < sizeof(s->data) - 1 ? len : sizeof(s->data) - 1);
        s->data[len < sizeof(s->data) - 1 ? len : sizeof(s->data) - 1] = 0;
        if (error == 0 && (int) len < s->want)
                return -EAGAIN;
        s->usec = now();
        return 0;
}

/* Runs the loop until cond holds (or 40 iterations pass: a failure). The loop
 * sleeps until its next event, as in the daemon, so timers that fire late show. */
#define RUN_UNTIL(cond)                                                                 \
        do {                                                                            \
                for (int _i = 0; !(cond); _i++) {                                      \
                        assert_true(_i < 40);                                          \
                        assert_true(sd_event_run(loop, 500 * USEC_PER_MSEC) >= 0);     \
                }                                                                      \
        } while (0)

/* What the device side received: the loop runs until it has been written. */
static void expect_wire(const char *want) {
        char buf[64] = "";
        size_t got = 0, n = strlen(want);

        for (int i = 0; got < n && i < 40; i++) {
                ssize_t k = read(master, buf + got, n - got);
                if (k > 0)
                        got += (size_t) k;
                else
                        assert_true(sd_event_run(loop, 500 * USEC_PER_MSEC) >= 0);
        }
        assert_string_equal(buf, want);
}

static void device_says(const char *s) {
        assert_int_equal(write(master, s, strlen(s)), (ssize_t) strlen(s));
}

static int setup(void **state) {
        assert_int_equal(sd_event_new(&loop), 0);
        master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
        assert_true(master >= 0);
        assert_int_equal(grantpt(master), 0);
        assert_int_equal(unlockpt(master), 0);
        assert_int_equal(ptsname_r(master, slave_path, sizeof(slave_path)), 0);
        return 0;
}

static int teardown(void **state) {
        if (master >= 0)
                close(master);
        master = -1;
        loop = sd_event_unref(loop);
        return 0;
}

/* Unplugged: the request in flight (a's, s) fails, new ones fail at once. */
static void unplug(struct bus_client *a, struct bus_client *b, struct seen *s) {
        struct seen more = {};

        close(master);
        master = -1;
        RUN_UNTIL(s->calls == 1);
        assert_int_equal(s->error, -ENODEV);
        assert_false(bus_client_is_open(a));
        assert_int_equal(bus_client_request(b, "B2", 2, USEC_PER_SEC, on_answer, &more), -ENOTCONN);
        bus_client_close(a);
        bus_client_close(b);
}

static void test_bus(void **state) {
        struct bus_client *a, *b, *odd;
        struct seen s1 = { .want = 4 }, s2 = { .want = 2 }, s3 = { .want = 2 };
        struct serial_line other = line;
        uint64_t t;

        assert_int_equal(bus_client_open(loop, "a", slave_path, &line, &a), 0);
        assert_int_equal(bus_client_open(loop, "b", slave_path, &line, &b), 0);
        other.stop_bits = 1;
        assert_int_equal(bus_client_open(loop, "c", slave_path, &other, &odd), -EINVAL);
        /* Closed until the loop has opened it: requests fail at once. */
        assert_false(bus_client_is_open(a));
        assert_int_equal(bus_client_request(a, "x", 1, USEC_PER_SEC, on_answer, &s1), -ENOTCONN);
        RUN_UNTIL(bus_client_is_open(a) && bus_client_is_open(b));
        /* 9600 8N2, raw (a pty master reports its slave's settings). */
        struct termios tio;
        assert_int_equal(tcgetattr(master, &tio), 0);
        assert_int_equal(cfgetospeed(&tio), B9600);
        assert_int_equal(tio.c_cflag & (CSIZE | CSTOPB | PARENB), CS8 | CSTOPB);
        assert_int_equal(tio.c_lflag & (ICANON | ECHO), 0);

        /* Bytes nobody asked for are dropped. */
        device_says("noise");
        for (int i = 0; i < 10; i++)
                assert_true(sd_event_run(loop, 2 * USEC_PER_MSEC) >= 0);

        /* a, b, a: in that order, one at a time. */
        assert_int_equal(bus_client_request(a, "A1", 2, USEC_PER_SEC, on_answer, &s1), 0);
        assert_int_equal(bus_client_request(b, "B1", 2, 100 * USEC_PER_MSEC, on_answer, &s2), 0);
        assert_int_equal(bus_client_request(a, "A2", 2, USEC_PER_SEC, on_answer, &s3), 0);
        assert_int_equal(s1.calls + s2.calls + s3.calls, 0); /* never called back inside a request */
        expect_wire("A1");
        device_says("ok");
        RUN_UNTIL(s1.calls == 1);
        assert_int_equal(s1.usec, 0); /* incomplete: asked for more */
        device_says("!!");
        RUN_UNTIL(s1.calls == 2);
        assert_string_equal(s1.data, "ok!!");
        assert_int_equal(s1.error, 0);
        /* Late bytes in the idle gap belong to nobody. */
        device_says("late");
        expect_wire("B1");
        assert_int_equal(s1.calls, 2);
        t = now();
        /* The gap, and not much more (sd-event's default timer slack would be 250 ms). */
        assert_true(t >= s1.usec + 20 * USEC_PER_MSEC);
        assert_true(t < s1.usec + 120 * USEC_PER_MSEC);
        /* B1 gets no answer: a timeout 100 ms after it was queued, then the gap, then A2. */
        RUN_UNTIL(s2.calls == 1);
        assert_int_equal(s2.error, -ETIMEDOUT);
        assert_true(s2.usec >= t + 90 * USEC_PER_MSEC);
        assert_true(s2.usec < t + 200 * USEC_PER_MSEC);
        t = now();
        expect_wire("A2");
        assert_true(now() >= t + 15 * USEC_PER_MSEC);

        unplug(a, b, &s3);
}

/* One stop bit and another speed reach the port as written. (Parity cannot
 * be seen here: Linux's pty forces CS8 and clears PARENB on every change.) */
static void test_line(void **state) {
        struct serial_line l = { .baud = 19200, .parity = SERIAL_PARITY_NONE, .stop_bits = 1,
                                 .family = SERIAL_FAMILY_PYLONTECH };
        struct bus_client *c;
        struct termios tio;

        assert_int_equal(bus_client_open(loop, "p", slave_path, &l, &c), 0);
        RUN_UNTIL(bus_client_is_open(c));
        assert_int_equal(tcgetattr(master, &tio), 0);
        assert_int_equal(cfgetospeed(&tio), B19200);
        assert_int_equal(tio.c_cflag & (CSIZE | CSTOPB), CS8);
        /* The queue is bounded: the caller hears at once. */
        struct seen s = { .want = 1 };
        int n = 0;
        while (bus_client_request(c, "q", 1, USEC_PER_SEC, on_answer, &s) == 0)
                assert_true(++n <= 64);
        assert_int_equal(bus_client_request(c, "q", 1, USEC_PER_SEC, on_answer, &s), -ENOBUFS);
        assert_true(n >= 8);
        /* Closing drops them without a call. */
        bus_client_close(c);
        assert_int_equal(s.calls, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_bus, setup, teardown),
                cmocka_unit_test_setup_teardown(test_line, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
