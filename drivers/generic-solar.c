/* SPDX-License-Identifier: MIT */
/* genericSolar: a solar charger that cannot be switched, measured by a
 * PZEM-017 DC meter over Modbus RTU on an RS485 bus (shared with other
 * devices). Reads the meter's current range once, then a sample every second;
 * reports the mean power of the last 5 s, on/off by a threshold, and the
 * energy counter's growth. Register decoding lives in pzem017.c. */

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"
#include "homebattery/energy.h"
#include "homebattery/log.h"
#include "homebattery/time-util.h"
#include "modbus-rtu.h"
#include "pzem017.h"
#include "serial-config.h"

#define BAUD 9600
#define POLL_USEC USEC_PER_SEC
#define TIMEOUT_USEC (500 * USEC_PER_MSEC)
#define ATTEMPTS 2       /* a request and one retry */
#define FAULT_POLLS 3    /* failed polls in a row that make a fault */
#define WINDOW_USEC (5 * USEC_PER_SEC)
#define WINDOW_MAX 16    /* samples in the 5 s window: one a second, with room */

struct generic_solar_config {
        char *port;
        int address;
        int current_range_a;
        int threshold_w;
        enum serial_parity parity;
        int stop_bits;
        int power_hysteresis_w;
};

/* Failures are rate-limited per kind, so that one kind does not hide another. */
enum failure_kind {
        FAIL_TIMEOUT,
        FAIL_FRAME, /* wrong CRC, malformed, a range above 3 */
        FAIL_EXCEPTION,
        FAIL_PORT,
        FAIL_KINDS,
};

struct sample {
        uint64_t usec;
        double power_w;
};

struct generic_solar {
        struct device *device;
        const struct generic_solar_config *config;
        const char *name;
        struct bus_client *bus;
        struct host_timer *poll_timer;

        struct modbus_request req; /* in flight when busy */
        bool busy;
        unsigned attempt;
        unsigned failed_polls; /* in a row */

        enum device_status status;
        bool have_range;
        double m; /* current_range / the range the meter is set to */
        struct sample window[WINDOW_MAX];
        size_t n_window;
        bool power_reported;
        int power_reported_w;

        bool has_counter;
        double last_counter_wh;
        double pending_wh;
        struct ratelimit rl[FAIL_KINDS];
};

/* ---- config ---- */

static void generic_solar_free_config(void *p) {
        struct generic_solar_config *c = p;

        if (c)
                free(c->port);
        free(c);
}

static int parse_line(struct config_ctx *ctx, const char *path, struct json_object *obj,
                      struct generic_solar_config *c) {
        static const char *const parities[] = { "none", "even", "odd", NULL };
        struct json_object *v;
        int choice, r = 0;

        c->parity = SERIAL_PARITY_NONE;
        if (config_get_choice(ctx, path, obj, "parity", parities, NULL, &choice, &v) < 0)
                r = -EINVAL;
        else if (choice >= 0)
                c->parity = (enum serial_parity) choice;
        if (config_get_int(ctx, path, obj, "stop_bits", false, 2, 1, 2, &c->stop_bits) < 0)
                r = -EINVAL;
        return r;
}

static int generic_solar_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj,
                                      void **ret) {
        static const char *const keys[] = { "driver", "port", "address", "current_range", "threshold", "parity",
                                            "stop_bits", "power_hysteresis", NULL };
        struct generic_solar_config *c = calloc(1, sizeof(*c));
        int r = 0;

        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (serial_config_port(ctx, path, obj, &c->port) < 0)
                r = -EINVAL;
        /* 0xF8: the PZEM's "whoever is alone on the bus" address. */
        if (config_get_int(ctx, path, obj, "address", false, 1, 1, 0xF8, &c->address) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "current_range", true, 0, 50, 300, &c->current_range_a) < 0)
                r = -EINVAL;
        else if (c->current_range_a != 50 && c->current_range_a != 100 && c->current_range_a != 200 &&
                 c->current_range_a != 300) {
                char kp[256];
                snprintf(kp, sizeof(kp), "%s.current_range", path);
                config_error(ctx, kp, "expected 50, 100, 200 or 300 (A, the shunt installed), got %d",
                             c->current_range_a);
                r = -EINVAL;
        }
        if (config_get_int(ctx, path, obj, "threshold", false, 0, 0, 100000, &c->threshold_w) < 0)
                r = -EINVAL;
        if (parse_line(ctx, path, obj, c) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "power_hysteresis", false, 2, 1, 100000, &c->power_hysteresis_w) < 0)
                r = -EINVAL;
        return r;
}

static int generic_solar_config_serial(const void *config, const char **ret_port, struct serial_line *ret_line) {
        const struct generic_solar_config *c = config;

        *ret_port = c->port;
        *ret_line = (struct serial_line) { .baud = BAUD, .parity = c->parity, .stop_bits = (unsigned) c->stop_bits,
                                           .family = SERIAL_FAMILY_MODBUS_RTU };
        return 0;
}

