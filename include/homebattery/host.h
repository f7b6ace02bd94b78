/* SPDX-License-Identifier: MIT */
/* The host interface: everything a driver instance may ask of the program that
 * runs it (time, timers, MQTT, HTTP, BLE, serial ports, and the reports that
 * feed the control core) as one versioned const ops table. The daemon
 * implements it once (src/device.c); unit tests implement a fake one. Drivers
 * call the inline wrappers below, never a library of the loop directly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/device.h"
#include "homebattery/transport.h"

/* Bumped whenever a slot changes meaning. */
#define HOST_OPS_VERSION 1

struct host_timer;
/* A timer fires once per arming, from the loop, never inside another call. */
typedef void (*host_timer_fn)(void *userdata);

struct host_ops {
        unsigned version; /* HOST_OPS_VERSION */

        /* CLOCK_MONOTONIC in µs, constant during one loop iteration. */
        uint64_t (*now_usec)(struct device *d);

        int (*timer_new)(struct device *d, host_timer_fn fn, void *userdata, struct host_timer **ret);
        /* (Re)arms the timer for `when_usec` (now_usec's clock); `accuracy_usec` lets the loop
         * coalesce wake-ups. Arming an armed timer moves it. */
        int (*timer_arm)(struct host_timer *t, uint64_t when_usec, uint64_t accuracy_usec);
        void (*timer_disarm)(struct host_timer *t);
        void (*timer_free)(struct host_timer *t);

        int (*mqtt_subscribe)(struct device *d, const char *topic, int qos, transport_mqtt_handler handler,
                              void *userdata);
        int (*mqtt_publish)(struct device *d, const char *topic, const void *payload, size_t len, int qos,
                            bool retain);

        int (*http_request)(struct device *d, const char *url, const struct http_options *o, transport_http_done done,
                            void *userdata, struct http_request **ret);
        void (*http_cancel)(struct http_request *r);

        int (*ble_open)(struct device *d, const char *mac, const struct ble_profile *p, const struct ble_callbacks *cb,
                        void *userdata, struct ble_link **ret);
        int (*ble_write)(struct ble_link *l, const uint8_t *data, size_t len);
        void (*ble_close)(struct ble_link *l);

        int (*serial_open)(struct device *d, const char *path, unsigned baud, const struct serial_callbacks *cb,
                           void *userdata, struct serial_port **ret);
        int (*serial_write)(struct serial_port *p, const void *data, size_t len);
        bool (*serial_is_open)(const struct serial_port *p);
        void (*serial_close)(struct serial_port *p);

        /* Reports. They never call back into the driver: the host queues them
         * and hands them to the control core after the driver's current call
         * has returned (see include/homebattery/driver.h). */
        void (*report_status)(struct device *d, enum device_class c, enum device_status s);
        void (*report_power)(struct device *d, enum device_class c, int power_w);
        void (*report_battery)(struct device *d, const struct battery_record *r);
        void (*report_read_failed)(struct device *d, int error, const char *step);
        void (*report_consumption)(struct device *d, int power_w);
        /* Devices that are not batteries: the outcome of an exchange, for the
         * device's last good read, failure count and last error. */
        void (*report_read)(struct device *d, int error, const char *step);
        /* Batteries, from new(): how often the class asks for a read (60 s
         * unless set). A host op, so that a test host can run new(). */
        void (*set_read_interval)(struct device *d, uint64_t interval_usec);

        /* Request/response serial buses (RS485), shared by every device that
         * names the same port (see transport.h). bus_request() queues a copy
         * of the request: -ENOTCONN while the port is closed, -ENOBUFS when
         * the bus queue is full; `timeout_usec` counts from the moment the
         * last byte is queued for the port. Closing a client drops its queued
         * requests without calling them back. */
        int (*bus_open)(struct device *d, const char *path, const struct serial_line *line, struct bus_client **ret);
        int (*bus_request)(struct bus_client *c, const void *data, size_t len, uint64_t timeout_usec,
                           bus_answer_fn fn, void *userdata);
        bool (*bus_is_open)(const struct bus_client *c);
        void (*bus_close)(struct bus_client *c); /* not from inside its answer callback */
};

static inline const char *device_get_name(const struct device *d) {
        return d->name;
}

static inline uint64_t device_now_usec(const struct device *d) {
        return d->host->now_usec((struct device *) d);
}

static inline int host_timer_new(struct device *d, host_timer_fn fn, void *userdata, struct host_timer **ret) {
        return d->host->timer_new(d, fn, userdata, ret);
}

