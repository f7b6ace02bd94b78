/* SPDX-License-Identifier: MIT */
/* libmosquitto glued to sd-event. libmosquitto never gets a thread of its own:
 * its socket is watched by the loop (EPOLLOUT only while it wants to write),
 * mosquitto_loop_misc() runs from a 1 s timer for keepalive, and a failed or
 * lost connection is retried from a timer with backoff 1 s .. 30 s. */

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdlib.h>
#include <string.h>

#include "homebattery/log.h"
#include "mqtt.h"
#include "homebattery/time-util.h"

#define SENDER "mqtt"
#define BACKOFF_MIN_USEC (1ULL * USEC_PER_SEC)
/* 29 s, not 30: with the connect itself, a broker that returns right after a
 * failed attempt is reached again within 30 s. */
#define BACKOFF_MAX_USEC (29ULL * USEC_PER_SEC)
/* A TCP connect to a host that drops SYNs takes minutes to fail by itself. */
#define CONNECT_TIMEOUT_USEC (10ULL * USEC_PER_SEC)
#define MISC_INTERVAL_USEC (USEC_PER_SEC)
/* MQTT v5 reason code of a DISCONNECT sent because another client connected
 * with the same client id. */
#define REASON_SESSION_TAKEN_OVER 0x8e
/* Brokers that do not say why: a connection lost this soon after its CONNACK,
 * this many times in a row, is taken for the same pattern. */
#define SHORT_CONNECTION_USEC (5ULL * USEC_PER_SEC)
#define SHORT_CONNECTIONS_MAX 3
#define TAKEOVER_LOG_INTERVAL_USEC (600ULL * USEC_PER_SEC)

struct subscription {
        char *pattern;
        int qos;
        mqtt_handler handler;
        void *userdata;
};

struct mqtt {
        sd_event *event;
        struct mosquitto *mosq;
        sd_event_source *io;
        sd_event_source *misc_timer;
        sd_event_source *retry_timer;
        struct mqtt_callbacks cb;
        void *userdata;

        char *host;
        uint16_t port;
        char *status_topic;
        unsigned keepalive_s;

        struct subscription *subs;
        size_t n_subs;

        char *client_id;
        bool connected;
        bool connecting;
        bool stopping;
        bool delivering_retained;      /* the retain flag of the message being delivered */
        int disconnect_reason;         /* of the broker's DISCONNECT, -1 when none was received */
        bool broker_disconnected;      /* the broker sent DISCONNECT on an established connection */
        uint64_t connected_usec;
        unsigned short_connections;    /* in a row */
        struct ratelimit takeover_rl;
        uint64_t backoff_usec;
        uint64_t connect_started_usec;
        unsigned connects;
        /* Message ids of QoS 1/2 publishes not yet acknowledged: a QoS 2
         * message reaches subscribers only after PUBREL, so shutdown waits for
         * these too. libmosquitto calls on_publish for QoS 0 messages as well,
         * hence ids, not a counter. */
        int *unacked;
        size_t n_unacked;
        struct ratelimit fail_rl;
};

static int mosq_to_errno(int rc) {
        switch (rc) {
        case MOSQ_ERR_SUCCESS:
                return 0;
        case MOSQ_ERR_NOMEM:
                return -ENOMEM;
        case MOSQ_ERR_INVAL:
        case MOSQ_ERR_MALFORMED_UTF8:
        case MOSQ_ERR_QOS_NOT_SUPPORTED:
                return -EINVAL;
        case MOSQ_ERR_NO_CONN:
                return -ENOTCONN;
        case MOSQ_ERR_CONN_LOST:
                return -ECONNRESET;
        case MOSQ_ERR_CONN_REFUSED:
                return -ECONNREFUSED;
        case MOSQ_ERR_PAYLOAD_SIZE:
        case MOSQ_ERR_OVERSIZE_PACKET:
                return -EMSGSIZE;
        case MOSQ_ERR_TLS:
        case MOSQ_ERR_TLS_HANDSHAKE:
                return -EPROTO;
        case MOSQ_ERR_AUTH:
                return -EACCES;
        case MOSQ_ERR_NOT_SUPPORTED:
                return -EOPNOTSUPP;
        case MOSQ_ERR_EAI:
                return -EHOSTUNREACH;
        case MOSQ_ERR_ERRNO:
                return errno > 0 ? -errno : -EIO;
        case MOSQ_ERR_KEEPALIVE:
                return -ETIMEDOUT;
        default:
                return -EIO;
        }
}

