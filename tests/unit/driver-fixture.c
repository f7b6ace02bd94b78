/* SPDX-License-Identifier: MIT */
/* The shared fixture of the driver tests (driver-fixture.h). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "driver-fixture.h"
#include "drivers.h"

int driver_fixture_setup(void **state, const char *device_name) {
        struct driver_fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->h = fake_host_new(device_name);
        *state = f;
        return 0;
}

int driver_fixture_teardown(void **state) {
        struct driver_fixture *f = *state;

        if (f->state)
                f->drv->free(f->state);
        assert_int_equal(fake_host_leftovers(f->h), 0);
        fake_host_free(f->h);
        config_free(f->config);
        free(f);
        return 0;
}

int driver_fixture_parse(struct driver_fixture *f, const char *top, const char *device_json, char *first_error,
                         size_t size) {
        char text[2048];
        struct config_errors e = {};
        int r;

        snprintf(text, sizeof(text), "{\"mqtt\": {\"host\": \"broker.example:1883\"}, %s\"devices\": {\"%s\": %s}}",
                 top, f->h->name, device_json);
        r = config_parse("/etc/homebattery/config.json", text, strlen(text), &f->config, &e);
        if (first_error)
                snprintf(first_error, size, "%s", e.n ? e.lines[0] : "");
        config_errors_done(&e);
        return r;
}
