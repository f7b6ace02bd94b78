/* SPDX-License-Identifier: MIT */
/* libcurl's multi-socket interface glued to sd-event: curl tells us which
 * sockets to watch and when to wake it; we never call a blocking curl
 * function. A slow or dead device only ever occupies its own request. */

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "homebattery/log.h"
#include "transport-http.h"
#include "homebattery/time-util.h"


struct http_client {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        struct http_request *requests; /* in flight or waiting for a retry */
        unsigned in_flight;
};

struct http_request {
        struct http_client *client;
        struct http_request *next, *prev;
        CURL *easy;
        struct curl_slist *headers;
        transport_http_done done;
        void *userdata;
        char *buf;
        size_t size, max;
        bool too_large;
        unsigned attempt, attempts;
        uint64_t retry_delay_usec;
        sd_event_source *retry;
        bool active; /* added to the multi handle */
};

static int curl_to_errno(CURLcode c) {
        switch (c) {
        case CURLE_OK:
                return 0;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
                return -EHOSTUNREACH;
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
                return -EMSGSIZE;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
                return -ECONNRESET;
        case CURLE_LOGIN_DENIED:
                return -EACCES;
        default:
                return -EPROTO;
        }
}

static void request_unlink(struct http_request *r) {
        struct http_client *c = r->client;
        if (r->prev)
                r->prev->next = r->next;
        else if (c->requests == r)
                c->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        r->next = r->prev = NULL;
}

static void request_free(struct http_request *r) {
        if (!r)
                return;
        if (r->active) {
                curl_multi_remove_handle(r->client->multi, r->easy);
                r->client->in_flight--;
        }
        request_unlink(r);
        sd_event_source_disable_unref(r->retry);
        curl_easy_cleanup(r->easy);
        curl_slist_free_all(r->headers);
        free(r->buf);
        free(r);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        struct http_request *r = userdata;
        size_t n = size * nmemb;

        if (r->size + n > r->max) {
                r->too_large = true;
                return 0; /* makes curl fail with CURLE_WRITE_ERROR */
        }
        char *nb = realloc(r->buf, r->size + n + 1);
        if (!nb)
                return 0;
        memcpy(nb + r->size, ptr, n);
        r->buf = nb;
        r->size += n;
        r->buf[r->size] = 0;
        return n;
}

static int request_start(struct http_request *r) {
        free(r->buf);
        r->buf = NULL;
        r->size = 0;
        r->too_large = false;
        r->attempt++;
        if (curl_multi_add_handle(r->client->multi, r->easy) != CURLM_OK)
                return -ENOMEM;
        r->active = true;
        r->client->in_flight++;
        return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct http_request *r = userdata;

        r->retry = sd_event_source_disable_unref(r->retry);
        if (request_start(r) < 0) {
                struct http_response resp = { .error = -ENOMEM, .body = "", .attempt = r->attempt };
                transport_http_done done = r->done;
                void *u = r->userdata;
                request_free(r);
                done(u, &resp);
        }
        return 0;
}

static void request_finished(struct http_request *r, CURLcode code) {
        struct http_response resp = { .body = r->buf ? r->buf : "", .size = r->size, .attempt = r->attempt };

        curl_multi_remove_handle(r->client->multi, r->easy);
        r->active = false;
        r->client->in_flight--;
        (void) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
        resp.error = r->too_large ? -EMSGSIZE : curl_to_errno(code);

        /* Network trouble and server errors may pass; a 4xx will not. */
        bool retry = (resp.error != 0 && resp.error != -EMSGSIZE) || resp.status >= 500;
        if (retry && r->attempt < r->attempts &&
            sd_event_add_time_relative(r->client->event, &r->retry, CLOCK_MONOTONIC, r->retry_delay_usec, 0,
                                       on_retry, r) >= 0)
                return;

        transport_http_done done = r->done;
        void *u = r->userdata;
        /* The callback may start new requests; free this one first but keep
         * the body alive until the callback returned. */
        char *body = TAKE_PTR(r->buf);
        resp.body = body ? body : "";
        request_free(r);
        done(u, &resp);
        free(body);
}

