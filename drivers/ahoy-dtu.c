/* SPDX-License-Identifier: MIT */
/* ahoyDtu: a Hoymiles inverter through AhoyDTU's REST API (drivers.md,
 * ahoyDtu). Config, and the glue between the 1 s sync timer, the HTTP
 * requests (one at a time) and the reports; the decisions are in dtu-sync.c
 * and the JSON in dtu-decode.c. */

#include <json-c/json.h>
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

static int ahoy_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "host", "id", "power_lut", "password", NULL };
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
        if (config_get_int(ctx, path, obj, "id", true, 0, 0, 255, &c->id) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "password", false, NULL, &c->password) < 0)
                r = -EINVAL;
        return r;
}

struct ahoy_dtu {
        struct device *device;
        const struct dtu_config *config;
        struct dtu_sync sync;
        sd_event_source *timer;
        char *url_state, *url_ctrl;

        /* The one request in flight (a read, a login or a command); the
         * command it is for, also across the login. */
        struct http_request *req;
        enum dtu_action cmd;
        int cmd_percent;
        bool relogged; /* the one login after ERR_PROTECTED is used up */
        char *token;   /* never logged */

        struct ratelimit rl;
};

static const char *name(const struct ahoy_dtu *a) {
        return device_get_name(a->device);
}

static uint64_t now_usec(const struct ahoy_dtu *a) {
        return device_now_usec(a->device);
}

