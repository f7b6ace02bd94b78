/* SPDX-License-Identifier: MIT */
/* victronMppt: Victron SmartSolar/BlueSolar MPPT over VE.Direct (serial).
 * Reads the charger's text blocks (status, panel power, daily yield) and
 * switches it through the device mode register with HEX commands on the same
 * cable, or through a GPIO line on its remote on/off pin, or not at all. The
 * decoding lives in vedirect.c; this file is the config and the state. */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#if __has_include("hb-build-config.h")
#include "hb-build-config.h"
#endif
#ifndef HAVE_LIBGPIOD
#define HAVE_LIBGPIOD 0
#endif
#if HAVE_LIBGPIOD
#include <gpiod.h>
#endif

#include "drivers.h"
#include "homebattery/energy.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"
#include "vedirect.h"
#include "victron-config.h"
#include "homebattery/time-util.h"

#define BAUD 19200
/* VE.Direct HEX: no answer within 2 s means the command failed. */
#define ECHO_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define TRIES 3
/* Re-asserting the mode writes a setting the charger keeps across power
 * cycles: never more often than this, and only when it drifted. */
#define REASSERT_USEC (10 * USEC_PER_SEC)
/* Blocks come every second; this long without a good one, the data is stale. */
#define STALE_USEC (10 * USEC_PER_SEC)
/* A GPIO chip that is missing at start (driver not loaded yet, wrong name)
 * is tried again this often; until then the charger is in fault. */
#define GPIO_RETRY_USEC (30 * USEC_PER_SEC)

enum device_mode_seen {
        SEEN_UNKNOWN,
        SEEN_ON,
        SEEN_OFF,
};

struct victron {
        struct device *device;
        const struct victron_config *config;
        const char *name;
        struct serial_port *port;
        struct vedirect_parser parser;

        enum device_status status;
        bool have_block;           /* since the port was opened */
        struct vedirect_mppt last; /* fields of the last good block, kept across blocks that lack them */
        bool power_reported;
        int power_reported_w;
        unsigned bad_blocks; /* since the port was opened */

        bool has_h20;
        double last_h20_wh;
        double pending_wh;

        /* Switching (control "hex"). */
        bool want_on;
        enum device_mode_seen seen; /* from the last block or HEX answer */
        bool command_due;
        bool awaiting_echo;
        uint8_t sent_mode;
        unsigned tries;
        bool gave_up;
        uint64_t last_command_usec; /* 0: never */

        struct host_timer *echo_timer;
        struct host_timer *stale_timer;
        struct host_timer *gpio_timer;
        bool gpio_failed; /* the GPIO line could not be set up: status fault */
        struct ratelimit rl_bad;
        struct ratelimit rl_cmd;

#if HAVE_LIBGPIOD
        struct gpiod_chip *chip;
        struct gpiod_line *line;
#endif
};

static void kick(struct victron *v);

static uint64_t now(const struct victron *v) {
        return device_now_usec(v->device);
}

static uint8_t wanted_mode(const struct victron *v) {
        return v->want_on ? VEDIRECT_DEVICE_MODE_ON : VEDIRECT_DEVICE_MODE_OFF;
}

static int arm(struct victron *v, struct host_timer *t, uint64_t when) {
        return host_timer_arm(v->device, t, when, 50000);
}

static void disarm(struct victron *v, struct host_timer *t) {
        host_timer_disarm(v->device, t);
}

static void set_status(struct victron *v, enum device_status s) {
        /* A charger that cannot be switched is in fault whatever it reports. */
        if (v->gpio_failed)
                s = DEVICE_STATUS_FAULT;
        if (s == v->status)
                return;
        log_info(v->name, "Status %s -> %s", device_status_to_string(v->status), device_status_to_string(s));
        v->status = s;
        device_report_status(v->device, DEVICE_CLASS_SOLAR, s);
}

/* What the data says: the last charge state (on, fault, else off); syncing
 * before the first block. */
static enum device_status data_status(const struct victron *v) {
        if (!v->have_block || !v->last.has_cs)
                return v->have_block ? DEVICE_STATUS_OFF : DEVICE_STATUS_SYNCING;
        switch (vedirect_cs_kind(v->last.cs)) {
        case VEDIRECT_CS_ON:
                return DEVICE_STATUS_ON;
        case VEDIRECT_CS_FAULT:
                return DEVICE_STATUS_FAULT;
        default:
                return DEVICE_STATUS_OFF;
        }
}

