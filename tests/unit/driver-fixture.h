/* SPDX-License-Identifier: MIT */
/* One driver under test on the fake host, as the daemon makes it: a config
 * parsed from a device object, the fake host, the driver and its state. The
 * cmocka setup and teardown that every driver test shares. */
#pragma once

#include <stddef.h>

#include "config.h"
#include "fake-host.h"

struct driver_fixture {
        struct config *config;
        struct fake_host *h;
        const struct driver *drv;
        void *state;
};

/* *state := a fixture whose fake host's device is named device_name (the key under "devices"). */
int driver_fixture_setup(void **state, const char *device_name);
/* Frees the driver's state and the rest; fails the test when the host has anything left over. */
int driver_fixture_teardown(void **state);

/* Parses {"mqtt": {...}, TOP "devices": {NAME: device_json}} into f->config (TOP: "" or more keys, each
 * followed by ", "); returns config_parse()'s result, its first error in first_error (when not NULL). */
int driver_fixture_parse(struct driver_fixture *f, const char *top, const char *device_json, char *first_error,
                         size_t size);
