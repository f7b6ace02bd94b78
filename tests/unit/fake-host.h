/* SPDX-License-Identifier: MIT */
/* A fake host (include/homebattery/host.h) for driver unit tests: a manual
 * clock whose timers fire only in fake_host_advance(), HTTP requests that the
 * test answers, one serial port and one BLE link that the test drives, MQTT
 * subscriptions it can deliver to, and every report recorded in order. No
 * loop: everything happens inside the call the test makes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/host.h"

/* The monotonic clock is far from zero when the daemon runs, and drivers use
 * 0 as "never": the fake clock starts here. */
#define FAKE_HOST_START_USEC (UINT64_C(7000) * UINT64_C(1000000))

#define FAKE_HOST_REPORTS_MAX 512
#define FAKE_HOST_SUBS_MAX 16
#define FAKE_HOST_PUBS_MAX 64
#define FAKE_HOST_WRITTEN_MAX 4096

enum fake_report_kind {
        FAKE_REPORT_STATUS,
        FAKE_REPORT_POWER,
        FAKE_REPORT_BATTERY,
        FAKE_REPORT_READ_FAILED,
        FAKE_REPORT_CONSUMPTION,
};

struct fake_report {
        enum fake_report_kind kind;
        enum device_class cls; /* status and power */
        int value;             /* status, power in W, or error */
        char step[48];         /* read_failed */
        struct battery_record record;
        uint64_t time_usec; /* fake clock when reported */
};

struct host_timer {
        struct host_timer *next;
        struct fake_host *host;
        host_timer_fn fn;
        void *userdata;
        bool armed;
        uint64_t when_usec;
        uint64_t seq; /* arming order: equal times fire in it */
};

/* One HTTP request in flight, with copies of what the driver passed. */
struct http_request {
        struct http_request *next;
        struct fake_host *host;
        char url[512];
        char method[8]; /* "GET" when the driver left it NULL */
        bool has_body;
        char body[1024];
        char content_type[64], user[64], password[64];
        struct http_options options; /* its strings point to the copies above */
        transport_http_done done;
        void *userdata;
};

/* The driver's serial port; the test opens and closes "the device" behind it. */
struct serial_port {
        struct fake_host *host;
        char path[256];
        unsigned baud;
        struct serial_callbacks cb;
        void *userdata;
        bool open;
        size_t n_written;
        uint8_t written[FAKE_HOST_WRITTEN_MAX];
};

/* The driver's bus client: its requests wait here until the test answers. */
#define FAKE_HOST_BUS_QUEUE 8
struct fake_bus_request {
        uint8_t data[BUS_REQUEST_MAX];
        size_t len;
        uint64_t timeout_usec;
        bus_answer_fn fn;
        void *userdata;
};

struct bus_client {
        struct fake_host *host;
        char path[256];
        struct serial_line line;
        bool closed_port; /* the test unplugged the port: requests fail with -ENOTCONN */
        struct fake_bus_request queue[FAKE_HOST_BUS_QUEUE];
        size_t n_queued;
        unsigned n_sent;
};

struct ble_link {
        struct fake_host *host;
        char mac[18];
        const struct ble_profile *profile;
        struct ble_callbacks cb;
        void *userdata;
        size_t n_written;
        uint8_t written[FAKE_HOST_WRITTEN_MAX];
};

struct fake_subscription {
        char topic[128];
        int qos;
        transport_mqtt_handler handler;
        void *userdata;
};

struct fake_publish {
        char topic[128];
        char payload[512]; /* NUL-terminated copy */
        size_t len;
        int qos;
        bool retain;
};

struct fake_host {
        struct device dev; /* what the driver is given */
        char name[64];
        uint64_t now_usec;

        struct host_timer *timers;
        uint64_t timer_seq;

        struct http_request *http; /* in flight, oldest first (a list through ->next) */
        unsigned n_http_sent, n_http_cancelled;
        int http_error; /* when < 0, the next http_request() returns it (once) */

        struct fake_subscription subs[FAKE_HOST_SUBS_MAX];
        size_t n_subs;
        struct fake_publish pubs[FAKE_HOST_PUBS_MAX];
        size_t n_pubs;

        struct serial_port *serial; /* the one the driver opened, NULL when none */
        struct ble_link *ble;
        struct bus_client *bus;

        struct fake_report reports[FAKE_HOST_REPORTS_MAX];
        size_t n_reports;
        size_t next_report; /* fake_host_next_report()'s cursor */
        /* report_read(): kept apart from the ordered reports above. */
        unsigned n_reads_ok, n_reads_failed;
        int last_read_error;
        char last_read_step[48];
        uint64_t read_interval_usec; /* set_read_interval(), 0 until called */
};

struct fake_host *fake_host_new(const char *name);
/* Frees what the driver left behind too; check fake_host_leftovers() first. */
void fake_host_free(struct fake_host *h);
/* Timers, requests, ports and links the driver still holds. */
size_t fake_host_leftovers(const struct fake_host *h);

/* Moves the clock forward, firing every timer that falls due on the way in
 * time order (the clock reads the timer's time while it runs). 0 fires the
 * timers that are due now. */
void fake_host_advance(struct fake_host *h, uint64_t usec);
/* The earliest armed timer, UINT64_MAX when none is armed. */
uint64_t fake_host_next_timer_usec(const struct fake_host *h);

/* Answers the oldest request in flight (which must exist) as if after the
 * last of its attempts; the driver may send the next one from `done`. */
void fake_host_http_answer(struct fake_host *h, long status, const char *body);
void fake_host_http_fail(struct fake_host *h, int error);

/* The port's other end: the device appears (opened), sends bytes, vanishes. */
void fake_host_serial_open(struct fake_host *h);
void fake_host_serial_feed(struct fake_host *h, const void *data, size_t len);
void fake_host_serial_close(struct fake_host *h, int error);

/* The bus's other end. The oldest request waiting (which must exist); answer
 * returns what the driver's callback returned and removes the request unless
 * that was -EAGAIN; fail ends it with `error` (-ETIMEDOUT, -ENODEV, ...). */
const struct fake_bus_request *fake_host_bus_pending(const struct fake_host *h);
int fake_host_bus_answer(struct fake_host *h, const void *data, size_t len);
void fake_host_bus_fail(struct fake_host *h, int error);
/* Unplugged: the waiting requests fail with -ENODEV, new ones with -ENOTCONN, until plugged in again. */
void fake_host_bus_unplug(struct fake_host *h);
void fake_host_bus_plug(struct fake_host *h);

void fake_host_ble_ready(struct fake_host *h);
void fake_host_ble_notify(struct fake_host *h, const uint8_t *data, size_t len);
/* The link is gone afterwards, as with the real transport. */
void fake_host_ble_fail(struct fake_host *h, int error, const char *step);

/* Calls every handler subscribed to exactly `topic`; returns how many. */
size_t fake_host_mqtt_deliver(struct fake_host *h, const char *topic, const char *payload);

/* The next report not yet returned, NULL when there is none. */
const struct fake_report *fake_host_next_report(struct fake_host *h);
/* Consumes the reports made so far, which must all be status or power
 * reports of class `cls`: the last status (-1 when none) and the last power
 * (INT_MIN when none). */
void fake_host_take_reports(struct fake_host *h, enum device_class cls, int *ret_status, int *ret_power_w);
