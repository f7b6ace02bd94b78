/* SPDX-License-Identifier: MIT */
/* The HTTP server: libmicrohttpd in "external epoll" mode, driven by the
 * manager's sd-event loop (its epoll fd is an I/O source, its timeout a
 * one-shot timer; MHD_run() after each), the limits on connections and
 * bodies, the routes, the bearer token check, and the timer that samples the
 * history for the charts. What the answers contain is built in http-api.c. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "hb-build-config.h"
#include "control.h"
#include "homebattery/log.h"
#include "http-api.h"
#include "http-page.h"
#include "http.h"
#include "http-request.h"
#include "mqtt.h"
#include "homebattery/time-util.h"

#define SENDER "http"

#define HTTP_BODY_MAX 1024u
/* Slow clients (docs/http.md "Errors and limits"): one address holds at most
 * as many connections as a browser opens to one server, so it takes more than
 * ten addresses to take every connection; and even then each must complete
 * its request within HTTP_REQUEST_TIMEOUT_USEC, so a waiting client gets a
 * free connection within that time. */
#define HTTP_CONNECTIONS_MAX 64u
#define HTTP_CONNECTIONS_PER_IP 6u
/* libmicrohttpd's timeout: since the last byte sent or received. */
#define HTTP_CONNECTION_TIMEOUT_S 10u
/* Ours: since the connection opened or its last answer, until the request
 * (line, headers, body) is in. libmicrohttpd's own timeout restarts with
 * every byte, so a client trickling a header line a second would keep its
 * connection for ever. */
#define HTTP_REQUEST_TIMEOUT_S 5u
#define HTTP_REQUEST_TIMEOUT_USEC (HTTP_REQUEST_TIMEOUT_S * USEC_PER_SEC)
/* Per connection. Request line and headers must fit in about half of it
 * (MHD answers 431/414 beyond); 64 connections take at most 2 MiB. */
#define HTTP_CONNECTION_MEMORY 32768u
/* The charts: one sample every 10 s for 6 hours. */
#define HISTORY_INTERVAL_S 10u
#define HISTORY_INTERVAL_USEC (HISTORY_INTERVAL_S * USEC_PER_SEC)
#define HISTORY_SAMPLES (6u * 3600u / HISTORY_INTERVAL_S)

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TOO_LARGE "request body too large (max 1024 bytes)"

/* The page may talk to this server only: nothing is ever fetched from elsewhere. */
#define PAGE_CSP \
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " \
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* A connection, for the request timeout. */
struct http_conn {
        struct MHD_Connection *connection; /* NULL: slot free */
        bool waiting;                      /* for (the rest of) a request */
        uint64_t waiting_since_usec;
};

struct http_server {
        const struct http_server_env *env;
        struct MHD_Daemon *daemon;
        sd_event_source *io, *timer, *sample_timer;
        struct http_history *history;
        const char *token; /* owned by the config; NULL: changes are refused */
        size_t token_len;
        struct ratelimit refused_log, slow_log;
        bool at_limit; /* every connection slot was taken after the last MHD_run() */
        struct http_conn conns[HTTP_CONNECTIONS_MAX];
};

/* Per request: the body, collected up to the limit. */
struct request {
        size_t len;
        bool too_large;
        char body[HTTP_BODY_MAX + 1];
};

/* ---- Connections: the request timeout ---- */

static uint64_t loop_now(struct http_server *s) {
        uint64_t now = 0;

        (void) sd_event_now(s->env->event, CLOCK_MONOTONIC, &now);
        return now;
}