/* ---- state ---- */

static uint64_t now(const struct generic_solar *s) {
        return device_now_usec(s->device);
}

static void set_status(struct generic_solar *s, enum device_status st) {
        if (st == s->status)
                return;
        log_info(s->name, "Status %s -> %s", device_status_to_string(s->status), device_status_to_string(st));
        s->status = st;
        device_report_status(s->device, DEVICE_CLASS_SOLAR, st);
}

/* victronMppt's rule: a change below the hysteresis is not worth a message,
 * but a change to or from 0 always is. */
static void report_power(struct generic_solar *s, int p) {
        if (s->power_reported && abs(p - s->power_reported_w) < s->config->power_hysteresis_w &&
            (p == 0) == (s->power_reported_w == 0))
                return;
        s->power_reported = true;
        s->power_reported_w = p;
        device_report_power(s->device, DEVICE_CLASS_SOLAR, p);
}

/* The mean of the samples of the last 5 s. */
static double window_mean(struct generic_solar *s, uint64_t t) {
        size_t k = 0;
        double sum = 0;

        for (size_t i = 0; i < s->n_window; i++)
                if (s->window[i].usec + WINDOW_USEC > t)
                        s->window[k++] = s->window[i];
        s->n_window = k;
        for (size_t i = 0; i < k; i++)
                sum += s->window[i].power_w;
        return k ? sum / (double) k : 0;
}

static void use_sample(struct generic_solar *s, const struct pzem_sample *p) {
        uint64_t t = now(s);
        double power = p->power_w < s->config->threshold_w ? 0 : p->power_w;
        double mean;

        if (s->n_window == WINDOW_MAX)
                memmove(s->window, s->window + 1, --s->n_window * sizeof(s->window[0]));
        s->window[s->n_window++] = (struct sample) { .usec = t, .power_w = power };
        mean = window_mean(s, t);
        log_debug(s->name, "%.2f V, %.2f A, %.1f W (mean %.1f W), %.0f Wh", p->voltage_v,
                  power > 0 ? p->current_a : 0.0, power, mean, p->energy_wh);
        /* The daemon never resets the counter; a smaller one was reset by someone else. */
        s->pending_wh += energy_counter_delta(s->has_counter, s->last_counter_wh, p->energy_wh);
        s->last_counter_wh = p->energy_wh;
        s->has_counter = true;
        set_status(s, mean > 0 ? DEVICE_STATUS_ON : DEVICE_STATUS_OFF);
        report_power(s, (int) lround(mean));
}

static enum failure_kind failure_kind(int error) {
        switch (error) {
        case -ETIMEDOUT:
                return FAIL_TIMEOUT;
        case -EREMOTEIO:
                return FAIL_EXCEPTION;
        case -EBADMSG:
        case -ERANGE:
        case -EMSGSIZE:
                return FAIL_FRAME;
        default:
                return FAIL_PORT;
        }
}

static void poll_failed(struct generic_solar *s, int error, const char *why) {
        static const char *const kinds[FAIL_KINDS] = { "timeouts", "bad answers", "exceptions", "port errors" };
        enum failure_kind k = failure_kind(error);

        s->busy = false;
        device_report_read(s->device, error, s->have_range ? "sample" : "current range");
        /* The first, then a count of the held back ones at most once a minute. */
        log_input_warning(&s->rl[k], now(s), s->name, kinds[k], "Read of address %d failed: %s", s->config->address,
                          why);
        if (++s->failed_polls < FAULT_POLLS || s->status == DEVICE_STATUS_FAULT)
                return;
        log_warning(s->name, "%u failed polls in a row: fault until the meter answers again", s->failed_polls);
        /* After a fault the meter may have been swapped or set to another range. */
        s->have_range = false;
        s->n_window = 0;
        set_status(s, DEVICE_STATUS_FAULT);
        report_power(s, 0);
}

static bool got_answer(struct generic_solar *s, const struct modbus_answer *a) {
        if (!s->have_range) {
                int amps = pzem_range_amps(modbus_u16(a->data, 0));
                if (amps < 0)
                        return false;
                s->m = (double) s->config->current_range_a / amps;
                s->have_range = true;
                log_info(s->name, "Meter set to %d A, shunt %d A: currents scaled by %g", amps,
                         s->config->current_range_a, s->m);
                return true;
        }
        struct pzem_sample p;
        pzem_decode_sample(a->data, s->m, &p);
        use_sample(s, &p);
        return true;
}

static int send_request(struct generic_solar *s);

