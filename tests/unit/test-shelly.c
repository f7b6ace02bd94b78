/* SPDX-License-Identifier: MIT */
/* Unit tests of the shellyCharger driver's state machine (spec/drivers.md,
 * docs/drivers.md) on the fake host: generation detection with GET /shelly,
 * the URLs and auth of each generation, the 300 s auto-off renewed every
 * 115 s, polling every 120 s (2 s while syncing or in fault), status, power
 * and energy, failures and retries, busy(); shellyHeater, the same code in
 * the heater class. The real driver is instantiated from a config text
 * through the real config parser. */

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

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
#define MSEC(ms) ((uint64_t) (ms) * UINT64_C(1000))

#define BASE "http://10.0.0.5:80"
#define GEN2 "{\"driver\": \"shellyCharger\", \"host\": \"10.0.0.5:80\", \"relay_id\": 1, \"generation\": 2}"
#define GEN1                                                                                            \
        "{\"driver\": \"shellyCharger\", \"host\": \"10.0.0.5:80\", \"relay_id\": 0, \"generation\": 1, " \
        "\"user\": \"u\", \"password\": \"p\"}"

#define G2_ON BASE "/rpc/Switch.Set?id=1&on=true&toggle_after=300"
#define G2_OFF BASE "/rpc/Switch.Set?id=1&on=false"
#define G2_STATUS BASE "/rpc/Switch.GetStatus?id=1"
#define G2_IS(on, w) "{\"id\":1,\"output\":" #on ",\"apower\":" #w ",\"aenergy\":{\"total\":0}}"
#define G1_ON BASE "/relay/0?turn=on&timer=300"
#define G1_OFF BASE "/relay/0?turn=off"
#define G1_STATUS BASE "/relay/0"
#define G1_METER BASE "/meter/0"

/* What the driver of the running test reports in: charger, or heater for shellyHeater. */
static enum device_class reported_class;

static int teardown(void **state) {
        /* (It checks that the driver gives back every timer and request it holds.) */
        return driver_fixture_teardown(state);
}

static int setup(void **state) {
        return driver_fixture_setup(state, "charger");
}

/* Parses the device object as the daemon does and creates the instance; not started. */
static void create(struct driver_fixture *f, const char *device_json) {
        char first_error[256];
        bool heater = strstr(device_json, "shellyHeater");
        int r = driver_fixture_parse(
                f, heater ? "\"heater\": {\"activate\": {\"battery\": 5}, \"deactivate\": {\"battery\": 10}}, " : "",
                device_json, first_error, sizeof(first_error));

        if (r < 0)
                print_error("%s\n", first_error);
        assert_int_equal(r, 0);
        assert_int_equal(f->config->n_devices, 1);
        f->drv = f->config->devices[0].driver;
        assert_ptr_equal(f->drv, heater ? &driver_shelly_heater : &driver_shelly_charger);
        reported_class = heater ? DEVICE_CLASS_HEATER : DEVICE_CLASS_CHARGER;
        assert_int_equal(f->drv->new(&f->h->dev, f->config->devices[0].driver_config, &f->state), 0);
}

static void start(struct driver_fixture *f, const char *device_json) {
        create(f, device_json);
        assert_int_equal(f->drv->start(f->state), 0);
}

static int set_on(struct driver_fixture *f, bool on) {
        return (reported_class == DEVICE_CLASS_HEATER ? f->drv->heater : f->drv->charger)->set_on(f->state, on);
}

static bool busy(struct driver_fixture *f) {
        return f->drv->busy(f->state);
}

/* The one request in flight; its URL must be `url`. Every request obeys the
 * spec's "timeout 5 s, up to 3 attempts 1 s apart" (0 = the client's default). */
static struct http_request *expect_request(struct driver_fixture *f, const char *url) {
        struct http_request *r = f->h->http;