static uint64_t now_usec(struct mqtt *m) {
        uint64_t t = 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

static void schedule_retry(struct mqtt *m);

/* Two daemons (or a daemon and a copy of its config) with one client id
 * throw each other off once a second, and the socket error alone only says
 * "Connection reset by peer". */
static void check_takeover(struct mqtt *m, bool was_connected) {
        bool said = m->disconnect_reason == REASON_SESSION_TAKEN_OVER;

        if (was_connected && now_usec(m) - m->connected_usec < SHORT_CONNECTION_USEC)
                m->short_connections++;
        else if (was_connected)
                m->short_connections = 0;
        if ((said || m->short_connections >= SHORT_CONNECTIONS_MAX) && ratelimit_below(&m->takeover_rl, now_usec(m)))
                log_error(SENDER,
                          "%s client uses the same client id \"%s\" on %s:%u: the broker keeps dropping one for the "
                          "other. Give every client its own mqtt.client_id.",
                          said ? "Another" : "Probably another", m->client_id, m->host, m->port);
        m->disconnect_reason = -1;
}

static void drop_connection(struct mqtt *m, int error) {
        bool was_connected = m->connected;

        m->io = sd_event_source_disable_unref(m->io);
        m->connected = false;
        m->connecting = false;
        m->n_unacked = 0;
        m->broker_disconnected = false;
        if (m->stopping)
                return;
        check_takeover(m, was_connected);
        if (was_connected) {
                log_warning_errno(error, SENDER, "Connection to %s:%u lost: %m", m->host, m->port);
                if (m->cb.disconnected)
                        m->cb.disconnected(m->userdata);
        } else if (ratelimit_below(&m->fail_rl, now_usec(m)))
                log_warning_errno(error, SENDER, "Cannot connect to %s:%u: %m (retrying in %llu s)", m->host,
                                  m->port, (unsigned long long) (m->backoff_usec / USEC_PER_SEC));
        /* Make sure libmosquitto's socket is closed before the next attempt. */
        mosquitto_disconnect(m->mosq);
        schedule_retry(m);
}

static int update_io_events(struct mqtt *m) {
        uint32_t events = EPOLLIN;
        if (!m->io)
                return 0;
        if (mosquitto_want_write(m->mosq) || m->connecting)
                events |= EPOLLOUT;
        return sd_event_source_set_io_events(m->io, events);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct mqtt *m = userdata;
        int rc = MOSQ_ERR_SUCCESS;

        if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP))
                rc = mosquitto_loop_read(m->mosq, 1);
        /* A DISCONNECT from the broker closes libmosquitto's socket and still
         * returns success: the connection is gone all the same (before, the
         * daemon went on believing it was connected and never reconnected). */
        if (rc == MOSQ_ERR_SUCCESS && m->broker_disconnected) {
                log_warning(SENDER, "The broker %s:%u disconnected us: %s", m->host, m->port,
                            mosquitto_reason_string(m->disconnect_reason));
                drop_connection(m, -ECONNRESET);
                return 0;
        }
        if (rc == MOSQ_ERR_SUCCESS && (revents & EPOLLOUT))
                rc = mosquitto_loop_write(m->mosq, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
                drop_connection(m, mosq_to_errno(rc));
                return 0;
        }
        (void) update_io_events(m);
        return 0;
}

static int attach_socket(struct mqtt *m) {
        int fd = mosquitto_socket(m->mosq);
        int r;

        if (fd < 0)
                return -ENOTCONN;
        m->io = sd_event_source_disable_unref(m->io);
        r = sd_event_add_io(m->event, &m->io, fd, EPOLLIN | EPOLLOUT, on_io, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->io, "mqtt-io");
        return 0;
}

static int try_connect(struct mqtt *m) {
        int rc;

        m->connecting = true;
        m->connect_started_usec = now_usec(m);
        /* Non-blocking connect; a DNS name is resolved by libmosquitto with
         * getaddrinfo(), which the docs ask users to avoid by using an address. */
        if (m->connects == 0 && !m->io)
                rc = mosquitto_connect_bind_async(m->mosq, m->host, m->port, (int) m->keepalive_s, NULL);
        else
                rc = mosquitto_reconnect_async(m->mosq);
        if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_CONN_PENDING)
                return mosq_to_errno(rc);
        return attach_socket(m);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct mqtt *m = userdata;
        int r;

        m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
        r = try_connect(m);
        if (r < 0)
                drop_connection(m, r);
        return 0;
}

static void schedule_retry(struct mqtt *m) {
        uint64_t delay = m->backoff_usec;

        m->backoff_usec = m->backoff_usec * 2 > BACKOFF_MAX_USEC ? BACKOFF_MAX_USEC : m->backoff_usec * 2;
        m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
        if (sd_event_add_time_relative(m->event, &m->retry_timer, CLOCK_MONOTONIC, delay, 0, on_retry, m) < 0)
                log_error(SENDER, "Cannot schedule the reconnect: the MQTT link stays down");
}

