/* SPDX-License-Identifier: MIT */
/* openDtu: a Hoymiles inverter through OpenDTU's REST API (drivers.md,
 * openDtu). Config, and the glue between the 1 s sync timer, the HTTP
 * requests (one at a time) and the reports; the decisions are in dtu-sync.c
 * (shared with ahoyDtu) and the JSON in dtu-decode.c. */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "drivers.h"
#include "dtu-config.h"
#include "dtu-decode.h"
#include "dtu-sync.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"

static int open_dtu_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "host", "serial", "power_lut", "user", "password", NULL };
        struct dtu_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (dtu_parse_common(ctx, path, obj, c) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "serial", true, NULL, &c->serial) < 0)
                r = -EINVAL;
        else {
                bool ok = strlen(c->serial) <= 20;
                for (const char *p = c->serial; ok && *p; p++)
                        ok = isalnum((unsigned char) *p);
                if (!ok) {
                        char kp[256];
                        snprintf(kp, sizeof(kp), "%s.serial", path);
                        config_error(ctx, kp, "expected the inverter serial (digits, as OpenDTU shows it), got \"%s\"",
                                     c->serial);
                        r = -EINVAL;
                }
        }
        if (config_get_string(ctx, path, obj, "user", false, "admin", &c->user) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "password", false, NULL, &c->password) < 0)
                r = -EINVAL;
        return r;
}

struct open_dtu {
        struct device *device;
        const struct dtu_config *config;
        struct dtu_sync sync;
        sd_event_source *timer;
        char *url_base, *url_live, *url_limit_status;

        /* The one request in flight: a command, or one half of a state read
         * (live data, then the limit status: is a limit still pending?). */
        struct http_request *req;
        enum dtu_action cmd;
        struct dtu_reading reading; /* the read being assembled */

        struct ratelimit rl;
};

static const char *name(const struct open_dtu *o) {
        return device_get_name(o->device);
}

static uint64_t now_usec(const struct open_dtu *o) {
        return device_now_usec(o->device);
}

static void report(struct open_dtu *o) {
        enum device_status st;
        int w;

        /* Power first: a device that just turned on then counts with its
         * real power at once. */
        if (dtu_sync_power_changed(&o->sync, &w))
                device_report_power(o->device, DEVICE_CLASS_INVERTER, w);
        if (dtu_sync_status_changed(&o->sync, &st)) {
                char limit[32] = "unknown";
                if (o->sync.has_read && o->sync.read.percent_known)
                        snprintf(limit, sizeof(limit), "%d.%d %%", o->sync.read.percent_x10 / 10,
                                 o->sync.read.percent_x10 % 10);
                if (o->sync.has_read)
                        log_info(name(o), "Status %s (OpenDTU reads %s, limit %s)",
                                 device_status_to_string(st), dtu_state_to_string(o->sync.read.state),
                                 limit);
                else
                        log_info(name(o), "Status %s (state unknown: not read yet or no answer)",
                                 device_status_to_string(st));
                device_report_status(o->device, DEVICE_CLASS_INVERTER, st);
        }
}

/* No answer, or an HTTP error (401/403: wrong user or password); the
 * status goes to err for the log. */
static int answer_error(const struct http_response *resp, char err[static DTU_ERROR_MAX]) {
        if (resp->error < 0)
                return resp->error;
        if (resp->status >= 200 && resp->status < 300)
                return 0;
        snprintf(err, DTU_ERROR_MAX, "HTTP %ld%s", resp->status,
                 resp->status == 401 || resp->status == 403 ? " (check user and password)" : "");
        return resp->status == 401 || resp->status == 403 ? -EACCES : -EPROTO;
}

/* refusal: the DTU's own error text, or empty. */
static void warn(struct open_dtu *o, int error, const char *what, const char *refusal) {
        if (!ratelimit_below(&o->rl, now_usec(o)))
                return;
        if (refusal && refusal[0])
                log_warning_errno(error, name(o), "OpenDTU refused %s: %s", what, refusal);
        else if (error == -EPERM || error == -EACCES)
                log_warning_errno(error, name(o), "OpenDTU refused %s: %m", what);
        else
                log_warning_errno(error, name(o), "No valid answer from OpenDTU to %s: %m", what);
}