static void report(struct ahoy_dtu *a) {
        enum device_status st;
        int w;

        /* Power first: a device that just turned on then counts with its
         * real power at once. */
        if (dtu_sync_power_changed(&a->sync, &w))
                device_report_power(a->device, DEVICE_CLASS_INVERTER, w);
        if (dtu_sync_status_changed(&a->sync, &st)) {
                char limit[32] = "unknown";
                if (a->sync.has_read && a->sync.read.percent_known)
                        snprintf(limit, sizeof(limit), "%d.%d %%", a->sync.read.percent_x10 / 10,
                                 a->sync.read.percent_x10 % 10);
                if (a->sync.has_read)
                        log_info(name(a), "Status %s (AhoyDTU reads %s, limit %s)",
                                 device_status_to_string(st), dtu_state_to_string(a->sync.read.state),
                                 limit);
                else
                        log_info(name(a), "Status %s (state unknown: not read yet or no answer)",
                                 device_status_to_string(st));
                device_report_status(a->device, DEVICE_CLASS_INVERTER, st);
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
static void warn(struct ahoy_dtu *a, int error, const char *what, const char *refusal) {
        if (!ratelimit_below(&a->rl, now_usec(a)))
                return;
        if (refusal && refusal[0])
                log_warning_errno(error, name(a), "AhoyDTU refused %s: %s", what, refusal);
        else if (error == -EPERM || error == -EACCES)
                log_warning_errno(error, name(a), "AhoyDTU refused %s: %m", what);
        else
                log_warning_errno(error, name(a), "No valid answer from AhoyDTU to %s: %m", what);
}

static void command_finished(struct ahoy_dtu *a, int error) {
        dtu_sync_command_done(&a->sync, now_usec(a), error);
        report(a);
}

static void on_command_done(void *userdata, const struct http_response *resp);
static void on_login_done(void *userdata, const struct http_response *resp);

static int send_login(struct ahoy_dtu *a) {
        _cleanup_free_ char *body = NULL;
        int r;

        r = dtu_ahoy_encode_login(a->config->password, &body);
        if (r < 0)
                return r;
        struct http_options o = { .method = "POST", .content_type = "application/json", .body = body };
        r = transport_http_request(a->device, a->url_ctrl, &o, on_login_done, a, &a->req);
        if (r < 0)
                return r;
        log_debug(name(a), "Logging in to AhoyDTU");
        return 0;
}

static int send_command(struct ahoy_dtu *a) {
        _cleanup_free_ char *body = NULL;
        int r;

        if (a->config->password && !a->token)
                return send_login(a);
        r = dtu_ahoy_encode_command(a->config->id, a->cmd, a->cmd_percent, a->token, &body);
        if (r < 0)
                return r;
        struct http_options o = { .method = "POST", .content_type = "application/json", .body = body };
        r = transport_http_request(a->device, a->url_ctrl, &o, on_command_done, a, &a->req);
        if (r < 0)
                return r;
        return 0;
}

static void on_login_done(void *userdata, const struct http_response *resp) {
        struct ahoy_dtu *a = userdata;
        char err[DTU_ERROR_MAX] = "";
        int r;

        a->req = NULL;
        r = answer_error(resp, err);
        if (r >= 0)
                r = dtu_ahoy_decode_login(resp->body, resp->size, &a->token, err);
        if (r >= 0)
                r = send_command(a);
        if (r < 0) {
                warn(a, r, "the login", err);
                command_finished(a, r);
        }
}

static void on_command_done(void *userdata, const struct http_response *resp) {
        struct ahoy_dtu *a = userdata;
        char err[DTU_ERROR_MAX] = "";
        int r;

        a->req = NULL;
        r = answer_error(resp, err);
        if (r >= 0)
                r = dtu_ahoy_decode_answer(resp->body, resp->size, err);
        /* Tokens expire after 20 minutes without use: log in once more. */
        if (r == -EACCES && a->config->password && !a->relogged) {
                log_info(name(a), "AhoyDTU refused %s with %s: logging in again",
                         dtu_action_to_string(a->cmd), err);
                a->relogged = true;
                a->token = mfree(a->token);
                r = send_login(a);
                if (r >= 0)
                        return;
        }
        if (r < 0)
                warn(a, r, dtu_action_to_string(a->cmd), err);
        command_finished(a, r);
}

static void on_read_done(void *userdata, const struct http_response *resp) {
        struct ahoy_dtu *a = userdata;
        char err[DTU_ERROR_MAX] = "";
        struct dtu_reading rd;
        int r;

        a->req = NULL;
        r = answer_error(resp, err);
        if (r >= 0)
                r = dtu_ahoy_decode_state(resp->body, resp->size, &rd);
        if (r < 0)
                warn(a, r, "the state read", err);
        else
                log_debug(name(a), "Read: %s, limit %d.%d %%%s", dtu_state_to_string(rd.state),
                          rd.percent_x10 / 10, rd.percent_x10 % 10, rd.limit_ack ? "" : " (travelling)");
        dtu_sync_read_done(&a->sync, now_usec(a), r, r < 0 ? NULL : &rd);
        report(a);
}

static void step(struct ahoy_dtu *a) {
        uint64_t now = now_usec(a);
        enum dtu_action act;
        int percent, r;

        if (a->req) {
                /* One request at a time; only an off may push another aside. */
                if (!dtu_sync_should_preempt(&a->sync, now))
                        return;
                transport_http_cancel(TAKE_PTR(a->req));
                dtu_sync_abort(&a->sync);
        }

        act = dtu_sync_next(&a->sync, now, &percent);
        if (act == DTU_ACTION_NONE)
                return;
        if (act == DTU_ACTION_READ) {
                r = transport_http_request(a->device, a->url_state, NULL, on_read_done, a, &a->req);
                if (r >= 0)
                        return;
                warn(a, r, "the state read", NULL);
                dtu_sync_read_done(&a->sync, now, r, NULL);
                report(a);
                return;
        }

        a->cmd = act;
        a->cmd_percent = percent;
        a->relogged = false;
        /* Logged here, once, even when a login goes first. */
        if (act == DTU_ACTION_LIMIT)
                log_info(name(a), "Sending limit %d %%", percent);
        else
                log_info(name(a), "Sending %s", dtu_action_to_string(act));
        r = send_command(a);
        if (r < 0) {
                warn(a, r, dtu_action_to_string(act), NULL);
                command_finished(a, r);
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        struct ahoy_dtu *a = userdata;

        (void) sd_event_source_set_time(s, usec + DTU_TICK_USEC);
        step(a);
        return 0;
}

/* Run the loop at once instead of at the next tick. */
static void kick(struct ahoy_dtu *a) {
        uint64_t now;

        if (!a->timer || sd_event_now(device_get_event(a->device), CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(a->timer, now);
}

static int ahoy_set_on(void *state, bool on) {
        struct ahoy_dtu *a = state;

        if (dtu_sync_set_on(&a->sync, on))
                kick(a);
        return 0;
}

static int ahoy_set_power(void *state, int power_w, int *ret_applied_w) {
        struct ahoy_dtu *a = state;

        *ret_applied_w = dtu_sync_set_power(&a->sync, power_w);
        return 0;
}

static void ahoy_power_range(void *state, int *ret_min_w, int *ret_max_w) {
        struct ahoy_dtu *a = state;

        dtu_sync_power_range(&a->sync, ret_min_w, ret_max_w);
}

static int ahoy_energy_wh(void *state, double *ret_wh) {
        struct ahoy_dtu *a = state;

        *ret_wh = dtu_sync_energy_take(&a->sync, now_usec(a));
        return 0;
}

static void ahoy_free(void *state) {
        struct ahoy_dtu *a = state;

        if (!a)
                return;
        transport_http_cancel(a->req);
        sd_event_source_disable_unref(a->timer);
        free(a->url_state);
        free(a->url_ctrl);
        free(a->token);
        free(a);
}

static int ahoy_new(struct device *d, const void *config, void **ret) {
        const struct dtu_config *c = config;
        struct ahoy_dtu *a;
        bool v6 = strchr(c->host, ':');

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->device = d;
        a->config = c;
        /* A dead DTU fails a read every ~17 s: a few lines, not a flood. */
        a->rl = RATELIMIT_INIT(300 * DTU_USEC_PER_SEC, 5);
        dtu_sync_init(&a->sync, c->lut);
        if (asprintf(&a->url_state, "http://%s%s%s:%u/api/inverter/id/%d", v6 ? "[" : "", c->host,
                     v6 ? "]" : "", c->port, c->id) < 0)
                a->url_state = NULL; /* undefined after a failed asprintf() */
        if (asprintf(&a->url_ctrl, "http://%s%s%s:%u/api/ctrl", v6 ? "[" : "", c->host, v6 ? "]" : "",
                     c->port) < 0)
                a->url_ctrl = NULL;
        if (!a->url_state || !a->url_ctrl) {
                ahoy_free(a);
                return -ENOMEM;
        }
        *ret = a;
        return 0;
}

static int ahoy_start(void *state) {
        struct ahoy_dtu *a = state;
        int r;

        r = sd_event_add_time_relative(device_get_event(a->device), &a->timer, CLOCK_MONOTONIC, 0,
                                       DTU_TICK_USEC / 10, on_tick, a);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(a->timer, "ahoy-dtu-sync");
        return sd_event_source_set_enabled(a->timer, SD_EVENT_ON);
}

static bool ahoy_busy(void *state) {
        struct ahoy_dtu *a = state;

        return a->timer && dtu_sync_busy(&a->sync, now_usec(a));
}

static const struct inverter_ops ahoy_inverter_ops = {
        .set_on = ahoy_set_on,
        .set_power = ahoy_set_power,
        .power_range = ahoy_power_range,
        .energy_wh = ahoy_energy_wh,
};

const struct driver driver_ahoy_dtu = {
        .version = DRIVER_VERSION,
        .name = "ahoyDtu",
        .classes = CLASS_BIT(DEVICE_CLASS_INVERTER),
        .parse_config = ahoy_parse_config,
        .free_config = dtu_free_config,
        .new = ahoy_new,
        .free = ahoy_free,
        .start = ahoy_start,
        .busy = ahoy_busy,
        .inverter = &ahoy_inverter_ops,
};
