/* SPDX-License-Identifier: MIT */
/* RS485 buses on the loop: one object per port, shared by every
 * request/response device that names it, so that only one request is on the
 * wire at a time (FIFO over all devices), with an idle gap after each answer
 * and a response timeout per request. The port itself is transport-serial.c's
 * (non-blocking, reopened every 3 s after an unplug). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "homebattery/log.h"
#include "homebattery/time-util.h"
#include "transport-bus.h"
#include "transport-serial.h"

/* Modbus asks for 3.5 character times (4 ms at 9600 baud); USB adapters
 * switch their driver enable late and need more. */
#define GAP_USEC (20 * USEC_PER_MSEC)
/* Requests waiting on one bus; beyond that the caller is told at once. */
#define QUEUE_MAX 32

struct bus_request {
        struct bus_client *client; /* NULL once the client closed: the answer is dropped */
        uint8_t data[BUS_REQUEST_MAX];
        size_t len;
        uint64_t timeout_usec;
        bus_answer_fn fn;
        void *userdata;
};

struct bus {
        struct bus *next;
        sd_event *event;
        char *path;
        char *name; /* for the log */
        struct serial_line line;
        unsigned n_clients;
        struct serial_port *port;
        sd_event_source *timer; /* the response timeout, or the end of the idle gap */

        struct bus_request queue[QUEUE_MAX]; /* a ring */
        size_t head, n_queued;
        bool in_flight;
        struct bus_request cur;
        uint8_t rx[BUS_ANSWER_MAX];
        size_t rx_len;
        uint64_t idle_usec; /* no request goes out before this */
};

struct bus_client {
        struct bus *bus;
};

/* Every bus of the process; a handful at most. */
static struct bus *buses;

static uint64_t now_usec(struct bus *b) {
        uint64_t t = 0;

        (void) sd_event_now(b->event, CLOCK_MONOTONIC, &t);
        return t;
}

static void arm(struct bus *b, uint64_t when) {
        if (sd_event_source_set_time(b->timer, when) < 0 ||
            sd_event_source_set_enabled(b->timer, SD_EVENT_ONESHOT) < 0)
                log_error(b->name, "Cannot arm the bus timer: the bus stalls");
}

/* The next request goes out when the bus has been idle long enough. */
static void kick(struct bus *b) {
        if (b->in_flight || b->n_queued == 0)
                return;
        uint64_t t = now_usec(b);
        arm(b, b->idle_usec > t ? b->idle_usec : t);
}

/* Ends the request in flight: the caller has called it back already. */
static void end_request(struct bus *b) {
        b->in_flight = false;
        b->rx_len = 0;
        b->idle_usec = now_usec(b) + GAP_USEC;
        (void) sd_event_source_set_enabled(b->timer, SD_EVENT_OFF);
        kick(b);
}

static void fail_current(struct bus *b, int error) {
        struct bus_request r = b->cur;

        b->in_flight = false;
        /* Never NULL: a callback may memcpy() what it got, and memcpy(dst, NULL, 0) is undefined. */
        if (r.client)
                (void) r.fn(r.userdata, error, (const uint8_t *) "", 0);
}

static void send_next(struct bus *b) {
        int r;

        b->cur = b->queue[b->head];
        b->head = (b->head + 1) % QUEUE_MAX;
        b->n_queued--;
        b->in_flight = true;
        b->rx_len = 0;
        /* Late answers and line noise must not be taken for this answer. */
        serial_port_discard_input(b->port);
        r = serial_port_write(b->port, b->cur.data, b->cur.len);
        if (r < 0) {
                log_debug_errno(r, b->name, "Cannot queue a request: %m");
                fail_current(b, r);
                end_request(b);
                return;
        }
        arm(b, now_usec(b) + b->cur.timeout_usec);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct bus *b = userdata;

        if (b->in_flight) {
                fail_current(b, -ETIMEDOUT);
                end_request(b);
                return 0;
        }
        /* Requests of devices that went away are not sent. */
        while (b->n_queued > 0 && !b->queue[b->head].client) {
                b->head = (b->head + 1) % QUEUE_MAX;
                b->n_queued--;
        }
        if (b->n_queued > 0 && serial_port_is_open(b->port))
                send_next(b);
        return 0;
}

static void on_data(void *userdata, const uint8_t *data, size_t len) {
        struct bus *b = userdata;
        int r = -EAGAIN;

        if (!b->in_flight)
                return; /* nobody asked: noise or a late answer */
        if (b->rx_len + len > sizeof(b->rx)) {
                fail_current(b, -EMSGSIZE);
                end_request(b);
                return;
        }
        memcpy(b->rx + b->rx_len, data, len);
        b->rx_len += len;
        if (b->cur.client)
                r = b->cur.fn(b->cur.userdata, 0, b->rx, b->rx_len);
        /* A closed client's answer still ends when its timeout does. */
        if (r != -EAGAIN && b->in_flight) {
                b->in_flight = false;
                end_request(b);
        }
}