static struct http_options options(const struct open_dtu *o) {
        /* Without a password the DTU is taken to be open: no auth header. */
        return (struct http_options) {
                .auth = o->config->password ? HTTP_AUTH_BASIC : HTTP_AUTH_NONE,
                .user = o->config->user,
                .password = o->config->password,
        };
}

static void read_finished(struct open_dtu *o, int error, const char *refusal) {
        if (error < 0)
                warn(o, error, "the state read", refusal);
        else
                log_debug(name(o), "Read: %s, limit %d.%d %%%s", dtu_state_to_string(o->reading.state),
                          o->reading.percent_x10 / 10, o->reading.percent_x10 % 10,
                          o->reading.limit_ack ? "" : " (pending)");
        dtu_sync_read_done(&o->sync, now_usec(o), error, error < 0 ? NULL : &o->reading);
        report(o);
}

static void on_limit_status_done(void *userdata, const struct http_response *resp) {
        struct open_dtu *o = userdata;
        char err[DTU_ERROR_MAX] = "";
        int r;

        o->req = NULL;
        r = answer_error(resp, err);
        if (r >= 0)
                r = dtu_opendtu_decode_limit_status(resp->body, resp->size, o->config->serial, &o->reading);
        read_finished(o, r, err);
}

static void on_live_done(void *userdata, const struct http_response *resp) {
        struct open_dtu *o = userdata;
        struct http_options opt = options(o);
        char err[DTU_ERROR_MAX] = "";
        int r;

        o->req = NULL;
        r = answer_error(resp, err);
        if (r >= 0)
                r = dtu_opendtu_decode_livedata(resp->body, resp->size, o->config->serial, &o->reading);
        if (r >= 0)
                r = transport_http_request(o->device, o->url_limit_status, &opt, on_limit_status_done, o,
                                           &o->req);
        if (r < 0)
                read_finished(o, r, err);
}

static void on_command_done(void *userdata, const struct http_response *resp) {
        struct open_dtu *o = userdata;
        char err[DTU_ERROR_MAX] = "";
        int r;

        o->req = NULL;
        r = answer_error(resp, err);
        if (r >= 0)
                r = dtu_opendtu_decode_answer(resp->body, resp->size, err);
        if (r < 0)
                warn(o, r, dtu_action_to_string(o->cmd), err);
        dtu_sync_command_done(&o->sync, now_usec(o), r);
        report(o);
}

static int send_command(struct open_dtu *o, enum dtu_action act, int percent) {
        _cleanup_free_ char *body = NULL, *url = NULL;
        struct http_options opt = options(o);
        int r;

        r = dtu_opendtu_encode_command(o->config->serial, act, percent, &body);
        if (r < 0)
                return r;
        if (asprintf(&url, "%s%s", o->url_base, dtu_opendtu_command_path(act)) < 0) {
                url = NULL;
                return -ENOMEM;
        }
        opt.method = "POST";
        opt.content_type = "application/x-www-form-urlencoded";
        opt.body = body;
        r = transport_http_request(o->device, url, &opt, on_command_done, o, &o->req);
        if (r < 0)
                return r;
        o->cmd = act;
        if (act == DTU_ACTION_LIMIT)
                log_info(name(o), "Sending limit %d %%", percent);
        else
                log_info(name(o), "Sending %s", dtu_action_to_string(act));
        return 0;
}