        if (!r)
                fail_msg("no request in flight, expected %s", url);
        assert_null(r->next); /* one at a time */
        assert_string_equal(r->url, url);
        assert_string_equal(r->method, "GET");
        assert_false(r->has_body);
        assert_true(r->options.timeout_usec == 0 || r->options.timeout_usec == SEC(5));
        assert_true(r->options.attempts == 0 || r->options.attempts == 3);
        assert_true(r->options.retry_delay_usec == 0 || r->options.retry_delay_usec == SEC(1));
        return r;
}

static void expect_idle(struct driver_fixture *f) {
        if (f->h->http)
                fail_msg("unexpected request %s", f->h->http->url);
}

static void answer(struct driver_fixture *f, const char *url, long status, const char *body) {
        expect_request(f, url);
        fake_host_http_answer(f->h, status, body);
}

static void answer_fail(struct driver_fixture *f, const char *url, int error) {
        expect_request(f, url);
        fake_host_http_fail(f->h, error);
}

static void take_reports(struct driver_fixture *f, int *ret_status, int *ret_power_w) {
        fake_host_take_reports(f->h, reported_class, ret_status, ret_power_w);
}

static void expect_status(struct driver_fixture *f, enum device_status s) {
        int st, p;

        take_reports(f, &st, &p);
        if (st != (int) s)
                fail_msg("last status %d, expected %s", st, device_status_to_string(s));
}

static void expect_status_power(struct driver_fixture *f, enum device_status s, int power_w) {
        int st, p;

        take_reports(f, &st, &p);
        if (st != (int) s)
                fail_msg("last status %d, expected %s", st, device_status_to_string(s));
        assert_int_equal(p, power_w);
}

/* A power report and no status change. */
static void expect_power(struct driver_fixture *f, int power_w) {
        int st, p;

        take_reports(f, &st, &p);
        assert_int_equal(st, -1);
        assert_int_equal(p, power_w);
}

static void expect_no_status(struct driver_fixture *f) {
        int st, p;

        take_reports(f, &st, &p);
        assert_int_equal(st, -1);
}

/* Gen2 from the start to a steady "off": the start's off command, then the read-back. */
static void start_gen2_off(struct driver_fixture *f) {
        start(f, GEN2);
        answer(f, G2_OFF, 200, "{\"was_on\":false}");
        answer(f, G2_STATUS, 200, G2_IS(false, 0.0));
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
        expect_idle(f);
}

/* ... and switched on (command, read-back with 812.4 W). */
static void start_gen2_on(struct driver_fixture *f) {
        start_gen2_off(f);
        assert_int_equal(set_on(f, true), 0);
        answer(f, G2_ON, 200, "{\"was_on\":false}");
        answer(f, G2_STATUS, 200, G2_IS(true, 812.4));
        expect_status_power(f, DEVICE_STATUS_ON, 812);
        expect_idle(f);
}

/* ---- generation detection ---- */

static void test_detect_gen2_and_later(void **state) {
        static const char *const answers[] = {
                "{\"id\":\"shellyplus1pm-a8032ab12345\",\"model\":\"SNSW-001P16EU\",\"gen\":2,"
                "\"auth_en\":true}",
                "{\"id\":\"shelly1pmg3-1\",\"model\":\"S3SW-001P16EU\",\"gen\":3,\"auth_en\":true}",
                "{\"id\":\"shelly1pmg4-1\",\"model\":\"S4SW-001P16EU\",\"gen\":4,\"auth_en\":true}",
        };

        for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
                struct driver_fixture *f;
                struct http_request *r;

                setup((void **) &f);
                start(f, "{\"driver\": \"shellyCharger\", \"host\": \"10.0.0.5:80\", "
                         "\"password\": \"secret\"}");
                /* /shelly is never protected. */
                r = expect_request(f, BASE "/shelly");
                assert_int_equal(r->options.auth, HTTP_AUTH_NONE);
                fake_host_http_answer(f->h, 200, answers[i]);
                /* Gen2+ API, digest auth as "admin"; the start switches off. */
                r = expect_request(f, BASE "/rpc/Switch.Set?id=0&on=false");
                assert_int_equal(r->options.auth, HTTP_AUTH_DIGEST);
                assert_string_equal(r->options.user, "admin");
                assert_string_equal(r->options.password, "secret");
                fake_host_http_answer(f->h, 200, "{\"was_on\":true}");
                r = expect_request(f, BASE "/rpc/Switch.GetStatus?id=0");
                assert_int_equal(r->options.auth, HTTP_AUTH_DIGEST);
                fake_host_http_answer(f->h, 200, "{\"id\":0,\"output\":false,\"apower\":0.0}");
                expect_status_power(f, DEVICE_STATUS_OFF, 0);
                expect_idle(f);
                teardown((void **) &f);
        }
}

