/* SPDX-License-Identifier: MIT */
/* The fake host of fake-host.h: every slot of struct host_ops, recording
 * what the driver asks and letting the test play the other side. */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-host.h"

/* A test that misuses the fake stops at once, saying why. */
static void must(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "fake-host: %s\n", what);
                abort();
        }
}

/* The fake does not test allocation failures. */
static void *zalloc(size_t size) {
        void *p = calloc(1, size);

        must(p, "out of memory");
        return p;
}

static struct fake_host *host_of(struct device *d) {
        return (struct fake_host *) ((char *) d - offsetof(struct fake_host, dev));
}

static void copy(char *dst, size_t size, const char *src) {
        must(!src || strlen(src) < size, "string too long for the fake's buffer");
        snprintf(dst, size, "%s", src ? src : "");
}

/* A copy in dst, or NULL for NULL. */
static const char *keep(char *dst, size_t size, const char *src) {
        copy(dst, size, src);
        return src ? dst : NULL;
}

/* Adds data to a recording buffer of `size` bytes that holds *n. */
static void append(uint8_t *buf, size_t size, size_t *n, const void *data, size_t len) {
        must(*n + len <= size, "more bytes than the fake's buffer holds");
        memcpy(buf + *n, data, len);
        *n += len;
}


static uint64_t op_now_usec(struct device *d) {
        return host_of(d)->now_usec;
}

static int op_timer_new(struct device *d, host_timer_fn fn, void *userdata, struct host_timer **ret) {
        struct fake_host *h = host_of(d);
        struct host_timer *t = zalloc(sizeof(*t));

        *t = (struct host_timer) { .next = h->timers, .host = h, .fn = fn, .userdata = userdata };
        h->timers = t;
        *ret = t;
        return 0;
}

static int op_timer_arm(struct host_timer *t, uint64_t when_usec, uint64_t accuracy_usec) {
        t->armed = true;
        t->when_usec = when_usec;
        t->seq = ++t->host->timer_seq;
        return 0;
}

static void op_timer_disarm(struct host_timer *t) {
        t->armed = false;
}

static void op_timer_free(struct host_timer *t) {
        struct host_timer **p = &t->host->timers;

        while (*p != t)
                p = &(*p)->next;
        *p = t->next;
        free(t);
}

static struct host_timer *earliest(const struct fake_host *h) {
        struct host_timer *best = NULL;

        for (struct host_timer *t = h->timers; t; t = t->next)
                if (t->armed && (!best || t->when_usec < best->when_usec ||
                                 (t->when_usec == best->when_usec && t->seq < best->seq)))
                        best = t;
        return best;
}

uint64_t fake_host_next_timer_usec(const struct fake_host *h) {
        const struct host_timer *t = earliest(h);
        return t ? t->when_usec : UINT64_MAX;
}

void fake_host_advance(struct fake_host *h, uint64_t usec) {
        uint64_t end = h->now_usec + usec;
        struct host_timer *t;

        /* One at a time: a callback may arm, disarm or free any timer. */
        while ((t = earliest(h)) && t->when_usec <= end) {
                if (t->when_usec > h->now_usec)
                        h->now_usec = t->when_usec;
                t->armed = false;
                t->fn(t->userdata);
        }
        h->now_usec = end;
}


static int op_mqtt_subscribe(struct device *d, const char *topic, int qos, transport_mqtt_handler handler,
                             void *userdata) {
        struct fake_host *h = host_of(d);

        must(h->n_subs < FAKE_HOST_SUBS_MAX, "too many subscriptions");
        h->subs[h->n_subs] = (struct fake_subscription) { .qos = qos, .handler = handler,
                                                          .userdata = userdata };
        copy(h->subs[h->n_subs++].topic, sizeof(h->subs[0].topic), topic);
        return 0;
}

static int op_mqtt_publish(struct device *d, const char *topic, const void *payload, size_t len, int qos,
                           bool retain) {
        struct fake_host *h = host_of(d);
        struct fake_publish *p;

        must(h->n_pubs < FAKE_HOST_PUBS_MAX, "too many publications");
        p = &h->pubs[h->n_pubs++];
        *p = (struct fake_publish) { .qos = qos, .retain = retain };
        copy(p->topic, sizeof(p->topic), topic);
        append((uint8_t *) p->payload, sizeof(p->payload) - 1, &p->len, payload, len);
        return 0;
}

