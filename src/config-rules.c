/* SPDX-License-Identifier: MIT */
/* The rules that span sections and devices, checked once every section is
 * valid on its own: what the inverters need, which checks have something to
 * watch, MQTT topics read twice (a meter read by two devices counts twice),
 * temperature checks on batteries that have no sensor, and serial ports
 * shared by devices that do not agree on the line. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-ctx.h"
#include "homebattery/cleanup.h"

/* Subscriptions one device may ask for (mqttBattery: one). */
#define DEVICE_TOPICS_MAX 4

bool mqtt_filters_overlap(const char *a, const char *b) {
        for (;;) {
                size_t la = strcspn(a, "/"), lb = strcspn(b, "/");

                if ((la == 1 && a[0] == '#') || (lb == 1 && b[0] == '#'))
                        return true;
                if (!(la == 1 && a[0] == '+') && !(lb == 1 && b[0] == '+') && (la != lb || memcmp(a, b, la) != 0))
                        return false;
                a += la;
                b += lb;
                if (!*a && !*b)
                        return true;
                /* "x/#" also matches "x" itself. */
                if (!*a)
                        return strcmp(b, "/#") == 0;
                if (!*b)
                        return strcmp(a, "/#") == 0;
                a++;
                b++;
        }
}

static void check_classes(struct config_ctx *ctx, struct config *c) {
        size_t n_inv = config_count_class(c, DEVICE_CLASS_INVERTER);
        size_t n_cons = config_count_class(c, DEVICE_CLASS_CONSUMPTION);
        bool nz = c->netzero.present && c->netzero.enabled;

        if (n_inv > 0 && !nz && !c->general.has_inverter_power)
                config_error(ctx, "general.inverter_power",
                             "required when an inverter is configured and netzero is disabled");
        if (c->netzero.has_max_power && c->general.has_inverter_power &&
            c->general.inverter_power_w > c->netzero.max_power_w)
                config_error(ctx, "general.inverter_power", "%d W is above netzero.max_power (%d W)",
                             c->general.inverter_power_w, c->netzero.max_power_w);
        if (nz && n_cons == 0)
                config_error(ctx, "netzero.enabled", "netzero needs at least one consumption device (mqttConsumption, httpConsumption)");
        if (nz && n_inv == 0)
                config_warning(ctx, "netzero.enabled", "no inverter is configured: netzero has nothing to control");
        if ((c->supervisor.checks[LOCK_LIVE_DATA_LOST_CHARGE].enabled ||
             c->supervisor.checks[LOCK_LIVE_DATA_LOST_DISCHARGE].enabled) &&
            n_cons == 0)
                config_warning(ctx, "supervisor", "live_data_lost checks have no consumption device to watch");
}

/* The daemon's own subscriptions and publications, as filters. */
struct own_topic {
        char *filter;
        const char *key;  /* the config key that places it */
        const char *what; /* for the message */
};

static int own_topics(const struct config_mqtt *m, struct own_topic ret[static 3], size_t *ret_n) {
        size_t n = 0;

        /* Everything under mqtt.root is the daemon's: mode/set, reset, status, bat/..., the classes. */
        if (asprintf(&ret[n].filter, "%s/#", m->root) < 0)
                return -ENOMEM;
        ret[n].key = "mqtt.root";
        ret[n++].what = "this daemon's own topics";
        if (m->ha_enabled) {
                if (asprintf(&ret[n].filter, "%s/status", m->ha_prefix) < 0)
                        goto oom;
                ret[n].key = "mqtt.homeassistant.prefix";
                ret[n++].what = "Home Assistant's status topic";
                if (asprintf(&ret[n].filter, "%s/+/+/+/config", m->ha_prefix) < 0)
                        goto oom;
                ret[n].key = "mqtt.homeassistant.prefix";
                ret[n++].what = "the Home Assistant discovery topics";
        }
        *ret_n = n;
        return 0;
oom:
        for (size_t i = 0; i < n; i++)
                free(ret[i].filter);
        return -ENOMEM;
}

