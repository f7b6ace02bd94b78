/* SPDX-License-Identifier: MIT */
/* The DTU glue on the fake host, through the ahoyDtu driver: a limit that
 * netzero decides goes out at once (docs/netzero.md, "From reading to
 * command"), or right after the request in flight, never at the next tick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "drivers/drivers.h"
#include "fake-host.h"
#include "homebattery/time-util.h"

#define SEC(s) ((uint64_t) (s) * USEC_PER_SEC)
#define READ_URL "http://10.0.0.2:80/api/inverter/id/0"
#define CTRL_URL "http://10.0.0.2:80/api/ctrl"

struct fixture {
        char lut_path[64];
        struct config *config;
        struct fake_host *h;
        const struct driver *drv;
        void *state;
};

static int setup(void **state) {
        /* percent;watt: start percent 10, 100..800 W. */
        static const char lut[] = "10;100\n20;200\n50;500\n100;800\n";
        struct fixture *f = calloc(1, sizeof(*f));
        struct config_errors e = {};
        char text[512];
        int fd;

        assert_non_null(f);
        snprintf(f->lut_path, sizeof(f->lut_path), "/tmp/test-dtu-glue-XXXXXX");
        fd = mkstemp(f->lut_path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, lut, sizeof(lut) - 1), (ssize_t) sizeof(lut) - 1);
        close(fd);
        snprintf(text, sizeof(text),
                 "{\"mqtt\": {\"host\": \"broker.example:1883\"}, \"general\": {\"inverter_power\": 100}, \"devices\": {\"inv\": "
                 "{\"driver\": \"ahoyDtu\", \"host\": \"10.0.0.2:80\", \"id\": 0, \"power_lut\": \"%s\"}}}",
                 f->lut_path);
        int r = config_parse("/etc/homebattery/config.json", text, strlen(text), &f->config, &e);
        for (size_t i = 0; i < e.n; i++)
                print_error("%s\n", e.lines[i]);
        config_errors_done(&e);
        assert_int_equal(r, 0);
        f->h = fake_host_new("inv");
        f->drv = f->config->devices[0].driver;
        assert_ptr_equal(f->drv, &driver_ahoy_dtu);
        assert_int_equal(f->drv->new(&f->h->dev, f->config->devices[0].driver_config, &f->state), 0);
        assert_int_equal(f->drv->start(f->state), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        f->drv->free(f->state);
        assert_int_equal(fake_host_leftovers(f->h), 0);
        fake_host_free(f->h);
        config_free(f->config);
        unlink(f->lut_path);
        free(f);
        return 0;
}

/* The one request in flight is to `url` (a command: its body contains `body_part`). */
static void expect(struct fixture *f, const char *url, const char *body_part) {
        struct http_request *r = f->h->http;

        if (!r)
                fail_msg("no request in flight at +%llu us, expected %s %s",
                         (unsigned long long) (f->h->now_usec - FAKE_HOST_START_USEC), url,
                         body_part ? body_part : "");
        assert_null(r->next);
        assert_string_equal(r->url, url);
        if (body_part && !strstr(r->body, body_part))
                fail_msg("body %s does not contain %s", r->body, body_part);
}

static void read_on(struct fixture *f, int percent) {
        char body[128];

        expect(f, READ_URL, NULL);
        snprintf(body, sizeof(body), "{\"status\":2,\"power_limit_read\":%d,\"power_limit_ack\":true}", percent);
        fake_host_http_answer(f->h, 200, body);
}

static void set_power(struct fixture *f, int power_w) {
        int applied;

        assert_int_equal(f->drv->inverter->set_power(f->state, power_w, &applied), 0);
}

static void test_limit_goes_out_at_once(void **state) {
        struct fixture *f = *state;
        uint64_t t;

        /* Target on; the first read finds it on at 100 %, so the start limit (10 %) is due. */
        assert_int_equal(f->drv->inverter->set_on(f->state, true), 0);
        fake_host_advance(f->h, 0);
        read_on(f, 100);
        /* The read ended: the limit goes out now, not at the tick 1 s later. */
        t = f->h->now_usec;
        fake_host_advance(f->h, 0);
        assert_int_equal(f->h->now_usec, t);
        expect(f, CTRL_URL, "\"val\":10");
        fake_host_http_answer(f->h, 200, "{\"success\":true}");

        /* The next tick reads it acknowledged. */
        fake_host_advance(f->h, SEC(1));
        read_on(f, 10);
        fake_host_advance(f->h, SEC(0));
        assert_null(f->h->http);

        /* Netzero asks for 500 W half a second later: the limit goes out at once. */
        fake_host_advance(f->h, SEC(1) / 2);
        t = f->h->now_usec;
        set_power(f, 500);
        fake_host_advance(f->h, 0);
        assert_int_equal(f->h->now_usec, t);
        expect(f, CTRL_URL, "\"val\":50");
        fake_host_http_answer(f->h, 200, "{\"success\":true}");
        fake_host_advance(f->h, SEC(1));
        read_on(f, 50);

        /* A read in flight when netzero decides (synced, it reads every 30 s):
         * the limit follows its answer. */
        fake_host_advance(f->h, SEC(30));
        expect(f, READ_URL, NULL);
        set_power(f, 200);
        fake_host_advance(f->h, 0);
        expect(f, READ_URL, NULL); /* one request at a time */
        read_on(f, 50);
        t = f->h->now_usec;
        fake_host_advance(f->h, 0);
        assert_int_equal(f->h->now_usec, t);
        expect(f, CTRL_URL, "\"val\":20");
        fake_host_http_answer(f->h, 200, "{\"success\":true}");
}

static void test_same_step_sends_nothing(void **state) {
        struct fixture *f = *state;

        assert_int_equal(f->drv->inverter->set_on(f->state, true), 0);
        fake_host_advance(f->h, 0);
        read_on(f, 10);
        fake_host_advance(f->h, 0);
        assert_null(f->h->http);
        /* 120 W is the 10 % step already set: no command, no early read. */
        set_power(f, 120);
        fake_host_advance(f->h, 0);
        assert_null(f->h->http);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_limit_goes_out_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_same_step_sends_nothing, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
