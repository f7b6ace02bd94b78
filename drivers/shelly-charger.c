/* SPDX-License-Identifier: MIT */
/* shellyCharger and shellyHeater: a grid charger or a battery heater switched
 * by a Shelly relay (Gen1 or Gen2+); one implementation, two drivers that
 * differ only in their class. Every on-command carries an auto-off timer and
 * is renewed well before it runs out, so a dead daemon cannot leave the
 * device on (dead-man switch). One request at a time; a timer decides what
 * is due next. */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "drivers.h"
#include "homebattery/energy.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"
#include "shelly-decode.h"
#include "homebattery/time-util.h"

/* The device switches itself off this long after the last on-command. */
#define AUTO_OFF_S 300
#define RENEW_USEC (115 * USEC_PER_SEC)
#define POLL_USEC (120 * USEC_PER_SEC)
#define POLL_SYNCING_USEC (2 * USEC_PER_SEC)
#define DETECT_RETRY_USEC (10 * USEC_PER_SEC)

struct shelly_config {
        enum device_class cls; /* charger or heater: which driver parsed it */
        char *host;
        uint16_t port;
        int relay_id;
        int generation; /* 0: detect with GET /shelly */
        char *user;
        char *password;
};

static void shelly_free_config(void *p) {
        struct shelly_config *c = p;
        if (!c)
                return;
        free(c->host);
        free(c->user);
        free(c->password);
        free(c);
}

static int shelly_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj,
                               enum device_class cls, void **ret) {
        static const char *const keys[] = { "driver", "host", "relay_id", "generation", "user", "password", NULL };
        struct shelly_config *c;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        c->cls = cls;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (config_get_hostport(ctx, path, obj, "host", true, &c->host, &c->port) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "relay_id", false, 0, 0, 15, &c->relay_id) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "generation", false, 0, 1, 2, &c->generation) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "user", false, NULL, &c->user) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "password", false, NULL, &c->password) < 0)
                r = -EINVAL;
        return r;
}

static int shelly_charger_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj,
                                       void **ret) {
        return shelly_parse_config(ctx, path, obj, DEVICE_CLASS_CHARGER, ret);
}

static int shelly_heater_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj,
                                      void **ret) {
        return shelly_parse_config(ctx, path, obj, DEVICE_CLASS_HEATER, ret);
}

enum shelly_op {
        OP_NONE,
        OP_DETECT,
        OP_COMMAND,
        OP_STATUS,
        OP_METER,
};

struct shelly {
        struct device *device;
        const struct shelly_config *config;
        const char *name;
        char base[300];
        int gen;

        bool want_on;
        bool command_due;
        bool poll_due;
        uint64_t last_command_usec;
        uint64_t last_poll_usec;
        uint64_t attempt_usec; /* last command sent; 0 = send the next at once */
        uint64_t detect_after_usec;

        bool state_known;
        struct shelly_state state;
        enum device_status status;

        struct http_request *req;
        enum shelly_op op;
        bool op_on; /* OP_COMMAND: whether it switches on (want_on may have changed since) */
        struct host_timer *timer;

        bool has_total;
        double last_total_wh;
        double pending_wh;
        bool metered;

        struct ratelimit rl;
};

static void kick(struct shelly *s);

static uint64_t now(struct shelly *s) {
        return device_now_usec(s->device);
}

static void set_status(struct shelly *s, enum device_status st) {
        if (st == s->status)
                return;
        log_info(s->name, "Status %s -> %s", device_status_to_string(s->status), device_status_to_string(st));
        s->status = st;
        device_report_status(s->device, s->config->cls, st);
}

static bool ok(const struct http_response *r) {
        return r->error == 0 && r->status >= 200 && r->status < 300;
}

static bool denied(const struct http_response *r) {
        return r->status == 401 || r->status == 403;
}