size_t fake_host_mqtt_deliver(struct fake_host *h, const char *topic, const char *payload) {
        size_t n = 0;

        for (size_t i = 0; i < h->n_subs; i++)
                if (strcmp(h->subs[i].topic, topic) == 0) {
                        h->subs[i].handler(h->subs[i].userdata, topic, payload, strlen(payload));
                        n++;
                }
        return n;
}


static int op_http_request(struct device *d, const char *url, const struct http_options *o,
                           transport_http_done done, void *userdata, struct http_request **ret) {
        struct fake_host *h = host_of(d);
        struct http_request *r, **tail;
        int error = h->http_error;

        if (error < 0) {
                h->http_error = 0;
                return error;
        }
        r = zalloc(sizeof(*r));
        *r = (struct http_request) { .host = h, .options = o ? *o : (struct http_options) {}, .done = done,
                                     .userdata = userdata };
        copy(r->url, sizeof(r->url), url);
        r->options.method = keep(r->method, sizeof(r->method), o && o->method ? o->method : "GET");
        r->has_body = r->options.body;
        r->options.body = keep(r->body, sizeof(r->body), r->options.body);
        r->options.content_type = keep(r->content_type, sizeof(r->content_type), r->options.content_type);
        r->options.user = keep(r->user, sizeof(r->user), r->options.user);
        r->options.password = keep(r->password, sizeof(r->password), r->options.password);
        for (tail = &h->http; *tail; tail = &(*tail)->next)
                ;
        *tail = r;
        h->n_http_sent++;
        *ret = r;
        return 0;
}

static void unlink_request(struct http_request *r) {
        struct http_request **p = &r->host->http;

        while (*p != r)
                p = &(*p)->next;
        *p = r->next;
}

static void op_http_cancel(struct http_request *r) {
        unlink_request(r);
        r->host->n_http_cancelled++;
        free(r);
}

static void finish(struct fake_host *h, int error, long status, const char *body) {
        struct http_request *r = h->http;
        unsigned attempts;

        must(r, "no HTTP request in flight to answer");
        attempts = r->options.attempts ? r->options.attempts : 3;
        unlink_request(r);
        /* A 4xx is final at once; anything else used every attempt. */
        if (status >= 400 && status < 500)
                attempts = 1;
        r->done(r->userdata, &(struct http_response) { .error = error, .status = status, .body = body,
                                                       .size = strlen(body), .attempt = attempts });
        free(r);
}

void fake_host_http_answer(struct fake_host *h, long status, const char *body) {
        finish(h, 0, status, body ? body : "");
}

void fake_host_http_fail(struct fake_host *h, int error) {
        must(error < 0, "an HTTP failure is a negative errno");
        finish(h, error, 0, "");
}


static int op_ble_open(struct device *d, const char *mac, const struct ble_profile *p,
                       const struct ble_callbacks *cb, void *userdata, struct ble_link **ret) {
        struct fake_host *h = host_of(d);
        struct ble_link *l;

        must(!h->ble, "the fake has one BLE link");
        l = zalloc(sizeof(*l));
        *l = (struct ble_link) { .host = h, .profile = p, .cb = *cb, .userdata = userdata };
        copy(l->mac, sizeof(l->mac), mac);
        h->ble = *ret = l;
        return 0;
}

static int op_ble_write(struct ble_link *l, const uint8_t *data, size_t len) {
        append(l->written, sizeof(l->written), &l->n_written, data, len);
        return 0;
}

static void op_ble_close(struct ble_link *l) {
        l->host->ble = NULL;
        free(l);
}

void fake_host_ble_ready(struct fake_host *h) {
        must(h->ble, "no BLE link");
        h->ble->cb.ready(h->ble->userdata);
}

void fake_host_ble_notify(struct fake_host *h, const uint8_t *data, size_t len) {
        must(h->ble, "no BLE link");
        h->ble->cb.notification(h->ble->userdata, data, len);
}

void fake_host_ble_fail(struct fake_host *h, int error, const char *step) {
        struct ble_link *l = h->ble;

        must(l, "no BLE link");
        h->ble = NULL;
        l->cb.failed(l->userdata, error, step);
        free(l);
}


static int op_serial_open(struct device *d, const char *path, unsigned baud,
                          const struct serial_callbacks *cb, void *userdata, struct serial_port **ret) {
        struct fake_host *h = host_of(d);
        struct serial_port *p;

        must(!h->serial, "the fake has one serial port");
        p = zalloc(sizeof(*p));
        *p = (struct serial_port) { .host = h, .baud = baud, .cb = *cb, .userdata = userdata };
        copy(p->path, sizeof(p->path), path);
        h->serial = *ret = p;
        return 0;
}

