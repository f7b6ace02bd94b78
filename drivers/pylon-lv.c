/* SPDX-License-Identifier: MIT */
/* pylonLv: a Pylontech US battery (US2000, US3000, US5000, ...) on an RS485
 * bus, several packs per bus. Finds the pack by its serial number (0x93 over
 * addresses 0..15), logs its system parameters (0x47) once, then each read
 * asks 0x42 analog values (the record), 0x44 alarms and 0x92 management info
 * (both logged when they change). Framing in pylon-frame.c, layouts in
 * pylon-decode.c. */

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "homebattery/log.h"
#include "homebattery/time-util.h"
#include "pylon-decode.h"
#include "pylon-frame.h"
#include "serial-config.h"

#define TIMEOUT_USEC (500 * USEC_PER_MSEC)
#define ATTEMPTS 2          /* a request and one retry */
#define ADDRESSES 16        /* group 0: 0x00..0x0F */
#define SEARCH_ROUNDS 3
#define RESEARCH_AFTER 3    /* failed reads in a row before the pack is searched again */
#define SERIAL_MAX 32
#define OPEN_WAIT_USEC (250 * USEC_PER_MSEC)
#define OPEN_WAITS 12       /* the port opens from the loop: the first read waits up to 3 s for it */

struct pylon_lv_config {
        char *port;
        char *serial;
        int baud;
        int address; /* -1: search */
        int interval_s;
};

enum step {
        STEP_IDLE,
        STEP_OPENING,       /* the first read waits for the port */
        STEP_SEARCH,
        STEP_PARAMS,
        STEP_ANALOG,
        STEP_ALARMS,
        STEP_MANAGEMENT,
};

enum failure_kind {
        FAIL_TIMEOUT,
        FAIL_FRAME,
        FAIL_RTN,
        FAIL_PORT,
        FAIL_NOT_FOUND,
        FAIL_KINDS,
};

struct pylon_lv {
        struct device *device;
        const struct pylon_lv_config *config;
        const char *name;
        struct bus_client *bus;

        enum step step;
        uint8_t asked;     /* the address of the request in flight */
        unsigned attempt;
        int adr;           /* the pack's address, -1 until found */
        unsigned round;    /* search rounds done in this search */
        unsigned failed_reads;

        bool have_alarms, have_management;
        struct pylon_alarms alarms;
        struct pylon_management management;
        bool warned_full;
        bool read_wanted;  /* read() came while 0x44/0x92 were still on their way */
        bool seen_open;
        unsigned open_waits;
        struct host_timer *open_timer;
        uint8_t info[PYLON_INFO_MAX];
        struct ratelimit rl[FAIL_KINDS];
};

/* ---- config ---- */

static void pylon_lv_free_config(void *p) {
        struct pylon_lv_config *c = p;

        if (c) {
                free(c->port);
                free(c->serial);
        }
        free(c);
}

static int check_serial(struct config_ctx *ctx, const char *path, const char *serial) {
        size_t n = strlen(serial);
        char kp[256];

        snprintf(kp, sizeof(kp), "%s.serial", path);
        if (n < 1 || n > SERIAL_MAX) {
                config_error(ctx, kp, "expected 1 to %d characters, got %zu", SERIAL_MAX, n);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
                if (serial[i] < 0x20 || serial[i] > 0x7E) {
                        config_error(ctx, kp, "expected printable ASCII characters (as the battery reports it)");
                        return -EINVAL;
                }
        return 0;
}

static int pylon_lv_parse_config(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        static const char *const keys[] = { "driver", "port", "serial", "baud", "address", "interval", NULL };
        struct pylon_lv_config *c = calloc(1, sizeof(*c));
        int r = 0;

        if (!c)
                return -ENOMEM;
        *ret = c;
        if (config_check_keys(ctx, path, obj, keys) < 0)
                r = -EINVAL;
        if (serial_config_port(ctx, path, obj, &c->port) < 0)
                r = -EINVAL;
        if (config_get_string(ctx, path, obj, "serial", true, NULL, &c->serial) < 0 ||
            check_serial(ctx, path, c->serial) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "baud", false, 115200, 9600, 115200, &c->baud) < 0)
                r = -EINVAL;
        else if (c->baud != 9600 && c->baud != 115200) {
                char kp[256];
                snprintf(kp, sizeof(kp), "%s.baud", path);
                config_error(ctx, kp, "expected 9600 or 115200 (as set on the battery), got %d", c->baud);
                r = -EINVAL;
        }
        if (config_get_int(ctx, path, obj, "address", false, -1, 0, ADDRESSES - 1, &c->address) < 0)
                r = -EINVAL;
        if (config_get_int(ctx, path, obj, "interval", false, 60, 5, 3600, &c->interval_s) < 0)
                r = -EINVAL;
        return r;
}