static struct http_conn *conn_of(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

static void conn_wait(struct http_server *s, struct http_conn *conn) {
        if (!conn)
                return;
        conn->waiting = true;
        conn->waiting_since_usec = loop_now(s);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        struct http_server *s = cls;
        struct http_conn *conn = *socket_context;

        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (conn)
                        *conn = (struct http_conn) {};
                *socket_context = NULL;
                return;
        }
        /* libmicrohttpd never holds more connections than there are slots;
         * without one a connection only has libmicrohttpd's timeout. */
        for (size_t i = 0; i < HTTP_CONNECTIONS_MAX; i++)
                if (!s->conns[i].connection) {
                        s->conns[i].connection = c;
                        conn_wait(s, &s->conns[i]);
                        *socket_context = &s->conns[i];
                        return;
                }
}

/* ---- Responses ---- */

/* Takes ownership of body (malloc'ed, or static when is_static). */
static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type, char *body,
                               size_t len, bool is_static) {
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer(len, body,
                                               is_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                if (!is_static)
                        free(body);
                return MHD_NO;
        }
        /* Answered: the request timeout starts again once it is sent. */
        struct http_conn *conn = conn_of(c);
        if (conn)
                conn->waiting = false;
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        (void) MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, POST");
        if (status == MHD_HTTP_UNAUTHORIZED)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        if (strncmp(type, "text/html", 9) == 0) {
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, PAGE_CSP);
                (void) MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        }
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status, char *body, size_t len) {
        return respond(c, status, "application/json", body, len, false);
}

/* Every error is {"error":"..."}; the message is a constant of ours, never request data. */
static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *message) {
        struct json_object *j = json_object_new_object();
        char *body = NULL;

        if (j) {
                json_object_object_add(j, "error", json_object_new_string(message));
                const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
                body = s ? strdup(s) : NULL;
                json_object_put(j);
        }
        if (!body)
                return MHD_NO;
        return respond_json(c, status, body, strlen(body));
}

static const char *client_address(struct MHD_Connection *c, char *buf, size_t size) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        const void *addr;

        if (!sa)
                return "?";
        if (sa->sa_family == AF_INET)
                addr = &((const struct sockaddr_in *) (const void *) sa)->sin_addr;
        else if (sa->sa_family == AF_INET6)
                addr = &((const struct sockaddr_in6 *) (const void *) sa)->sin6_addr;
        else
                return "?";
        return inet_ntop(sa->sa_family, addr, buf, (socklen_t) size) ? buf : "?";
}

/* ---- Handlers ---- */

static void get_view(struct http_server *s, struct http_view *v) {
        const struct http_server_env *env = s->env;
        const struct config *c = env->config;
        const struct loop_stats *loop = env->loop;
        struct mqtt *mq = env->mqtt;
        uint64_t rt = 0;

        (void) sd_event_now(env->event, CLOCK_REALTIME, &rt);
        *v = (struct http_view) {
                .control = env->control,
                .netzero_enabled = c->netzero.present && c->netzero.enabled,
                .mqtt_connected = mq && mqtt_is_connected(mq),
                .mqtt_connects = mq ? mqtt_get_connects(mq) : 0,
                .now_usec = loop_now(s),
                .start_usec = env->start_usec,
                .realtime_usec = rt,
                .loop_last_usec = loop->last_usec,
                .loop_max_usec = loop->max_usec,
                .loop_max_minute_usec = loop->max_minute_usec,
                .version = HB_VERSION,
        };
}

/* The token from "Authorization: Bearer <token>"; NULL when absent or of another scheme. */
static const char *bearer_token(struct MHD_Connection *c, size_t *ret_len) {
        return http_bearer_token(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                                 ret_len);
}

static enum MHD_Result handle_mode(struct http_server *s, struct MHD_Connection *c, struct request *req) {
        const char *given;
        size_t given_len = 0;
        char addr[INET6_ADDRSTRLEN];
        enum mode mode;

        if (!s->token) {
                if (ratelimit_below(&s->refused_log, loop_now(s)))
                        log_notice(SENDER, "Refused a mode request from %s: no http.token configured",
                                   client_address(c, addr, sizeof(addr)));
                return respond_error(c, MHD_HTTP_UNAUTHORIZED,
                                     "changes are disabled: no token is configured (http.token)");
        }
        given = bearer_token(c, &given_len);
        if (!given || !http_token_equal(given, given_len, s->token, s->token_len)) {
                if (ratelimit_below(&s->refused_log, loop_now(s)))
                        log_notice(SENDER, "Refused a mode request from %s: %s",
                                   client_address(c, addr, sizeof(addr)),
                                   given ? "wrong token" : "no bearer token");
                return respond_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
        }

