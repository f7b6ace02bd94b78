/* SPDX-License-Identifier: MIT */
/* growattInverterModbus: a Growatt xx00-S or MIC TL-X inverter on an RS485
 * bus (Modbus RTU), switched on and off and limited in percent so that
 * netzero can drive it like a Hoymiles. One transaction a second at most;
 * what goes next, and what the answers mean, is growatt-sync.c. */

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "growatt-sync.h"
#include "homebattery/log.h"
#include "homebattery/lut.h"
#include "homebattery/time-util.h"
#include "modbus-rtu.h"
#include "serial-config.h"

#define TICK_USEC USEC_PER_SEC
#define TIMEOUT_USEC (1000 * USEC_PER_MSEC)

struct growatt_config {
        char *port;
        int address;
        enum growatt_family family;
        int baud;
        char *lut_path;
        struct lut *lut;
        int max_power_w;
        bool memorise;
};

struct growatt {
        struct device *device;
        const struct growatt_config *config;
        const char *name;
        struct bus_client *bus;
        struct host_timer *timer;
        struct growatt_sync sync;

        struct modbus_request req;
        enum growatt_txn txn; /* in flight, NONE when idle */
        bool was_open;
        int last_max_w;

        bool reported;
        enum device_status status;
        int power_w;
        uint64_t energy_at_usec;
        double energy_wh;
        struct ratelimit rl;
};

/* ---- config ---- */

static void growatt_free_config(void *p) {
        struct growatt_config *c = p;

        if (!c)
                return;
        free(c->port);
        free(c->lut_path);
        lut_free(c->lut);
        free(c);
}

static int parse_lut(struct config_ctx *ctx, const char *path, struct json_object *obj, struct growatt_config *c) {
        char kp[256], shown[CONFIG_SHOW_SIZE];
        int k;

        if (config_get_file(ctx, path, obj, "power_lut", false, &c->lut_path) < 0)
                return -EINVAL;
        if (!c->lut_path)
                return 0;
        snprintf(kp, sizeof(kp), "%s.power_lut", path);
        if (c->max_power_w > 0) {
                config_error(ctx, kp, "give power_lut or max_power, not both");
                return -EINVAL;
        }
        k = lut_load(c->lut_path, &c->lut);
        if (k == -ENODATA)
                config_error(ctx, kp, "\"%s\" has no valid \"percent;watt\" line", config_show(shown, c->lut_path));
        else if (k < 0)
                config_error(ctx, kp, "cannot load \"%s\": %s", config_show(shown, c->lut_path), strerror(-k));
        return k < 0 ? -EINVAL : 0;
}

static int growatt_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "port", "address", "family", "baud", "power_lut",
                                            "max_power", "memorise_limit", NULL };
        static const char *const families[] = { "xx00-S", "TL-X", NULL };
        struct growatt_config *c = calloc(1, sizeof(*c));
        struct json_object *unused;
        int choice, r = 0;
        char kp[256];

        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (serial_config_port(ctx, path, obj, &c->port) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "address", true, 0, 1, 247, &c->address) < 0)
                r = -EINVAL;
        if (config_get_choice(ctx, path, obj, "family", families, NULL, &choice, &unused) < 0)
                r = -EINVAL;
        else if (choice < 0) {
                snprintf(kp, sizeof(kp), "%s.family", path);
                config_error(ctx, kp, "required: \"xx00-S\" (e.g. 1000-S) or \"TL-X\" (e.g. MIC 1500TL-X)");
                r = -EINVAL;
        } else
                c->family = (enum growatt_family) choice;
        if (config_get_int(ctx, path, obj, "baud", false, 9600, 9600, 38400, &c->baud) < 0)
                r = -EINVAL;
        else if (c->baud != 9600 && c->baud != 38400) {
                snprintf(kp, sizeof(kp), "%s.baud", path);
                config_error(ctx, kp, "expected 9600 or 38400 (holding register 22 of the inverter), got %d", c->baud);
                r = -EINVAL;
        }
        if (config_get_int(ctx, path, obj, "max_power", false, 0, 1, 100000, &c->max_power_w) < 0)
                r = -EINVAL;
        if (parse_lut(ctx, path, obj, c) < 0)
                r = -EINVAL;
        if (config_get_bool(ctx, path, obj, "memorise_limit", false, false, &c->memorise) < 0)
                r = -EINVAL;
        return r;
}

