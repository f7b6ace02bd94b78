/* SPDX-License-Identifier: MIT */
/* The glue shared by the ahoyDtu and openDtu drivers (see dtu-glue.h): the
 * 1 s sync timer, one request at a time, reports, warnings and the inverter
 * ops. The drivers only say how a read and a command go out. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtu-glue.h"
#include "dtu-restart.h"

void dtu_glue_free(void *state) {
        struct dtu_glue *g = state;

        if (!g)
                return;
        transport_http_cancel(g->device, g->req);
        host_timer_free(g->device, g->timer);
        if (g->kind->clear)
                g->kind->clear(g);
        free(g->url_base);
        free(g);
}

int dtu_glue_new(struct device *d, const void *config, void **ret) {
        const struct dtu_config *c = config;
        const struct dtu_glue_kind *kind = c->kind;
        struct dtu_glue *g;
        bool v6 = strchr(c->host, ':');

        g = calloc(1, kind->size);
        if (!g)
                return -ENOMEM;
        g->device = d;
        g->config = c;
        g->kind = kind;
        /* A dead DTU fails a read every ~17 s: a few lines, not a flood. */
        g->rl = RATELIMIT_INIT(300 * USEC_PER_SEC, 5);
        dtu_sync_init(&g->sync, c->lut);
        dtu_sync_set_refresh(&g->sync, (uint64_t) c->limit_refresh_s * USEC_PER_SEC);
        if (asprintf(&g->url_base, "http://%s%s%s:%u", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port) < 0) {
                g->url_base = NULL; /* undefined after a failed asprintf() */
                dtu_glue_free(g);
                return -ENOMEM;
        }
        *ret = g;
        return 0;
}

