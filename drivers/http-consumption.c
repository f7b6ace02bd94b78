/* SPDX-License-Identifier: MIT */
/* httpConsumption: the grid meter polled over HTTP; the number is found in
 * the JSON answer by a path (json-path.c). One request in flight: a poll that
 * falls due while the last one still runs is skipped, so a slow or dead meter
 * costs one request slot, never the loop. Every good answer is one sample. */

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "homebattery/log.h"
#include "homebattery/time-util.h"
#include "homebattery/transport.h"
#include "json-path.h"

#define QUERY_MAX 512

struct preset {
        const char *name;
        const char *query;
        const char *const *path; /* NULL-terminated; NULL: the user's path is required */
};

static const char *const shelly3em_path[] = { "emeters", "*", "power", NULL };
static const char *const shellypro3em_path[] = { "total_act_power", NULL };
static const struct preset presets[] = {
        /* The SML script names the meter and the field: path stays the user's. */
        { "tasmota", "/cm?cmnd=status%2010", NULL },
        { "shelly3em", "/status", shelly3em_path },
        { "shellyPro3em", "/rpc/EM.GetStatus?id=0", shellypro3em_path },
};

struct httpc_config {
        char *host;
        uint16_t port;
        char *query;
        struct json_path path;
        char *members[JSON_PATH_MAX]; /* owned strings behind path.e[].member */
        int interval_s;
        double factor;
        char *user;
        char *password;
};

static void httpc_free_config(void *p) {
        struct httpc_config *c = p;
        if (!c)
                return;
        free(c->host);
        free(c->query);
        for (size_t i = 0; i < JSON_PATH_MAX; i++)
                free(c->members[i]);
        free(c->user);
        free(c->password);
        free(c);
}

/* "host:port", or "host" alone for port 80. */
static int parse_host(struct config_ctx *ctx, const char *path, struct json_object *obj, struct httpc_config *c) {
        _cleanup_free_ char *s = NULL, *with_port = NULL;
        size_t len;
        char kp[256], shown[CONFIG_SHOW_SIZE];
        int r;

        if ((r = config_get_string(ctx, path, obj, "host", true, NULL, &s)) < 0)
                return r;
        r = hostport_parse(s, &c->host, &c->port);
        if (r == -EINVAL && (with_port = malloc((len = strlen(s)) + 4))) {
                memcpy(with_port, s, len);
                memcpy(with_port + len, ":80", 4);
                r = hostport_parse(with_port, &c->host, &c->port);
        }
        if (r >= 0)
                return 0;
        snprintf(kp, sizeof(kp), "%s.host", path);
        config_error(ctx, kp, "expected host or host:port (IPv4, [IPv6] or a DNS name, port 1..65535), got \"%s\"",
                     config_show(shown, s));
        return -EINVAL;
}

static int parse_query(struct config_ctx *ctx, const char *path, struct json_object *obj, bool required,
                       struct httpc_config *c) {
        char kp[256], shown[CONFIG_SHOW_SIZE];
        int r;

        if ((r = config_get_string(ctx, path, obj, "query", required, NULL, &c->query)) < 0 || !c->query)
                return r;
        bool ok = c->query[0] == '/' && strlen(c->query) <= QUERY_MAX;
        for (const char *q = c->query; ok && *q; q++)
                ok = *q > ' ' && *q < 0x7f; /* sent as is: it must already be URL-encoded */
        if (ok)
                return 0;
        snprintf(kp, sizeof(kp), "%s.query", path);
        config_error(ctx, kp, "expected a path starting with / (URL-encoded: no spaces or control characters, "
                     "at most %d characters), got \"%s\"", QUERY_MAX, config_show(shown, c->query));
        return -EINVAL;
}

static int path_element(struct config_ctx *ctx, const char *kp, struct json_object *v, struct httpc_config *c,
                        size_t i) {
        struct json_path_elem *e = &c->path.e[i];

        if (json_object_is_type(v, json_type_int)) {
                int64_t k = json_object_get_int64(v);
                if (k < 0 || k > INT_MAX) {
                        config_error(ctx, kp, "an array index must be 0..%d", INT_MAX);
                        return -EINVAL;
                }
                *e = (struct json_path_elem) { .kind = JSON_PATH_INDEX, .index = (size_t) k };
                return 0;
        }
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
            strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v)) {
                config_error(ctx, kp, "expected a member name (a non-empty string), an index (integer >= 0) or \"*\"");
                return -EINVAL;
        }
        if (strcmp(json_object_get_string(v), "*") == 0) {
                *e = (struct json_path_elem) { .kind = JSON_PATH_ALL };
                return 0;
        }
        if (!(c->members[i] = strdup(json_object_get_string(v))))
                return -ENOMEM;
        *e = (struct json_path_elem) { .kind = JSON_PATH_MEMBER, .member = c->members[i] };
        return 0;
}

