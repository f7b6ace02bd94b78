/* SPDX-License-Identifier: MIT */
/* Device instances: create the driver state, and route the driver's reports
 * to the control core with the loop's current time. */

#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "device.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"
#include "manager.h"
#include "mqtt.h"
#include "transport-ble.h"
#include "transport-http.h"

struct device {
        struct manager *manager;
        char *name;
        const struct driver *driver;
        void *state;
        struct control_device *control;
        uint64_t read_interval_usec; /* set in new(), before the control core knows the device */
};

int device_new(struct manager *m, const char *name, const struct driver *drv, const void *config,
               struct device **ret) {
        struct device *d;
        int r;

        if (!drv->new)
                return -EOPNOTSUPP;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->manager = m;
        d->driver = drv;
        d->name = strdup(name);
        if (!d->name) {
                free(d);
                return -ENOMEM;
        }
        r = drv->new(d, config, &d->state);
        if (r < 0) {
                free(d->name);
                free(d);
                return r;
        }
        *ret = d;
        return 0;
}

struct device *device_free(struct device *d) {
        if (!d)
                return NULL;
        if (d->driver->free)
                d->driver->free(d->state);
        free(d->name);
        free(d);
        return NULL;
}

int device_start(struct device *d) {
        return d->driver->start ? d->driver->start(d->state) : 0;
}

const struct driver *device_get_driver(const struct device *d) {
        return d->driver;
}

void *device_get_state(const struct device *d) {
        return d->state;
}

void device_set_control(struct device *d, struct control_device *cd) {
        d->control = cd;
        if (cd && d->read_interval_usec)
                control_device_set_read_interval(cd, d->read_interval_usec);
}

const char *device_get_name(const struct device *d) {
        return d->name;
}

struct sd_event *device_get_event(const struct device *d) {
        return manager_get_event(d->manager);
}

uint64_t device_now_usec(const struct device *d) {
        return manager_now_usec(d->manager);
}

void device_set_read_interval(struct device *d, uint64_t interval_usec) {
        d->read_interval_usec = interval_usec;
        if (d->control)
                control_device_set_read_interval(d->control, interval_usec);
}

void device_report_status(struct device *d, enum device_class c, enum device_status s) {
        if (d->control)
                control_device_status(d->control, c, s, device_now_usec(d));
}

void device_report_power(struct device *d, enum device_class c, int power_w) {
        if (d->control)
                control_device_power(d->control, c, power_w, device_now_usec(d));
}

void device_report_battery(struct device *d, const struct battery_record *r) {
        if (d->control)
                control_device_battery(d->control, r, device_now_usec(d));
}

void device_report_read_failed(struct device *d, int error, const char *step) {
        log_warning_errno(error, d->name, "Read failed at %s: %m", step ? step : "?");
        if (d->control)
                control_device_read_failed(d->control, device_now_usec(d), error, step);
}

void device_report_consumption(struct device *d, int power_w) {
        if (d->control)
                control_device_consumption(d->control, power_w, device_now_usec(d));
}

void device_report_read(struct device *d, int error, const char *step) {
        if (!d->control)
                return;
        if (error < 0)
                control_device_read_failed(d->control, device_now_usec(d), error, step);
        else
                control_device_read_ok(d->control, device_now_usec(d));
}

int transport_mqtt_subscribe(struct device *d, const char *pattern, int qos, transport_mqtt_handler handler,
                             void *userdata) {
        struct mqtt *mqtt = manager_get_mqtt(d->manager);
        if (!mqtt)
                return -ENOTCONN;
        return mqtt_subscribe(mqtt, pattern, qos, handler, userdata);
}

int transport_http_request(struct device *d, const char *url, const struct http_options *o, transport_http_done done,
                           void *userdata, struct http_request **ret) {
        struct http_client *c = manager_get_http(d->manager);
        if (!c)
                return -ENOTCONN;
        return http_client_request(c, url, o, done, userdata, ret);
}

int transport_ble_open(struct device *d, const char *mac, const struct ble_profile *p, const struct ble_callbacks *cb,
                       void *userdata, struct ble_link **ret) {
        struct ble_manager *bm = manager_get_ble(d->manager);
        if (!bm)
                return -ENOTCONN;
        return ble_manager_open(bm, d, mac, p, cb, userdata, ret);
}
