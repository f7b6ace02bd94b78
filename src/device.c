/* SPDX-License-Identifier: MIT */
/* Device instances and the daemon's one implementation of the host interface
 * (include/homebattery/host.h): timers on the sd-event loop, the transports,
 * and the reports, which are queued and handed to the control core from the
 * loop so that a driver's report never re-enters a control call. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "control.h"
#include "device.h"
#include "homebattery/host.h"
#include "homebattery/log.h"
#include "mqtt.h"
#include "transport-ble.h"
#include "transport-bus.h"
#include "transport-http.h"
#include "transport-serial.h"

enum report_kind {
        REPORT_STATUS,
        REPORT_POWER,
        REPORT_BATTERY,
        REPORT_READ_FAILED,
        REPORT_CONSUMPTION,
        REPORT_READ,
};

struct report {
        struct report *next;
        enum report_kind kind;
        enum device_class cls;
        int value; /* status, power in W or error */
        char step[48];
        struct battery_record record;
};

struct device_entry {
        struct device dev; /* what the driver sees */
        const struct device_services *services;
        char *name;
        const struct driver *driver;
        void *state;
        struct control_device *control; /* owned by the control core */
        bool stopping;                  /* reports are dropped from here on */
        struct report *reports, **reports_tail;
        sd_event_source *deliver;
};

struct host_timer {
        sd_event_source *source;
        host_timer_fn fn;
        void *userdata;
};

static const struct host_ops daemon_host_ops;

static struct device_entry *entry_of(const struct device *d) {
        return (struct device_entry *) ((char *) d - offsetof(struct device_entry, dev));
}

static uint64_t loop_now_usec(const struct device_entry *e) {
        uint64_t t = 0;

        (void) sd_event_now(e->services->event, CLOCK_MONOTONIC, &t);
        return t;
}

static uint64_t host_now_usec(struct device *d) {
        return loop_now_usec(entry_of(d));
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct host_timer *t = userdata;

        t->fn(t->userdata);
        return 0;
}

static int host_timer_new_impl(struct device *d, host_timer_fn fn, void *userdata, struct host_timer **ret) {
        struct host_timer *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -ENOMEM;
        t->fn = fn;
        t->userdata = userdata;
        r = sd_event_add_time(entry_of(d)->services->event, &t->source, CLOCK_MONOTONIC, UINT64_MAX, 0,
                              on_timer, t);
        if (r < 0) {
                free(t);
                return r;
        }
        (void) sd_event_source_set_description(t->source, d->name);
        (void) sd_event_source_set_enabled(t->source, SD_EVENT_OFF);
        *ret = t;
        return 0;
}

static int host_timer_arm_impl(struct host_timer *t, uint64_t when_usec, uint64_t accuracy_usec) {
        int r;

        r = sd_event_source_set_time(t->source, when_usec);
        if (r >= 0)
                r = sd_event_source_set_time_accuracy(t->source, accuracy_usec ? accuracy_usec : 1);
        if (r >= 0)
                r = sd_event_source_set_enabled(t->source, SD_EVENT_ONESHOT);
        return r;
}

static void host_timer_disarm_impl(struct host_timer *t) {
        (void) sd_event_source_set_enabled(t->source, SD_EVENT_OFF);
}

static void host_timer_free_impl(struct host_timer *t) {
        sd_event_source_disable_unref(t->source);
        free(t);
}

static int host_mqtt_subscribe(struct device *d, const char *topic, int qos, transport_mqtt_handler handler,
                               void *userdata) {
        return mqtt_subscribe(entry_of(d)->services->mqtt, topic, qos, handler, userdata);
}

static int host_mqtt_publish(struct device *d, const char *topic, const void *payload, size_t len, int qos,
                             bool retain) {
        return mqtt_publish(entry_of(d)->services->mqtt, topic, payload, len, qos, retain);
}

static int host_http_request(struct device *d, const char *url, const struct http_options *o,
                             transport_http_done done, void *userdata, struct http_request **ret) {
        return http_client_request(entry_of(d)->services->http, url, o, done, userdata, ret);
}

static int host_ble_open(struct device *d, const char *mac, const struct ble_profile *p,
                         const struct ble_callbacks *cb, void *userdata, struct ble_link **ret) {
        return ble_manager_open(entry_of(d)->services->ble, d->name, mac, p, cb, userdata, ret);
}

static int host_serial_open(struct device *d, const char *path, unsigned baud, const struct serial_callbacks *cb,
                            void *userdata, struct serial_port **ret) {
        return serial_port_open(entry_of(d)->services->event, d->name, path, baud, cb, userdata, ret);
}

static int host_bus_open(struct device *d, const char *path, const struct serial_line *line,
                         struct bus_client **ret) {
        return bus_client_open(entry_of(d)->services->event, d->name, path, line, ret);
}

/* Hands the queued reports to the control core, in order. A report that
 * makes the control core call a driver may queue new ones: they are handled
 * in this same pass. */
static int on_deliver(sd_event_source *s, void *userdata) {
        struct device_entry *e = userdata;
        struct report *rp;

        while ((rp = e->reports)) {
                uint64_t now = loop_now_usec(e);

                e->reports = rp->next;
                if (!e->reports)
                        e->reports_tail = &e->reports;
                switch (rp->kind) {
                case REPORT_STATUS:
                        control_device_status(e->control, rp->cls, (enum device_status) rp->value, now);
                        break;
                case REPORT_POWER:
                        control_device_power(e->control, rp->cls, rp->value, now);
                        break;
                case REPORT_BATTERY:
                        control_device_battery(e->control, &rp->record, now);
                        break;
                case REPORT_READ_FAILED:
                        control_device_read_failed(e->control, now, rp->value, rp->step[0] ? rp->step : NULL);
                        break;
                case REPORT_CONSUMPTION:
                        control_device_consumption(e->control, rp->value, now);
                        break;
                case REPORT_READ:
                        if (rp->value < 0)
                                control_device_read_failed(e->control, now, rp->value, rp->step[0] ? rp->step : NULL);
                        else
                                control_device_read_ok(e->control, now);
                        break;
                }
                free(rp);
        }
        return 0;
}