static size_t device_topics(const struct config_device *d, struct driver_mqtt_topic ret[static DEVICE_TOPICS_MAX]) {
        if (!d->driver->config_mqtt_topics)
                return 0;
        size_t n = d->driver->config_mqtt_topics(d->driver_config, ret, DEVICE_TOPICS_MAX);
        return n < DEVICE_TOPICS_MAX ? n : DEVICE_TOPICS_MAX;
}

/* Against the daemon's own topics and every device before it; reported on the later one. */
static void check_device_topics(struct config_ctx *ctx, const struct config *c, size_t i,
                                const struct own_topic *own, size_t n_own) {
        const struct config_device *d = &c->devices[i];
        struct driver_mqtt_topic mine[DEVICE_TOPICS_MAX], theirs[DEVICE_TOPICS_MAX];
        size_t n_mine = device_topics(d, mine);
        char kp[128], shown[CONFIG_SHOW_SIZE], shown2[CONFIG_SHOW_SIZE];

        for (size_t t = 0; t < n_mine; t++) {
                snprintf(kp, sizeof(kp), "devices.%s.%s", d->name, mine[t].key);
                for (size_t o = 0; o < n_own; o++)
                        if (mqtt_filters_overlap(mine[t].filter, own[o].filter))
                                config_error(ctx, kp, "MQTT topic \"%s\" overlaps %s (\"%s\", from %s)",
                                             config_show(shown, mine[t].filter), own[o].what,
                                             config_show(shown2, own[o].filter), own[o].key);
                for (size_t j = 0; j < i; j++) {
                        const struct config_device *e = &c->devices[j];
                        size_t n_theirs = device_topics(e, theirs);
                        for (size_t u = 0; u < n_theirs; u++)
                                if (mqtt_filters_overlap(mine[t].filter, theirs[u].filter))
                                        config_error(ctx, kp,
                                                     "MQTT topic \"%s\" overlaps \"%s\" of devices.%s.%s: both "
                                                     "devices would read (and count) every message there",
                                                     config_show(shown, mine[t].filter),
                                                     config_show(shown2, theirs[u].filter), e->name, theirs[u].key);
                }
        }
}

static void check_topics(struct config_ctx *ctx, const struct config *c) {
        struct own_topic own[3];
        size_t n_own = 0;

        if (own_topics(&c->mqtt, own, &n_own) < 0) {
                ctx->oom = true;
                return;
        }
        for (size_t i = 0; i < c->n_devices; i++)
                check_device_topics(ctx, c, i, own, n_own);
        for (size_t o = 0; o < n_own; o++)
                free(own[o].filter);
}

/* Whether battery device d can ever report cells (temperatures): its driver's count, when the config
 * already tells it (mqttBattery's counts, victronSmartShunt's no cells); a BMS tells only at run time. */
static bool can_report(const struct config_device *d, bool cells) {
        int (*count)(const void *) = cells ? d->driver->config_cell_count : d->driver->config_temperature_count;

        return !count || count(d->driver_config) != 0;
}

/* A cell or temperature check with no battery that could ever deliver what it needs would keep its
 * classes locked for good: refused here. A battery without cells or temperatures among others that have
 * them gives no decision for those checks (docs/control.md). */
static void check_values_reported(struct config_ctx *ctx, const struct config *c) {
        static const enum lock_id checks[] = { LOCK_CELL_LOW, LOCK_CELL_HIGH, LOCK_TEMP_LOW_CHARGE,
                                               LOCK_TEMP_LOW_DISCHARGE, LOCK_TEMP_HIGH_CHARGE,
                                               LOCK_TEMP_HIGH_DISCHARGE };

        for (size_t t = 0; t < ELEMENTSOF(checks); t++) {
                bool cells = checks[t] == LOCK_CELL_LOW || checks[t] == LOCK_CELL_HIGH, any = false;
                char kp[64], names[256] = "";
                size_t len = 0, n = 0;

                if (!c->supervisor.checks[checks[t]].enabled)
                        continue;
                for (size_t i = 0; i < c->n_devices && !any; i++) {
                        const struct config_device *d = &c->devices[i];
                        if (!(d->driver->classes & CLASS_BIT(DEVICE_CLASS_BATTERY)))
                                continue;
                        any = can_report(d, cells);
                        if (!any && len < sizeof(names))
                                len += (size_t) snprintf(names + len, sizeof(names) - len, "%sdevices.%s (%s)",
                                                         n++ ? ", " : "", d->name, d->driver->name);
                }
                if (any || n == 0)
                        continue;
                snprintf(kp, sizeof(kp), "supervisor.%s", lock_to_string(checks[t]));
                config_error(ctx, kp,
                             "enabled, but no battery can report %s (%s): disable the check "
                             "(\"%s\": {\"enabled\": false}) or add a battery that reports them",
                             cells ? "cell voltages" : "a temperature", names, lock_to_string(checks[t]));
        }
}

