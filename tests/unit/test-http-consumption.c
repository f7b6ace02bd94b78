/* SPDX-License-Identifier: MIT */
/* Unit tests of the httpConsumption driver on the fake host: the URL, headers,
 * auth and timeout of a poll, one sample per good answer (also when the value
 * did not change), one request in flight (a poll due meanwhile is skipped),
 * no sample and a failed read on HTTP errors, timeouts, bad JSON and path
 * failures, and the config keys with presets. Built from config texts through
 * the real config parser. */

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

#include "config-test.h"
#include "config.h"
#include "drivers.h"
#include "driver-fixture.h"
#include "fake-host.h"
#include "log-setup.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
#define MSEC(ms) ((uint64_t) (ms) * UINT64_C(1000))

#define EM3_URL "http://10.0.0.7:80/status"
#define EM3 "{\"driver\": \"httpConsumption\", \"host\": \"10.0.0.7\", \"preset\": \"shelly3em\"}"
#define EM3_BODY(a, b, c) "{\"emeters\":[{\"power\":" #a "},{\"power\":" #b "},{\"power\":" #c "}]}"

static int setup(void **state) {
        return driver_fixture_setup(state, "meter");
}

static int teardown(void **state) {
        return driver_fixture_teardown(state);
}

static void start(struct driver_fixture *f, const char *device_json) {
        char text[1024];
        struct config_errors e = {};

        snprintf(text, sizeof(text), "{\"mqtt\": {\"host\": \"broker.example:1883\"}, \"devices\": {\"meter\": %s}}",
                 device_json);
        int r = config_parse("/etc/homebattery/config.json", text, strlen(text), &f->config, &e);
        dump(&e);
        config_errors_done(&e);
        assert_int_equal(r, 0);
        f->drv = f->config->devices[0].driver;
        assert_ptr_equal(f->drv, &driver_http_consumption);
        assert_int_equal(f->drv->new(&f->h->dev, f->config->devices[0].driver_config, &f->state), 0);
        assert_null(f->h->http); /* nothing before start() */
        assert_int_equal(f->drv->start(f->state), 0);
}

static struct http_request *expect_request(struct driver_fixture *f, const char *url) {
        struct http_request *r = f->h->http;
        if (!r)
                fail_msg("no request in flight, expected %s", url);
        assert_null(r->next); /* one at a time */
        assert_string_equal(r->url, url);
        assert_string_equal(r->method, "GET");
        assert_non_null(r->options.accept);
        assert_string_equal(r->options.accept, "application/json");
        assert_int_equal(r->options.attempts, 1); /* the next poll is the retry */
        return r;
}

/* The consumption samples reported since the last call, in order; returns how many. */
static size_t samples(struct driver_fixture *f, int *ret, size_t max) {
        const struct fake_report *rp;
        size_t n = 0;
        while ((rp = fake_host_next_report(f->h))) {
                assert_int_equal(rp->kind, FAKE_REPORT_CONSUMPTION);
                assert_true(n < max);
                ret[n++] = rp->value;
        }
        return n;
}

static void expect_sample(struct driver_fixture *f, int w) {
        int got[8];
        assert_int_equal(samples(f, got, 8), 1);
        assert_int_equal(got[0], w);
}

static void expect_no_sample(struct driver_fixture *f) {
        int got[8];
        assert_int_equal(samples(f, got, 8), 0);
}

/* Polls every interval; each good answer is one sample, even when unchanged. */
static void test_sample_per_poll(void **state) {
        struct driver_fixture *f = *state;

        start(f, EM3);
        struct http_request *r = expect_request(f, EM3_URL);
        assert_true(r->options.timeout_usec == SEC(2)); /* min(5 s, interval 2 s) */
        assert_int_equal(r->options.auth, HTTP_AUTH_NONE);
        fake_host_http_answer(f->h, 200, EM3_BODY(100.4, 50.3, -20.1));
        expect_sample(f, 131);
        assert_int_equal(f->h->n_reads_ok, 1);
        /* Nothing until the interval is over. */
        fake_host_advance(f->h, MSEC(1990));
        assert_null(f->h->http);
        fake_host_advance(f->h, MSEC(10));
        expect_request(f, EM3_URL);
        fake_host_http_answer(f->h, 200, EM3_BODY(100.4, 50.3, -20.1));
        expect_sample(f, 131); /* unchanged: a sample all the same */
        for (int i = 0; i < 5; i++) {
                fake_host_advance(f->h, SEC(2));
                fake_host_http_answer(f->h, 200, EM3_BODY(0, 0, -300.5));
                expect_sample(f, -301);
        }
        assert_int_equal(f->h->n_http_sent, 7);
        assert_int_equal(f->h->n_reads_ok, 7);
        assert_int_equal(f->h->n_reads_failed, 0);
}

/* A slow meter: the polls due while its request runs are skipped, not queued,
 * and its one answer is one sample. The cadence holds after it. */