static void test_detect_gen1(void **state) {
        struct driver_fixture *f = *state;
        struct http_request *r;

        start(f, "{\"driver\": \"shellyCharger\", \"host\": \"10.0.0.5:80\", \"user\": \"u\", "
                 "\"password\": \"p\"}");
        r = expect_request(f, BASE "/shelly");
        assert_int_equal(r->options.auth, HTTP_AUTH_NONE);
        fake_host_http_answer(f->h, 200,
                              "{\"type\":\"SHPLG-S\",\"mac\":\"A1B2C3D4E5F6\",\"auth\":true,"
                              "\"fw\":\"1.14.0\"}");
        /* Gen1 API, basic auth with the configured user. */
        r = expect_request(f, G1_OFF);
        assert_int_equal(r->options.auth, HTTP_AUTH_BASIC);
        assert_string_equal(r->options.user, "u");
        assert_string_equal(r->options.password, "p");
        fake_host_http_answer(f->h, 200, "{\"ison\":false,\"has_timer\":false}");
        r = expect_request(f, G1_STATUS);
        assert_int_equal(r->options.auth, HTTP_AUTH_BASIC);
        fake_host_http_answer(f->h, 200, "{\"ison\":false,\"has_timer\":false}");
        r = expect_request(f, G1_METER);
        assert_int_equal(r->options.auth, HTTP_AUTH_BASIC);
        fake_host_http_answer(f->h, 200, "{\"power\":0.0,\"is_valid\":true,\"total\":600}");
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
        expect_idle(f);
}

/* No answer or not a Shelly: fault, and /shelly again every 10 s. */
static void test_detect_retry(void **state) {
        struct driver_fixture *f = *state;

        start(f, "{\"driver\": \"shellyCharger\", \"host\": \"10.0.0.5:80\"}");
        answer_fail(f, BASE "/shelly", -ETIMEDOUT);
        expect_status(f, DEVICE_STATUS_FAULT);
        fake_host_advance(f->h, SEC(10) - MSEC(1));
        expect_idle(f);
        fake_host_advance(f->h, MSEC(1));
        answer(f, BASE "/shelly", 200, "<html>not a shelly</html>");
        expect_no_status(f); /* still fault */
        fake_host_advance(f->h, SEC(10) - MSEC(1));
        expect_idle(f);
        fake_host_advance(f->h, MSEC(1));
        answer(f, BASE "/shelly", 404, "");
        fake_host_advance(f->h, SEC(10));
        answer(f, BASE "/shelly", 200, "{\"gen\":2}");
        answer(f, BASE "/rpc/Switch.Set?id=0&on=false", 200, "{\"was_on\":false}");
        answer(f, BASE "/rpc/Switch.GetStatus?id=0", 200, "{\"id\":0,\"output\":false}");
        expect_status(f, DEVICE_STATUS_OFF);
}

/* A configured generation skips the detection; an IPv6 host goes in brackets. */
static void test_configured_generation_ipv6(void **state) {
        struct driver_fixture *f = *state;

        start(f, "{\"driver\": \"shellyCharger\", \"host\": \"[fd00::21]:8080\", \"generation\": 2}");
        answer(f, "http://[fd00::21]:8080/rpc/Switch.Set?id=0&on=false", 200, "{\"was_on\":false}");
        expect_request(f, "http://[fd00::21]:8080/rpc/Switch.GetStatus?id=0");
}

