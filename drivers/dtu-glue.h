/* SPDX-License-Identifier: MIT */
/* The glue shared by the ahoyDtu and openDtu drivers: the 1 s sync timer and
 * its kick, one HTTP request at a time, the reports to the class, the
 * rate-limited warnings, the inverter ops and the driver's new/free. A driver
 * embeds struct dtu_glue as its FIRST member and describes itself in a
 * struct dtu_glue_kind (its parse_config() puts it in dtu_config.kind): how a
 * state read and a command are sent. The decisions stay in dtu-sync.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>


#include "dtu-config.h"
#include "dtu-decode.h"
#include "dtu-sync.h"
#include "homebattery/driver.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"

struct dtu_glue;

/* What differs between the drivers. */
struct dtu_glue_kind {
        const char *dtu;               /* "AhoyDTU": for the log */
        const char *unacked;           /* " (travelling)": a limit not acknowledged yet, in the debug log */
        size_t size;                   /* of the driver's struct, which starts with struct dtu_glue */
        /* At free(): frees what the driver allocated; optional. */
        void (*clear)(struct dtu_glue *g);
        /* Starts a state read and sets g->req; the driver ends it with
         * dtu_glue_read_done(). < 0: nothing was sent (the glue logs it and
         * counts it as a read without answer). */
        int (*read)(struct dtu_glue *g);
        /* Sends an off, on, restart or limit (g->cmd is already set) and sets
         * g->req; ended with dtu_glue_command_done(). < 0: nothing was sent
         * (the glue logs it and counts it as a failed command). */
        int (*command)(struct dtu_glue *g, enum dtu_action act, int percent);
};

struct dtu_glue {
        struct device *device;
        const struct dtu_config *config;
        const struct dtu_glue_kind *kind;
        char *url_base; /* "http://host:port", IPv6 in brackets */
        struct dtu_sync sync;
        struct host_timer *timer; /* the 1 s sync tick */
        uint64_t next_tick_usec;
        bool started;
        /* The one request in flight (a read, a login or a command), and the
         * command it is for. */
        struct http_request *req;
        enum dtu_action cmd;
        struct ratelimit rl;
        time_t next_restart; /* restart_at: the next daily restart (wall clock); 0 = not known yet */
};

/* The driver's new() and free(): allocates config->kind->size bytes and
 * sets up the glue. */
int dtu_glue_new(struct device *d, const void *config, void **ret);
void dtu_glue_free(void *state);

/* *ret = url_base + the formatted path; -ENOMEM. */
int dtu_glue_url(const struct dtu_glue *g, char **ret, const char *path_fmt, ...) _printf_(3, 4);

const char *dtu_glue_name(const struct dtu_glue *g);
uint64_t dtu_glue_now(const struct dtu_glue *g);

/* First thing in a request's done callback: the request is over (g->req is
 * cleared). Returns 0 for a 2xx answer, else the error of no answer, or of an
 * HTTP error (401/403, wrong user or password: -EACCES; its status goes to
 * err for the log). */
int dtu_glue_answer(struct dtu_glue *g, const struct http_response *resp, char err[static DTU_ERROR_MAX]);
/* Rate-limited warning; refusal: the DTU's own error text, or empty/NULL. */
void dtu_glue_warn(struct dtu_glue *g, int error, const char *what, const char *refusal);
/* The end of a state read: error < 0 (warned here) or the reading. */
void dtu_glue_read_done(struct dtu_glue *g, int error, const char *refusal, const struct dtu_reading *rd);
/* The end of a command; error < 0 is warned here as about `what` (e.g.
 * dtu_action_to_string(g->cmd)) unless what is NULL. */
void dtu_glue_command_done(struct dtu_glue *g, int error, const char *what, const char *refusal);
/* "Sending limit 40 %" / "Sending on". */
void dtu_glue_log_command(struct dtu_glue *g, enum dtu_action act, int percent);

/* Driver slots; state is the driver's struct, whose first member is the glue. */
int dtu_glue_start(void *state);
bool dtu_glue_busy(void *state);
extern const struct inverter_ops dtu_glue_inverter_ops;

/* The struct driver of a DTU driver: all but its name and config parser (which
 * sets dtu_config.kind) is the glue's. */
#define DTU_GLUE_DRIVER(_name, _parse_config)                   \
        {                                                       \
                .version = DRIVER_VERSION,                      \
                .name = (_name),                                \
                .classes = CLASS_BIT(DEVICE_CLASS_INVERTER),    \
                .parse_config = (_parse_config),                \
                .free_config = dtu_free_config,                 \
                .new = dtu_glue_new,                            \
                .free = dtu_glue_free,                          \
                .start = dtu_glue_start,                        \
                .busy = dtu_glue_busy,                          \
                .inverter = &dtu_glue_inverter_ops,             \
        }