static void test_one_in_flight(void **state) {
        struct driver_fixture *f = *state;

        start(f, "{\"driver\": \"httpConsumption\", \"host\": \"10.0.0.7:8080\", \"query\": \"/m?x=1%20y\", "
                 "\"path\": [\"p\"], \"interval\": 1}");
        expect_request(f, "http://10.0.0.7:8080/m?x=1%20y");
        assert_true(f->h->http->options.timeout_usec == SEC(1));
        fake_host_advance(f->h, SEC(3) + MSEC(500)); /* three polls due meanwhile */
        assert_int_equal(f->h->n_http_sent, 1);
        expect_no_sample(f);
        fake_host_http_answer(f->h, 200, "{\"p\":5}");
        expect_sample(f, 5);
        assert_null(f->h->http);
        /* The next start on the 1 s grid, not at once. */
        fake_host_advance(f->h, MSEC(499));
        assert_null(f->h->http);
        fake_host_advance(f->h, MSEC(1));
        expect_request(f, "http://10.0.0.7:8080/m?x=1%20y");
        assert_int_equal(f->h->n_http_sent, 2);
        fake_host_http_answer(f->h, 200, "{\"p\":6}");
        expect_sample(f, 6);
}

/* HTTP errors, no answer, bad JSON, a path that does not fit: no sample, a failed
 * read with the step; the next good answer is a sample again. */
static void test_errors(void **state) {
        struct driver_fixture *f = *state;
        static const struct {
                long status;
                int error;
                const char *body;
                int want_error;
                const char *want_step;
        } cases[] = {
                { 500, 0, "{\"emeters\":[]}", -EPROTO, "request" },
                { 404, 0, "not found", -EPROTO, "request" },
                { 401, 0, "", -EACCES, "request" },
                { 0, -ETIMEDOUT, "", -ETIMEDOUT, "request" },
                { 0, -ECONNREFUSED, "", -ECONNREFUSED, "request" },
                { 200, 0, "<html>garbage", -EBADMSG, "path" },
                { 200, 0, "{\"emeters\":[{\"power\":1},{\"power\":null}]}", -EINVAL, "path" },
                { 200, 0, "{\"emeters\":[{\"power\":1},{\"voltage\":230}]}", -ENOENT, "path" },
                { 200, 0, "{\"emeters\":[{\"power\":1e300}]}", -ERANGE, "path" },
                { 204, 0, "", -EBADMSG, "path" },
        };

        start(f, EM3);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                if (i > 0)
                        fake_host_advance(f->h, SEC(2));
                expect_request(f, EM3_URL);
                if (cases[i].error)
                        fake_host_http_fail(f->h, cases[i].error);
                else
                        fake_host_http_answer(f->h, cases[i].status, cases[i].body);
                expect_no_sample(f);
                assert_int_equal(f->h->n_reads_failed, i + 1);
                assert_int_equal(f->h->last_read_error, cases[i].want_error);
                assert_string_equal(f->h->last_read_step, cases[i].want_step);
        }
        fake_host_advance(f->h, SEC(2));
        fake_host_http_answer(f->h, 200, EM3_BODY(1, 2, 3));
        expect_sample(f, 6);
        assert_int_equal(f->h->n_reads_ok, 1);
}

/* A request the host refuses to send: no sample, tried again at the next interval. */
static void test_send_fails(void **state) {
        struct driver_fixture *f = *state;

        f->h->http_error = -ENOMEM;
        start(f, EM3);
        assert_null(f->h->http);
        assert_int_equal(f->h->n_reads_failed, 1);
        fake_host_advance(f->h, SEC(2));
        fake_host_http_answer(f->h, 200, EM3_BODY(1, 1, 1));
        expect_sample(f, 3);
}

/* Presets, explicit keys winning, factor, auth, IPv6, interval 60 (timeout 5 s). */
static void test_presets_and_keys(void **state) {
        struct driver_fixture *f = *state;

        start(f, "{\"driver\": \"httpConsumption\", \"host\": \"[fd00::7]:8080\", \"preset\": \"shellyPro3em\", "
                 "\"factor\": -1, \"interval\": 60, \"user\": \"admin\", \"password\": \"pw\"}");
        struct http_request *r = expect_request(f, "http://[fd00::7]:8080/rpc/EM.GetStatus?id=0");
        assert_true(r->options.timeout_usec == SEC(5));
        assert_int_equal(r->options.auth, HTTP_AUTH_ANY);
        assert_string_equal(r->user, "admin");
        assert_string_equal(r->password, "pw");
        fake_host_http_answer(f->h, 200, "{\"id\":0,\"a_act_power\":80.1,\"total_act_power\":205.7}");
        expect_sample(f, -206);
        fake_host_advance(f->h, SEC(59));
        assert_null(f->h->http);
        fake_host_advance(f->h, SEC(1));
        expect_request(f, "http://[fd00::7]:8080/rpc/EM.GetStatus?id=0");
        fake_host_http_answer(f->h, 200, "{\"total_act_power\":\"-0.5\"}");
        expect_sample(f, 1); /* −(−0.5) = 0.5 → 1: halves away from zero */
}