static int pylon_lv_config_serial(const void *config, const char **ret_port, struct serial_line *ret_line) {
        const struct pylon_lv_config *c = config;

        *ret_port = c->port;
        *ret_line = (struct serial_line) { .baud = (unsigned) c->baud, .parity = SERIAL_PARITY_NONE, .stop_bits = 1,
                                           .family = SERIAL_FAMILY_PYLONTECH };
        return 0;
}

/* ---- requests ---- */

static uint64_t now(const struct pylon_lv *p) {
        return device_now_usec(p->device);
}

static uint8_t command(enum step s) {
        switch (s) {
        case STEP_SEARCH:
                return PYLON_SERIAL;
        case STEP_PARAMS:
                return PYLON_SYSTEM_PARAMETERS;
        case STEP_ALARMS:
                return PYLON_ALARMS;
        case STEP_MANAGEMENT:
                return PYLON_MANAGEMENT;
        default:
                return PYLON_ANALOG;
        }
}

static const char *step_name(enum step s) {
        static const char *const names[] = { "idle", "opening", "serial number", "system parameters",
                                             "analog values", "alarm info", "management info" };
        return names[s];
}

static int on_answer(void *userdata, int error, const uint8_t *data, size_t len);

static int send_request(struct pylon_lv *p) {
        char buf[PYLON_REQUEST_SIZE];

        pylon_request_build(p->asked, command(p->step), buf);
        p->attempt++;
        int r = transport_bus_request(p->device, p->bus, buf, sizeof(buf), TIMEOUT_USEC, on_answer, p);
        if (r >= 0)
                p->seen_open = true;
        return r;
}

static int ask(struct pylon_lv *p, enum step s, uint8_t adr) {
        p->step = s;
        p->asked = adr;
        p->attempt = 0;
        return send_request(p);
}

static enum failure_kind failure_kind(int error) {
        switch (error) {
        case -ETIMEDOUT:
                return FAIL_TIMEOUT;
        case -EREMOTEIO:
                return FAIL_RTN;
        case -EBADMSG:
        case -EMSGSIZE:
                return FAIL_FRAME;
        case -ENOENT:
                return FAIL_NOT_FOUND;
        default:
                return FAIL_PORT;
        }
}

static void warn(struct pylon_lv *p, int error, const char *fmt, ...) _printf_(3, 4);
static void warn(struct pylon_lv *p, int error, const char *fmt, ...) {
        static const char *const kinds[FAIL_KINDS] = { "timeouts", "bad answers", "error answers", "port errors",
                                                       "searches" };
        char text[160];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        /* The first, then a count of the held back ones at most once a minute. */
        log_input_warning(&p->rl[failure_kind(error)], now(p), p->name, kinds[failure_kind(error)], "%s", text);
}

/* The read is over without a record. */
static void read_failed(struct pylon_lv *p, int error, const char *step) {
        p->step = STEP_IDLE;
        if (p->adr >= 0 && ++p->failed_reads >= RESEARCH_AFTER) {
                log_info(p->name, "%u failed reads in a row: searching for serial %s again", p->failed_reads,
                         p->config->serial);
                p->adr = -1;
                p->failed_reads = 0;
        }
        device_report_read_failed(p->device, error, step);
}


