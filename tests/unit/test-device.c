/* SPDX-License-Identifier: MIT */
/* Unit tests of the daemon's side of the driver seam (src/device.c) with a
 * real sd-event loop and a real control core: a report that a driver makes
 * inside a call from the control core reaches the control core only from the
 * loop (include/homebattery/driver.h: reports never re-enter), reports arrive
 * in the order they were made, reports of a freed device are dropped, and the
 * read interval a driver sets in new() reaches its control record. The
 * drivers are test-only ones defined here: they are not in the registry, so
 * the config has no devices section and the test creates the device itself. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "device.h"
#include "log-setup.h"
#include "outputs.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
#define CHA DEVICE_CLASS_CHARGER

/* ---- the test-only drivers ---- */

/* One report of a script that set_on() plays. */
struct step {
        bool status; /* else power */
        int value;
};

struct probe {
        /* given */
        struct control *ctl;
        const struct step *script;
        size_t n_script;
        uint64_t read_interval_usec; /* 0: leave the default */
        /* seen */
        struct device *d;
        unsigned n_set_on, n_reads, n_free;
        enum device_status status_inside;  /* control's view of the charger, inside set_on after reporting */
        size_t n_outputs_inside;           /* output events control had made by then */
};

static size_t n_outputs(void);

static int probe_new(struct device *d, const void *config, void **ret_state) {
        struct probe *p = (struct probe *) config;

        p->d = d;
        if (p->read_interval_usec)
                device_set_read_interval(d, p->read_interval_usec);
        *ret_state = p;
        return 0;
}

/* Reports from free() too: they must be dropped, not delivered to a gone device. */
static void probe_free(void *state) {
        struct probe *p = state;

        p->n_free++;
        device_report_status(p->d, CHA, DEVICE_STATUS_FAULT);
        device_report_power(p->d, CHA, 999);
}

static void probe_free_config(void *config) {
}

/* Reports its new state back from inside the call, as shellyCharger does. */
static int probe_set_on(void *state, bool on) {
        struct probe *p = state;
        struct control_device_info info;

        p->n_set_on++;
        if (p->script)
                for (size_t i = 0; i < p->n_script; i++)
                        if (p->script[i].status)
                                device_report_status(p->d, CHA, (enum device_status) p->script[i].value);
                        else
                                device_report_power(p->d, CHA, p->script[i].value);
        else {
                device_report_status(p->d, CHA, on ? DEVICE_STATUS_ON : DEVICE_STATUS_OFF);
                device_report_power(p->d, CHA, on ? 500 : 0);
        }
        control_get_device(p->ctl, 0, &info);
        p->status_inside = info.status[CHA];
        p->n_outputs_inside = n_outputs();
        return 0;
}

static int probe_read(void *state) {
        struct probe *p = state;
        struct battery_record r = { .voltage_v = 26.5, .current_a = 1, .soc_pct = 60, .remaining_ah = 60,
                                    .n_cells = 1, .cells_v = { 3.3 } };

        p->n_reads++;
        device_report_battery(p->d, &r);
        return 0;
}

static const struct switch_ops probe_charger_ops = { .set_on = probe_set_on };
static const struct battery_ops probe_battery_ops = { .read = probe_read };

static const struct driver drv_charger = {
        .version = DRIVER_VERSION,
        .name = "testCharger",
        .classes = CLASS_BIT(DEVICE_CLASS_CHARGER),
        .parse_config = NULL, /* never in a config file */
        .free_config = probe_free_config,
        .new = probe_new,
        .free = probe_free,
        .charger = &probe_charger_ops,
};

static const struct driver drv_battery = {
        .version = DRIVER_VERSION,
        .name = "testBattery",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .free_config = probe_free_config,
        .new = probe_new,
        .free = probe_free,
        .battery = &probe_battery_ops,
};

/* ---- recording outputs: the device's published state ---- */

struct event {
        bool power; /* device_power, else device_state */
        enum device_status status;
        int power_w;
};

static struct event events[64];
static size_t n_events;

static size_t n_outputs(void) {
        return n_events;
}

static void out_device_state(void *u, enum device_class c, const char *name, enum device_status s,
                             int power_w) {
        assert_true(n_events < sizeof(events) / sizeof(events[0]));
        events[n_events++] = (struct event) { .status = s, .power_w = power_w };
}