/* Panel power while on, 0 otherwise; small wobbles are not worth a message. */
static void update_power(struct victron *v) {
        int p = v->status == DEVICE_STATUS_ON && v->last.has_ppv ? v->last.ppv_w : 0;

        if (v->power_reported && abs(p - v->power_reported_w) < v->config->power_hysteresis_w &&
            (p == 0) == (v->power_reported_w == 0))
                return;
        v->power_reported = true;
        v->power_reported_w = p;
        device_report_power(v->device, DEVICE_CLASS_SOLAR, p);
}

static void lost_data(struct victron *v) {
        disarm(v, v->stale_timer);
        set_status(v, DEVICE_STATUS_SYNCING);
        update_power(v);
}

static void on_stale(void *userdata) {
        struct victron *v = userdata;

        log_warning(v->name, "No valid data from the charger for %llu s", STALE_USEC / USEC_PER_SEC);
        device_report_read(v->device, -ETIMEDOUT, "data");
        lost_data(v);
}

/* ---- switching through the HEX protocol ---- */

static void send_command(struct victron *v) {
        char buf[32];
        uint8_t mode = wanted_mode(v);
        int n, r;

        n = vedirect_hex_build_set(VEDIRECT_REG_DEVICE_MODE, 0, &mode, 1, buf, sizeof(buf));
        if (n < 0) { /* cannot happen with these sizes */
                log_error_errno(n, v->name, "Cannot build a HEX command: %m");
                return;
        }
        v->tries++;
        v->sent_mode = mode;
        v->awaiting_echo = true;
        v->last_command_usec = now(v) ? now(v) : 1;
        log_info(v->name, "Switching %s: device mode %u (try %u of %u)", v->want_on ? "on" : "off", mode, v->tries,
                 TRIES);
        /* A write that does not go out is just a try without an echo. */
        r = transport_serial_write(v->device, v->port, buf, (size_t) n);
        if (r < 0)
                log_warning_errno(r, v->name, "Cannot send the HEX command: %m");
        r = arm(v, v->echo_timer, now(v) + ECHO_TIMEOUT_USEC);
        if (r < 0)
                log_error_errno(r, v->name, "Cannot add a timer: %m");
}

static void command_failed(struct victron *v, const char *why) {
        disarm(v, v->echo_timer);
        v->awaiting_echo = false;
        if (v->tries < TRIES) {
                log_debug(v->name, "Try %u failed: %s", v->tries, why);
                kick(v);
                return;
        }
        /* Give the line a rest; a later block starts a new round. */
        if (ratelimit_below(&v->rl_cmd, now(v)))
                log_warning(v->name, "Switching %s failed %u times (last: %s): trying again later",
                            v->want_on ? "on" : "off", v->tries, why);
        v->command_due = false;
        v->gave_up = true;
}

static void on_echo_timeout(void *userdata) {
        struct victron *v = userdata;

        if (v->awaiting_echo)
                command_failed(v, "no answer within 2 s");
}

static void kick(struct victron *v) {
        if (v->config->control != VICTRON_CONTROL_HEX || !v->command_due || v->awaiting_echo ||
            !transport_serial_is_open(v->device, v->port))
                return;
        send_command(v);
}

static void start_round(struct victron *v) {
        v->command_due = true;
        v->tries = 0;
        v->gave_up = false;
        kick(v);
}

static bool seen_matches(const struct victron *v) {
        return v->seen != SEEN_UNKNOWN && (v->seen == SEEN_ON) == v->want_on;
}

/* Re-asserts the wanted mode when the charger shows another one, or after a
 * round of tries that got no answer; rate-limited either way. */
static void check_mode(struct victron *v, const char *source) {
        uint64_t t = now(v);

        if (v->config->control != VICTRON_CONTROL_HEX || v->awaiting_echo || v->command_due)
                return;
        if (seen_matches(v)) {
                v->gave_up = false;
                return;
        }
        if (v->seen == SEEN_UNKNOWN && !v->gave_up)
                return;
        if (v->last_command_usec && t < v->last_command_usec + REASSERT_USEC)
                return;
        if (v->seen != SEEN_UNKNOWN)
                log_notice(v->name, "The charger is %s (%s) but should be %s: switching again",
                           v->seen == SEEN_ON ? "on" : "off", source, v->want_on ? "on" : "off");
        start_round(v);
}