static void queue_report(struct device *d, const struct report *tmpl) {
        struct device_entry *e = entry_of(d);
        struct report *rp;

        if (e->stopping)
                return;
        rp = malloc(sizeof(*rp));
        if (!rp) {
                log_error(d->name, "Out of memory: a report was lost");
                return;
        }
        *rp = *tmpl;
        rp->next = NULL;
        *e->reports_tail = rp;
        e->reports_tail = &rp->next;
        if (sd_event_source_set_enabled(e->deliver, SD_EVENT_ONESHOT) < 0)
                log_error(d->name, "Cannot schedule the delivery of a report");
}

static void host_report_status(struct device *d, enum device_class c, enum device_status s) {
        queue_report(d, &(struct report) { .kind = REPORT_STATUS, .cls = c, .value = (int) s });
}

static void host_report_power(struct device *d, enum device_class c, int power_w) {
        queue_report(d, &(struct report) { .kind = REPORT_POWER, .cls = c, .value = power_w });
}

static void host_report_battery(struct device *d, const struct battery_record *r) {
        queue_report(d, &(struct report) { .kind = REPORT_BATTERY, .record = *r });
}

static void host_report_read_failed(struct device *d, int error, const char *step) {
        struct report rp = { .kind = REPORT_READ_FAILED, .value = error };

        log_warning_errno(error, d->name, "Read failed at %s: %m", step ? step : "?");
        snprintf(rp.step, sizeof(rp.step), "%s", step ? step : "");
        queue_report(d, &rp);
}

static void host_report_consumption(struct device *d, int power_w) {
        queue_report(d, &(struct report) { .kind = REPORT_CONSUMPTION, .value = power_w });
}

static void host_report_read(struct device *d, int error, const char *step) {
        struct report rp = { .kind = REPORT_READ, .value = error };

        snprintf(rp.step, sizeof(rp.step), "%s", step ? step : "");
        queue_report(d, &rp);
}

static void host_set_read_interval(struct device *d, uint64_t interval_usec) {
        control_device_set_read_interval(entry_of(d)->control, interval_usec);
}

static const struct host_ops daemon_host_ops = {
        .version = HOST_OPS_VERSION,
        .now_usec = host_now_usec,
        .timer_new = host_timer_new_impl,
        .timer_arm = host_timer_arm_impl,
        .timer_disarm = host_timer_disarm_impl,
        .timer_free = host_timer_free_impl,
        .mqtt_subscribe = host_mqtt_subscribe,
        .mqtt_publish = host_mqtt_publish,
        .http_request = host_http_request,
        .http_cancel = http_request_cancel,
        .ble_open = host_ble_open,
        .ble_write = ble_link_write,
        .ble_close = ble_link_close,
        .serial_open = host_serial_open,
        .serial_write = serial_port_write,
        .serial_is_open = serial_port_is_open,
        .serial_close = serial_port_close,
        .report_status = host_report_status,
        .report_power = host_report_power,
        .report_battery = host_report_battery,
        .report_read_failed = host_report_read_failed,
        .report_consumption = host_report_consumption,
        .report_read = host_report_read,
        .set_read_interval = host_set_read_interval,
        .bus_open = host_bus_open,
        .bus_request = bus_client_request,
        .bus_is_open = bus_client_is_open,
        .bus_close = bus_client_close,
};

static void entry_free(struct device_entry *e) {
        while (e->reports) {
                struct report *rp = e->reports;
                e->reports = rp->next;
                free(rp);
        }
        sd_event_source_disable_unref(e->deliver);
        free(e->name);
        free(e);
}

int device_new(const struct device_services *services, const char *name, const struct driver *drv,
               const void *config, struct device **ret) {
        struct device_entry *e;
        int r;

        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->services = services;
        e->driver = drv;
        e->reports_tail = &e->reports;
        e->name = strdup(name);
        if (!e->name) {
                entry_free(e);
                return -ENOMEM;
        }
        e->dev = (struct device) { .host = &daemon_host_ops, .name = e->name };
        r = sd_event_add_defer(services->event, &e->deliver, on_deliver, e);
        if (r >= 0)
                r = sd_event_source_set_enabled(e->deliver, SD_EVENT_OFF);
        /* The record first: new() may already set the read interval. */
        if (r >= 0)
                r = control_add_device(services->control, name, drv, NULL, &e->control);
        if (r >= 0)
                r = drv->new(&e->dev, config, &e->state);
        if (r < 0) {
                entry_free(e);
                return r;
        }
        control_device_set_state(e->control, e->state);
        *ret = &e->dev;
        return 0;
}

struct device *device_free(struct device *d) {
        struct device_entry *e;

        if (!d)
                return NULL;
        e = entry_of(d);
        e->stopping = true;
        if (e->driver->free)
                e->driver->free(e->state);
        entry_free(e);
        return NULL;
}

int device_start(struct device *d) {
        struct device_entry *e = entry_of(d);

        return e->driver->start ? e->driver->start(e->state) : 0;
}

const struct driver *device_get_driver(const struct device *d) {
        return entry_of(d)->driver;
}

void *device_get_state(const struct device *d) {
        return entry_of(d)->state;
}