static void out_device_power(void *u, enum device_class c, const char *name, int power_w) {
        assert_true(n_events < sizeof(events) / sizeof(events[0]));
        events[n_events++] = (struct event) { .power = true, .power_w = power_w };
}

static const struct outputs_ops recorder_ops = {
        .device_state = out_device_state,
        .device_power = out_device_power,
};

/* ---- fixture ---- */

struct fixture {
        sd_event *event;
        struct config *config;
        struct outputs out;
        struct control *ctl;
        struct device_services services;
        struct device *dev;
        struct probe probe;
        uint64_t start_usec;
};

static int setup(void **state) {
        static const char text[] = "{\"mqtt\": {\"host\": \"broker.example:1883\"}, "
                                   "\"general\": {\"default_mode\": \"charge\"}}";
        struct fixture *f = calloc(1, sizeof(*f));
        struct config_errors e = {};

        assert_non_null(f);
        assert_int_equal(config_parse("/etc/homebattery/config.json", text, strlen(text), &f->config, &e),
                         0);
        config_errors_done(&e);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_true(sd_event_now(f->event, CLOCK_MONOTONIC, &f->start_usec) >= 0);
        f->out = (struct outputs) { .ops = &recorder_ops };
        assert_int_equal(control_new(f->config, f->start_usec, &f->out, &f->ctl), 0);
        f->services = (struct device_services) { .event = f->event, .control = f->ctl };
        f->probe.ctl = f->ctl;
        n_events = 0;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        device_free(f->dev);
        control_free(f->ctl);
        sd_event_unref(f->event);
        config_free(f->config);
        free(f);
        return 0;
}

static void create(struct fixture *f, const struct driver *drv) {
        assert_int_equal(device_new(&f->services, "probe", drv, &f->probe, &f->dev), 0);
        assert_ptr_equal(f->probe.d, f->dev);
        assert_ptr_equal(device_get_state(f->dev), &f->probe);
        assert_ptr_equal(device_get_driver(f->dev), drv);
}

static enum device_status control_status(struct fixture *f) {
        struct control_device_info info;

        control_get_device(f->ctl, 0, &info);
        return info.status[CHA];
}

/* ---- tests ---- */

/* (a) The control core switches the charger on (default mode charge); the
 * driver reports "on" from inside set_on. Neither inside the call nor after
 * the control call returned has the control core seen it: one loop
 * iteration delivers it. */
static void test_report_not_reentrant(void **state) {
        struct fixture *f = *state;
        enum device_status before;

        create(f, &drv_charger);
        before = control_status(f);
        assert_int_not_equal(before, DEVICE_STATUS_ON);
        n_events = 0;
        control_tick(f->ctl, f->start_usec, true);
        assert_int_equal(f->probe.n_set_on, 1);
        assert_int_equal(f->probe.status_inside, before);
        assert_int_equal(f->probe.n_outputs_inside, 0);
        assert_int_equal(control_status(f), before);
        assert_int_equal(n_events, 0);

        assert_true(sd_event_run(f->event, 0) > 0);
        assert_int_equal(control_status(f), DEVICE_STATUS_ON);
        assert_true(n_events > 0);
        assert_int_equal(events[n_events - 1].status, DEVICE_STATUS_ON);
        assert_int_equal(events[n_events - 1].power_w, 500);
        /* Nothing else is pending. */
        n_events = 0;
        assert_int_equal(sd_event_run(f->event, 0), 0);
        assert_int_equal(n_events, 0);
}