static void on_hex(void *userdata, const char *frame, size_t len) {
        struct victron *v = userdata;
        struct vedirect_hex_msg m;

        if (vedirect_hex_parse(frame, len, &m) < 0) {
                log_debug(v->name, "Ignoring a malformed HEX frame \"%.*s\"", (int) len, frame);
                return;
        }
        if (m.command == VEDIRECT_HEX_ERROR || m.command == VEDIRECT_HEX_UNKNOWN) {
                if (v->awaiting_echo)
                        command_failed(v, m.command == VEDIRECT_HEX_ERROR ? "frame error" : "unknown command");
                return;
        }
        if (!m.has_register || m.reg != VEDIRECT_REG_DEVICE_MODE)
                return; /* async updates of other registers: not ours */
        bool ours = v->awaiting_echo && m.command == VEDIRECT_HEX_SET;
        if (m.flags != 0 || m.n_value < 1) {
                if (ours)
                        command_failed(v, m.flags & VEDIRECT_HEX_FLAG_UNKNOWN_ID ? "unknown register"
                                          : m.flags ? "refused"
                                                    : "no value");
                return;
        }
        uint8_t mode = (uint8_t) m.value;
        v->seen = mode == VEDIRECT_DEVICE_MODE_ON ? SEEN_ON : mode == VEDIRECT_DEVICE_MODE_OFF ? SEEN_OFF : SEEN_UNKNOWN;
        if (!ours) {
                check_mode(v, "device mode register");
                return;
        }
        if (mode != v->sent_mode) {
                command_failed(v, "echo with another value");
                return;
        }
        disarm(v, v->echo_timer);
        v->awaiting_echo = false;
        log_info(v->name, "Device mode %u confirmed", mode);
        /* The wish may have changed while this one travelled. */
        v->command_due = mode != wanted_mode(v);
        v->tries = 0;
        kick(v);
}

/* ---- the text protocol ---- */

static void log_changes(struct victron *v, const struct vedirect_block *b, const struct vedirect_mppt *m) {
        const struct vedirect_mppt *o = &v->last;

        if (!v->have_block) {
                const char *pid = vedirect_block_get(b, "PID"), *fw = vedirect_block_get(b, "FW"),
                           *ser = vedirect_block_get(b, "SER#");
                log_info(v->name, "Receiving from PID %s, FW %s, SER# %s: V %d mV, I %d mA, VPV %d mV, PPV %d W, "
                         "CS %d, ERR %d, OR 0x%08x", pid ? pid : "?", fw ? fw : "?", ser ? ser : "?", m->v_mv, m->i_ma,
                         m->vpv_mv, m->ppv_w, m->cs, m->err, (unsigned) m->off_reason);
        } else if (m->has_cs && (!o->has_cs || o->cs != m->cs)) {
                const char *n = vedirect_cs_to_string(m->cs);
                log_info(v->name, "Charge state %s (%d): V %d mV, I %d mA, VPV %d mV, PPV %d W", n ? n : "unknown",
                         m->cs, m->v_mv, m->i_ma, m->vpv_mv, m->ppv_w);
        }
        if (m->has_err && (!o->has_err || o->err != m->err)) {
                const char *n = vedirect_err_to_string(m->err);
                if (m->err != 0)
                        log_warning(v->name, "Charger error %d (%s)", m->err, n ? n : "unknown");
                else if (o->has_err)
                        log_info(v->name, "Charger error cleared");
        }
        if (m->has_or && o->has_or && o->off_reason != m->off_reason)
                log_info(v->name, "Off reason 0x%08x", (unsigned) m->off_reason);
}

static void on_block(void *userdata, const struct vedirect_block *b) {
        struct victron *v = userdata;
        struct vedirect_mppt m;

        device_report_read(v->device, 0, NULL);
        vedirect_decode_mppt(b, &m);
        log_changes(v, b, &m);
        vedirect_mppt_merge(&v->last, &m);
        v->have_block = true;
        if (arm(v, v->stale_timer, now(v) + STALE_USEC) < 0)
                log_error(v->name, "Cannot add a timer: stale data will not be noticed");

        if (v->last.has_cs)
                set_status(v, data_status(v));
        update_power(v);

        if (m.has_h20) {
                /* A smaller yield than before: a new day began. */
                v->pending_wh += energy_counter_delta(v->has_h20, v->last_h20_wh, m.h20_wh);
                v->last_h20_wh = m.h20_wh;
                v->has_h20 = true;
        }

        /* CS on means the charger runs; OR tells when the mode register
         * switched it off. Anything else (night) says nothing. */
        if (m.has_cs && vedirect_cs_kind(m.cs) == VEDIRECT_CS_ON)
                v->seen = SEEN_ON;
        else if (m.has_or && (m.off_reason & VEDIRECT_OR_DEVICE_MODE_OFF))
                v->seen = SEEN_OFF;
        check_mode(v, "CS/OR");
}