        mode = http_mode_from_body(req->body, req->len);
        if (mode < 0)
                return respond_error(c, MHD_HTTP_BAD_REQUEST,
                                     "the body must be one of charge, discharge, idle, protect");

        log_info(SENDER, "Mode %s requested by %s", mode_to_string(mode),
                 client_address(c, addr, sizeof(addr)));
        s->env->request_mode(s->env->userdata, mode_to_string(mode));

        const struct control *ctl = s->env->control;
        char *body = NULL;
        int n = asprintf(&body, "{\"requested\":\"%s\",\"displayed\":\"%s\"}",
                         mode_to_string(control_get_requested(ctl)),
                         mode_to_string(control_get_displayed(ctl)));
        if (n < 0)
                return MHD_NO;
        return respond_json(c, MHD_HTTP_OK, body, (size_t) n);
}

static enum MHD_Result handle(struct http_server *s, struct MHD_Connection *c, enum http_route route,
                              struct request *req) {
        struct http_view v;
        char *body = NULL;
        size_t len = 0;
        int r;

        switch (route) {
        case HTTP_ROUTE_PAGE:
                return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", (char *) http_page_html,
                               strlen(http_page_html), true);
        case HTTP_ROUTE_STATUS:
                get_view(s, &v);
                r = http_api_status(&v, &body, &len);
                break;
        case HTTP_ROUTE_METRICS:
                get_view(s, &v);
                r = http_api_metrics(&v, &body, &len);
                if (r >= 0)
                        return respond(c, MHD_HTTP_OK, METRICS_TYPE, body, len, false);
                break;
        case HTTP_ROUTE_HISTORY:
                r = http_history_json(s->history, HISTORY_INTERVAL_S, &body, &len);
                break;
        case HTTP_ROUTE_MODE:
                return handle_mode(s, c, req);
        default:
                return respond_error(c, MHD_HTTP_NOT_FOUND, "not found");
        }
        if (r < 0)
                return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return respond_json(c, MHD_HTTP_OK, body, len);
}

static bool method_allowed(const char *method) {
        return strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_POST) == 0;
}

/* libmicrohttpd calls this once when the headers are in, then once per piece
 * of body, then once more with *upload_data_size == 0: that is when we answer.
 * Refusals that do not need the body are answered on the first call. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        struct http_server *s = cls;
        struct request *req = *con_cls;

        if (!req) {
                const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_CONTENT_LENGTH);

                req = calloc(1, sizeof(*req));
                if (!req)
                        return MHD_NO;
                *con_cls = req;
                if (!method_allowed(method))
                        return respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                             "method not allowed: use GET or POST");
                if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX)
                        return respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE, TOO_LARGE);
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                if (req->too_large || n > HTTP_BODY_MAX - req->len)
                        req->too_large = true;
                else {
                        memcpy(req->body + req->len, upload_data, n);
                        req->len += n;
                }
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (req->too_large)
                return respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE, TOO_LARGE);

        enum http_route route = http_route_from_path(url);
        if (route < 0)
                return respond_error(c, MHD_HTTP_NOT_FOUND, "not found");
        if (strcmp(method, http_route_method(route)) != 0)
                return respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                     route == HTTP_ROUTE_MODE ? "method not allowed: use POST"
                                                         : "method not allowed: use GET");
        return handle(s, c, route, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        free(*con_cls);
        *con_cls = NULL;
        /* Kept alive: the next request has the same time to arrive. */
        conn_wait(cls, conn_of(c));
}