static void start_read(struct pylon_lv *p);

/* Sends the next request; a request that cannot go out ends the read (or,
 * for the logged-only ones, the round). */
static void next(struct pylon_lv *p, enum step s, uint8_t adr) {
        int r = ask(p, s, adr);

        if (r >= 0)
                return;
        warn(p, r, "Cannot ask address %u for %s: %s", adr, step_name(s),
             r == -ENOTCONN ? "the port is not open" : strerror(-r));
        if (s <= STEP_ANALOG)
                read_failed(p, r, step_name(s));
        else
                p->step = STEP_IDLE;
}

static void search_answer(struct pylon_lv *p, int r, size_t n_info) {
        if (r == 0 && pylon_serial_matches(p->info, n_info, p->config->serial)) {
                p->adr = p->asked;
                log_info(p->name, "Serial %s found at address %u", p->config->serial, p->asked);
                next(p, STEP_PARAMS, p->asked);
                return;
        }
        if (p->config->address >= 0 || r == -ENODEV || r == -ENOTCONN) {
                if (r == 0) {
                        r = -ENOENT;
                        warn(p, r, "Address %d answers with another serial than %s", p->config->address,
                             p->config->serial);
                }
                read_failed(p, r, step_name(STEP_SEARCH));
                return;
        }
        if (p->asked + 1 < ADDRESSES) {
                next(p, STEP_SEARCH, (uint8_t) (p->asked + 1));
                return;
        }
        if (++p->round < SEARCH_ROUNDS) {
                next(p, STEP_SEARCH, 0);
                return;
        }
        warn(p, -ENOENT, "Battery with serial %s not found at addresses 0..%d (%d rounds)", p->config->serial,
             ADDRESSES - 1, SEARCH_ROUNDS);
        read_failed(p, -ENOENT, "search");
}

static void params_answer(struct pylon_lv *p, size_t n_info) {
        struct pylon_params q;

        if (pylon_decode_params(p->info, n_info, &q) < 0) {
                warn(p, -EBADMSG, "System parameters: answer too short (%zu bytes)", n_info);
                return;
        }
        log_info(p->name,
                 "Limits: cell %.3f/%.3f/%.3f V (high/low/under), module %.3f/%.3f/%.3f V, "
                 "charge %.1f..%.1f °C up to %.1f A, discharge %.1f..%.1f °C up to %.1f A",
                 q.cell_high_mv / 1000.0, q.cell_low_mv / 1000.0, q.cell_under_mv / 1000.0,
                 q.module_high_mv / 1000.0, q.module_low_mv / 1000.0, q.module_under_mv / 1000.0, q.charge_low_c,
                 q.charge_high_c, q.charge_limit_a, q.discharge_low_c, q.discharge_high_c, q.discharge_limit_a);
}

static void analog_answer(struct pylon_lv *p, size_t n_info) {
        struct pylon_analog a;
        const char *reason = NULL;

        if (pylon_decode_analog(p->info, n_info, &a, &reason) < 0) {
                warn(p, -EBADMSG, "Analog values of address %d dropped: %s", p->adr, reason);
                read_failed(p, -EBADMSG, step_name(STEP_ANALOG));
                return;
        }
        if (a.full_unknown && !p->warned_full) {
                log_warning(p->name, "The battery reports a full capacity of 0: SoC reported as 0 %%");
                p->warned_full = true;
        }
        if (a.has_bms_temp)
                log_debug(p->name, "BMS board %.1f °C", a.bms_temp_c);
        a.record.time_usec = now(p);
        p->failed_reads = 0;
        device_report_battery(p->device, &a.record);
        next(p, STEP_ALARMS, (uint8_t) p->adr);
}