/* ---- switching, the dead-man switch, polling ---- */

static void test_gen2_on_off(void **state) {
        struct driver_fixture *f = *state;
        const struct fake_report *rp;

        start_gen2_off(f);
        assert_false(busy(f));
        assert_int_equal(set_on(f, true), 0);
        /* At once: syncing, and the on command carries the auto-off timer. */
        rp = fake_host_next_report(f->h);
        assert_non_null(rp);
        assert_int_equal(rp->kind, FAKE_REPORT_STATUS);
        assert_int_equal(rp->value, DEVICE_STATUS_SYNCING);
        assert_null(fake_host_next_report(f->h));
        expect_request(f, G2_ON);
        assert_true(busy(f));
        fake_host_http_answer(f->h, 200, "{\"was_on\":false}");
        assert_false(busy(f)); /* only the read-back travels now */
        answer(f, G2_STATUS, 200, G2_IS(true, 812.5));
        expect_status_power(f, DEVICE_STATUS_ON, 813);

        assert_int_equal(set_on(f, false), 0);
        expect_status(f, DEVICE_STATUS_SYNCING);
        assert_true(busy(f));
        answer(f, G2_OFF, 200, "{\"was_on\":true}");
        answer(f, G2_STATUS, 200, G2_IS(false, 0.0));
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
        assert_false(busy(f));
}

/* While it should be on, the on command (auto-off 300 s) goes out again
 * every 115 s, without a status change; nothing else in between. */
static void test_gen2_renewal(void **state) {
        struct driver_fixture *f = *state;

        start_gen2_on(f);
        for (int i = 0; i < 6; i++) {
                uint64_t last = f->h->now_usec;

                assert_int_equal(fake_host_next_timer_usec(f->h), last + SEC(115));
                fake_host_advance(f->h, SEC(115) - MSEC(1));
                expect_idle(f);
                fake_host_advance(f->h, MSEC(1));
                answer(f, G2_ON, 200, "{\"was_on\":true}");
                answer(f, G2_STATUS, 200, G2_IS(true, 800));
                expect_power(f, 800);
                expect_idle(f);
        }
        /* Off: no renewal any more, a poll every 120 s. */
        assert_int_equal(set_on(f, false), 0);
        answer(f, G2_OFF, 200, "{\"was_on\":true}");
        answer(f, G2_STATUS, 200, G2_IS(false, 0));
        expect_status(f, DEVICE_STATUS_OFF);
        for (int i = 0; i < 3; i++) {
                fake_host_advance(f->h, SEC(120) - MSEC(1));
                expect_idle(f);
                fake_host_advance(f->h, MSEC(1));
                answer(f, G2_STATUS, 200, G2_IS(false, 0));
                expect_power(f, 0);
        }
}

/* A renewal that is not answered: fault, and the on command every 2 s until
 * the Shelly answers; the 300 s auto-off never runs out meanwhile. */
static void test_gen2_renewal_fails(void **state) {
        struct driver_fixture *f = *state;
        uint64_t ok_usec, cmd_usec;

        start_gen2_on(f);
        ok_usec = f->h->now_usec;
        fake_host_advance(f->h, SEC(115));
        answer_fail(f, G2_ON, -ETIMEDOUT);
        expect_status(f, DEVICE_STATUS_FAULT);
        assert_true(busy(f));
        cmd_usec = f->h->now_usec;
        for (int i = 0; i < 5; i++) {
                /* The poll (every 2 s in fault) fails too. */
                fake_host_advance(f->h, 0);
                if (f->h->http)
                        answer_fail(f, G2_STATUS, -ECONNREFUSED);
                assert_true(fake_host_next_timer_usec(f->h) <= cmd_usec + SEC(2));
                fake_host_advance(f->h, cmd_usec + SEC(2) - f->h->now_usec);
                expect_request(f, G2_ON);
                cmd_usec = f->h->now_usec;
                fake_host_http_fail(f->h, i % 2 ? -ETIMEDOUT : -ECONNREFUSED);
                expect_no_status(f);
        }
        answer_fail(f, G2_STATUS, -ECONNREFUSED);
        assert_true(f->h->now_usec < ok_usec + SEC(300));
        fake_host_advance(f->h, cmd_usec + SEC(2) - f->h->now_usec);
        answer(f, G2_ON, 200, "{\"was_on\":true}");
        assert_false(busy(f));
        answer(f, G2_STATUS, 200, G2_IS(true, 800));
        expect_status_power(f, DEVICE_STATUS_ON, 800);
        /* The next renewal counts from the last good command. */
        assert_int_equal(fake_host_next_timer_usec(f->h), f->h->now_usec + SEC(115));
}