static int on_misc(sd_event_source *s, uint64_t usec, void *userdata) {
        struct mqtt *m = userdata;

        (void) sd_event_source_set_time(s, usec + MISC_INTERVAL_USEC);
        if (m->connecting && now_usec(m) - m->connect_started_usec > CONNECT_TIMEOUT_USEC) {
                drop_connection(m, -ETIMEDOUT);
                return 0;
        }
        if (m->io) {
                int rc = mosquitto_loop_misc(m->mosq);
                if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
                        drop_connection(m, mosq_to_errno(rc));
                        return 0;
                }
                (void) update_io_events(m);
        }
        return 0;
}

static void on_connect(struct mosquitto *mosq, void *userdata, int rc, int flags, const mosquitto_property *p) {
        struct mqtt *m = userdata;

        m->connecting = false;
        if (rc != 0) {
                /* The broker refused (auth, client id): back off like any failure. */
                log_warning(SENDER, "Broker %s:%u refused the connection: %s", m->host, m->port,
                            mosquitto_reason_string(rc));
                m->io = sd_event_source_disable_unref(m->io);
                mosquitto_disconnect(m->mosq);
                schedule_retry(m);
                return;
        }
        m->connected = true;
        m->connected_usec = now_usec(m);
        m->connects++;
        m->backoff_usec = BACKOFF_MIN_USEC;
        log_info(SENDER, "Connected to %s:%u", m->host, m->port);

        for (size_t i = 0; i < m->n_subs; i++) {
                int r = mosquitto_subscribe_v5(m->mosq, NULL, m->subs[i].pattern, m->subs[i].qos, 0, NULL);
                if (r != MOSQ_ERR_SUCCESS)
                        log_warning_errno(mosq_to_errno(r), SENDER, "Cannot subscribe to %s: %m", m->subs[i].pattern);
        }
        if (m->status_topic)
                (void) mqtt_publish_string(m, m->status_topic, "online", 1, true);
        if (m->cb.connected)
                m->cb.connected(m->userdata);
        (void) update_io_events(m);
}

static void on_publish(struct mosquitto *mosq, void *userdata, int mid, int reason, const mosquitto_property *p) {
        struct mqtt *m = userdata;

        for (size_t i = 0; i < m->n_unacked; i++)
                if (m->unacked[i] == mid) {
                        m->unacked[i] = m->unacked[--m->n_unacked];
                        return;
                }
}

static void on_message(struct mosquitto *mosq, void *userdata, const struct mosquitto_message *msg,
                       const mosquitto_property *p) {
        struct mqtt *m = userdata;
        bool matched = false;

        for (size_t i = 0; i < m->n_subs; i++) {
                bool match = false;
                if (mosquitto_topic_matches_sub(m->subs[i].pattern, msg->topic, &match) == MOSQ_ERR_SUCCESS && match) {
                        matched = true;
                        m->delivering_retained = msg->retain;
                        m->subs[i].handler(m->subs[i].userdata, msg->topic, msg->payload,
                                           msg->payloadlen > 0 ? (size_t) msg->payloadlen : 0);
                        m->delivering_retained = false;
                }
        }
        if (!matched)
                log_debug(SENDER, "Message on %s matches no subscription", msg->topic);
}

static void on_disconnect(struct mosquitto *mosq, void *userdata, int rc, const mosquitto_property *p) {
        struct mqtt *m = userdata;

        /* rc is the broker's reason code when it sent a DISCONNECT (0 or >= 0x80);
         * below 0x80 it is libmosquitto's own error code. Ours (drop_connection)
         * come after `connected` was cleared. */
        if (m->broker_disconnected)
                return; /* libmosquitto reports the close of the socket after it: keep the reason */
        m->disconnect_reason = rc;
        if (m->connected && !m->stopping && (rc == 0 || rc >= 0x80))
                m->broker_disconnected = true;
}

bool mqtt_current_is_retained(const struct mqtt *m) {
        return m->delivering_retained;
}

