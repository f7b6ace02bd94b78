/* SPDX-License-Identifier: MIT */
/* The types of the transports a driver may use (the calls are in
 * homebattery/host.h). They all run on the daemon's one event loop and never
 * block; a driver gets its data through callbacks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/device.h"

/* MQTT: subscribe through the daemon's own client. The subscription is
 * re-sent after every reconnect; the handler gets the raw payload. */
typedef void (*transport_mqtt_handler)(void *userdata, const char *topic, const void *payload, size_t len);

/* HTTP client (libcurl multi, in the loop). A request ends with exactly one
 * call of `done` unless it is cancelled first. Network errors and HTTP 5xx
 * are retried (attempts, retry_delay_usec); a 4xx is final. */
enum http_auth {
        HTTP_AUTH_NONE,
        HTTP_AUTH_BASIC,
        HTTP_AUTH_DIGEST,
        HTTP_AUTH_ANY, /* whatever the server asks for (libcurl's CURLAUTH_ANY) */
};

struct http_options {
        const char *method;       /* "GET" (default) or "POST" */
        const char *content_type; /* for POST */
        const char *body;         /* for POST, copied */
        enum http_auth auth;
        const char *user;
        const char *password;
        unsigned attempts;         /* default 3 */
        uint64_t retry_delay_usec; /* default 1 s */
        uint64_t timeout_usec;     /* default 5 s; connect timeout 3 s */
        size_t max_response;       /* default 64 KiB: larger answers fail with -EMSGSIZE */
        const char *accept;        /* an Accept: header, e.g. "application/json"; none when NULL */
};

struct http_response {
        int error;       /* 0, or -errno: -ETIMEDOUT, -ECONNREFUSED, -EMSGSIZE, -EPROTO, ... */
        long status;     /* HTTP status, 0 when none */
        const char *body; /* NUL-terminated, size bytes */
        size_t size;
        unsigned attempt; /* 1-based: which attempt this answer is from */
};

struct http_request;
typedef void (*transport_http_done)(void *userdata, const struct http_response *r);


/* Bluetooth LE through BlueZ (sd-bus, asynchronous, each call with its own
 * timeout). A link is queued: one discovery/connection at a time across all
 * devices. Once connected the transport has found the characteristics and
 * enabled notifications; the driver then writes requests and gets
 * notifications until it closes the link. */
struct ble_profile {
        const char *service_uuids[3]; /* tried in order; 128-bit, lower case */
        const char *notify_uuids[3];  /* parallel to service_uuids */
        const char *write_uuids[3];
        bool write_command; /* WriteValue type "command" (without response), else "request" */
};

struct ble_callbacks {
        void (*ready)(void *userdata);
        void (*notification)(void *userdata, const uint8_t *data, size_t len);
        /* The link failed or dropped; `step` names what failed. The link is
         * gone: do not close it. */
        void (*failed)(void *userdata, int error, const char *step);
};

struct ble_link;

/* Serial port (VE.Direct): raw 8N1 at the given baud rate, non-blocking, read
 * in the loop. When the port vanishes or fails (USB unplugged) it is closed,
 * `closed` is called, and opening is retried every few seconds. */
struct serial_callbacks {
        void (*opened)(void *userdata);
        void (*data)(void *userdata, const uint8_t *data, size_t len);
        void (*closed)(void *userdata, int error);
};

struct serial_port;

/* An RS485 bus (or any request/response serial line): one object per port,
 * shared by every device that names it. One request in flight at a time, FIFO
 * over all devices; the receive buffer is discarded before each request, and
 * the bus stays idle at least 20 ms after an answer or a timeout. Bytes that
 * come with no request in flight are dropped. When the port is lost the
 * request in flight and the queued ones fail with -ENODEV, new requests fail
 * at once with -ENOTCONN, and the port is reopened every 3 s. */
enum serial_parity {
        SERIAL_PARITY_NONE,
        SERIAL_PARITY_EVEN,
        SERIAL_PARITY_ODD,
};

/* Devices on one bus must speak the same family (checked with the config). */
enum serial_family {
        SERIAL_FAMILY_NONE, /* a port owned by one device alone (VE.Direct) */
        SERIAL_FAMILY_MODBUS_RTU,
        SERIAL_FAMILY_PYLONTECH,
};

struct serial_line {
        unsigned baud;             /* 9600, 19200, 38400, 115200 */
        enum serial_parity parity;
        unsigned stop_bits;        /* 1 or 2; data bits are always 8 */
        enum serial_family family;
};

#define BUS_REQUEST_MAX 64  /* bytes of one request */
#define BUS_ANSWER_MAX 512  /* bytes kept for one answer */

/* The answer to one request. With error 0 it gets every byte received since
 * the request went out: return -EAGAIN to wait for more, anything else ends
 * the request (the driver has used or rejected the bytes). It is called once
 * with error < 0 when the request ends without an answer (-ETIMEDOUT,
 * -ENODEV: the port was lost, -EMSGSIZE: more than BUS_ANSWER_MAX bytes); the
 * return value is then ignored. It is never called from inside a bus call. */
typedef int (*bus_answer_fn)(void *userdata, int error, const uint8_t *data, size_t len);

struct bus_client;