/* libmicrohttpd's own messages (connection limit, timeouts, bind errors): they never contain headers. */
_printf_(2, 0) static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[256];
        size_t n;

        vsnprintf(buf, sizeof(buf), fmt, ap);
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        log_debug(SENDER, "libmicrohttpd: %s", buf);
}

/* ---- Loop glue ---- */

static unsigned connections(struct http_server *s) {
        const union MHD_DaemonInfo *info;

        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        return info ? info->num_connections : 0;
}

/* Ends the connections whose request is overdue; returns when the next one
 * is due (UINT64_MAX: none waits). */
static uint64_t close_slow(struct http_server *s, uint64_t now) {
        uint64_t next = UINT64_MAX;
        char addr[INET6_ADDRSTRLEN];

        for (size_t i = 0; i < HTTP_CONNECTIONS_MAX; i++) {
                struct http_conn *conn = &s->conns[i];
                if (!conn->connection || !conn->waiting)
                        continue;
                uint64_t due = conn->waiting_since_usec + HTTP_REQUEST_TIMEOUT_USEC;
                if (due > now) {
                        if (due < next)
                                next = due;
                        continue;
                }
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(conn->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
                if (ratelimit_below(&s->slow_log, now))
                        log_notice(SENDER, "Closing a connection from %s: no complete request within %u s",
                                   client_address(conn->connection, addr, sizeof(addr)), HTTP_REQUEST_TIMEOUT_S);
                /* libmicrohttpd still owns the socket: it sees the end of the
                 * stream, closes the connection and frees the slot. */
                if (ci)
                        (void) shutdown(ci->connect_fd, SHUT_RDWR);
                conn->waiting = false;
        }
        return next;
}

static void run(struct http_server *s) {
        MHD_UNSIGNED_LONG_LONG timeout_ms;
        uint64_t now = loop_now(s), due, next_slow;
        bool have_timeout;

        (void) MHD_run(s->daemon);
        /* At the connection limit libmicrohttpd takes its listening socket out
         * of its epoll set, and puts it back only at the start of the next
         * MHD_run(). When that run closed connections, nothing else would wake
         * us for the clients waiting in the backlog: run once more now. */
        if (s->at_limit && connections(s) < HTTP_CONNECTIONS_MAX)
                (void) MHD_run(s->daemon);
        s->at_limit = connections(s) >= HTTP_CONNECTIONS_MAX;
        next_slow = close_slow(s, now);
        have_timeout = MHD_get_timeout(s->daemon, &timeout_ms) == MHD_YES;
        if (!have_timeout && next_slow == UINT64_MAX) {
                (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                return;
        }
        /* An hour is as good as "no timeout"; it also keeps the sum below from overflowing. */
        if (!have_timeout || timeout_ms > 3600ULL * 1000ULL)
                timeout_ms = 3600ULL * 1000ULL;
        due = now + timeout_ms * USEC_PER_MSEC;
        (void) sd_event_source_set_time(s->timer, next_slow < due ? next_slow : due);
        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        run(userdata);
        return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        run(userdata);
        return 0;
}

static int on_sample(sd_event_source *src, uint64_t usec, void *userdata) {
        struct http_server *s = userdata;
        uint64_t rt = 0;

        (void) sd_event_now(s->env->event, CLOCK_REALTIME, &rt);
        http_history_add(s->history, s->env->control, rt);
        (void) sd_event_source_set_time(src, usec + HISTORY_INTERVAL_USEC);
        return 0;
}

/* IP addresses only (and "localhost"): resolving a name could block the loop. */
static int listen_address(const char *host, uint16_t port, struct sockaddr_storage *ret, bool *ret_ipv6) {
        struct sockaddr_in *in4 = (struct sockaddr_in *) ret;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ret;

        *ret = (struct sockaddr_storage) {};
        if (strcmp(host, "localhost") == 0)
                host = "127.0.0.1";
        if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons(port);
                *ret_ipv6 = false;
                return 0;
        }
        *ret = (struct sockaddr_storage) {};
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                *ret_ipv6 = true;
                return 0;
        }
        return -EINVAL;
}