/* No answer, an HTTP error, or (r is ok) an answer that did not decode. */
static void fail(struct shelly *s, const struct http_response *r, const char *what) {
        device_report_read(s->device, r->error < 0 ? r->error : !ok(r) ? (denied(r) ? -EACCES : -EPROTO) : -EBADMSG,
                           what);
        if (ratelimit_below(&s->rl, now(s))) {
                if (r->error < 0)
                        log_warning_errno(r->error, s->name, "%s failed after %u attempt(s): %m", what,
                                          r->attempt);
                else if (!ok(r))
                        log_warning(s->name, "%s failed after %u attempt(s): HTTP %ld%s", what, r->attempt,
                                    r->status, denied(r) ? " (check user and password)" : "");
                else
                        log_warning(s->name, "%s failed: unexpected answer (%zu bytes, not a Shelly's JSON)",
                                    what, r->size);
        }
        set_status(s, DEVICE_STATUS_FAULT);
}

static void update_energy(struct shelly *s, const struct shelly_state *st) {
        if (!st->has_energy)
                return;
        s->metered = true;
        /* A smaller total means the device reset its counter: count from 0. */
        s->pending_wh += energy_counter_delta(s->has_total, s->last_total_wh, st->energy_wh);
        s->last_total_wh = st->energy_wh;
        s->has_total = true;
}

static void got_state(struct shelly *s, const struct shelly_state *st) {
        device_report_read(s->device, 0, NULL);
        s->state.on = st->on;
        s->state_known = true;
        if (st->has_power) {
                s->state.has_power = true;
                s->state.power_w = st->power_w;
        }
        device_report_power(s->device, s->config->cls,
                            st->on && s->state.has_power ? (int) (s->state.power_w + 0.5) : 0);
        if (st->on == s->want_on)
                set_status(s, st->on ? DEVICE_STATUS_ON : DEVICE_STATUS_OFF);
        else {
                /* Not what we asked for: say so, send the command again, look
                 * again soon. */
                set_status(s, DEVICE_STATUS_SYNCING);
                s->command_due = true;
        }
}

static void on_response(void *userdata, const struct http_response *r) {
        struct shelly *s = userdata;
        enum shelly_op op = s->op;
        struct shelly_state st = {};
        int k;

        s->req = NULL;
        s->op = OP_NONE;
        switch (op) {
        case OP_DETECT:
                if (!ok(r) || (k = shelly_decode_generation(r->body, r->size)) < 0) {
                        s->detect_after_usec = now(s) + DETECT_RETRY_USEC;
                        fail(s, r, "Detecting the generation (GET /shelly)");
                        break;
                }
                s->gen = k >= 2 ? 2 : 1;
                log_info(s->name, "Detected a Shelly Gen%d%s", k, k > 2 ? " (using the Gen2 API)" : "");
                break;
        case OP_COMMAND:
                if (!ok(r)) {
                        fail(s, r, s->op_on ? "Switching on" : "Switching off");
                        break;
                }
                /* A new wish that came while this command was in flight is
                 * still due: it goes out next. */
                if (s->op_on == s->want_on) {
                        s->command_due = false;
                        s->last_command_usec = now(s);
                }
                s->poll_due = true;
                if (s->gen == 1 && shelly_decode_gen1_relay(r->body, r->size, &st) >= 0)
                        got_state(s, &st);
                break;
        case OP_STATUS:
                s->last_poll_usec = now(s);
                s->poll_due = false;
                k = !ok(r) ? -EIO
                    : s->gen == 1 ? shelly_decode_gen1_relay(r->body, r->size, &st)
                                  : shelly_decode_gen2_status(r->body, r->size, &st);
                if (k < 0) {
                        fail(s, r, "Reading the switch state");
                        break;
                }
                update_energy(s, &st);
                got_state(s, &st);
                if (s->gen == 1 && s->state_known) {
                        s->op = OP_METER; /* Gen1 reports power and energy separately */
                        char url[400];
                        snprintf(url, sizeof(url), "%s/meter/%d", s->base, s->config->relay_id);
                        struct http_options o = {
                                .auth = s->config->password ? HTTP_AUTH_BASIC : HTTP_AUTH_NONE,
                                .user = s->config->user ? s->config->user : "admin",
                                .password = s->config->password,
                                /* Default attempts, as every request (a 404 of a
                                 * plug without a meter is final at once). */
                        };
                        if (transport_http_request(s->device, url, &o, on_response, s, &s->req) >= 0)
                                return;
                        /* Not sent: the energy waits for the next poll, which kick() schedules. */
                        s->op = OP_NONE;
                }
                break;
        case OP_METER:
                /* A plug without a meter answers 404: energy stays unknown. */
                if (ok(r) && shelly_decode_gen1_meter(r->body, r->size, &st) >= 0) {
                        update_energy(s, &st);
                        if (st.has_power) {
                                s->state.has_power = true;
                                s->state.power_w = st.power_w;
                                device_report_power(s->device, s->config->cls,
                                                    s->state.on ? (int) (st.power_w + 0.5) : 0);
                        }
                }
                break;
        case OP_NONE:
                break;
        }
        kick(s);
}

