/* SPDX-License-Identifier: MIT */
/* victronSmartShunt: a Victron SmartShunt or BMV-7xx battery monitor on its
 * VE.Direct cable. The shunt talks by itself (two text blocks a second); the
 * latest values make the battery record whenever the class asks. No cells,
 * a temperature only when the aux input measures one. The capacity comes
 * from the config or the shunt (HEX get of 0x1000). Fields: smartshunt-decode.c. */

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "homebattery/log.h"
#include "homebattery/time-util.h"
#include "serial-config.h"
#include "smartshunt-decode.h"
#include "vedirect.h"

#define BAUD 19200
#define STALE_USEC (10 * USEC_PER_SEC)            /* no valid block for this long: offline */
#define CAPACITY_RETRY_USEC (600 * USEC_PER_SEC)  /* ask the shunt's capacity again until it answers */

struct shunt_config {
        char *port;
        double capacity_ah; /* 0: ask the shunt */
        int interval_s;
};

struct shunt {
        struct device *device;
        const struct shunt_config *config;
        const char *name;
        struct serial_port *port;
        struct host_timer *capacity_timer;
        struct vedirect_parser parser;

        struct smartshunt_values values;
        uint64_t last_block_usec; /* a good block with V and I; 0: none since the port opened */
        double shunt_capacity_ah; /* from 0x1000, 0 until answered */
        bool alarm_logged, unsync_logged;
        bool last_alarm_on;
        int64_t last_ar;
        unsigned bad_blocks;
        struct ratelimit rl;
};

/* ---- config ---- */

static void shunt_free_config(void *p) {
        struct shunt_config *c = p;

        if (c)
                free(c->port);
        free(c);
}

static int shunt_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "port", "capacity", "interval", NULL };
        struct shunt_config *c = calloc(1, sizeof(*c));
        int r = 0;

        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (serial_config_port(ctx, path, obj, &c->port) < 0)
                r = -EINVAL;
        if (config_get_double(ctx, path, obj, "capacity", false, 0, 1, 100000, &c->capacity_ah) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "interval", false, 10, 1, 3600, &c->interval_s) < 0)
                r = -EINVAL;
        return r;
}

/* VE.Direct talks without being asked: the port is the shunt's alone. */
static int shunt_config_serial(const void *config, const char **ret_port, struct serial_line *ret_line) {
        const struct shunt_config *c = config;

        *ret_port = c->port;
        *ret_line = (struct serial_line) { .baud = BAUD, .parity = SERIAL_PARITY_NONE, .stop_bits = 1,
                                           .family = SERIAL_FAMILY_NONE };
        return 0;
}

static int shunt_config_cell_count(const void *config) {
        return 0;
}

static int shunt_config_temperature_count(const void *config) {
        return -ENODATA; /* the aux input may measure one */
}

/* ---- data ---- */

static uint64_t now(const struct shunt *s) {
        return device_now_usec(s->device);
}

static void log_changes(struct shunt *s) {
        const struct smartshunt_values *v = &s->values;
        char text[160];

        if (v->soc_unknown && !s->unsync_logged) {
                log_warning(s->name, "The shunt is not synchronised (SOC ---): SoC 0 %% until its first full charge");
                s->unsync_logged = true;
        } else if (v->has_soc && s->unsync_logged) {
                log_info(s->name, "The shunt is synchronised: SoC %.1f %%", v->soc_permille / 10.0);
                s->unsync_logged = false;
        }
        if (v->has_alarm && (!s->alarm_logged || v->alarm_on != s->last_alarm_on || v->ar != s->last_ar)) {
                smartshunt_alarm_text(v->has_ar ? v->ar : 0, text, sizeof(text));
                if (v->alarm_on)
                        log_warning(s->name, "Alarm on: %s", text);
                else if (s->alarm_logged)
                        log_info(s->name, "Alarm off");
                s->alarm_logged = true;
                s->last_alarm_on = v->alarm_on;
                s->last_ar = v->ar;
        }
}

static void on_block(void *userdata, const struct vedirect_block *b) {
        struct shunt *s = userdata;

        if (smartshunt_merge(&s->values, b)) {
                s->last_block_usec = now(s) ? now(s) : 1;
                device_report_read(s->device, 0, NULL);
        }
        log_changes(s);
}

static void on_hex(void *userdata, const char *frame, size_t len) {
        struct shunt *s = userdata;
        struct vedirect_hex_msg m;

        if (vedirect_hex_parse(frame, len, &m) < 0 || m.command != 7 || !m.has_register ||
            m.reg != SMARTSHUNT_REG_CAPACITY || m.flags != 0 || m.n_value < 2)
                return;
        s->shunt_capacity_ah = (double) (m.value & 0xFFFF);
        host_timer_disarm(s->device, s->capacity_timer);
        log_info(s->name, "Battery capacity %.0f Ah (set in the shunt)", s->shunt_capacity_ah);
}