/* "9600 8N2", as the line is written on adapters. */
static const char *line_show(char buf[static 32], const struct serial_line *l) {
        static const char parity[] = { 'N', 'E', 'O' };

        snprintf(buf, 32, "%u 8%c%u", l->baud, parity[l->parity], l->stop_bits);
        return buf;
}

static const char *family_show(enum serial_family f) {
        return f == SERIAL_FAMILY_MODBUS_RTU ? "Modbus RTU" : f == SERIAL_FAMILY_PYLONTECH ? "Pylontech" : "its own";
}

bool serial_lines_conflict(const char *port, const struct driver *d, const struct serial_line *mine,
                           const char *other_name, const struct driver *e, const struct serial_line *theirs,
                           char *buf, size_t size) {
        char a[32], b[32];

        if (mine->family == SERIAL_FAMILY_NONE || theirs->family == SERIAL_FAMILY_NONE)
                snprintf(buf, size, "%s is also used by devices.%s (%s): %s needs the port alone", port, other_name,
                         e->name, mine->family == SERIAL_FAMILY_NONE ? d->name : e->name);
        else if (mine->family != theirs->family)
                snprintf(buf, size, "%s is also used by devices.%s, which speaks %s; %s speaks %s", port, other_name,
                         family_show(theirs->family), d->name, family_show(mine->family));
        else if (mine->baud != theirs->baud || mine->parity != theirs->parity || mine->stop_bits != theirs->stop_bits)
                snprintf(buf, size, "%s is also used by devices.%s with %s; %s needs %s", port, other_name,
                         line_show(a, theirs), d->name, line_show(b, mine));
        else
                return false;
        return true;
}

/* Two devices on one port: a bus (request/response drivers) only when both
 * speak the same protocol with the same line settings. Reported on the later. */
static void check_serial_pair(struct config_ctx *ctx, const struct config_device *d, const char *port,
                              const struct serial_line *mine, const struct config_device *e,
                              const struct serial_line *theirs) {
        char kp[128], why[512];

        snprintf(kp, sizeof(kp), "devices.%s.port", d->name);
        if (serial_lines_conflict(port, d->driver, mine, e->name, e->driver, theirs, why, sizeof(why)))
                config_error(ctx, kp, "%s", why);
}

static void check_serial_ports(struct config_ctx *ctx, const struct config *c) {
        for (size_t i = 0; i < c->n_devices; i++) {
                const struct config_device *d = &c->devices[i];
                struct serial_line mine, theirs;
                const char *port, *other;

                if (!d->driver->config_serial || d->driver->config_serial(d->driver_config, &port, &mine) < 0 || !port)
                        continue;
                for (size_t j = 0; j < i; j++) {
                        const struct config_device *e = &c->devices[j];
                        if (!e->driver->config_serial || e->driver->config_serial(e->driver_config, &other, &theirs) < 0 ||
                            !other || strcmp(port, other) != 0)
                                continue;
                        check_serial_pair(ctx, d, port, &mine, e, &theirs);
                        break; /* one message per device is enough */
                }
        }
}

void config_check_rules(struct config_ctx *ctx, struct config *c) {
        check_classes(ctx, c);
        check_topics(ctx, c);
        check_values_reported(ctx, c);
        check_serial_ports(ctx, c);
}