static int send_request(struct shelly *s, enum shelly_op op, const char *path) {
        char url[400];
        struct http_options o = {
                .user = s->gen >= 2 ? "admin" : (s->config->user ? s->config->user : "admin"),
                .password = s->config->password,
        };

        /* /shelly is never protected. */
        if (op != OP_DETECT && s->config->password)
                o.auth = s->gen >= 2 ? HTTP_AUTH_DIGEST : HTTP_AUTH_BASIC;
        snprintf(url, sizeof(url), "%s%s", s->base, path);
        s->op = op;
        int r = transport_http_request(s->device, url, &o, on_response, s, &s->req);
        if (r < 0) {
                s->op = OP_NONE;
                return log_warning_errno(r, s->name, "Cannot send a request: %m");
        }
        return 0;
}

static void on_timer(void *userdata) {
        kick(userdata);
}

static void arm(struct shelly *s, uint64_t when) {
        if (host_timer_arm(s->device, s->timer, when, 100000) < 0)
                log_error(s->name, "Cannot arm a timer: the switch is not watched any more");
}

/* Decides what to do next: one request at a time, in the order detect,
 * command, poll; otherwise sleep until the next renewal or poll is due. */
static void kick(struct shelly *s) {
        char path[96];
        uint64_t t = now(s), next;
        int id = s->config->relay_id;

        if (s->req)
                return;
        if (s->gen == 0) {
                if (t >= s->detect_after_usec && send_request(s, OP_DETECT, "/shelly") >= 0)
                        return;
                arm(s, s->detect_after_usec > t ? s->detect_after_usec : t + DETECT_RETRY_USEC);
                return;
        }
        if (s->want_on && t >= s->last_command_usec + RENEW_USEC)
                s->command_due = true;
        /* A repeated command (device did not follow, or did not answer) goes
         * out at most every 2 s; a new wish goes out at once. */
        if (s->command_due && (s->attempt_usec == 0 || t >= s->attempt_usec + POLL_SYNCING_USEC)) {
                s->attempt_usec = t ? t : 1;
                if (s->gen == 1)
                        snprintf(path, sizeof(path), "/relay/%d?turn=%s%s", id, s->want_on ? "on" : "off",
                                 s->want_on ? "&timer=300" : "");
                else
                        snprintf(path, sizeof(path), "/rpc/Switch.Set?id=%d&on=%s%s", id,
                                 s->want_on ? "true" : "false", s->want_on ? "&toggle_after=300" : "");
                log_info(s->name, "Switching %s%s", s->want_on ? "on" : "off",
                         s->want_on ? " (auto-off in 300 s)" : "");
                s->op_on = s->want_on;
                if (send_request(s, OP_COMMAND, path) >= 0)
                        return;
        }
        uint64_t poll_every = s->status == DEVICE_STATUS_SYNCING || s->status == DEVICE_STATUS_FAULT
                                      ? POLL_SYNCING_USEC
                                      : POLL_USEC;
        if (s->poll_due || t >= s->last_poll_usec + poll_every) {
                if (s->gen == 1)
                        snprintf(path, sizeof(path), "/relay/%d", id);
                else
                        snprintf(path, sizeof(path), "/rpc/Switch.GetStatus?id=%d", id);
                if (send_request(s, OP_STATUS, path) >= 0)
                        return;
        }
        next = s->last_poll_usec + poll_every;
        if (s->want_on && s->last_command_usec + RENEW_USEC < next)
                next = s->last_command_usec + RENEW_USEC;
        if (s->command_due && s->attempt_usec + POLL_SYNCING_USEC < next)
                next = s->attempt_usec + POLL_SYNCING_USEC;
        arm(s, next > t ? next : t + POLL_SYNCING_USEC);
}