static void test_gen1_on_off_energy(void **state) {
        struct driver_fixture *f = *state;
        double wh = -1;

        start(f, GEN1);
        answer(f, G1_OFF, 200, "{\"ison\":false,\"has_timer\":false}");
        /* Energy is unknown until the meter was read. */
        assert_int_equal(f->drv->charger->energy_wh(f->state, &wh), -ENODATA);
        answer(f, G1_STATUS, 200, "{\"ison\":false,\"has_timer\":false}");
        answer(f, G1_METER, 200, "{\"power\":0.0,\"is_valid\":true,\"total\":600}");
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
        assert_int_equal(f->drv->charger->energy_wh(f->state, &wh), 0);
        assert_true(wh == 0); /* the first total is only the reference */

        assert_int_equal(set_on(f, true), 0);
        answer(f, G1_ON, 200, "{\"ison\":true,\"has_timer\":true,\"timer_duration\":300}");
        answer(f, G1_STATUS, 200, "{\"ison\":true,\"has_timer\":true}");
        answer(f, G1_METER, 200, "{\"power\":480.2,\"is_valid\":true,\"total\":1200}");
        expect_status_power(f, DEVICE_STATUS_ON, 480);
        /* Watt-minutes: 600 more = 10 Wh. */
        assert_int_equal(f->drv->charger->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 10.0, 1e-9);
        assert_int_equal(f->drv->charger->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 0.0, 1e-9);

        /* The renewal after 115 s; the Shelly restarted meanwhile: its new total counts from 0. */
        fake_host_advance(f->h, SEC(115));
        answer(f, G1_ON, 200, "{\"ison\":true,\"has_timer\":true}");
        answer(f, G1_STATUS, 200, "{\"ison\":true,\"has_timer\":true}");
        answer(f, G1_METER, 200, "{\"power\":470,\"is_valid\":true,\"total\":120}");
        assert_int_equal(f->drv->charger->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 2.0, 1e-9);

        assert_int_equal(set_on(f, false), 0);
        answer(f, G1_OFF, 200, "{\"ison\":false,\"has_timer\":false}");
        answer(f, G1_STATUS, 200, "{\"ison\":false}");
        answer(f, G1_METER, 200, "{\"power\":0,\"is_valid\":true,\"total\":180}");
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
        assert_int_equal(f->drv->charger->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 1.0, 1e-9);
}

/* A Gen1 relay without a meter answers 404 there: energy stays unknown, not 0. */
static void test_gen1_no_meter(void **state) {
        struct driver_fixture *f = *state;
        double wh;

        start(f, GEN1);
        answer(f, G1_OFF, 200, "{\"ison\":false}");
        answer(f, G1_STATUS, 200, "{\"ison\":false}");
        answer(f, G1_METER, 404, "Not Found");
        expect_status(f, DEVICE_STATUS_OFF);
        assert_int_equal(f->drv->charger->energy_wh(f->state, &wh), -ENODATA);
        fake_host_advance(f->h, SEC(120));
        answer(f, G1_STATUS, 200, "{\"ison\":false}");
        answer(f, G1_METER, 404, "Not Found");
        expect_no_status(f);
}

