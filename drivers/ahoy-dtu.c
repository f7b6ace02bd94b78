/* SPDX-License-Identifier: MIT */
/* ahoyDtu: a Hoymiles inverter through AhoyDTU's REST API (drivers.md,
 * ahoyDtu). Config, the requests (state read; commands with the optional
 * login and token); the timer, reports and inverter ops are in dtu-glue.c,
 * the decisions in dtu-sync.c and the JSON in dtu-decode.c. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "dtu-config.h"
#include "dtu-decode.h"
#include "dtu-glue.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"

struct ahoy_dtu {
        struct dtu_glue glue; /* first: the driver slots of dtu-glue.c take this struct */

        /* The command in flight, also across the login. */
        int cmd_percent;
        bool relogged; /* the one login after ERR_PROTECTED is used up */
        char *token;   /* never logged */
};

static struct ahoy_dtu *ahoy(struct dtu_glue *g) {
        return (struct ahoy_dtu *) g;
}

static void on_command_done(void *userdata, const struct http_response *resp);
static void on_login_done(void *userdata, const struct http_response *resp);

/* Logins and commands: POST /api/ctrl with a JSON body. */
static int post_ctrl(struct ahoy_dtu *a, const char *body, transport_http_done done) {
        struct http_options o = { .method = "POST", .content_type = "application/json", .body = body };
        _cleanup_free_ char *url = NULL;
        int r;

        r = dtu_glue_url(&a->glue, &url, "/api/ctrl");
        if (r < 0)
                return r;
        return transport_http_request(a->glue.device, url, &o, done, a, &a->glue.req);
}

static int send_login(struct ahoy_dtu *a) {
        _cleanup_free_ char *body = NULL;
        int r;

        r = dtu_ahoy_encode_login(a->glue.config->password, &body);
        if (r < 0)
                return r;
        r = post_ctrl(a, body, on_login_done);
        if (r < 0)
                return r;
        log_debug(dtu_glue_name(&a->glue), "Logging in to AhoyDTU");
        return 0;
}

static int send_command(struct ahoy_dtu *a) {
        _cleanup_free_ char *body = NULL;
        int r;

        if (a->glue.config->password && !a->token)
                return send_login(a);
        r = dtu_ahoy_encode_command(a->glue.config->id, a->glue.cmd, a->cmd_percent, a->token, &body);
        if (r < 0)
                return r;
        return post_ctrl(a, body, on_command_done);
}

static void on_login_done(void *userdata, const struct http_response *resp) {
        struct ahoy_dtu *a = userdata;
        char err[DTU_ERROR_MAX] = "";
        int r;

        r = dtu_glue_answer(&a->glue, resp, err);
        if (r >= 0)
                r = dtu_ahoy_decode_login(resp->body, resp->size, &a->token, err);
        if (r >= 0)
                r = send_command(a);
        if (r < 0)
                dtu_glue_command_done(&a->glue, r, "the login", err);
}

static void on_command_done(void *userdata, const struct http_response *resp) {
        struct ahoy_dtu *a = userdata;
        char err[DTU_ERROR_MAX] = "";
        int r;

        r = dtu_glue_answer(&a->glue, resp, err);
        if (r >= 0)
                r = dtu_ahoy_decode_answer(resp->body, resp->size, err);
        /* Tokens expire after 20 minutes without use: log in once more. */
        if (r == -EACCES && a->glue.config->password && !a->relogged) {
                log_info(dtu_glue_name(&a->glue), "AhoyDTU refused %s with %s: logging in again",
                         dtu_action_to_string(a->glue.cmd), err);
                a->relogged = true;
                a->token = mfree(a->token);
                r = send_login(a);
                if (r >= 0)
                        return;
        }
        dtu_glue_command_done(&a->glue, r, dtu_action_to_string(a->glue.cmd), err);
}

static void on_read_done(void *userdata, const struct http_response *resp) {
        struct dtu_glue *g = userdata;
        char err[DTU_ERROR_MAX] = "";
        struct dtu_reading rd;
        int r;

        r = dtu_glue_answer(g, resp, err);
        if (r >= 0)
                r = dtu_ahoy_decode_state(resp->body, resp->size, &rd);
        dtu_glue_read_done(g, r, err, &rd);
}

static int ahoy_read(struct dtu_glue *g) {
        _cleanup_free_ char *url = NULL;
        int r;

        r = dtu_glue_url(g, &url, "/api/inverter/id/%d", g->config->id);
        if (r < 0)
                return r;
        return transport_http_request(g->device, url, NULL, on_read_done, g, &g->req);
}

static int ahoy_command(struct dtu_glue *g, enum dtu_action act, int percent) {
        struct ahoy_dtu *a = ahoy(g);

        a->cmd_percent = percent;
        a->relogged = false;
        /* Logged here, once, even when a login goes first. */
        dtu_glue_log_command(g, act, percent);
        return send_command(a);
}

static void ahoy_clear(struct dtu_glue *g) {
        free(ahoy(g)->token);
}

static const struct dtu_glue_kind ahoy_kind = {
        .dtu = "AhoyDTU",
        .unacked = " (travelling)",
        .size = sizeof(struct ahoy_dtu),
        .read = ahoy_read,
        .command = ahoy_command,
        .clear = ahoy_clear,
};

static int ahoy_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "host", "id", "power_lut", "password", "limit_refresh", "restart_at", NULL };
        struct dtu_config *c;
        int r;

        r = dtu_parse_common(ctx, path, obj, keys, &ahoy_kind, &c);
        if (r == -ENOMEM)
                return r;
        *ret = c;
        if (config_get_int(ctx, path, obj, "id", true, 0, 0, 255, &c->id) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "password", false, NULL, &c->password) < 0)
                r = -EINVAL;
        return r;
}

const struct driver driver_ahoy_dtu = DTU_GLUE_DRIVER("ahoyDtu", ahoy_parse_config);