/* (b) Several reports from one call arrive in the order they were made. */
static void test_reports_in_order(void **state) {
        struct fixture *f = *state;
        static const struct step script[] = {
                { false, 100 },
                { true, DEVICE_STATUS_ON },
                { false, 200 },
                { true, DEVICE_STATUS_FAULT },
                { false, 0 },
                { true, DEVICE_STATUS_OFF },
        };
        /* What the control core publishes for that sequence, in order. */
        static const struct event expected[] = {
                { true, 0, 100 },
                { false, DEVICE_STATUS_SYNCING, 100 },
                { false, DEVICE_STATUS_ON, 100 },
                { true, 0, 200 },
                { false, DEVICE_STATUS_ON, 200 },
                { false, DEVICE_STATUS_FAULT, 200 },
                { true, 0, 0 },
                { false, DEVICE_STATUS_FAULT, 0 },
                { false, DEVICE_STATUS_OFF, 0 },
        };

        f->probe.script = script;
        f->probe.n_script = sizeof(script) / sizeof(script[0]);
        create(f, &drv_charger);
        assert_int_equal(control_status(f), DEVICE_STATUS_SYNCING);
        n_events = 0;
        control_tick(f->ctl, f->start_usec, true);
        assert_int_equal(n_events, 0);
        assert_true(sd_event_run(f->event, 0) > 0);
        if (n_events != sizeof(expected) / sizeof(expected[0]))
                fail_msg("%zu events, expected %zu", n_events, sizeof(expected) / sizeof(expected[0]));
        for (size_t i = 0; i < n_events; i++)
                if (events[i].power != expected[i].power || events[i].power_w != expected[i].power_w ||
                    (!events[i].power && events[i].status != expected[i].status))
                        fail_msg("event %zu: %s %s %d W, expected %s %s %d W", i,
                                 events[i].power ? "power" : "state",
                                 device_status_to_string(events[i].status), events[i].power_w,
                                 expected[i].power ? "power" : "state",
                                 device_status_to_string(expected[i].status), expected[i].power_w);
}

/* (c) Reports still queued when the device is freed, and reports its driver
 * makes from free(), are dropped; the loop runs on without them. */
static void test_reports_after_free_dropped(void **state) {
        struct fixture *f = *state;
        enum device_status before;

        create(f, &drv_charger);
        before = control_status(f);
        n_events = 0;
        control_tick(f->ctl, f->start_usec, true);
        assert_int_equal(f->probe.n_set_on, 1);
        f->dev = device_free(f->dev);
        assert_null(f->dev);
        assert_int_equal(f->probe.n_free, 1);
        assert_true(sd_event_run(f->event, 0) >= 0);
        assert_int_equal(sd_event_run(f->event, 0), 0);
        assert_int_equal(n_events, 0);
        assert_int_equal(control_status(f), before);
}

/* (d) A read interval set in new() is the one the control core reads with:
 * 5 s here instead of the default 60 s. The read's answer, made inside the
 * tick, also arrives only from the loop. */
static void test_read_interval_from_new(void **state) {
        struct fixture *f = *state;
        struct control_device_info info;
        uint64_t t = f->start_usec;

        f->probe.read_interval_usec = SEC(5);
        create(f, &drv_battery);
        control_tick(f->ctl, t, true);
        assert_int_equal(f->probe.n_reads, 1);
        control_get_device(f->ctl, 0, &info);
        assert_null(info.record);
        assert_true(sd_event_run(f->event, 0) > 0);
        control_get_device(f->ctl, 0, &info);
        assert_non_null(info.record);
        assert_true(info.record->voltage_v == 26.5);

        control_tick(f->ctl, t + SEC(5) - 1, true);
        assert_int_equal(f->probe.n_reads, 1);
        control_tick(f->ctl, t + SEC(5), true);
        assert_int_equal(f->probe.n_reads, 2);
        assert_true(sd_event_run(f->event, 0) > 0);
        control_tick(f->ctl, t + SEC(10), true);
        assert_int_equal(f->probe.n_reads, 3);
}

/* The same without device_set_read_interval(): the default interval, so the
 * test above does see the driver's value. */
static void test_read_interval_default(void **state) {
        struct fixture *f = *state;
        uint64_t t = f->start_usec;

        create(f, &drv_battery);
        control_tick(f->ctl, t, true);
        assert_true(sd_event_run(f->event, 0) > 0);
        control_tick(f->ctl, t + SEC(5), true);
        assert_int_equal(f->probe.n_reads, 1);
        control_tick(f->ctl, t + SEC(60), true);
        assert_int_equal(f->probe.n_reads, 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_report_not_reentrant, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reports_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reports_after_free_dropped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_interval_from_new, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_interval_default, setup, teardown),
        };

        log_set_max_level(LOG_ERR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