/* The timer functions take the device too, so that a NULL timer is fine where
 * it is harmless (disarm, free). */
static inline int host_timer_arm(struct device *d, struct host_timer *t, uint64_t when_usec, uint64_t accuracy_usec) {
        return d->host->timer_arm(t, when_usec, accuracy_usec);
}

static inline void host_timer_disarm(struct device *d, struct host_timer *t) {
        if (t)
                d->host->timer_disarm(t);
}

static inline struct host_timer *host_timer_free(struct device *d, struct host_timer *t) {
        if (t)
                d->host->timer_free(t);
        return NULL;
}

static inline int transport_mqtt_subscribe(struct device *d, const char *topic, int qos,
                                           transport_mqtt_handler handler, void *userdata) {
        return d->host->mqtt_subscribe(d, topic, qos, handler, userdata);
}

static inline int transport_mqtt_publish(struct device *d, const char *topic, const void *payload, size_t len,
                                         int qos, bool retain) {
        return d->host->mqtt_publish(d, topic, payload, len, qos, retain);
}

static inline int transport_http_request(struct device *d, const char *url, const struct http_options *o,
                                         transport_http_done done, void *userdata, struct http_request **ret) {
        return d->host->http_request(d, url, o, done, userdata, ret);
}

static inline void transport_http_cancel(struct device *d, struct http_request *r) {
        if (r)
                d->host->http_cancel(r);
}

static inline int transport_ble_open(struct device *d, const char *mac, const struct ble_profile *p,
                                     const struct ble_callbacks *cb, void *userdata, struct ble_link **ret) {
        return d->host->ble_open(d, mac, p, cb, userdata, ret);
}

static inline int transport_ble_write(struct device *d, struct ble_link *l, const uint8_t *data, size_t len) {
        return d->host->ble_write(l, data, len);
}

static inline void transport_ble_close(struct device *d, struct ble_link *l) {
        if (l)
                d->host->ble_close(l);
}

static inline int transport_serial_open(struct device *d, const char *path, unsigned baud,
                                        const struct serial_callbacks *cb, void *userdata, struct serial_port **ret) {
        return d->host->serial_open(d, path, baud, cb, userdata, ret);
}

static inline int transport_serial_write(struct device *d, struct serial_port *p, const void *data, size_t len) {
        return d->host->serial_write(p, data, len);
}

static inline bool transport_serial_is_open(struct device *d, const struct serial_port *p) {
        return p && d->host->serial_is_open(p);
}

static inline void transport_serial_close(struct device *d, struct serial_port *p) {
        if (p)
                d->host->serial_close(p);
}

static inline void device_report_status(struct device *d, enum device_class c, enum device_status s) {
        d->host->report_status(d, c, s);
}

static inline void device_report_power(struct device *d, enum device_class c, int power_w) {
        d->host->report_power(d, c, power_w);
}

static inline void device_report_battery(struct device *d, const struct battery_record *r) {
        d->host->report_battery(d, r);
}

static inline void device_report_read_failed(struct device *d, int error, const char *step) {
        d->host->report_read_failed(d, error, step);
}

static inline void device_report_consumption(struct device *d, int power_w) {
        d->host->report_consumption(d, power_w);
}

/* Devices that are not batteries (a battery's read ends with
 * device_report_battery() or _read_failed()): the outcome of each exchange
 * with the device, for its "last good read", failure count and last error
 * (status page, /api/status). 0: good data came; < 0: it failed at `step`.
 * Nothing is logged here: the driver logs failures itself, rate-limited. */
static inline void device_report_read(struct device *d, int error, const char *step) {
        d->host->report_read(d, error, step);
}

static inline void device_set_read_interval(struct device *d, uint64_t interval_usec) {
        d->host->set_read_interval(d, interval_usec);
}

static inline int transport_bus_open(struct device *d, const char *path, const struct serial_line *line,
                                     struct bus_client **ret) {
        return d->host->bus_open(d, path, line, ret);
}

static inline int transport_bus_request(struct device *d, struct bus_client *c, const void *data, size_t len,
                                        uint64_t timeout_usec, bus_answer_fn fn, void *userdata) {
        return d->host->bus_request(c, data, len, timeout_usec, fn, userdata);
}

static inline bool transport_bus_is_open(struct device *d, const struct bus_client *c) {
        return c && d->host->bus_is_open(c);
}

static inline void transport_bus_close(struct device *d, struct bus_client *c) {
        if (c)
                d->host->bus_close(c);
}