/* The meter request cannot even be sent (the HTTP client refuses it): the
 * driver must still poll again later, not stop watching the switch. */
static void test_gen1_meter_not_sent(void **state) {
        struct driver_fixture *f = *state;

        start(f, GEN1);
        answer(f, G1_OFF, 200, "{\"ison\":false}");
        f->h->http_error = -ENOMEM;
        answer(f, G1_STATUS, 200, "{\"ison\":false}");
        expect_idle(f);
        assert_true(fake_host_next_timer_usec(f->h) <= f->h->now_usec + SEC(120));
        fake_host_advance(f->h, SEC(120));
        answer(f, G1_STATUS, 200, "{\"ison\":false}");
        answer(f, G1_METER, 200, "{\"power\":0,\"total\":0}");
}

/* Gen2 without metering: no apower/aenergy, so energy is unknown, not 0. */
static void test_gen2_no_meter(void **state) {
        struct driver_fixture *f = *state;
        double wh;

        start(f, GEN2);
        answer(f, G2_OFF, 200, "{\"was_on\":false}");
        answer(f, G2_STATUS, 200, "{\"id\":1,\"source\":\"init\",\"output\":false}");
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
        assert_int_equal(f->drv->charger->energy_wh(f->state, &wh), -ENODATA);

        /* With a meter: aenergy.total in Wh, differences between reads. */
        fake_host_advance(f->h, SEC(120));
        answer(f, G2_STATUS, 200, "{\"id\":1,\"output\":false,\"apower\":0,\"aenergy\":{\"total\":1000.5}}");
        fake_host_advance(f->h, SEC(120));
        answer(f, G2_STATUS, 200, "{\"id\":1,\"output\":false,\"apower\":0,\"aenergy\":{\"total\":1003}}");
        assert_int_equal(f->drv->charger->energy_wh(f->state, &wh), 0);
        assert_float_equal(wh, 2.5, 1e-9);
}

/* The relay reads differently from the command (button, timer ran out):
 * syncing, the command again, reads every 2 s until it matches. */
static void test_relay_differs(void **state) {
        struct driver_fixture *f = *state;

        start_gen2_on(f);
        fake_host_advance(f->h, SEC(60));
        expect_idle(f);
        /* Someone pressed the button: seen at the next read. */
        fake_host_advance(f->h, SEC(55));
        answer(f, G2_ON, 200, "{\"was_on\":true}");
        answer(f, G2_STATUS, 200, G2_IS(false, 0));
        expect_status_power(f, DEVICE_STATUS_SYNCING, 0);
        assert_true(busy(f));
        for (int i = 0; i < 3; i++) {
                fake_host_advance(f->h, SEC(2) - MSEC(1));
                expect_idle(f);
                fake_host_advance(f->h, MSEC(1));
                answer(f, G2_ON, 200, "{\"was_on\":false}");
                answer(f, G2_STATUS, 200, G2_IS(false, 0));
                expect_no_status(f);
        }
        fake_host_advance(f->h, SEC(2));
        answer(f, G2_ON, 200, "{\"was_on\":false}");
        answer(f, G2_STATUS, 200, G2_IS(true, 790));
        expect_status_power(f, DEVICE_STATUS_ON, 790);
        assert_false(busy(f));

        /* A switch that turned on by itself while it should be off: switched off again. */
        assert_int_equal(set_on(f, false), 0);
        answer(f, G2_OFF, 200, "{\"was_on\":true}");
        answer(f, G2_STATUS, 200, G2_IS(false, 0));
        expect_status(f, DEVICE_STATUS_OFF);
        fake_host_advance(f->h, SEC(120));
        answer(f, G2_STATUS, 200, G2_IS(true, 500));
        expect_status_power(f, DEVICE_STATUS_SYNCING, 500);
        answer(f, G2_OFF, 200, "{\"was_on\":true}");
        answer(f, G2_STATUS, 200, G2_IS(false, 0));
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
}