static int parse_path(struct config_ctx *ctx, const char *path, struct json_object *obj,
                      const struct preset *preset, struct httpc_config *c) {
        struct json_object *list;
        char kp[256], ep[288];
        int r = 0;

        snprintf(kp, sizeof(kp), "%s.path", path);
        if (!json_object_object_get_ex(obj, "path", &list)) {
                if (preset && preset->path) {
                        for (size_t i = 0; preset->path[i]; i++, c->path.n++)
                                c->path.e[i] = strcmp(preset->path[i], "*") == 0
                                                       ? (struct json_path_elem) { .kind = JSON_PATH_ALL }
                                                       : (struct json_path_elem) { .kind = JSON_PATH_MEMBER,
                                                                                   .member = preset->path[i] };
                        return 0;
                }
                config_error(ctx, kp, preset ? "required with preset \"%s\" (the meter and field names come "
                                               "from your script), e.g. [\"StatusSNS\", \"SML\", \"Power_curr\"]"
                                             : "required list is missing%s",
                             preset ? preset->name : " (or give a preset)");
                return -ENOENT;
        }
        size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
        if (n == 0 || n > JSON_PATH_MAX) {
                config_error(ctx, kp, "expected a list of 1..%d member names, indexes or \"*\"", JSON_PATH_MAX);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                snprintf(ep, sizeof(ep), "%s[%zu]", kp, i);
                int k = path_element(ctx, ep, json_object_array_get_idx(list, i), c, i);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        c->path.n = n;
        return r;
}

static int parse_preset(struct config_ctx *ctx, const char *path, struct json_object *obj,
                        const struct preset **ret) {
        static const char *const words[] = { "tasmota", "shelly3em", "shellyPro3em", NULL };
        struct json_object *unused;
        int choice, r;

        *ret = NULL;
        if ((r = config_get_choice(ctx, path, obj, "preset", words, NULL, &choice, &unused)) < 0)
                return r;
        if (choice >= 0)
                *ret = &presets[choice];
        return 0;
}

static int httpc_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "host", "query", "path", "interval", "factor",
                                            "preset", "user", "password", NULL };
        const struct preset *preset = NULL;
        struct httpc_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (parse_preset(ctx, path, obj, &preset) < 0)
                r = -EINVAL;
        if (parse_host(ctx, path, obj, c) < 0)
                r = -EINVAL;
        if (parse_query(ctx, path, obj, !preset, c) < 0)
                r = -EINVAL;
        if (!c->query && preset && !(c->query = strdup(preset->query)))
                return -ENOMEM;
        int k = parse_path(ctx, path, obj, preset, c);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "interval", false, 2, 1, 3600, &c->interval_s) < 0)
                r = -EINVAL;
        if (config_get_double(ctx, path, obj, "factor", false, 1.0, -1e6, 1e6, &c->factor) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "user", false, NULL, &c->user) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "password", false, NULL, &c->password) < 0)
                r = -EINVAL;
        if (r >= 0 && c->factor == 0) {
                char kp[256];
                snprintf(kp, sizeof(kp), "%s.factor", path);
                config_warning(ctx, kp, "0: every sample is 0 W");
        }
        return r;
}

struct httpc {
        struct device *device;
        const struct httpc_config *config;
        const char *name;
        char url[600];
        struct host_timer *timer;
        struct http_request *req;
        uint64_t next_usec; /* when the next poll is due */
        unsigned skipped;   /* polls skipped since the last answer (one still ran) */
        unsigned failed;    /* polls failed in a row */
        struct ratelimit rl;
};

static uint64_t timeout_usec(const struct httpc_config *c) {
        /* A poll must end before the next is due, but a meter gets at least 1 s. */
        return (c->interval_s < 5 ? (uint64_t) c->interval_s : 5) * USEC_PER_SEC;
}

static void poll_failed(struct httpc *h, int error, const char *step, const char *what) {
        device_report_read(h->device, error, step);
        h->failed++;
        log_input_warning(&h->rl, device_now_usec(h->device), h->name, h->url, "GET %s: %s", h->url, what);
}