static void fail_queued(struct bus *b, int error) {
        while (b->n_queued > 0) {
                struct bus_request r = b->queue[b->head];

                b->head = (b->head + 1) % QUEUE_MAX;
                b->n_queued--;
                if (r.client)
                        (void) r.fn(r.userdata, error, (const uint8_t *) "", 0);
        }
}

static void on_closed(void *userdata, int error) {
        struct bus *b = userdata;

        if (b->in_flight) {
                fail_current(b, -ENODEV);
                end_request(b);
        }
        fail_queued(b, -ENODEV);
}

static const struct serial_callbacks bus_callbacks = {
        .data = on_data,
        .closed = on_closed,
};

static void bus_free(struct bus *b) {
        for (struct bus **p = &buses; *p; p = &(*p)->next)
                if (*p == b) {
                        *p = b->next;
                        break;
                }
        serial_port_close(b->port);
        sd_event_source_disable_unref(b->timer);
        sd_event_unref(b->event);
        free(b->path);
        free(b->name);
        free(b);
}

static int bus_new(sd_event *e, const char *path, const struct serial_line *line, struct bus **ret) {
        struct bus *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(e);
        b->line = *line;
        b->path = strdup(path);
        if (!b->path || asprintf(&b->name, "bus %s", path) < 0) {
                b->name = NULL;
                bus_free(b);
                return -ENOMEM;
        }
        /* 1 ms: an accuracy of 0 would mean sd-event's default, 250 ms, on every gap and timeout. */
        r = sd_event_add_time(e, &b->timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC, on_timer, b);
        if (r >= 0)
                r = sd_event_source_set_enabled(b->timer, SD_EVENT_OFF);
        if (r >= 0)
                r = serial_port_open_line(e, b->name, path, line, &bus_callbacks, b, &b->port);
        if (r < 0) {
                bus_free(b);
                return r;
        }
        b->next = buses;
        buses = b;
        *ret = b;
        return 0;
}

int bus_client_open(sd_event *e, const char *device, const char *path, const struct serial_line *line,
                    struct bus_client **ret) {
        struct bus *b;
        struct bus_client *c;
        int r;

        for (b = buses; b; b = b->next)
                if (b->event == e && strcmp(b->path, path) == 0)
                        break;
        if (b && (b->line.baud != line->baud || b->line.parity != line->parity ||
                  b->line.stop_bits != line->stop_bits || b->line.family != line->family))
                /* The config check refuses this; a bus has one setting. */
                return log_error_errno(-EINVAL, device, "%s is already open with other settings", path);
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        if (!b && (r = bus_new(e, path, line, &b)) < 0) {
                free(c);
                return r;
        }
        b->n_clients++;
        c->bus = b;
        *ret = c;
        return 0;
}

int bus_client_request(struct bus_client *c, const void *data, size_t len, uint64_t timeout_usec,
                       bus_answer_fn fn, void *userdata) {
        struct bus *b = c->bus;

        if (len == 0 || len > BUS_REQUEST_MAX || !fn)
                return -EINVAL;
        if (!serial_port_is_open(b->port))
                return -ENOTCONN;
        if (b->n_queued >= QUEUE_MAX)
                return -ENOBUFS;
        struct bus_request *r = &b->queue[(b->head + b->n_queued) % QUEUE_MAX];
        *r = (struct bus_request) { .client = c, .len = len, .timeout_usec = timeout_usec, .fn = fn,
                                    .userdata = userdata };
        memcpy(r->data, data, len);
        b->n_queued++;
        /* Sent from the loop (the timer), never inside this call. */
        kick(b);
        return 0;
}

bool bus_client_is_open(const struct bus_client *c) {
        return c && serial_port_is_open(c->bus->port);
}

void bus_client_close(struct bus_client *c) {
        struct bus *b;

        if (!c)
                return;
        b = c->bus;
        for (size_t i = 0; i < b->n_queued; i++) {
                struct bus_request *r = &b->queue[(b->head + i) % QUEUE_MAX];
                if (r->client == c)
                        r->client = NULL;
        }
        if (b->in_flight && b->cur.client == c)
                b->cur.client = NULL;
        free(c);
        /* Devices are freed from the loop, never from a bus callback. */
        if (--b->n_clients == 0)
                bus_free(b);
}