static int growatt_config_serial(const void *config, const char **ret_port, struct serial_line *ret_line) {
        const struct growatt_config *c = config;

        *ret_port = c->port;
        *ret_line = (struct serial_line) { .baud = (unsigned) c->baud, .parity = SERIAL_PARITY_NONE, .stop_bits = 1,
                                           .family = SERIAL_FAMILY_MODBUS_RTU };
        return 0;
}

/* ---- reports ---- */

static uint64_t now(const struct growatt *g) {
        return device_now_usec(g->device);
}

/* Energy: the measured output power integrated while on. */
static void integrate(struct growatt *g, uint64_t t) {
        double w;

        if (g->energy_at_usec && g->status == DEVICE_STATUS_ON && growatt_sync_measured_w(&g->sync, &w))
                g->energy_wh += w * (double) (t - g->energy_at_usec) / (3600.0 * USEC_PER_SEC);
        g->energy_at_usec = t;
}

static void report(struct growatt *g) {
        enum device_status st = growatt_sync_status(&g->sync);
        int w = growatt_sync_power_w(&g->sync);

        if (g->sync.max_w != g->last_max_w && g->sync.max_w > 0 && !g->sync.lut) {
                log_info(g->name, "Maximum power %d W (%s)", g->sync.max_w,
                         g->config->max_power_w > 0 ? "max_power" : "Pmax of the inverter");
                g->last_max_w = g->sync.max_w;
        }
        integrate(g, now(g));
        /* Power first: a device that just turned on then counts with its power at once. */
        if (!g->reported || w != g->power_w)
                device_report_power(g->device, DEVICE_CLASS_INVERTER, w);
        if (!g->reported || st != g->status) {
                log_info(g->name, "Status %s (on/off %s, state %s, limit %s)", device_status_to_string(st),
                         !g->sync.h0_known ? "unknown" : g->sync.h0_on ? "on" : "off",
                         !g->sync.i0_known ? "unknown"
                         : g->sync.i0 == GROWATT_STATE_NORMAL ? "normal"
                         : g->sync.i0 == GROWATT_STATE_WAITING ? "waiting"
                                                               : "fault",
                         !g->sync.h3_known ? "unknown" : g->sync.h3_percent == GROWATT_NOT_LIMITED ? "none" : "set");
                device_report_status(g->device, DEVICE_CLASS_INVERTER, st);
        }
        g->reported = true;
        g->status = st;
        g->power_w = w;
}

/* ---- transactions ---- */

static void failed(struct growatt *g, int r, const struct modbus_answer *a) {
        char why[96];

        if (r == -EREMOTEIO)
                snprintf(why, sizeof(why), "exception code %02x", a->exception);
        else if (r == -EBADMSG)
                snprintf(why, sizeof(why), "%s", a->reason ? a->reason : "bad frame");
        else if (r == -ETIMEDOUT)
                snprintf(why, sizeof(why), "no answer within %llu ms", TIMEOUT_USEC / USEC_PER_MSEC);
        else
                snprintf(why, sizeof(why), "%s", r == -ENOTCONN ? "the port is not open" : strerror(-r));
        log_input_warning(&g->rl, now(g), g->name, "failed transactions", "%s of address %d failed: %s",
                          growatt_txn_to_string(g->txn), g->config->address, why);
        growatt_sync_failed(&g->sync, g->txn);
        device_report_read(g->device, r, growatt_txn_to_string(g->txn));
}

static int on_answer(void *userdata, int error, const uint8_t *data, size_t len) {
        struct growatt *g = userdata;
        struct modbus_answer a = {};
        int r = error;

        if (r == 0) {
                r = modbus_parse(&g->req, data, len, &a);
                if (r == -EAGAIN)
                        return r;
        }
        if (r == 0) {
                growatt_sync_answer(&g->sync, g->txn, &g->req, a.data, now(g));
                device_report_read(g->device, 0, NULL);
                if (g->txn == GROWATT_TXN_READ_POWER) {
                        double w;
                        if (growatt_sync_measured_w(&g->sync, &w))
                                log_debug(g->name, "Measured output %.1f W (mean of the last reads)", w);
                }
        } else
                failed(g, r, &a);
        g->txn = GROWATT_TXN_NONE;
        report(g);
        return r;
}