static void step(struct open_dtu *o) {
        uint64_t now = now_usec(o);
        struct http_options opt = options(o);
        enum dtu_action act;
        int percent, r;

        if (o->req) {
                /* One request at a time; only an off may push another aside. */
                if (!dtu_sync_should_preempt(&o->sync, now))
                        return;
                transport_http_cancel(TAKE_PTR(o->req));
                dtu_sync_abort(&o->sync);
        }

        act = dtu_sync_next(&o->sync, now, &percent);
        if (act == DTU_ACTION_NONE)
                return;
        if (act == DTU_ACTION_READ) {
                o->reading = (struct dtu_reading) { 0 };
                r = transport_http_request(o->device, o->url_live, &opt, on_live_done, o, &o->req);
                if (r < 0)
                        read_finished(o, r, NULL);
                return;
        }

        r = send_command(o, act, percent);
        if (r < 0) {
                warn(o, r, dtu_action_to_string(act), NULL);
                dtu_sync_command_done(&o->sync, now, r);
                report(o);
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        struct open_dtu *o = userdata;

        (void) sd_event_source_set_time(s, usec + DTU_TICK_USEC);
        step(o);
        return 0;
}

/* Run the loop at once instead of at the next tick. */
static void kick(struct open_dtu *o) {
        uint64_t now;

        if (!o->timer || sd_event_now(device_get_event(o->device), CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(o->timer, now);
}

static int open_dtu_set_on(void *state, bool on) {
        struct open_dtu *o = state;

        if (dtu_sync_set_on(&o->sync, on))
                kick(o);
        return 0;
}

static int open_dtu_set_power(void *state, int power_w, int *ret_applied_w) {
        struct open_dtu *o = state;

        *ret_applied_w = dtu_sync_set_power(&o->sync, power_w);
        return 0;
}

static void open_dtu_power_range(void *state, int *ret_min_w, int *ret_max_w) {
        struct open_dtu *o = state;

        dtu_sync_power_range(&o->sync, ret_min_w, ret_max_w);
}

static int open_dtu_energy_wh(void *state, double *ret_wh) {
        struct open_dtu *o = state;

        *ret_wh = dtu_sync_energy_take(&o->sync, now_usec(o));
        return 0;
}

static void open_dtu_free(void *state) {
        struct open_dtu *o = state;

        if (!o)
                return;
        transport_http_cancel(o->req);
        sd_event_source_disable_unref(o->timer);
        free(o->url_base);
        free(o->url_live);
        free(o->url_limit_status);
        free(o);
}

static int open_dtu_new(struct device *d, const void *config, void **ret) {
        const struct dtu_config *c = config;
        struct open_dtu *o;
        bool v6 = strchr(c->host, ':');

        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->device = d;
        o->config = c;
        /* A dead DTU fails a read every ~17 s: a few lines, not a flood. */
        o->rl = RATELIMIT_INIT(300 * DTU_USEC_PER_SEC, 5);
        dtu_sync_init(&o->sync, c->lut);
        /* The serial is alphanumeric (checked at load): no escaping needed. */
        if (asprintf(&o->url_base, "http://%s%s%s:%u", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port) < 0)
                o->url_base = NULL; /* undefined after a failed asprintf() */
        else if (asprintf(&o->url_live, "%s/api/livedata/status?inv=%s", o->url_base, c->serial) < 0)
                o->url_live = NULL;
        else if (asprintf(&o->url_limit_status, "%s/api/limit/status", o->url_base) < 0)
                o->url_limit_status = NULL;
        if (!o->url_limit_status) {
                open_dtu_free(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

static int open_dtu_start(void *state) {
        struct open_dtu *o = state;
        int r;

        r = sd_event_add_time_relative(device_get_event(o->device), &o->timer, CLOCK_MONOTONIC, 0,
                                       DTU_TICK_USEC / 10, on_tick, o);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(o->timer, "open-dtu-sync");
        return sd_event_source_set_enabled(o->timer, SD_EVENT_ON);
}

static bool open_dtu_busy(void *state) {
        struct open_dtu *o = state;

        return o->timer && dtu_sync_busy(&o->sync, now_usec(o));
}

static const struct inverter_ops open_dtu_inverter_ops = {
        .set_on = open_dtu_set_on,
        .set_power = open_dtu_set_power,
        .power_range = open_dtu_power_range,
        .energy_wh = open_dtu_energy_wh,
};

const struct driver driver_open_dtu = {
        .version = DRIVER_VERSION,
        .name = "openDtu",
        .classes = CLASS_BIT(DEVICE_CLASS_INVERTER),
        .parse_config = open_dtu_parse_config,
        .free_config = dtu_free_config,
        .new = open_dtu_new,
        .free = open_dtu_free,
        .start = open_dtu_start,
        .busy = open_dtu_busy,
        .inverter = &open_dtu_inverter_ops,
};