static void alarms_answer(struct pylon_lv *p, size_t n_info) {
        struct pylon_alarms a;
        char text[256];

        if (pylon_decode_alarms(p->info, n_info, &a) < 0) {
                log_debug(p->name, "Alarm info: malformed (%zu bytes)", n_info);
                return;
        }
        if (p->have_alarms && memcmp(&a, &p->alarms, sizeof(a)) == 0)
                return;
        pylon_alarms_describe(&a, text, sizeof(text));
        log_info(p->name, "Alarms and states: %s", text);
        p->alarms = a;
        p->have_alarms = true;
}

static void management_answer(struct pylon_lv *p, size_t n_info) {
        struct pylon_management m;

        if (pylon_decode_management(p->info, n_info, &m) < 0) {
                log_debug(p->name, "Management info: malformed (%zu bytes)", n_info);
                return;
        }
        if (p->have_management && memcmp(&m, &p->management, sizeof(m)) == 0)
                return;
        log_info(p->name, "Management: charge up to %.3f V and %.1f A, discharge down to %.3f V and %.1f A; "
                 "charge %s, discharge %s%s%s", m.charge_voltage_mv / 1000.0, m.charge_limit_a,
                 m.discharge_voltage_mv / 1000.0, m.discharge_limit_a, m.status & 0x80 ? "enabled" : "disabled",
                 m.status & 0x40 ? "enabled" : "disabled", m.status & 0x30 ? ", charge immediately" : "",
                 m.status & 0x08 ? ", full charge request" : "");
        p->management = m;
        p->have_management = true;
}

/* A failed 0x47/0x44/0x92 is logged only; a failed 0x93/0x42 ends the read. */
static void step_failed(struct pylon_lv *p, int r, const struct pylon_answer *a) {
        char why[96];

        if (r == -EREMOTEIO)
                snprintf(why, sizeof(why), "return code %02X", a->rtn);
        else if (r == -EBADMSG)
                snprintf(why, sizeof(why), "%s", a->reason ? a->reason : "bad frame");
        else if (r == -ETIMEDOUT)
                snprintf(why, sizeof(why), "no answer within %llu ms", TIMEOUT_USEC / USEC_PER_MSEC);
        else
                snprintf(why, sizeof(why), "%s", strerror(-r));
        /* A silent address is the normal case of a search. */
        if (p->step != STEP_SEARCH || r != -ETIMEDOUT)
                warn(p, r, "Address %u, %s: %s", p->asked, step_name(p->step), why);
        if (p->step == STEP_ANALOG)
                read_failed(p, r, step_name(STEP_ANALOG));
}

static void dispatch(struct pylon_lv *p, int r, const struct pylon_answer *a) {
        enum step s = p->step;

        if (s == STEP_SEARCH) {
                if (r < 0)
                        step_failed(p, r, a);
                search_answer(p, r, a->n_info);
                return;
        }
        if (r < 0)
                step_failed(p, r, a);
        else if (s == STEP_PARAMS)
                params_answer(p, a->n_info);
        else if (s == STEP_ANALOG)
                analog_answer(p, a->n_info);
        else if (s == STEP_ALARMS)
                alarms_answer(p, a->n_info);
        else if (s == STEP_MANAGEMENT)
                management_answer(p, a->n_info);
        /* The order of a read: 0x47 (once) -> 0x42 -> 0x44 -> 0x92. */
        if (s == STEP_PARAMS)
                next(p, STEP_ANALOG, (uint8_t) p->adr);
        else if (s == STEP_ALARMS && p->step == STEP_ALARMS)
                next(p, STEP_MANAGEMENT, (uint8_t) p->adr);
        else if (s == STEP_MANAGEMENT) {
                p->step = STEP_IDLE;
                if (p->read_wanted)
                        start_read(p);
        }
}