static void send_next(struct growatt *g) {
        uint8_t buf[8];
        int n, r;

        g->txn = growatt_sync_next(&g->sync, now(g), &g->req);
        g->req.address = (uint8_t) g->config->address;
        if (g->txn == GROWATT_TXN_WRITE_LIMIT)
                log_debug(g->name, "Limit %d %%", g->req.value);
        else if (g->txn == GROWATT_TXN_WRITE_ONOFF)
                log_info(g->name, "Switching %s", g->sync.target_on ? "on" : "off");
        n = modbus_request_build(&g->req, buf);
        r = n < 0 ? n : transport_bus_request(g->device, g->bus, buf, (size_t) n, TIMEOUT_USEC, on_answer, g);
        if (r < 0) {
                struct modbus_answer none = {};
                failed(g, r, &none);
                g->txn = GROWATT_TXN_NONE;
                report(g);
        }
}

static void on_tick(void *userdata) {
        struct growatt *g = userdata;
        bool open = transport_bus_is_open(g->device, g->bus);

        if (host_timer_arm(g->device, g->timer, now(g) + TICK_USEC, 50 * USEC_PER_MSEC) < 0)
                log_error(g->name, "Cannot add a timer: the sync loop stops");
        if (open && !g->was_open)
                growatt_sync_connected(&g->sync); /* H2 again, nothing known */
        g->was_open = open;
        if (g->txn == GROWATT_TXN_NONE)
                send_next(g);
}

/* ---- ops ---- */

static int growatt_set_on(void *state, bool on) {
        struct growatt *g = state;

        growatt_sync_set_on(&g->sync, on);
        report(g);
        return 0;
}

static int growatt_set_power(void *state, int power_w, int *ret_applied_w) {
        struct growatt *g = state;

        *ret_applied_w = growatt_sync_set_power(&g->sync, power_w);
        return 0;
}

static void growatt_power_range(void *state, int *ret_min_w, int *ret_max_w) {
        struct growatt *g = state;

        growatt_sync_power_range(&g->sync, ret_min_w, ret_max_w);
}

static int growatt_energy_wh(void *state, double *ret_wh) {
        struct growatt *g = state;

        integrate(g, now(g));
        *ret_wh = g->energy_wh;
        g->energy_wh = 0;
        return 0;
}

static bool growatt_busy(void *state) {
        struct growatt *g = state;

        /* The safe-state shutdown waits for the off to be written. */
        return transport_bus_is_open(g->device, g->bus) && !g->sync.target_on && g->sync.h0_known && g->sync.h0_on;
}

static void growatt_free(void *state) {
        struct growatt *g = state;

        if (!g)
                return;
        transport_bus_close(g->device, g->bus);
        host_timer_free(g->device, g->timer);
        free(g);
}

static int growatt_new(struct device *d, const void *config, void **ret) {
        const struct growatt_config *c = config;
        struct growatt *g = calloc(1, sizeof(*g));
        int r;

        if (!g)
                return -ENOMEM;
        g->device = d;
        g->config = c;
        g->name = device_get_name(d);
        g->rl = INPUT_WARN_RATELIMIT;
        growatt_sync_init(&g->sync, c->family, c->lut, c->max_power_w, c->memorise);
        r = host_timer_new(d, on_tick, g, &g->timer);
        if (r < 0) {
                growatt_free(g);
                return r;
        }
        *ret = g;
        return 0;
}

static int growatt_start(void *state) {
        struct growatt *g = state;
        struct serial_line line;
        const char *port;
        int r;

        report(g);
        (void) growatt_config_serial(g->config, &port, &line);
        r = transport_bus_open(g->device, port, &line, &g->bus);
        if (r < 0)
                return log_error_errno(r, g->name, "Cannot set up the bus on %s: %m", port);
        r = host_timer_arm(g->device, g->timer, now(g) + TICK_USEC, 50 * USEC_PER_MSEC);
        if (r < 0)
                return log_error_errno(r, g->name, "Cannot add a timer: %m");
        return 0;
}

static const struct inverter_ops growatt_ops = {
        .set_on = growatt_set_on,
        .set_power = growatt_set_power,
        .power_range = growatt_power_range,
        .energy_wh = growatt_energy_wh,
};

const struct driver driver_growatt_inverter_modbus = {
        .version = DRIVER_VERSION,
        .name = "growattInverterModbus",
        .classes = CLASS_BIT(DEVICE_CLASS_INVERTER),
        .parse_config = growatt_parse_config,
        .free_config = growatt_free_config,
        .config_serial = growatt_config_serial,
        .new = growatt_new,
        .free = growatt_free,
        .start = growatt_start,
        .busy = growatt_busy,
        .inverter = &growatt_ops,
};