static int op_serial_write(struct serial_port *p, const void *data, size_t len) {
        if (!p->open)
                return -ENOTCONN;
        append(p->written, sizeof(p->written), &p->n_written, data, len);
        return 0;
}

static bool op_serial_is_open(const struct serial_port *p) {
        return p->open;
}

static void op_serial_close(struct serial_port *p) {
        p->host->serial = NULL;
        free(p);
}

void fake_host_serial_open(struct fake_host *h) {
        must(h->serial && !h->serial->open, "no closed serial port to open");
        h->serial->open = true;
        if (h->serial->cb.opened)
                h->serial->cb.opened(h->serial->userdata);
}

void fake_host_serial_feed(struct fake_host *h, const void *data, size_t len) {
        must(h->serial && h->serial->open, "no open serial port to feed");
        h->serial->cb.data(h->serial->userdata, data, len);
}

void fake_host_serial_close(struct fake_host *h, int error) {
        must(h->serial && h->serial->open, "no open serial port to close");
        h->serial->open = false;
        if (h->serial->cb.closed)
                h->serial->cb.closed(h->serial->userdata, error);
}


static int op_bus_open(struct device *d, const char *path, const struct serial_line *line,
                       struct bus_client **ret) {
        struct fake_host *h = host_of(d);
        struct bus_client *c;

        must(!h->bus, "the fake has one bus client");
        c = zalloc(sizeof(*c));
        c->host = h;
        copy(c->path, sizeof(c->path), path);
        c->line = *line;
        h->bus = *ret = c;
        return 0;
}

static int op_bus_request(struct bus_client *c, const void *data, size_t len, uint64_t timeout_usec,
                          bus_answer_fn fn, void *userdata) {
        struct fake_bus_request *r;

        must(len > 0 && len <= BUS_REQUEST_MAX, "bus request of a bad length");
        if (c->closed_port)
                return -ENOTCONN;
        if (c->n_queued == FAKE_HOST_BUS_QUEUE)
                return -ENOBUFS;
        r = &c->queue[c->n_queued++];
        *r = (struct fake_bus_request) { .len = len, .timeout_usec = timeout_usec, .fn = fn, .userdata = userdata };
        memcpy(r->data, data, len);
        c->n_sent++;
        return 0;
}

static bool op_bus_is_open(const struct bus_client *c) {
        return !c->closed_port;
}

static void op_bus_close(struct bus_client *c) {
        c->host->bus = NULL;
        free(c);
}

const struct fake_bus_request *fake_host_bus_pending(const struct fake_host *h) {
        return h->bus && h->bus->n_queued ? &h->bus->queue[0] : NULL;
}

/* The oldest request leaves the queue before its callback runs, which may queue the next. */
static struct fake_bus_request pop(struct fake_host *h) {
        struct fake_bus_request r;

        must(h->bus && h->bus->n_queued, "no bus request waiting");
        r = h->bus->queue[0];
        memmove(h->bus->queue, h->bus->queue + 1, --h->bus->n_queued * sizeof(r));
        return r;
}

int fake_host_bus_answer(struct fake_host *h, const void *data, size_t len) {
        struct fake_bus_request *head;
        int r;

        must(h->bus && h->bus->n_queued, "no bus request waiting");
        head = &h->bus->queue[0];
        r = head->fn(head->userdata, 0, data, len);
        if (r == -EAGAIN)
                return r;
        /* The callback may have queued more behind it: the head is still the answered one. */
        memmove(h->bus->queue, h->bus->queue + 1, --h->bus->n_queued * sizeof(*head));
        return r;
}

void fake_host_bus_fail(struct fake_host *h, int error) {
        struct fake_bus_request r = pop(h);

        (void) r.fn(r.userdata, error, NULL, 0);
}

void fake_host_bus_unplug(struct fake_host *h) {
        must(h->bus, "no bus client");
        h->bus->closed_port = true;
        while (h->bus && h->bus->n_queued)
                fake_host_bus_fail(h, -ENODEV);
}

void fake_host_bus_plug(struct fake_host *h) {
        must(h->bus, "no bus client");
        h->bus->closed_port = false;
}

static void add_report(struct device *d, const struct fake_report *rp) {
        struct fake_host *h = host_of(d);

        must(h->n_reports < FAKE_HOST_REPORTS_MAX, "too many reports");
        h->reports[h->n_reports] = *rp;
        h->reports[h->n_reports++].time_usec = h->now_usec;
}