static void on_response(void *userdata, const struct http_response *r) {
        struct httpc *h = userdata;
        struct json_path_error e = {};
        char where[96], what[160];
        double v;
        int w, k;

        h->req = NULL;
        h->skipped = 0;
        if (r->error < 0) {
                snprintf(what, sizeof(what), "no answer: %s", strerror(-r->error));
                poll_failed(h, r->error, "request", what);
                return;
        }
        if (r->status < 200 || r->status > 299) {
                bool denied = r->status == 401 || r->status == 403;
                snprintf(what, sizeof(what), "HTTP %ld%s", r->status, denied ? " (check user and password)" : "");
                poll_failed(h, denied ? -EACCES : -EPROTO, "request", what);
                return;
        }
        k = json_path_extract(r->body, r->size, &h->config->path, &v, &e);
        if (k < 0) {
                snprintf(what, sizeof(what), "no sample: %s: %s",
                         json_path_describe(&h->config->path, e.pos, where, sizeof(where)), e.reason);
                poll_failed(h, k, "path", what);
                return;
        }
        if (json_path_watts(v, h->config->factor, &w) < 0) {
                snprintf(what, sizeof(what), "no sample: %g × factor %g is out of range", v, h->config->factor);
                poll_failed(h, -ERANGE, "path", what);
                return;
        }
        if (h->failed > 0)
                log_info(h->name, "Readings are back after %u failed poll(s)", h->failed);
        h->failed = 0;
        device_report_read(h->device, 0, NULL);
        log_debug(h->name, "Consumption %d W", w);
        device_report_consumption(h->device, w);
}

static void send_poll(struct httpc *h) {
        const struct httpc_config *c = h->config;
        struct http_options o = {
                .accept = "application/json",
                /* A Shelly's user is "admin" (Gen2+ allows no other). */
                .auth = c->user || c->password ? HTTP_AUTH_ANY : HTTP_AUTH_NONE,
                .user = c->user ? c->user : "admin",
                .password = c->password,
                /* No retries: the next poll is the retry, and a late answer is an old one. */
                .attempts = 1,
                .timeout_usec = timeout_usec(c),
        };
        int r = transport_http_request(h->device, h->url, &o, on_response, h, &h->req);
        if (r < 0) {
                h->req = NULL;
                device_report_read(h->device, r, "request");
                log_input_warning(&h->rl, device_now_usec(h->device), h->name, h->url, "Cannot send GET %s: %s",
                                  h->url, strerror(-r));
        }
}

static void on_timer(void *userdata) {
        struct httpc *h = userdata;
        uint64_t now = device_now_usec(h->device), every = (uint64_t) h->config->interval_s * USEC_PER_SEC;

        if (h->req) {
                /* One request in flight: this poll is skipped, the running one still counts. */
                if (h->skipped++ == 0)
                        log_debug(h->name, "Poll skipped: the last request is still running");
        } else
                send_poll(h);
        /* Fixed cadence between the starts of polls; after a stall, start afresh from now. */
        h->next_usec += every;
        if (h->next_usec <= now)
                h->next_usec = now + every;
        if (host_timer_arm(h->device, h->timer, h->next_usec, 10 * USEC_PER_MSEC) < 0)
                log_error(h->name, "Cannot arm a timer: the meter is not polled any more");
}

static int httpc_new(struct device *d, const void *config, void **ret) {
        const struct httpc_config *c = config;
        struct httpc *h = calloc(1, sizeof(*h));
        int r;

        if (!h)
                return -ENOMEM;
        h->device = d;
        h->config = c;
        h->name = device_get_name(d);
        h->rl = INPUT_WARN_RATELIMIT;
        snprintf(h->url, sizeof(h->url), strchr(c->host, ':') ? "http://[%s]:%u%s" : "http://%s:%u%s", c->host,
                 (unsigned) c->port, c->query);
        r = host_timer_new(d, on_timer, h, &h->timer);
        if (r < 0) {
                free(h);
                return r;
        }
        *ret = h;
        return 0;
}

static void httpc_free(void *state) {
        struct httpc *h = state;
        if (!h)
                return;
        transport_http_cancel(h->device, h->req);
        host_timer_free(h->device, h->timer);
        free(h);
}

static int httpc_start(void *state) {
        struct httpc *h = state;

        /* The first poll at once: on_timer() sets the cadence from here. */
        h->next_usec = device_now_usec(h->device);
        on_timer(h);
        return 0;
}

const struct driver driver_http_consumption = {
        .version = DRIVER_VERSION,
        .name = "httpConsumption",
        .classes = CLASS_BIT(DEVICE_CLASS_CONSUMPTION),
        .parse_config = httpc_parse_config,
        .free_config = httpc_free_config,
        .new = httpc_new,
        .free = httpc_free,
        .start = httpc_start,
};