static void on_parse_error(void *userdata, int error, const char *reason) {
        struct victron *v = userdata;

        /* The first block after opening is usually cut: we joined mid-block. */
        if (v->bad_blocks++ == 0 && !v->have_block) {
                log_debug(v->name, "Dropped a partial block (%s)", reason);
                return;
        }
        if (ratelimit_below(&v->rl_bad, now(v)))
                log_warning_errno(error, v->name, "Dropped a block: %s", reason);
        device_report_read(v->device, error < 0 ? error : -EBADMSG, "block");
}

static const struct vedirect_handlers handlers = {
        .block = on_block,
        .hex = on_hex,
        .error = on_parse_error,
};

static void on_data(void *userdata, const uint8_t *data, size_t len) {
        struct victron *v = userdata;
        vedirect_feed(&v->parser, data, len, now(v), &handlers, v);
}

/* A new port (or none): nothing half received or seen before counts. */
static void forget_data(struct victron *v) {
        vedirect_parser_reset(&v->parser);
        v->have_block = false;
        v->bad_blocks = 0;
        v->last = (struct vedirect_mppt) {};
}

static void on_opened(void *userdata) {
        struct victron *v = userdata;

        forget_data(v);
        /* Data that never comes is stale too. */
        if (arm(v, v->stale_timer, now(v) + STALE_USEC) < 0)
                log_error(v->name, "Cannot add a timer: stale data will not be noticed");
        kick(v);
}

static void on_closed(void *userdata, int error) {
        struct victron *v = userdata;

        forget_data(v);
        /* Maybe another charger gets plugged in: learn the mode afresh; a
         * command in flight goes out again once the port is back. */
        v->seen = SEEN_UNKNOWN;
        if (v->awaiting_echo) {
                disarm(v, v->echo_timer);
                v->awaiting_echo = false;
                v->command_due = true;
                v->tries = 0;
        }
        device_report_read(v->device, error < 0 ? error : -EIO, "serial port");
        lost_data(v);
}

static const struct serial_callbacks serial_callbacks = {
        .opened = on_opened,
        .data = on_data,
        .closed = on_closed,
};

/* ---- GPIO: the charger's remote on/off pin ---- */

#if HAVE_LIBGPIOD
/* Returns 0 or -errno with *ret_what saying which step failed; logs nothing
 * (the caller logs the first failure only). */
static int gpio_setup(struct victron *v, const char **ret_what) {
        const struct victron_config *c = v->config;
        int flags = c->gpio_active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;

        v->chip = gpiod_chip_open_lookup(c->gpio_chip);
        if (!v->chip) {
                *ret_what = "cannot open the GPIO chip";
                return -errno;
        }
        v->line = gpiod_chip_get_line(v->chip, (unsigned) c->gpio_line);
        if (!v->line) {
                *ret_what = "the GPIO chip has no such line";
                return -errno;
        }
        /* Inactive = off until the mode switcher says otherwise. */
        if (gpiod_line_request_output_flags(v->line, "homebattery", flags, v->want_on ? 1 : 0) < 0) {
                int r = -errno;
                v->line = NULL;
                *ret_what = "cannot use the GPIO line as an output";
                return r;
        }
        log_info(v->name, "Switching through GPIO %s line %d%s", c->gpio_chip, c->gpio_line,
                 c->gpio_active_low ? " (active low)" : "");
        return 0;
}

static int gpio_set(struct victron *v, bool on) {
        if (!v->line)
                return -ENOTCONN;
        return gpiod_line_set_value(v->line, on ? 1 : 0) < 0 ? -errno : 0;
}

static void gpio_free(struct victron *v) {
        if (v->line)
                gpiod_line_release(v->line);
        if (v->chip)
                gpiod_chip_close(v->chip);
        v->line = NULL;
        v->chip = NULL;
}
#else
/* --check-config refuses GPIO control in this build: not reached. */
static int gpio_setup(struct victron *v, const char **ret_what) {
        *ret_what = "this build has no libgpiod";
        return -EOPNOTSUPP;
}

static int gpio_set(struct victron *v, bool on) {
        return -EOPNOTSUPP;
}

static void gpio_free(struct victron *v) {
}
#endif

/* ---- the ops ---- */

static int victron_set_on(void *state, bool on) {
        struct victron *v = state;
        bool changed = on != v->want_on;

        v->want_on = on;
        switch (v->config->control) {
        case VICTRON_CONTROL_GPIO:
                return gpio_set(v, on);
        case VICTRON_CONTROL_NONE:
                return 0; /* only remembered: someone else switches */
        case VICTRON_CONTROL_HEX:
                break;
        }
        if (!changed && (v->command_due || v->awaiting_echo))
                return 0;
        if (seen_matches(v) && !v->awaiting_echo) {
                /* Already there: no write. */
                v->command_due = false;
                v->gave_up = false;
                return 0;
        }
        start_round(v);
        return 0;
}