/* Answers that are not a Shelly's, HTTP errors, no answer: fault; the next good read recovers. */
static void test_poll_failures(void **state) {
        struct driver_fixture *f = *state;

        start_gen2_on(f);
        fake_host_advance(f->h, SEC(115));
        answer(f, G2_ON, 200, "{\"was_on\":true}");
        answer(f, G2_STATUS, 200, "{\"unexpected\":true}");
        expect_status(f, DEVICE_STATUS_FAULT);
        assert_false(busy(f)); /* the command itself went through */
        fake_host_advance(f->h, SEC(2));
        answer(f, G2_STATUS, 500, "{\"code\":-105}");
        expect_no_status(f);
        fake_host_advance(f->h, SEC(2));
        answer(f, G2_STATUS, 401, "");
        fake_host_advance(f->h, SEC(2));
        answer_fail(f, G2_STATUS, -EMSGSIZE);
        fake_host_advance(f->h, SEC(2));
        answer(f, G2_STATUS, 200, G2_IS(true, 805));
        expect_status_power(f, DEVICE_STATUS_ON, 805);
        /* Back to normal: the renewal is due 115 s after the last command. */
        assert_true(fake_host_next_timer_usec(f->h) <= f->h->now_usec + SEC(115));
}

/* A command refused (wrong password): fault, retried every 2 s. */
static void test_command_refused(void **state) {
        struct driver_fixture *f = *state;

        start(f, GEN2);
        answer(f, G2_OFF, 401, "");
        expect_status(f, DEVICE_STATUS_FAULT);
        assert_true(busy(f)); /* the off is still due */
        answer(f, G2_STATUS, 401, "");
        fake_host_advance(f->h, SEC(2) - MSEC(1));
        expect_idle(f);
        fake_host_advance(f->h, MSEC(1));
        answer(f, G2_OFF, 200, "{\"was_on\":false}");
        assert_false(busy(f));
        answer(f, G2_STATUS, 200, G2_IS(false, 0));
        expect_status(f, DEVICE_STATUS_OFF);
        /* set_on while in fault keeps fault until the Shelly answers again. */
}

/* One request at a time: a new wish while a command travels goes out right
 * after its answer. */
static void test_wish_while_in_flight(void **state) {
        struct driver_fixture *f = *state;

        start(f, GEN2);
        expect_request(f, G2_OFF);
        assert_int_equal(set_on(f, true), 0);
        expect_request(f, G2_OFF);
        fake_host_http_answer(f->h, 200, "{\"was_on\":false}");
        assert_true(busy(f));
        answer(f, G2_ON, 200, "{\"was_on\":false}");
        answer(f, G2_STATUS, 200, G2_IS(true, 300));
        expect_status_power(f, DEVICE_STATUS_ON, 300);
        assert_false(busy(f));

        /* And the other way round: off while the read-back of on travels. */
        fake_host_advance(f->h, SEC(115));
        answer(f, G2_ON, 200, "{\"was_on\":true}");
        expect_request(f, G2_STATUS);
        assert_int_equal(set_on(f, false), 0);
        assert_true(busy(f));
        fake_host_http_answer(f->h, 200, G2_IS(true, 300));
        answer(f, G2_OFF, 200, "{\"was_on\":true}");
        answer(f, G2_STATUS, 200, G2_IS(false, 0));
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
        assert_false(busy(f));
}

/* Off is never trusted to the last poll: a repeated off goes out again. */
static void test_off_always_sent(void **state) {
        struct driver_fixture *f = *state;

        start_gen2_off(f);
        assert_int_equal(set_on(f, false), 0);
        assert_true(busy(f));
        answer(f, G2_OFF, 200, "{\"was_on\":false}");
        answer(f, G2_STATUS, 200, G2_IS(false, 0));
        expect_status(f, DEVICE_STATUS_OFF);
}

/* Freeing the driver with a request in flight cancels it (teardown checks
 * that nothing is left behind). */
