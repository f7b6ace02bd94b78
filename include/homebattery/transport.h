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