static void on_parse_error(void *userdata, int error, const char *reason) {
        struct shunt *s = userdata;

        /* The first block after opening is usually cut: we joined mid-block. */
        if (s->bad_blocks++ == 0 && !s->last_block_usec)
                return;
        log_input_warning(&s->rl, now(s), s->name, "dropped blocks", "Dropped a block: %s", reason);
}

static const struct vedirect_handlers handlers = {
        .block = on_block,
        .hex = on_hex,
        .error = on_parse_error,
};

static void on_data(void *userdata, const uint8_t *data, size_t len) {
        struct shunt *s = userdata;

        vedirect_feed(&s->parser, data, len, now(s), &handlers, s);
}

static void ask_capacity(struct shunt *s) {
        char buf[32];
        int n;

        if (s->config->capacity_ah > 0 || s->shunt_capacity_ah > 0)
                return;
        n = vedirect_hex_build_get(SMARTSHUNT_REG_CAPACITY, buf, sizeof(buf));
        if (n > 0 && transport_serial_write(s->device, s->port, buf, (size_t) n) < 0)
                log_debug(s->name, "Cannot ask the capacity now");
        if (host_timer_arm(s->device, s->capacity_timer, now(s) + CAPACITY_RETRY_USEC, USEC_PER_SEC) < 0)
                log_error(s->name, "Cannot add a timer: the capacity is not asked again");
}

static void on_capacity_timer(void *userdata) {
        ask_capacity(userdata);
}

static void on_opened(void *userdata) {
        struct shunt *s = userdata;

        vedirect_parser_reset(&s->parser);
        s->bad_blocks = 0;
        s->last_block_usec = 0;
        ask_capacity(s);
}

static void on_closed(void *userdata, int error) {
        struct shunt *s = userdata;

        vedirect_parser_reset(&s->parser);
        s->last_block_usec = 0; /* offline at once: reads fail until blocks come again */
        device_report_read(s->device, error < 0 ? error : -EIO, "serial port");
}

static const struct serial_callbacks serial_callbacks = {
        .opened = on_opened,
        .data = on_data,
        .closed = on_closed,
};

/* ---- ops ---- */

/* The class asks every interval: the latest values while a block came within 10 s, else a failed read
 * (battery_offline decides). */
static int shunt_read(void *state) {
        struct shunt *s = state;
        struct battery_record r;
        double full;

        if (!s->last_block_usec || now(s) > s->last_block_usec + STALE_USEC) {
                device_report_read_failed(s->device, -ETIMEDOUT, "no valid block for 10 s");
                return 0;
        }
        full = s->config->capacity_ah > 0 ? s->config->capacity_ah : s->shunt_capacity_ah;
        smartshunt_record(&s->values, full, &r);
        r.time_usec = now(s);
        device_report_battery(s->device, &r);
        return 0;
}

static void shunt_free(void *state) {
        struct shunt *s = state;

        if (!s)
                return;
        transport_serial_close(s->device, s->port);
        host_timer_free(s->device, s->capacity_timer);
        free(s);
}

static int shunt_new(struct device *d, const void *config, void **ret) {
        const struct shunt_config *c = config;
        struct shunt *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->device = d;
        s->config = c;
        s->name = device_get_name(d);
        s->rl = INPUT_WARN_RATELIMIT;
        vedirect_parser_init(&s->parser);
        device_set_read_interval(d, (uint64_t) c->interval_s * USEC_PER_SEC);
        r = host_timer_new(d, on_capacity_timer, s, &s->capacity_timer);
        if (r < 0) {
                shunt_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int shunt_start(void *state) {
        struct shunt *s = state;
        int r;

        r = transport_serial_open(s->device, s->config->port, BAUD, &serial_callbacks, s, &s->port);
        if (r < 0)
                return log_error_errno(r, s->name, "Cannot set up %s: %m", s->config->port);
        return 0;
}

static const struct battery_ops shunt_battery_ops = {
        .read = shunt_read,
};

const struct driver driver_victron_smartshunt = {
        .version = DRIVER_VERSION,
        .name = "victronSmartShunt",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .parse_config = shunt_parse_config,
        .free_config = shunt_free_config,
        .config_temperature_count = shunt_config_temperature_count,
        .config_cell_count = shunt_config_cell_count,
        .config_serial = shunt_config_serial,
        .new = shunt_new,
        .free = shunt_free,
        .start = shunt_start,
        .battery = &shunt_battery_ops,
};