static int victron_energy_wh(void *state, double *ret_wh) {
        struct victron *v = state;

        if (!v->has_h20)
                return -ENODATA;
        *ret_wh = v->pending_wh;
        v->pending_wh = 0;
        return 0;
}

static bool victron_busy(void *state) {
        const struct victron *v = state;
        return v->awaiting_echo ||
               (v->command_due && v->config->control == VICTRON_CONTROL_HEX && transport_serial_is_open(v->device, v->port));
}

static void victron_free(void *state);

static void on_gpio_retry(void *userdata);

static int victron_new(struct device *d, const void *config, void **ret) {
        struct victron *v = calloc(1, sizeof(*v));
        int r;

        if (!v)
                return -ENOMEM;
        v->device = d;
        v->config = config;
        v->name = device_get_name(d);
        v->status = DEVICE_STATUS_SYNCING;
        vedirect_parser_init(&v->parser);
        v->rl_bad = RATELIMIT_INIT(60 * USEC_PER_SEC, 3);
        v->rl_cmd = RATELIMIT_INIT(300 * USEC_PER_SEC, 3);
        if ((r = host_timer_new(d, on_echo_timeout, v, &v->echo_timer)) < 0 ||
            (r = host_timer_new(d, on_stale, v, &v->stale_timer)) < 0 ||
            (r = host_timer_new(d, on_gpio_retry, v, &v->gpio_timer)) < 0) {
                victron_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

static void victron_free(void *state) {
        struct victron *v = state;

        if (!v)
                return;
        transport_serial_close(v->device, v->port);
        host_timer_free(v->device, v->echo_timer);
        host_timer_free(v->device, v->stale_timer);
        host_timer_free(v->device, v->gpio_timer);
        gpio_free(v);
        free(v);
}

/* Not a start failure: a restart would meet the same missing chip. The
 * device stays in fault (one error line), VE.Direct is still read, and the
 * line is tried again every 30 s. */
static void try_gpio(struct victron *v) {
        const char *what = NULL;
        int r = gpio_setup(v, &what);

        if (r >= 0) {
                if (v->gpio_failed)
                        log_info(v->name, "GPIO ready: the charger can be switched again");
                v->gpio_failed = false;
                (void) gpio_set(v, v->want_on);
                set_status(v, data_status(v));
                return;
        }
        gpio_free(v);
        if (!v->gpio_failed)
                log_error_errno(r, v->name, "GPIO %s line %d: %s (%m): the charger cannot be switched; status fault, "
                                "trying again every %llu s", v->config->gpio_chip, v->config->gpio_line, what,
                                GPIO_RETRY_USEC / USEC_PER_SEC);
        v->gpio_failed = true;
        set_status(v, DEVICE_STATUS_FAULT);
        (void) arm(v, v->gpio_timer, now(v) + GPIO_RETRY_USEC);
}

static void on_gpio_retry(void *userdata) {
        try_gpio(userdata);
}

static int victron_start(void *state) {
        struct victron *v = state;
        int r;

        device_report_status(v->device, DEVICE_CLASS_SOLAR, v->status);
        if (v->config->control == VICTRON_CONTROL_GPIO)
                try_gpio(v);
        r = transport_serial_open(v->device, v->config->port, BAUD, &serial_callbacks, v, &v->port);
        if (r < 0)
                return log_error_errno(r, v->name, "Cannot set up the serial port %s: %m", v->config->port);
        return 0;
}

/* VE.Direct talks on its own: the port is this device's alone. */
static int victron_config_serial(const void *config, const char **ret_port, struct serial_line *ret_line) {
        const struct victron_config *c = config;

        *ret_port = c->port;
        *ret_line = (struct serial_line) { .baud = BAUD, .parity = SERIAL_PARITY_NONE, .stop_bits = 1,
                                           .family = SERIAL_FAMILY_NONE };
        return 0;
}

static const struct switch_ops victron_solar_ops = {
        .set_on = victron_set_on,
        .energy_wh = victron_energy_wh,
};

const struct driver driver_victron_mppt = {
        .version = DRIVER_VERSION,
        .name = "victronMppt",
        .classes = CLASS_BIT(DEVICE_CLASS_SOLAR),
        .parse_config = victron_parse_config,
        .free_config = victron_free_config,
        .config_serial = victron_config_serial,
        .new = victron_new,
        .free = victron_free,
        .start = victron_start,
        .busy = victron_busy,
        .solar = &victron_solar_ops,
};
