/* SPDX-License-Identifier: MIT */
/* openDtu: a Hoymiles inverter through OpenDTU's REST API (drivers.md,
 * openDtu). Config and the requests (a state read is live data + limit
 * status; commands are form POSTs); the timer, reports and inverter ops are
 * in dtu-glue.c (shared with ahoyDtu), the decisions in dtu-sync.c and the
 * JSON in dtu-decode.c. */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "dtu-config.h"
#include "dtu-decode.h"
#include "dtu-glue.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"

struct open_dtu {
        struct dtu_glue glue; /* first: the driver slots of dtu-glue.c take this struct */

        /* A state read is two requests: live data, then the limit status (is
         * a limit still pending?). */
        struct dtu_reading reading; /* the read being assembled */
};

static struct http_options options(const struct dtu_glue *g) {
        /* Without a password the DTU is taken to be open: no auth header. */
        return (struct http_options) {
                .auth = g->config->password ? HTTP_AUTH_BASIC : HTTP_AUTH_NONE,
                .user = g->config->user,
                .password = g->config->password,
        };
}

/* -ENOENT from the decoders: OpenDTU lists other inverters, not ours. */
static void explain_not_listed(const struct dtu_glue *g, int r, char err[static DTU_ERROR_MAX]) {
        if (r == -ENOENT)
                snprintf(err, DTU_ERROR_MAX, "inverter %s not listed (check serial)", g->config->serial);
}

static void on_limit_status_done(void *userdata, const struct http_response *resp) {
        struct open_dtu *o = userdata;
        char err[DTU_ERROR_MAX] = "";
        int r;

        r = dtu_glue_answer(&o->glue, resp, err);
        if (r >= 0)
                r = dtu_opendtu_decode_limit_status(resp->body, resp->size, o->glue.config->serial,
                                                    &o->reading);
        explain_not_listed(&o->glue, r, err);
        dtu_glue_read_done(&o->glue, r, err, &o->reading);
}

static void on_live_done(void *userdata, const struct http_response *resp) {
        struct open_dtu *o = userdata;
        struct http_options opt = options(&o->glue);
        _cleanup_free_ char *url = NULL;
        char err[DTU_ERROR_MAX] = "";
        int r;

        r = dtu_glue_answer(&o->glue, resp, err);
        if (r >= 0)
                r = dtu_opendtu_decode_livedata(resp->body, resp->size, o->glue.config->serial, &o->reading);
        explain_not_listed(&o->glue, r, err);
        if (r >= 0)
                r = dtu_glue_url(&o->glue, &url, "/api/limit/status");
        if (r >= 0)
                r = transport_http_request(o->glue.device, url, &opt, on_limit_status_done, o, &o->glue.req);
        if (r < 0)
                dtu_glue_read_done(&o->glue, r, err, NULL);
}

static void on_command_done(void *userdata, const struct http_response *resp) {
        struct dtu_glue *g = userdata;
        char err[DTU_ERROR_MAX] = "";
        int r;

        r = dtu_glue_answer(g, resp, err);
        if (r >= 0)
                r = dtu_opendtu_decode_answer(resp->body, resp->size, err);
        dtu_glue_command_done(g, r, dtu_action_to_string(g->cmd), err);
}

static int open_dtu_read(struct dtu_glue *g) {
        struct open_dtu *o = (struct open_dtu *) g;
        struct http_options opt = options(g);
        _cleanup_free_ char *url = NULL;
        int r;

        o->reading = (struct dtu_reading) { 0 };
        /* The serial is alphanumeric (checked at load): no escaping needed. */
        r = dtu_glue_url(g, &url, "/api/livedata/status?inv=%s", g->config->serial);
        if (r < 0)
                return r;
        return transport_http_request(g->device, url, &opt, on_live_done, o, &g->req);
}

static int open_dtu_command(struct dtu_glue *g, enum dtu_action act, int percent) {
        _cleanup_free_ char *body = NULL, *url = NULL;
        struct http_options opt = options(g);
        int r;

        r = dtu_opendtu_encode_command(g->config->serial, act, percent, &body);
        if (r < 0)
                return r;
        r = dtu_glue_url(g, &url, "%s", dtu_opendtu_command_path(act));
        if (r < 0)
                return r;
        opt.method = "POST";
        opt.content_type = "application/x-www-form-urlencoded";
        opt.body = body;
        r = transport_http_request(g->device, url, &opt, on_command_done, g, &g->req);
        if (r < 0)
                return r;
        dtu_glue_log_command(g, act, percent);
        return 0;
}

static const struct dtu_glue_kind open_dtu_kind = {
        .dtu = "OpenDTU",
        .unacked = " (pending)",
        .size = sizeof(struct open_dtu),
        .read = open_dtu_read,
        .command = open_dtu_command,
};

static int open_dtu_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "host", "serial", "power_lut", "user", "password", "limit_refresh", "restart_at", NULL };
        struct dtu_config *c;
        int r;

        r = dtu_parse_common(ctx, path, obj, keys, &open_dtu_kind, &c);
        if (r == -ENOMEM)
                return r;
        *ret = c;
        if (config_get_string(ctx, path, obj, "serial", true, NULL, &c->serial) < 0)
                r = -EINVAL;
        else {
                bool ok = strlen(c->serial) <= 20;
                for (const char *p = c->serial; ok && *p; p++)
                        ok = isalnum((unsigned char) *p);
                if (!ok) {
                        char kp[256], shown[CONFIG_SHOW_SIZE];
                        snprintf(kp, sizeof(kp), "%s.serial", path);
                        config_error(ctx, kp, "expected the inverter serial (digits, as OpenDTU shows it), got \"%s\"",
                                     config_show(shown, c->serial));
                        r = -EINVAL;
                }
        }
        if (config_get_string(ctx, path, obj, "user", false, "admin", &c->user) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "password", false, NULL, &c->password) < 0)
                r = -EINVAL;
        return r;
}

const struct driver driver_open_dtu = DTU_GLUE_DRIVER("openDtu", open_dtu_parse_config);