static void op_report_status(struct device *d, enum device_class c, enum device_status s) {
        add_report(d, &(struct fake_report) { .kind = FAKE_REPORT_STATUS, .cls = c, .value = (int) s });
}

static void op_report_power(struct device *d, enum device_class c, int power_w) {
        add_report(d, &(struct fake_report) { .kind = FAKE_REPORT_POWER, .cls = c, .value = power_w });
}

static void op_report_battery(struct device *d, const struct battery_record *r) {
        add_report(d, &(struct fake_report) { .kind = FAKE_REPORT_BATTERY, .record = *r });
}

static void op_report_read_failed(struct device *d, int error, const char *step) {
        struct fake_report rp = { .kind = FAKE_REPORT_READ_FAILED, .value = error };

        copy(rp.step, sizeof(rp.step), step);
        add_report(d, &rp);
}

static void op_report_consumption(struct device *d, int power_w) {
        add_report(d, &(struct fake_report) { .kind = FAKE_REPORT_CONSUMPTION, .value = power_w });
}

static void op_report_read(struct device *d, int error, const char *step) {
        struct fake_host *h = host_of(d);

        if (error < 0) {
                h->n_reads_failed++;
                h->last_read_error = error;
                copy(h->last_read_step, sizeof(h->last_read_step), step);
        } else
                h->n_reads_ok++;
}

static void op_set_read_interval(struct device *d, uint64_t interval_usec) {
        host_of(d)->read_interval_usec = interval_usec;
}

const struct fake_report *fake_host_next_report(struct fake_host *h) {
        return h->next_report < h->n_reports ? &h->reports[h->next_report++] : NULL;
}

void fake_host_take_reports(struct fake_host *h, enum device_class cls, int *ret_status, int *ret_power_w) {
        const struct fake_report *rp;

        *ret_status = -1;
        *ret_power_w = INT_MIN;
        while ((rp = fake_host_next_report(h))) {
                must(rp->cls == cls, "a report of another class");
                if (rp->kind == FAKE_REPORT_STATUS)
                        *ret_status = rp->value;
                else if (rp->kind == FAKE_REPORT_POWER)
                        *ret_power_w = rp->value;
                else
                        must(false, "a report that is neither status nor power");
        }
}

static const struct host_ops fake_ops = {
        .version = HOST_OPS_VERSION,
        .now_usec = op_now_usec,
        .timer_new = op_timer_new,
        .timer_arm = op_timer_arm,
        .timer_disarm = op_timer_disarm,
        .timer_free = op_timer_free,
        .mqtt_subscribe = op_mqtt_subscribe,
        .mqtt_publish = op_mqtt_publish,
        .http_request = op_http_request,
        .http_cancel = op_http_cancel,
        .ble_open = op_ble_open,
        .ble_write = op_ble_write,
        .ble_close = op_ble_close,
        .serial_open = op_serial_open,
        .serial_write = op_serial_write,
        .serial_is_open = op_serial_is_open,
        .serial_close = op_serial_close,
        .bus_open = op_bus_open,
        .bus_request = op_bus_request,
        .bus_is_open = op_bus_is_open,
        .bus_close = op_bus_close,
        .report_status = op_report_status,
        .report_power = op_report_power,
        .report_battery = op_report_battery,
        .report_read_failed = op_report_read_failed,
        .report_consumption = op_report_consumption,
        .report_read = op_report_read,
        .set_read_interval = op_set_read_interval,
};

struct fake_host *fake_host_new(const char *name) {
        struct fake_host *h = zalloc(sizeof(*h));

        copy(h->name, sizeof(h->name), name);
        h->dev = (struct device) { .host = &fake_ops, .name = h->name };
        h->now_usec = FAKE_HOST_START_USEC;
        return h;
}

size_t fake_host_leftovers(const struct fake_host *h) {
        size_t n = !!h->serial + !!h->ble + !!h->bus;

        for (const struct host_timer *t = h->timers; t; t = t->next)
                n++;
        for (const struct http_request *r = h->http; r; r = r->next)
                n++;
        return n;
}

void fake_host_free(struct fake_host *h) {
        if (!h)
                return;
        while (h->timers)
                op_timer_free(h->timers);
        while (h->http)
                op_http_cancel(h->http);
        free(h->serial);
        free(h->ble);
        free(h->bus);
        free(h);
}
