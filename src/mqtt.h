/* SPDX-License-Identifier: MIT */
/* The MQTT client: libmosquitto driven entirely by the sd-event loop (its
 * socket is an I/O source, keepalive runs from a timer), reconnecting by
 * itself with backoff and re-subscribing after every connect. Everything
 * else publishes and subscribes through this one client. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

struct mqtt;

struct mqtt_settings {
        const char *host;
        uint16_t port;
        const char *ca_file; /* NULL: no TLS */
        bool tls_insecure;
        const char *user;
        const char *password;
        const char *client_id;
        const char *status_topic; /* last will "offline", "online" after connect; retained */
        unsigned keepalive_s;
};

struct mqtt_callbacks {
        /* After every successful connect, once the subscriptions were sent. */
        void (*connected)(void *userdata);
        void (*disconnected)(void *userdata);
};

typedef void (*mqtt_handler)(void *userdata, const char *topic, const void *payload, size_t len);

int mqtt_new(sd_event *e, const struct mqtt_settings *s, const struct mqtt_callbacks *cb, void *userdata,
             struct mqtt **ret);
struct mqtt *mqtt_free(struct mqtt *m);
/* Starts connecting; never blocks on the network (see docs on DNS names). */
int mqtt_start(struct mqtt *m);

/* Queues a message; -ENOTCONN while not connected (the message is dropped:
 * states are re-published after every connect). */
int mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos, bool retain);
int mqtt_publish_string(struct mqtt *m, const char *topic, const char *payload, int qos, bool retain);
/* Registers a subscription that is (re-)sent after every connect. */
int mqtt_subscribe(struct mqtt *m, const char *pattern, int qos, mqtt_handler handler, void *userdata);

/* Inside a handler: whether the broker delivered the message as retained
 * (sent when subscribing, not published now). */
bool mqtt_current_is_retained(const struct mqtt *m);

bool mqtt_is_connected(const struct mqtt *m);
unsigned mqtt_get_connects(const struct mqtt *m);
/* True while messages wait to be written to the socket. */
bool mqtt_has_pending(const struct mqtt *m);
/* Sends DISCONNECT (without will) when connected. */
void mqtt_disconnect(struct mqtt *m);