int mqtt_new(sd_event *e, const struct mqtt_settings *s, const struct mqtt_callbacks *cb, void *userdata,
             struct mqtt **ret) {
        struct mqtt *m;
        int rc;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->cb = *cb;
        m->userdata = userdata;
        m->port = s->port;
        m->keepalive_s = s->keepalive_s ? s->keepalive_s : 30;
        m->backoff_usec = BACKOFF_MIN_USEC;
        m->fail_rl = RATELIMIT_INIT(60ULL * USEC_PER_SEC, 3);
        m->disconnect_reason = -1;
        m->takeover_rl = RATELIMIT_INIT(TAKEOVER_LOG_INTERVAL_USEC, 1);
        m->client_id = strdup(s->client_id ? s->client_id : "");
        m->host = strdup(s->host);
        m->status_topic = s->status_topic ? strdup(s->status_topic) : NULL;
        if (!m->host || !m->client_id || (s->status_topic && !m->status_topic))
                goto oom;

        mosquitto_lib_init();
        m->mosq = mosquitto_new(s->client_id, true, m);
        if (!m->mosq)
                goto oom;
        rc = mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        if (rc == MOSQ_ERR_SUCCESS && s->user)
                rc = mosquitto_username_pw_set(m->mosq, s->user, s->password);
        if (rc == MOSQ_ERR_SUCCESS && s->ca_file) {
                rc = mosquitto_tls_set(m->mosq, s->ca_file, NULL, NULL, NULL, NULL);
                if (rc == MOSQ_ERR_SUCCESS)
                        rc = mosquitto_tls_insecure_set(m->mosq, s->tls_insecure);
        }
        if (rc == MOSQ_ERR_SUCCESS && m->status_topic)
                rc = mosquitto_will_set_v5(m->mosq, m->status_topic, 7, "offline", 1, true, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
                int r = mosq_to_errno(rc);
                mqtt_free(m);
                return r;
        }
        mosquitto_connect_v5_callback_set(m->mosq, on_connect);
        mosquitto_message_v5_callback_set(m->mosq, on_message);
        mosquitto_publish_v5_callback_set(m->mosq, on_publish);
        mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
        *ret = m;
        return 0;
oom:
        mqtt_free(m);
        return -ENOMEM;
}

int mqtt_start(struct mqtt *m) {
        int r;

        r = sd_event_add_time_relative(m->event, &m->misc_timer, CLOCK_MONOTONIC, MISC_INTERVAL_USEC, 100000,
                                       on_misc, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->misc_timer, SD_EVENT_ON);
        r = try_connect(m);
        if (r < 0)
                drop_connection(m, r);
        return 0;
}

struct mqtt *mqtt_free(struct mqtt *m) {
        if (!m)
                return NULL;
        m->stopping = true;
        m->io = sd_event_source_disable_unref(m->io);
        m->misc_timer = sd_event_source_disable_unref(m->misc_timer);
        m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
        if (m->mosq) {
                mosquitto_destroy(m->mosq);
                mosquitto_lib_cleanup();
        }
        for (size_t i = 0; i < m->n_subs; i++)
                free(m->subs[i].pattern);
        free(m->subs);
        free(m->unacked);
        free(m->host);
        free(m->client_id);
        free(m->status_topic);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

int mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos, bool retain) {
        int rc;

        if (!m->connected)
                return -ENOTCONN;
        int mid = 0;
        rc = mosquitto_publish_v5(m->mosq, &mid, topic, (int) len, payload, qos, retain, NULL);
        if (rc != MOSQ_ERR_SUCCESS)
                return mosq_to_errno(rc);
        if (qos > 0) {
                int *v = realloc(m->unacked, (m->n_unacked + 1) * sizeof(int));
                if (v) {
                        m->unacked = v;
                        m->unacked[m->n_unacked++] = mid;
                }
        }
        (void) update_io_events(m);
        return 0;
}

int mqtt_publish_string(struct mqtt *m, const char *topic, const char *payload, int qos, bool retain) {
        return mqtt_publish(m, topic, payload, strlen(payload), qos, retain);
}

int mqtt_subscribe(struct mqtt *m, const char *pattern, int qos, mqtt_handler handler, void *userdata) {
        struct subscription *n;
        char *p;

        if (mosquitto_sub_topic_check(pattern) != MOSQ_ERR_SUCCESS)
                return -EINVAL;
        p = strdup(pattern);
        if (!p)
                return -ENOMEM;
        n = realloc(m->subs, (m->n_subs + 1) * sizeof(*n));
        if (!n) {
                free(p);
                return -ENOMEM;
        }
        m->subs = n;
        m->subs[m->n_subs++] = (struct subscription) { p, qos, handler, userdata };
        if (m->connected) {
                int rc = mosquitto_subscribe_v5(m->mosq, NULL, p, qos, 0, NULL);
                if (rc != MOSQ_ERR_SUCCESS)
                        return mosq_to_errno(rc);
                (void) update_io_events(m);
        }
        return 0;
}

bool mqtt_is_connected(const struct mqtt *m) {
        return m && m->connected;
}

unsigned mqtt_get_connects(const struct mqtt *m) {
        return m ? m->connects : 0;
}

bool mqtt_has_pending(const struct mqtt *m) {
        return m && m->connected && (mosquitto_want_write(m->mosq) || m->n_unacked > 0);
}

void mqtt_disconnect(struct mqtt *m) {
        if (!m || !m->connected)
                return;
        m->stopping = true;
        (void) mosquitto_disconnect_v5(m->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
        /* The DISCONNECT packet is written synchronously by libmosquitto. */
        m->io = sd_event_source_disable_unref(m->io);
        m->connected = false;
}