static void test_tasmota_kw(void **state) {
        struct driver_fixture *f = *state;

        /* Tasmota: the preset gives the query, the path is the user's; a path
         * given with a shelly preset wins over the preset's. */
        start(f, "{\"driver\": \"httpConsumption\", \"host\": \"tasmota.lan\", \"preset\": \"tasmota\", "
                 "\"path\": [\"StatusSNS\", \"SML\", \"curr_w\"], \"factor\": 1000, \"password\": \"x\"}");
        struct http_request *r = expect_request(f, "http://tasmota.lan:80/cm?cmnd=status%2010");
        assert_string_equal(r->user, "admin"); /* password alone: user admin */
        fake_host_http_answer(f->h, 200, "{\"StatusSNS\":{\"Time\":\"2025-01-01T12:00:00\",\"SML\":{\"curr_w\":0.4125}}}");
        expect_sample(f, 413);
}

static void test_preset_path_overridden(void **state) {
        struct driver_fixture *f = *state;

        start(f, "{\"driver\": \"httpConsumption\", \"host\": \"10.0.0.7\", \"preset\": \"shelly3em\", "
                 "\"path\": [\"total_power\"], \"query\": \"/status?x\"}");
        expect_request(f, "http://10.0.0.7:80/status?x");
        fake_host_http_answer(f->h, 200, "{\"total_power\":99.5,\"emeters\":[]}");
        expect_sample(f, 100);
}

/* Freed with a request in flight: it is cancelled, no sample comes later. */
static void test_free_in_flight(void **state) {
        struct driver_fixture *f = *state;

        start(f, EM3);
        expect_request(f, EM3_URL);
        f->drv->free(f->state);
        f->state = NULL;
        assert_int_equal(f->h->n_http_cancelled, 1);
        assert_null(f->h->http);
}

/* Each bad device object fails with a line naming the key. */
static void test_config_errors(void **state) {
        static const struct {
                const char *json, *key, *what;
        } bad[] = {
                { "{\"driver\": \"httpConsumption\", \"query\": \"/x\", \"path\": [\"p\"]}", "devices.meter.host", "missing" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"a b\", \"query\": \"/x\", \"path\": [\"p\"]}",
                  "devices.meter.host", "host:port" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h:0\", \"query\": \"/x\", \"path\": [\"p\"]}",
                  "devices.meter.host", "host:port" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"path\": [\"p\"]}", "devices.meter.query", "missing" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"query\": \"/x\"}", "devices.meter.path", "required" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"query\": \"x\", \"path\": [\"p\"]}",
                  "devices.meter.query", "starting with /" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"query\": \"/a b\", \"path\": [\"p\"]}",
                  "devices.meter.query", "URL-encoded" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"query\": \"/x\", \"path\": []}",
                  "devices.meter.path", "list of 1..16" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"query\": \"/x\", \"path\": \"a.b\"}",
                  "devices.meter.path", "list" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"query\": \"/x\", \"path\": [\"a\", -1]}",
                  "devices.meter.path[1]", "index" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"query\": \"/x\", \"path\": [\"a\", 1.5]}",
                  "devices.meter.path[1]", "expected a member name" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"query\": \"/x\", \"path\": [\"\"]}",
                  "devices.meter.path[0]", "non-empty" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"query\": \"/x\", \"path\": [null]}",
                  "devices.meter.path[0]", "expected" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"preset\": \"shelly3em\", \"interval\": 0}",
                  "devices.meter.interval", "range" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"preset\": \"shelly3em\", \"interval\": 3601}",
                  "devices.meter.interval", "range" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"preset\": \"shelly3em\", \"factor\": \"1\"}",
                  "devices.meter.factor", "number" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"preset\": \"shelly3EM\"}",
                  "devices.meter.preset", "shelly3em" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"preset\": \"tasmota\"}", "devices.meter.path",
                  "required with preset \"tasmota\"" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"preset\": \"shelly3em\", \"topic\": \"x\"}",
                  "devices.meter.topic", "unknown key" },
                { "{\"driver\": \"httpConsumption\", \"host\": \"h\", \"preset\": \"shelly3em\", \"user\": 5}",
                  "devices.meter.user", "string" },
        };

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char text[1024];
                struct config *c = NULL;
                struct config_errors e = {};

                snprintf(text, sizeof(text), "{\"mqtt\": {\"host\": \"b:1883\"}, \"devices\": {\"meter\": %s}}",
                         bad[i].json);
                if (config_parse("/etc/homebattery/config.json", text, strlen(text), &c, &e) >= 0)
                        fail_msg("accepted: %s", bad[i].json);
                if (!find_line(e.lines, e.n, bad[i].key, bad[i].what)) {
                        dump(&e);
                        fail_msg("no line with '%s' and '%s' for %s", bad[i].key, bad[i].what, bad[i].json);
                }
                config_errors_done(&e);
                config_free(c);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sample_per_poll, setup, teardown),
                cmocka_unit_test_setup_teardown(test_one_in_flight, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_send_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_presets_and_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tasmota_kw, setup, teardown),
                cmocka_unit_test_setup_teardown(test_preset_path_overridden, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
                cmocka_unit_test(test_config_errors),
        };

        log_set_max_level(LOG_ERR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