static int on_answer(void *userdata, int error, const uint8_t *data, size_t len) {
        struct generic_solar *s = userdata;
        struct modbus_answer a;
        char why[64];
        int r = error;

        if (r == 0) {
                r = modbus_parse(&s->req, data, len, &a);
                if (r == -EAGAIN)
                        return r;
        }
        if (r == 0 && !got_answer(s, &a)) {
                r = -ERANGE;
                snprintf(why, sizeof(why), "current range register holds %u", modbus_u16(a.data, 0));
        } else if (r == -EREMOTEIO)
                snprintf(why, sizeof(why), "exception code %02x", a.exception);
        else if (r == -EBADMSG)
                snprintf(why, sizeof(why), "%s", a.reason ? a.reason : "bad frame");
        else if (r == -ETIMEDOUT)
                snprintf(why, sizeof(why), "no answer within %llu ms", TIMEOUT_USEC / USEC_PER_MSEC);
        else if (r < 0)
                snprintf(why, sizeof(why), "%s", strerror(-r));
        if (r == 0) {
                s->busy = false;
                s->failed_polls = 0;
                device_report_read(s->device, 0, NULL);
                if (s->have_range && s->status == DEVICE_STATUS_FAULT)
                        set_status(s, DEVICE_STATUS_SYNCING);
                return 0;
        }
        /* A lost port is not worth a second try. */
        if (s->attempt < ATTEMPTS && r != -ENODEV && send_request(s) >= 0)
                return r;
        poll_failed(s, r, why);
        return r;
}

static int send_request(struct generic_solar *s) {
        uint8_t buf[8];
        int n, r;

        if (s->have_range)
                s->req = (struct modbus_request) { .address = (uint8_t) s->config->address,
                                                   .function = MODBUS_READ_INPUT, .reg = 0,
                                                   .value = PZEM_SAMPLE_REGISTERS };
        else
                s->req = (struct modbus_request) { .address = (uint8_t) s->config->address,
                                                   .function = MODBUS_READ_HOLDING, .reg = PZEM_REG_CURRENT_RANGE,
                                                   .value = 1 };
        n = modbus_request_build(&s->req, buf);
        if (n < 0)
                return n;
        r = transport_bus_request(s->device, s->bus, buf, (size_t) n, TIMEOUT_USEC, on_answer, s);
        if (r < 0)
                return r;
        s->attempt++;
        s->busy = true;
        return 0;
}

static void on_poll(void *userdata) {
        struct generic_solar *s = userdata;
        int r;

        if (host_timer_arm(s->device, s->poll_timer, now(s) + POLL_USEC, 50 * USEC_PER_MSEC) < 0)
                log_error(s->name, "Cannot add a timer: polling stops");
        if (s->busy)
                return; /* a slow bus: this poll is skipped */
        s->attempt = 0;
        r = send_request(s);
        if (r < 0)
                poll_failed(s, r, r == -ENOTCONN ? "the port is not open" : strerror(-r));
}

/* ---- ops ---- */

/* Nothing to switch: the status is what the meter measures. */
static int generic_solar_set_on(void *state, bool on) {
        return 0;
}

static int generic_solar_energy_wh(void *state, double *ret_wh) {
        struct generic_solar *s = state;

        if (!s->has_counter)
                return -ENODATA;
        *ret_wh = s->pending_wh;
        s->pending_wh = 0;
        return 0;
}

static void generic_solar_free(void *state) {
        struct generic_solar *s = state;

        if (!s)
                return;
        transport_bus_close(s->device, s->bus);
        host_timer_free(s->device, s->poll_timer);
        free(s);
}

static int generic_solar_new(struct device *d, const void *config, void **ret) {
        struct generic_solar *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->device = d;
        s->config = config;
        s->name = device_get_name(d);
        s->status = DEVICE_STATUS_SYNCING;
        for (size_t k = 0; k < FAIL_KINDS; k++)
                s->rl[k] = RATELIMIT_INIT(60 * USEC_PER_SEC, 1);
        r = host_timer_new(d, on_poll, s, &s->poll_timer);
        if (r < 0) {
                generic_solar_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int generic_solar_start(void *state) {
        struct generic_solar *s = state;
        struct serial_line line;
        const char *port;
        int r;

        device_report_status(s->device, DEVICE_CLASS_SOLAR, s->status);
        (void) generic_solar_config_serial(s->config, &port, &line);
        r = transport_bus_open(s->device, port, &line, &s->bus);
        if (r < 0)
                return log_error_errno(r, s->name, "Cannot set up the bus on %s: %m", port);
        /* The port opens from the loop: the first poll a second from now. */
        r = host_timer_arm(s->device, s->poll_timer, now(s) + POLL_USEC, 50 * USEC_PER_MSEC);
        if (r < 0)
                return log_error_errno(r, s->name, "Cannot add a timer: %m");
        return 0;
}

static const struct switch_ops generic_solar_ops = {
        .set_on = generic_solar_set_on,
        .energy_wh = generic_solar_energy_wh,
};

const struct driver driver_generic_solar = {
        .version = DRIVER_VERSION,
        .name = "genericSolar",
        .classes = CLASS_BIT(DEVICE_CLASS_SOLAR),
        .parse_config = generic_solar_parse_config,
        .free_config = generic_solar_free_config,
        .config_serial = generic_solar_config_serial,
        .new = generic_solar_new,
        .free = generic_solar_free,
        .start = generic_solar_start,
        .solar = &generic_solar_ops,
};