static void test_free_in_flight(void **state) {
        struct driver_fixture *f = *state;

        start(f, GEN2);
        expect_request(f, G2_OFF);
        f->drv->free(f->state);
        f->state = NULL;
        assert_int_equal(f->h->n_http_cancelled, 1);
}

/* The config keys of spec/drivers.md. */
/* shellyHeater: the same requests (auto-off, renewal, polling) and energy, every report in the heater
 * class (take_reports() refuses any other). */
static void test_heater(void **state) {
        struct driver_fixture *f = *state;
        double wh = -1;

        start(f, "{\"driver\": \"shellyHeater\", \"host\": \"10.0.0.5:80\", \"relay_id\": 1, \"generation\": 2}");
        assert_non_null(f->drv->heater);
        assert_null(f->drv->charger);
        answer(f, G2_OFF, 200, "{\"was_on\":false}"); /* off at start */
        answer(f, G2_STATUS, 200, "{\"id\":1,\"output\":false,\"apower\":0,\"aenergy\":{\"total\":100.0}}");
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
        assert_int_equal(set_on(f, true), 0);
        answer(f, G2_ON, 200, "{\"was_on\":false}");
        answer(f, G2_STATUS, 200, "{\"id\":1,\"output\":true,\"apower\":35.2,\"aenergy\":{\"total\":101.0}}");
        expect_status_power(f, DEVICE_STATUS_ON, 35);
        fake_host_advance(f->h, SEC(115));
        answer(f, G2_ON, 200, "{\"was_on\":true}");
        answer(f, G2_STATUS, 200, "{\"id\":1,\"output\":true,\"apower\":35.0,\"aenergy\":{\"total\":102.5}}");
        expect_power(f, 35);
        assert_int_equal(f->drv->heater->energy_wh(f->state, &wh), 0);
        assert_true(wh > 2.49 && wh < 2.51);
        assert_int_equal(set_on(f, false), 0);
        answer(f, G2_OFF, 200, "{\"was_on\":true}");
        answer(f, G2_STATUS, 200, G2_IS(false, 0));
        expect_status_power(f, DEVICE_STATUS_OFF, 0);
        expect_idle(f);
}

static void test_config_errors(void **state) {
        static const char *const bad[] = {
                "{\"driver\": \"shellyCharger\"}",
                "{\"driver\": \"shellyCharger\", \"host\": \"10.0.0.5\"}",
                "{\"driver\": \"shellyCharger\", \"host\": \"10.0.0.5:80\", \"generation\": 3}",
                "{\"driver\": \"shellyCharger\", \"host\": \"10.0.0.5:80\", \"relay_id\": -1}",
                "{\"driver\": \"shellyCharger\", \"host\": \"10.0.0.5:80\", \"relay\": 0}",
        };

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char text[512];
                struct config *c = NULL;
                struct config_errors e = {};

                snprintf(text, sizeof(text),
                         "{\"mqtt\": {\"host\": \"b:1883\"}, \"devices\": {\"charger\": %s}}", bad[i]);
                if (config_parse("/etc/homebattery/config.json", text, strlen(text), &c, &e) != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
                assert_true(e.n > 0);
                config_errors_done(&e);
                config_free(c);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_detect_gen2_and_later),
                cmocka_unit_test_setup_teardown(test_detect_gen1, setup, teardown),
                cmocka_unit_test_setup_teardown(test_detect_retry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_configured_generation_ipv6, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gen2_on_off, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gen2_renewal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gen2_renewal_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gen1_on_off_energy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gen1_no_meter, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gen1_meter_not_sent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gen2_no_meter, setup, teardown),
                cmocka_unit_test_setup_teardown(test_relay_differs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_poll_failures, setup, teardown),
                cmocka_unit_test_setup_teardown(test_command_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wish_while_in_flight, setup, teardown),
                cmocka_unit_test_setup_teardown(test_off_always_sent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
                cmocka_unit_test_setup_teardown(test_heater, setup, teardown),
                cmocka_unit_test(test_config_errors),
        };

        log_set_max_level(LOG_ERR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