struct http_server *http_server_free(struct http_server *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        sd_event_source_disable_unref(s->sample_timer);
        if (s->daemon)
                MHD_stop_daemon(s->daemon);
        http_history_free(s->history);
        free(s);
        return NULL;
}

int http_server_new(const struct http_server_env *env, int bind_log_level, struct http_server **ret) {
        const struct config_http *c = &env->config->http;
        sd_event *e = env->event;
        struct http_server *s;
        struct sockaddr_storage sa;
        const union MHD_DaemonInfo *info;
        bool ipv6 = false;
        int r;

        r = listen_address(c->listen_host, c->listen_port, &sa, &ipv6);
        if (r < 0)
                return log_error_errno(r, SENDER,
                                       "http.listen: \"%s\" is not an IP address (names are not resolved)",
                                       c->listen_host);
        s = calloc(1, sizeof(*s));
        if (!s)
                return log_error_errno(-ENOMEM, SENDER, "Out of memory");
        s->env = env;
        s->token = c->token;
        s->token_len = c->token ? strlen(c->token) : 0;
        s->refused_log = RATELIMIT_INIT(60 * USEC_PER_SEC, 5);
        s->slow_log = RATELIMIT_INIT(60 * USEC_PER_SEC, 5);
        r = http_history_new(HISTORY_SAMPLES, &s->history);
        if (r < 0) {
                log_error_errno(r, SENDER, "Cannot allocate the history: %m");
                goto fail;
        }

        /* External epoll mode: no thread of libmicrohttpd's own; the loop polls its epoll fd. */
        errno = 0;
        s->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0),
                                     c->listen_port, NULL, NULL, on_request, s,
                                     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTP_CONNECTIONS_MAX,
                                     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) HTTP_CONNECTIONS_PER_IP,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTP_CONNECTION_TIMEOUT_S,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTP_CONNECTION_MEMORY,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                     MHD_OPTION_END);
        if (!s->daemon) {
                r = errno > 0 ? -errno : -EADDRNOTAVAIL;
                log_full_errno(bind_log_level, r, SENDER, "Cannot listen on %s%s%s:%u: %m", ipv6 ? "[" : "",
                               c->listen_host, ipv6 ? "]" : "", c->listen_port);
                goto fail;
        }
        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info) {
                r = log_error_errno(-EIO, SENDER, "libmicrohttpd has no epoll fd");
                goto fail;
        }
        if ((r = sd_event_add_io(e, &s->io, info->epoll_fd, EPOLLIN, on_io, s)) < 0 ||
            (r = sd_event_add_time(e, &s->timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_timer, s)) < 0 ||
            (r = sd_event_add_time_relative(e, &s->sample_timer, CLOCK_MONOTONIC, HISTORY_INTERVAL_USEC,
                                            USEC_PER_SEC, on_sample, s)) < 0) {
                log_error_errno(r, SENDER, "Cannot add the HTTP server to the event loop: %m");
                goto fail;
        }
        (void) sd_event_source_set_description(s->io, "http-io");
        (void) sd_event_source_set_description(s->timer, "http-timer");
        (void) sd_event_source_set_enabled(s->sample_timer, SD_EVENT_ON);
        run(s);

        if (ipv6 ? IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *) &sa)->sin6_addr) :
                   ((struct sockaddr_in *) &sa)->sin_addr.s_addr == htonl(INADDR_ANY))
                log_warning(SENDER, "Listening on all interfaces: the status is open to the whole network");
        log_info(SENDER, "Status page on http://%s%s%s:%u/%s", ipv6 ? "[" : "", c->listen_host,
                 ipv6 ? "]" : "", c->listen_port, s->token ? "" : " (read-only: no http.token configured)");
        *ret = s;
        return 0;
fail:
        http_server_free(s);
        return r;
}