static int on_answer(void *userdata, int error, const uint8_t *data, size_t len) {
        struct pylon_lv *p = userdata;
        struct pylon_answer a = {};
        int r = error;

        if (r == 0) {
                r = pylon_parse((const char *) data, len, p->asked, p->info, &a);
                if (r == -EAGAIN)
                        return r;
        }
        /* One retry on a timeout or a bad frame; a silent address during a
         * search is not asked twice (16 of them would take 8 s more a round). */
        if ((r == -EBADMSG || (r == -ETIMEDOUT && p->step != STEP_SEARCH)) && p->attempt < ATTEMPTS) {
                int q = send_request(p);
                if (q >= 0)
                        return r;
                r = q;
        }
        dispatch(p, r, &a);
        return r;
}

static void start_read(struct pylon_lv *p) {
        p->read_wanted = false;
        if (p->adr < 0) {
                p->round = 0;
                next(p, STEP_SEARCH, p->config->address >= 0 ? (uint8_t) p->config->address : 0);
        } else
                next(p, STEP_ANALOG, (uint8_t) p->adr);
}

/* ---- ops ---- */

static void on_open_wait(void *userdata) {
        struct pylon_lv *p = userdata;

        if (!transport_bus_is_open(p->device, p->bus) && ++p->open_waits < OPEN_WAITS &&
            host_timer_arm(p->device, p->open_timer, now(p) + OPEN_WAIT_USEC, 0) >= 0)
                return;
        p->step = STEP_IDLE;
        start_read(p); /* still closed: fails as an unplugged port does */
}

static int pylon_lv_read(void *state) {
        struct pylon_lv *p = state;

        if (!p->seen_open) {
                p->seen_open = transport_bus_is_open(p->device, p->bus);
                if (!p->seen_open && p->step == STEP_IDLE &&
                    host_timer_arm(p->device, p->open_timer, now(p) + OPEN_WAIT_USEC, 0) >= 0) {
                        p->step = STEP_OPENING;
                        return 0;
                }
        }

        if (p->step == STEP_ALARMS || p->step == STEP_MANAGEMENT) {
                p->read_wanted = true; /* starts once the logged-only requests are through */
                return 0;
        }
        if (p->step != STEP_IDLE)
                return -EBUSY;
        start_read(p);
        return 0;
}

static void pylon_lv_free(void *state) {
        struct pylon_lv *p = state;

        if (!p)
                return;
        transport_bus_close(p->device, p->bus);
        host_timer_free(p->device, p->open_timer);
        free(p);
}

static int pylon_lv_new(struct device *d, const void *config, void **ret) {
        const struct pylon_lv_config *c = config;
        struct pylon_lv *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->device = d;
        p->config = c;
        p->name = device_get_name(d);
        p->adr = -1;
        for (size_t k = 0; k < FAIL_KINDS; k++)
                p->rl[k] = RATELIMIT_INIT(60 * USEC_PER_SEC, 1);
        device_set_read_interval(d, (uint64_t) c->interval_s * USEC_PER_SEC);
        if (host_timer_new(d, on_open_wait, p, &p->open_timer) < 0) {
                free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

static int pylon_lv_start(void *state) {
        struct pylon_lv *p = state;
        struct serial_line line;
        const char *port;
        int r;

        (void) pylon_lv_config_serial(p->config, &port, &line);
        r = transport_bus_open(p->device, port, &line, &p->bus);
        if (r < 0)
                return log_error_errno(r, p->name, "Cannot set up the bus on %s: %m", port);
        return 0;
}

static const struct battery_ops pylon_lv_battery_ops = {
        .read = pylon_lv_read,
};

const struct driver driver_pylon_lv = {
        .version = DRIVER_VERSION,
        .name = "pylonLv",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .parse_config = pylon_lv_parse_config,
        .free_config = pylon_lv_free_config,
        .config_serial = pylon_lv_config_serial,
        .new = pylon_lv_new,
        .free = pylon_lv_free,
        .start = pylon_lv_start,
        .battery = &pylon_lv_battery_ops,
};