static int shelly_set_on(void *state, bool on) {
        struct shelly *s = state;

        /* An off always goes out again: the safe state must not trust what
         * the last poll (up to 2 minutes old) said. */
        if (on != s->want_on || !on || !s->state_known || s->state.on != on) {
                s->command_due = true;
                s->attempt_usec = 0;
        }
        s->want_on = on;
        if (s->status != DEVICE_STATUS_FAULT)
                set_status(s, DEVICE_STATUS_SYNCING);
        kick(s);
        return 0;
}

static int shelly_energy_wh(void *state, double *ret_wh) {
        struct shelly *s = state;

        if (!s->metered)
                return -ENODATA;
        *ret_wh = s->pending_wh;
        s->pending_wh = 0;
        return 0;
}

static bool shelly_busy(void *state) {
        const struct shelly *s = state;
        return s->command_due || s->op == OP_COMMAND;
}

static int shelly_new(struct device *d, const void *config, void **ret) {
        const struct shelly_config *c = config;
        struct shelly *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->device = d;
        s->config = c;
        s->name = device_get_name(d);
        s->gen = c->generation;
        s->status = DEVICE_STATUS_SYNCING;
        /* Off until told otherwise: also switches off a charger (or heater)
         * that a previous run left on. */
        s->command_due = true;
        s->rl = RATELIMIT_INIT(60 * USEC_PER_SEC, 3);
        snprintf(s->base, sizeof(s->base), strchr(c->host, ':') ? "http://[%s]:%u" : "http://%s:%u", c->host,
                 (unsigned) c->port);
        r = host_timer_new(d, on_timer, s, &s->timer);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static void shelly_free(void *state) {
        struct shelly *s = state;
        if (!s)
                return;
        transport_http_cancel(s->device, s->req);
        host_timer_free(s->device, s->timer);
        free(s);
}

static int shelly_start(void *state) {
        kick(state);
        return 0;
}

static const struct switch_ops shelly_switch_ops = {
        .set_on = shelly_set_on,
        .energy_wh = shelly_energy_wh,
};

const struct driver driver_shelly_charger = {
        .version = DRIVER_VERSION,
        .name = "shellyCharger",
        .classes = CLASS_BIT(DEVICE_CLASS_CHARGER),
        .parse_config = shelly_charger_parse_config,
        .free_config = shelly_free_config,
        .new = shelly_new,
        .free = shelly_free,
        .start = shelly_start,
        .busy = shelly_busy,
        .charger = &shelly_switch_ops,
};

/* The same device and protocol; the heater rule switches it instead of the modes. */
const struct driver driver_shelly_heater = {
        .version = DRIVER_VERSION,
        .name = "shellyHeater",
        .classes = CLASS_BIT(DEVICE_CLASS_HEATER),
        .parse_config = shelly_heater_parse_config,
        .free_config = shelly_free_config,
        .new = shelly_new,
        .free = shelly_free,
        .start = shelly_start,
        .busy = shelly_busy,
        .heater = &shelly_switch_ops,
};