int dtu_glue_url(const struct dtu_glue *g, char **ret, const char *path_fmt, ...) {
        _cleanup_free_ char *path = NULL;
        va_list ap;
        int r;

        va_start(ap, path_fmt);
        r = vasprintf(&path, path_fmt, ap);
        va_end(ap);
        if (r < 0) {
                path = NULL; /* undefined after a failed vasprintf() */
                return -ENOMEM;
        }
        if (asprintf(ret, "%s%s", g->url_base, path) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

const char *dtu_glue_name(const struct dtu_glue *g) {
        return device_get_name(g->device);
}

uint64_t dtu_glue_now(const struct dtu_glue *g) {
        return device_now_usec(g->device);
}

static void kick(struct dtu_glue *g);

/* A command that became due while a request was in flight (or that the read
 * just ended the wait of) goes out now, not at the next tick. */
static void kick_if_command_due(struct dtu_glue *g) {
        if (!g->req && dtu_sync_command_due(&g->sync, dtu_glue_now(g)))
                kick(g);
}

static void report(struct dtu_glue *g) {
        enum device_status st;
        int w;

        /* Power first: a device that just turned on then counts with its
         * real power at once. */
        if (dtu_sync_power_changed(&g->sync, &w))
                device_report_power(g->device, DEVICE_CLASS_INVERTER, w);
        if (dtu_sync_status_changed(&g->sync, &st)) {
                char limit[32] = "unknown";
                if (g->sync.has_read && g->sync.read.percent_known)
                        snprintf(limit, sizeof(limit), "%d.%d %%", g->sync.read.percent_x10 / 10,
                                 g->sync.read.percent_x10 % 10);
                if (g->sync.has_read)
                        log_info(dtu_glue_name(g), "Status %s (%s reads %s, limit %s)",
                                 device_status_to_string(st), g->kind->dtu,
                                 dtu_state_to_string(g->sync.read.state), limit);
                else
                        log_info(dtu_glue_name(g), "Status %s (state unknown: not read yet or no answer)",
                                 device_status_to_string(st));
                device_report_status(g->device, DEVICE_CLASS_INVERTER, st);
        }
}

int dtu_glue_answer(struct dtu_glue *g, const struct http_response *resp, char err[static DTU_ERROR_MAX]) {
        g->req = NULL;
        if (resp->error < 0)
                return resp->error;
        if (resp->status >= 200 && resp->status < 300)
                return 0;
        snprintf(err, DTU_ERROR_MAX, "HTTP %ld%s", resp->status,
                 resp->status == 401 || resp->status == 403 ? " (check user and password)" : "");
        return resp->status == 401 || resp->status == 403 ? -EACCES : -EPROTO;
}

void dtu_glue_warn(struct dtu_glue *g, int error, const char *what, const char *refusal) {
        /* -EPERM, -EACCES: the DTU said no (its error text, or HTTP 401/403);
         * else no answer, HTTP 5xx or an answer that does not decode. */
        bool refused = error == -EPERM || error == -EACCES;

        if (!ratelimit_below(&g->rl, dtu_glue_now(g)))
                return;
        if (refusal && refusal[0])
                log_warning_errno(error, dtu_glue_name(g),
                                  refused ? "%s refused %s: %s" : "No valid answer from %s to %s: %s",
                                  g->kind->dtu, what, refusal);
        else
                log_warning_errno(error, dtu_glue_name(g),
                                  refused ? "%s refused %s: %m" : "No valid answer from %s to %s: %m",
                                  g->kind->dtu, what);
}

void dtu_glue_read_done(struct dtu_glue *g, int error, const char *refusal, const struct dtu_reading *rd) {
        char limit[32] = "unknown";

        if (error < 0)
                dtu_glue_warn(g, error, "the state read", refusal);
        else {
                if (rd->percent_known)
                        snprintf(limit, sizeof(limit), "%d.%d %%", rd->percent_x10 / 10, rd->percent_x10 % 10);
                log_debug(dtu_glue_name(g), "Read: %s, limit %s%s", dtu_state_to_string(rd->state), limit,
                          rd->limit_ack ? "" : g->kind->unacked);
        }
        device_report_read(g->device, error, "state read");
        dtu_sync_read_done(&g->sync, dtu_glue_now(g), error, error < 0 ? NULL : rd);
        report(g);
        kick_if_command_due(g);
}

void dtu_glue_command_done(struct dtu_glue *g, int error, const char *what, const char *refusal) {
        if (error < 0) {
                device_report_read(g->device, error, "command");
                if (what)
                        dtu_glue_warn(g, error, what, refusal);
        }
        dtu_sync_command_done(&g->sync, dtu_glue_now(g), error);
        report(g);
        kick_if_command_due(g);
}

void dtu_glue_log_command(struct dtu_glue *g, enum dtu_action act, int percent) {
        if (act == DTU_ACTION_LIMIT)
                log_info(dtu_glue_name(g), "Sending limit %d %%", percent);
        else
                log_info(dtu_glue_name(g), "Sending %s", dtu_action_to_string(act));
}

static void step(struct dtu_glue *g) {
        uint64_t now = dtu_glue_now(g);
        enum dtu_action act;
        int percent, r;

        if (g->req) {
                /* One request at a time; only an off may push another aside. */
                if (!dtu_sync_should_preempt(&g->sync, now))
                        return;
                transport_http_cancel(g->device, TAKE_PTR(g->req));
                dtu_sync_abort(&g->sync);
        }

        act = dtu_sync_next(&g->sync, now, &percent);
        if (act == DTU_ACTION_NONE)
                return;
        if (act == DTU_ACTION_READ) {
                r = g->kind->read(g);
                if (r < 0)
                        dtu_glue_read_done(g, r, NULL, NULL);
                return;
        }

        g->cmd = act;
        r = g->kind->command(g, act, percent);
        if (r < 0)
                dtu_glue_command_done(g, r, dtu_action_to_string(act), NULL);
}

/* restart_at, checked on the wall clock at every tick (not a monotonic timer:
 * the wall clock of a Pi without RTC is set by NTP only after boot). */
static void check_restart(struct dtu_glue *g) {
        const struct dtu_config *c = g->config;
        time_t now = time(NULL);

        if (!c->has_restart_at)
                return;
        if (g->next_restart != 0 && now >= g->next_restart) {
                if (now - g->next_restart <= DTU_RESTART_LATE_MAX_S) {
                        log_info(dtu_glue_name(g), "Daily restart (restart_at %02d:%02d)", c->restart_hour,
                                 c->restart_minute);
                        dtu_sync_request_restart(&g->sync);
                }
                g->next_restart = 0;
        }
        if (g->next_restart == 0 && dtu_restart_next(now, c->restart_hour, c->restart_minute, &g->next_restart) < 0)
                g->next_restart = 0; /* tried again at the next tick */
}

static void on_tick(void *userdata) {
        struct dtu_glue *g = userdata;

        g->next_tick_usec += DTU_TICK_USEC;
        /* After a stall, tick from now rather than catching up. */
        if (g->next_tick_usec <= dtu_glue_now(g))
                g->next_tick_usec = dtu_glue_now(g) + DTU_TICK_USEC;
        (void) host_timer_arm(g->device, g->timer, g->next_tick_usec, DTU_TICK_USEC / 10);
        check_restart(g);
        step(g);
}

/* Run the loop at once instead of at the next tick: the timer fires in the
 * next iteration of the event loop, after the caller (the control core, or a
 * request's done callback) has returned. */
static void kick(struct dtu_glue *g) {
        if (!g->started)
                return;
        g->next_tick_usec = dtu_glue_now(g);
        (void) host_timer_arm(g->device, g->timer, g->next_tick_usec, 0);
}

static int glue_set_on(void *state, bool on) {
        struct dtu_glue *g = state;

        if (dtu_sync_set_on(&g->sync, on))
                kick(g);
        return 0;
}

static int glue_set_power(void *state, int power_w, int *ret_applied_w) {
        struct dtu_glue *g = state;

        int before = g->sync.target_percent;

        *ret_applied_w = dtu_sync_set_power(&g->sync, power_w);
        /* A limit decided on a meter reading goes out now (or right after the
         * request in flight), not at the next 1 s tick: docs/netzero.md,
         * "From reading to command". */
        if (g->sync.target_percent != before)
                kick_if_command_due(g);
        return 0;
}

static void glue_power_range(void *state, int *ret_min_w, int *ret_max_w) {
        struct dtu_glue *g = state;

        dtu_sync_power_range(&g->sync, ret_min_w, ret_max_w);
}

static int glue_energy_wh(void *state, double *ret_wh) {
        struct dtu_glue *g = state;

        *ret_wh = dtu_sync_energy_take(&g->sync, dtu_glue_now(g));
        return 0;
}

const struct inverter_ops dtu_glue_inverter_ops = {
        .set_on = glue_set_on,
        .set_power = glue_set_power,
        .power_range = glue_power_range,
        .energy_wh = glue_energy_wh,
};

int dtu_glue_start(void *state) {
        struct dtu_glue *g = state;
        int r;

        r = host_timer_new(g->device, on_tick, g, &g->timer);
        if (r < 0)
                return r;
        g->started = true;
        g->next_tick_usec = dtu_glue_now(g);
        return host_timer_arm(g->device, g->timer, g->next_tick_usec, DTU_TICK_USEC / 10);
}

bool dtu_glue_busy(void *state) {
        struct dtu_glue *g = state;

        return g->started && dtu_sync_busy(&g->sync, dtu_glue_now(g));
}