static void check_done(struct http_client *c) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(c->multi, &left))) {
                struct http_request *r = NULL;
                if (msg->msg != CURLMSG_DONE)
                        continue;
                (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
                if (r)
                        request_finished(r, msg->data.result);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct http_client *c = userdata;
        int action = 0, running;

        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;
        (void) curl_multi_socket_action(c->multi, fd, action, &running);
        check_done(c);
        return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        struct http_client *c = userp;
        sd_event_source *io = socketp;
        uint32_t events = 0;

        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        sd_event_source_disable_unref(io);
                        curl_multi_assign(c->multi, fd, NULL);
                }
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;
        if (io) {
                if (sd_event_source_set_io_events(io, events) < 0 ||
                    sd_event_source_set_enabled(io, SD_EVENT_ON) < 0)
                        return -1;
                return 0;
        }
        if (sd_event_add_io(c->event, &io, fd, events, on_io, c) < 0)
                return -1;
        (void) sd_event_source_set_description(io, "curl-io");
        if (curl_multi_assign(c->multi, fd, io) != CURLM_OK) {
                sd_event_source_disable_unref(io);
                return -1;
        }
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct http_client *c = userdata;
        int running;

        (void) curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_done(c);
        return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
        struct http_client *c = userp;
        uint64_t now;

        if (timeout_ms < 0)
                return c->timer ? (sd_event_source_set_enabled(c->timer, SD_EVENT_OFF) < 0 ? -1 : 0) : 0;
        if (sd_event_now(c->event, CLOCK_MONOTONIC, &now) < 0)
                return -1;
        uint64_t when = now + (uint64_t) timeout_ms * USEC_PER_MSEC;
        if (c->timer) {
                if (sd_event_source_set_time(c->timer, when) < 0 ||
                    sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT) < 0)
                        return -1;
                return 0;
        }
        /* Accuracy 1 us, not 0: sd-event takes 0 as its default of 250 ms, and
         * curl's "0 ms" is how a new request starts (a limit command would wait
         * up to a quarter of a second: bench/README.md, "Latency"). */
        if (sd_event_add_time(c->event, &c->timer, CLOCK_MONOTONIC, when, 1, on_timer, c) < 0)
                return -1;
        (void) sd_event_source_set_description(c->timer, "curl-timer");
        return 0;
}

int http_client_new(sd_event *e, struct http_client **ret) {
        struct http_client *c;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->multi = curl_multi_init();
        if (!c->multi) {
                http_client_free(c);
                return -ENOMEM;
        }
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
        *ret = c;
        return 0;
}

struct http_client *http_client_free(struct http_client *c) {
        if (!c)
                return NULL;
        while (c->requests)
                request_free(c->requests);
        if (c->multi)
                curl_multi_cleanup(c->multi);
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->event);
        free(c);
        curl_global_cleanup();
        return NULL;
}

unsigned http_client_in_flight(const struct http_client *c) {
        return c ? c->in_flight : 0;
}

int http_client_request(struct http_client *c, const char *url, const struct http_options *o,
                        transport_http_done done, void *userdata, struct http_request **ret) {
        static const struct http_options defaults = {};
        struct http_request *r;
        CURLcode cc = CURLE_OK;

        if (!o)
                o = &defaults;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->client = c;
        r->done = done;
        r->userdata = userdata;
        r->attempts = o->attempts ? o->attempts : 3;
        r->retry_delay_usec = o->retry_delay_usec ? o->retry_delay_usec : USEC_PER_SEC;
        r->max = o->max_response ? o->max_response : 64 * 1024;
        r->easy = curl_easy_init();
        if (!r->easy) {
                free(r);
                return -ENOMEM;
        }

#define SET(opt, val)                                          \
        do {                                                   \
                if (cc == CURLE_OK)                            \
                        cc = curl_easy_setopt(r->easy, opt, val); \
        } while (0)
        SET(CURLOPT_URL, url);
        SET(CURLOPT_PRIVATE, r);
        SET(CURLOPT_WRITEFUNCTION, on_write);
        SET(CURLOPT_WRITEDATA, r);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_TIMEOUT_MS, (long) ((o->timeout_usec ? o->timeout_usec : 5 * USEC_PER_SEC) / USEC_PER_MSEC));
        SET(CURLOPT_CONNECTTIMEOUT_MS, 3000L);
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_USERAGENT, "homebattery");
        if (o->method && strcmp(o->method, "POST") == 0) {
                SET(CURLOPT_POST, 1L);
                SET(CURLOPT_COPYPOSTFIELDS, o->body ? o->body : "");
                if (o->content_type) {
                        char h[128];
                        snprintf(h, sizeof(h), "Content-Type: %s", o->content_type);
                        r->headers = curl_slist_append(NULL, h);
                }
        }
        if (o->accept) {
                char h[128];
                snprintf(h, sizeof(h), "Accept: %s", o->accept);
                struct curl_slist *l = curl_slist_append(r->headers, h);
                if (l)
                        r->headers = l;
        }
        if (r->headers)
                SET(CURLOPT_HTTPHEADER, r->headers);
        if (o->auth != HTTP_AUTH_NONE && o->user) {
                SET(CURLOPT_HTTPAUTH, o->auth == HTTP_AUTH_ANY      ? CURLAUTH_ANY
                                      : o->auth == HTTP_AUTH_DIGEST ? CURLAUTH_DIGEST
                                                                    : CURLAUTH_BASIC);
                SET(CURLOPT_USERNAME, o->user);
                SET(CURLOPT_PASSWORD, o->password ? o->password : "");
        }
#undef SET
        if (cc != CURLE_OK) {
                request_free(r);
                return curl_to_errno(cc) ?: -EINVAL;
        }

        r->next = c->requests;
        if (c->requests)
                c->requests->prev = r;
        c->requests = r;
        int k = request_start(r);
        if (k < 0) {
                request_free(r);
                return k;
        }
        if (ret)
                *ret = r;
        return 0;
}

void http_request_cancel(struct http_request *r) {
        request_free(r);
}
