/* SPDX-License-Identifier: MIT */
/* Builders of the HTTP answers: /api/status (json-c), /metrics (Prometheus
 * text format 0.0.4) and the history ring behind /api/history. They only read
 * the control core's views; the server passes time and MQTT state in. Values
 * that are not known are JSON null, and are left out of the metrics. */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "control.h"
#include "homebattery/cleanup.h"
#include "http-api.h"
#include "mode.h"
#include "supervisor.h"
#include "homebattery/time-util.h"

#define SAMPLE_UNKNOWN INT32_MIN

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

/* ---- JSON status ---- */

/* json-c must not get a NULL container: when an allocation failed, the value
 * is dropped (the answer misses a key), and only a failed top level object
 * makes the whole answer fail. */
static void add(struct json_object *o, const char *key, struct json_object *val) {
        if (o)
                json_object_object_add(o, key, val);
        else
                json_object_put(val);
}

static void push(struct json_object *a, struct json_object *val) {
        if (a)
                json_object_array_add(a, val);
        else
                json_object_put(val);
}

/* Fixed decimals, as users read them (same as the MQTT JSON topics). */
static struct json_object *jdouble(double v, int decimals) {
        char buf[32];

        if (!isfinite(v))
                return NULL;
        snprintf(buf, sizeof(buf), "%.*f", decimals, v);
        return json_object_new_double_s(v, buf);
}

static struct json_object *jpower(bool known, int power_w) {
        return known ? json_object_new_int(power_w) : NULL;
}

static struct json_object *jstring(const char *s) {
        return s && *s ? json_object_new_string(s) : NULL;
}

/* Seconds since a monotonic time; null for "never" (0). */
static struct json_object *jage(const struct http_view *v, uint64_t usec) {
        if (usec == 0)
                return NULL;
        return jdouble(v->now_usec > usec ? (double) (v->now_usec - usec) / (double) USEC_PER_SEC : 0, 1);
}

static struct json_object *class_list(unsigned mask) {
        struct json_object *a = json_object_new_array();

        for (enum device_class c = 0; c < _DEVICE_CLASS_MAX; c++)
                if (mask & CLASS_BIT(c))
                        push(a, jstring(device_class_to_string(c)));
        return a;
}

/* The classes with a status and a power: the switched ones and the heater. */
static bool is_onoff(enum device_class c) {
        return CLASS_BIT(c) & CLASS_ONOFF_MASK;
}

/* The shape of <root>/bat/dev/<name> in mqtt.md. */
static struct json_object *battery_json(const struct battery_record *r) {
        struct json_object *j = json_object_new_object(), *temps = json_object_new_array(),
                           *cells = json_object_new_array();

        add(j, "v", jdouble(r->voltage_v, 2));
        add(j, "i", jdouble(r->current_a, 1));
        add(j, "soc", isfinite(r->soc_pct) ? json_object_new_int((int) lround(r->soc_pct)) : NULL);
        add(j, "c", jdouble(r->remaining_ah, 1));
        add(j, "c_full", jdouble(r->full_ah, 1));
        add(j, "n", json_object_new_int64(r->cycles));
        for (size_t k = 0; k < r->n_temps && k < BATTERY_TEMPS_MAX; k++)
                push(temps, jdouble(r->temps_c[k], 1));
        for (size_t k = 0; k < r->n_cells && k < BATTERY_CELLS_MAX; k++)
                push(cells, jdouble(r->cells_v[k], 3));
        add(j, "temps", temps);
        add(j, "cells", cells);
        return j;
}

static struct json_object *device_json(const struct http_view *v, const struct control_device_info *d) {
        struct json_object *j = json_object_new_object(), *status = json_object_new_object(),
                           *power = json_object_new_object();
        /* Every driver: its last good read; a meter: its last value. */
        uint64_t last_good = d->last_good_read_usec > d->last_arrival_usec ? d->last_good_read_usec
                                                                           : d->last_arrival_usec;

        add(j, "name", jstring(d->name));
        add(j, "driver", jstring(d->driver));
        add(j, "classes", class_list(d->classes));
        /* Status and power per on/off class the driver serves. */
        for (enum device_class c = 0; c < _DEVICE_CLASS_MAX; c++) {
                if (!(d->classes & CLASS_BIT(c)) || !is_onoff(c))
                        continue;
                add(status, device_class_to_string(c), jstring(device_status_to_string(d->status[c])));
                add(power, device_class_to_string(c), jpower(d->power_known[c], d->power_w[c]));
        }
        add(j, "status", status);
        add(j, "power", power);
        if (d->classes & CLASS_BIT(DEVICE_CLASS_BATTERY)) {
                add(j, "battery", d->record ? battery_json(d->record) : NULL);
                add(j, "forwarded", json_object_new_boolean(d->forwarded));
        }
        if (d->classes & CLASS_BIT(DEVICE_CLASS_CONSUMPTION))
                add(j, "consumption_w", jpower(d->heard, d->consumption_w));
        add(j, "last_good_read_age_s", jage(v, last_good));
        add(j, "read_failures", json_object_new_int64(d->read_failures));
        add(j, "last_error", jstring(d->last_error));
        return j;
}

bool http_api_battery_soc(const struct control *ctl, double *ret_pct) {
        double weight = 0, weighted = 0, sum = 0;
        size_t n = 0;

        for (size_t i = 0; i < control_get_n_devices(ctl); i++) {
                struct control_device_info d;
                control_get_device(ctl, i, &d);
                if (!d.record || !isfinite(d.record->soc_pct))
                        continue;
                const struct battery_record *r = d.record;
                /* Same weighting as the battery class sum: full capacity when known,
                 * else the size implied by remaining capacity and SoC. */
                double w = r->full_ah > 0 ? r->full_ah : r->remaining_ah * 100 / r->soc_pct;
                if (!isfinite(w) || w < 0)
                        w = 0;
                weight += w;
                weighted += w * r->soc_pct;
                sum += r->soc_pct;
                n++;
        }
        if (n == 0)
                return false;
        *ret_pct = weight > 0 ? weighted / weight : sum / (double) n;
        return true;
}

/* Sums over the batteries that have a record (the class sum on MQTT waits for all of them). */
static struct json_object *battery_class_json(const struct http_view *v, size_t n_devices) {
        struct json_object *o = json_object_new_object();
        double current = 0, capacity = 0, soc;
        bool any = false;

        for (size_t i = 0; i < control_get_n_devices(v->control); i++) {
                struct control_device_info d;
                control_get_device(v->control, i, &d);
                if (!d.record)
                        continue;
                current += d.record->current_a;
                capacity += d.record->remaining_ah;
                any = true;
        }
        add(o, "devices", json_object_new_int64((int64_t) n_devices));
        add(o, "current", any ? jdouble(current, 1) : NULL);
        add(o, "capacity", any ? jdouble(capacity, 1) : NULL);
        add(o, "soc", http_api_battery_soc(v->control, &soc) ? jdouble(soc, 1) : NULL);
        return o;
}

static struct json_object *classes_json(const struct http_view *v) {
        struct json_object *j = json_object_new_object();

        for (enum device_class c = 0; c < _DEVICE_CLASS_MAX; c++) {
                struct control_class_info ci;
                struct json_object *o;

                control_get_class(v->control, c, &ci);
                if (c == DEVICE_CLASS_BATTERY) {
                        add(j, device_class_to_string(c), battery_class_json(v, ci.n_devices));
                        continue;
                }
                o = json_object_new_object();
                add(o, "devices", json_object_new_int64((int64_t) ci.n_devices));
                if (is_onoff(c))
                        add(o, "status", jstring(device_status_to_string(ci.status)));
                add(o, "power", jpower(ci.power_known, ci.power_w));
                if (is_onoff(c))
                        add(o, "energy_today_wh", jdouble(ci.energy_today_wh, 1));
                add(j, device_class_to_string(c), o);
        }
        return j;
}

static struct json_object *locks_json(const struct control_stats *st) {
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < st->n_locks && i < _LOCK_MAX; i++) {
                struct json_object *l = json_object_new_object();
                add(l, "name", jstring(st->locks[i].name));
                add(l, "priority", json_object_new_int((int) st->locks[i].priority));
                add(l, "classes", class_list(st->locks[i].class_mask));
                if (st->locks[i].reason)
                        add(l, "reason", jstring(st->locks[i].reason));
                push(a, l);
        }
        return a;
}

static struct json_object *netzero_json(const struct http_view *v, const struct control_stats *st) {
        struct json_object *j = json_object_new_object(), *e = NULL;

        add(j, "enabled", json_object_new_boolean(v->netzero_enabled));
        add(j, "commands", json_object_new_int64(st->netzero_commands));
        if (st->netzero_valid) {
                e = json_object_new_object();
                add(e, "delta_w", json_object_new_int(st->netzero.delta_w));
                add(e, "m_w", json_object_new_int(st->netzero.m_w));
                add(e, "samples", json_object_new_int64((int64_t) st->netzero.n));
                add(e, "age_s", json_object_new_int64((int64_t) st->netzero.age_s));
                add(e, "rule", jstring(netzero_rule_to_string(st->netzero.rule)));
                add(e, "since_s", jage(v, st->netzero_usec));
        }
        add(j, "last_evaluation", e);
        return j;
}

int http_api_status(const struct http_view *v, char **ret, size_t *ret_len) {
        const struct control_stats *st = control_get_stats(v->control);
        _cleanup_(json_object_putp) struct json_object *j = json_object_new_object();
        struct json_object *mode = json_object_new_object(), *devices = json_object_new_array(),
                           *mqtt = json_object_new_object(), *loop = json_object_new_object();
        const char *s;
        size_t len = 0;

        add(j, "version", jstring(v->version));
        add(j, "time", json_object_new_int64((int64_t) (v->realtime_usec / 1000000)));
        add(j, "uptime_s", json_object_new_int64((int64_t) ((v->now_usec - v->start_usec) / 1000000)));
        add(mode, "requested", jstring(mode_to_string(control_get_requested(v->control))));
        add(mode, "displayed", jstring(mode_to_string(control_get_displayed(v->control))));
        add(j, "mode", mode);
        add(j, "top_lock", jstring(control_get_top_lock(v->control)));
        add(j, "locks", locks_json(st));
        add(j, "classes", classes_json(v));
        for (size_t i = 0; i < control_get_n_devices(v->control); i++) {
                struct control_device_info d;
                control_get_device(v->control, i, &d);
                push(devices, device_json(v, &d));
        }
        add(j, "devices", devices);
        add(j, "netzero", netzero_json(v, st));
        add(mqtt, "connected", json_object_new_boolean(v->mqtt_connected));
        add(mqtt, "connects", json_object_new_int64(v->mqtt_connects));
        add(j, "mqtt", mqtt);
        add(loop, "last", jdouble((double) v->loop_last_usec / 1000.0, 1));
        add(loop, "max", jdouble((double) v->loop_max_usec / 1000.0, 1));
        add(loop, "max_minute", jdouble((double) v->loop_max_minute_usec / 1000.0, 1));
        add(j, "loop_latency_ms", loop);

        int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
        s = j ? json_object_to_json_string_length(j, flags, &len) : NULL;
        if (!s)
                return -ENOMEM;
        if (!(*ret = strndup(s, len)))
                return -ENOMEM;
        *ret_len = len;
        return 0;
}

/* ---- Prometheus text format ---- */

/* Starts a metric family; returns its name for the samples that follow. */
static const char *family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        return name;
}

/* Label values escape backslash, double quote and newline (format 0.0.4). */
static void label_value(FILE *f, const char *s) {
        fputc('"', f);
        for (; s && *s; s++) {
                if (*s == '\\' || *s == '"')
                        fputc('\\', f);
                if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
        }
        fputc('"', f);
}

/* name{k1="v1",k2="v2"} value; labels is a NULL-terminated list of key, value pairs. */
static void sample(FILE *f, const char *name, const char *const *labels, double value) {
        fputs(name, f);
        if (labels && labels[0]) {
                fputc('{', f);
                for (size_t i = 0; labels[i]; i += 2) {
                        fprintf(f, "%s%s=", i ? "," : "", labels[i]);
                        label_value(f, labels[i + 1]);
                }
                fputc('}', f);
        }
        if (!isfinite(value))
                fputs(isnan(value) ? " NaN\n" : value > 0 ? " +Inf\n" : " -Inf\n", f);
        else
                fprintf(f, " %.10g\n", value);
}

#define LABELS(...) ((const char *const[]) { __VA_ARGS__, NULL })

static double seconds(uint64_t usec) {
        return (double) usec / (double) USEC_PER_SEC;
}

static void metrics_mode(FILE *f, const struct http_view *v) {
        const struct control_stats *st = control_get_stats(v->control);
        enum mode req = control_get_requested(v->control), disp = control_get_displayed(v->control);
        const char *n;

        n = family(f, "homebattery_mode", "gauge", "1 for the requested and the displayed mode, else 0.");
        for (enum mode m = 0; m < _MODE_MAX; m++)
                sample(f, n, LABELS("kind", "requested", "mode", mode_to_string(m)), m == req);
        for (enum mode m = 0; m < _MODE_MAX; m++)
                sample(f, n, LABELS("kind", "displayed", "mode", mode_to_string(m)), m == disp);

        n = family(f, "homebattery_lock_active", "gauge", "1 while the supervisor lock is active.");
        for (enum lock_id id = 0; id < _LOCK_MAX; id++) {
                bool active = false;
                for (size_t i = 0; i < st->n_locks && i < _LOCK_MAX; i++)
                        active |= st->locks[i].id == id;
                sample(f, n, LABELS("name", lock_to_string(id)), active);
        }
}

static void metrics_classes(FILE *f, const struct http_view *v) {
        struct control_class_info ci[_DEVICE_CLASS_MAX];
        const struct control_class_info *cons = &ci[DEVICE_CLASS_CONSUMPTION];
        const char *n;

        for (enum device_class c = 0; c < _DEVICE_CLASS_MAX; c++)
                control_get_class(v->control, c, &ci[c]);
        /* Only the on/off classes (the switched ones and the heater) that have devices. */
#define FOREACH_SWITCHED(c) \
        for (enum device_class c = 0; c < _DEVICE_CLASS_MAX; c++) \
                if (is_onoff(c) && ci[c].n_devices > 0)

        n = family(f, "homebattery_class_power_watts", "gauge", "Power of a class (once all devices told).");
        FOREACH_SWITCHED(c)
                if (ci[c].power_known)
                        sample(f, n, LABELS("class", device_class_to_string(c)), ci[c].power_w);
        n = family(f, "homebattery_class_status", "gauge", "1 for the merged status of a class, else 0.");
        FOREACH_SWITCHED(c)
                for (enum device_status s = 0; s < _DEVICE_STATUS_MAX; s++)
                        sample(f, n, LABELS("class", device_class_to_string(c), "status",
                                            device_status_to_string(s)),
                               ci[c].status == s);
        n = family(f, "homebattery_class_energy_today_watt_hours", "gauge",
                   "Energy of a class today (sum of the 15-minute reports).");
        FOREACH_SWITCHED(c)
                sample(f, n, LABELS("class", device_class_to_string(c)), ci[c].energy_today_wh);
#undef FOREACH_SWITCHED
        n = family(f, "homebattery_consumption_watts", "gauge",
                   "Household consumption: sum of the meters, positive = drawn from the grid.");
        if (cons->n_devices > 0 && cons->power_known)
                sample(f, n, NULL, cons->power_w);
}

/* The battery families, each over every battery that has a record. */
enum battery_metric {
        BAT_SOC,
        BAT_VOLTAGE,
        BAT_CURRENT,
        BAT_REMAINING,
        BAT_CYCLES,
        BAT_CELLS,
        BAT_TEMPS,
        BAT_READ_AGE,
        _BAT_MAX,
};

static const struct {
        const char *name, *help;
} battery_metrics[_BAT_MAX] = {
        [BAT_SOC] = { "homebattery_battery_soc_percent", "State of charge." },
        [BAT_VOLTAGE] = { "homebattery_battery_voltage_volts", "Battery voltage." },
        [BAT_CURRENT] = { "homebattery_battery_current_amperes", "Current, positive while charging." },
        [BAT_REMAINING] = { "homebattery_battery_remaining_ampere_hours", "Remaining capacity." },
        [BAT_CYCLES] = { "homebattery_battery_cycles", "Charge cycles counted by the BMS." },
        [BAT_CELLS] = { "homebattery_battery_cell_volts", "Cell voltage." },
        [BAT_TEMPS] = { "homebattery_battery_temperature_celsius", "Temperature sensor of the battery." },
        [BAT_READ_AGE] = { "homebattery_battery_read_age_seconds", "Time since the last good read." },
};

static void battery_samples(FILE *f, const struct http_view *v, enum battery_metric b,
                            const struct control_device_info *d) {
        const struct battery_record *r = d->record;
        const char *n = battery_metrics[b].name;
        const double value[] = {
                [BAT_SOC] = r->soc_pct,           [BAT_VOLTAGE] = r->voltage_v,
                [BAT_CURRENT] = r->current_a,     [BAT_REMAINING] = r->remaining_ah,
                [BAT_CYCLES] = (double) r->cycles,
        };
        char idx[24]; /* any size_t */

        if (b == BAT_CELLS || b == BAT_TEMPS) {
                bool cells = b == BAT_CELLS;
                size_t count = cells ? r->n_cells : r->n_temps;
                size_t max = cells ? BATTERY_CELLS_MAX : BATTERY_TEMPS_MAX;
                for (size_t k = 0; k < count && k < max; k++) {
                        snprintf(idx, sizeof(idx), "%zu", k);
                        sample(f, n, LABELS("device", d->name, cells ? "cell" : "sensor", idx),
                               cells ? r->cells_v[k] : r->temps_c[k]);
                }
        } else if (b == BAT_READ_AGE) {
                if (d->last_good_read_usec > 0 && v->now_usec >= d->last_good_read_usec)
                        sample(f, n, LABELS("device", d->name),
                               seconds(v->now_usec - d->last_good_read_usec));
        } else
                sample(f, n, LABELS("device", d->name), value[b]);
}

static void metrics_devices(FILE *f, const struct http_view *v) {
        size_t n_devices = control_get_n_devices(v->control);
        struct control_device_info d;
        const char *n;

        for (enum battery_metric b = 0; b < _BAT_MAX; b++) {
                family(f, battery_metrics[b].name, "gauge", battery_metrics[b].help);
                for (size_t i = 0; i < n_devices; i++) {
                        control_get_device(v->control, i, &d);
                        if (d.record)
                                battery_samples(f, v, b, &d);
                }
        }
        n = family(f, "homebattery_device_read_failures_total", "counter", "Failed reads since start.");
        for (size_t i = 0; i < n_devices; i++) {
                control_get_device(v->control, i, &d);
                sample(f, n, LABELS("device", d.name), d.read_failures);
        }
}

static void metrics_daemon(FILE *f, const struct http_view *v) {
        const char *n;

        n = family(f, "homebattery_mqtt_connected", "gauge", "1 while connected to the MQTT broker.");
        sample(f, n, NULL, v->mqtt_connected);
        n = family(f, "homebattery_mqtt_connects_total", "counter", "Successful MQTT connects since start.");
        sample(f, n, NULL, v->mqtt_connects);
        n = family(f, "homebattery_netzero_commands_total", "counter", "Inverter power changes by netzero.");
        sample(f, n, NULL, control_get_stats(v->control)->netzero_commands);
        n = family(f, "homebattery_loop_latency_seconds", "gauge",
                   "How late the 1 s control tick ran: last, max since start, max over the last minute.");
        sample(f, n, LABELS("kind", "last"), seconds(v->loop_last_usec));
        sample(f, n, LABELS("kind", "max"), seconds(v->loop_max_usec));
        sample(f, n, LABELS("kind", "max_minute"), seconds(v->loop_max_minute_usec));
        n = family(f, "homebattery_uptime_seconds", "gauge", "Time since the daemon started.");
        sample(f, n, NULL, seconds(v->now_usec - v->start_usec));
        n = family(f, "homebattery_build_info", "gauge", "Always 1; the version as a label.");
        sample(f, n, LABELS("version", v->version), 1);
}

/* A memory stream; fails cleanly on allocation errors. */
static int stream_finish(FILE *f, char **buf, size_t *len, char **ret, size_t *ret_len) {
        bool failed = ferror(f);

        if (fclose(f) != 0 || failed) {
                free(*buf);
                return -ENOMEM;
        }
        *ret = *buf;
        *ret_len = *len;
        return 0;
}

int http_api_metrics(const struct http_view *v, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        metrics_mode(f, v);
        metrics_classes(f, v);
        metrics_devices(f, v);
        metrics_daemon(f, v);
        return stream_finish(f, &buf, &len, ret, ret_len);
}

/* ---- History ring ---- */

struct history_sample {
        int64_t time_s;
        int32_t grid_w, inverter_w, solar_w, charger_w; /* SAMPLE_UNKNOWN: not known */
        float soc_pct;                                 /* NAN: not known */
};

struct http_history {
        size_t capacity;
        size_t next; /* where the next sample goes */
        size_t n;
        struct history_sample samples[];
};

int http_history_new(size_t capacity, struct http_history **ret) {
        struct http_history *h;

        if (capacity == 0)
                return -EINVAL;
        h = calloc(1, sizeof(*h) + capacity * sizeof(h->samples[0]));
        if (!h)
                return -ENOMEM;
        h->capacity = capacity;
        *ret = h;
        return 0;
}

struct http_history *http_history_free(struct http_history *h) {
        free(h);
        return NULL;
}

size_t http_history_size(const struct http_history *h) {
        return h->n;
}

/* A class without devices has no line in the chart. */
static int32_t class_power(const struct control *ctl, enum device_class c) {
        struct control_class_info ci;

        control_get_class(ctl, c, &ci);
        return ci.n_devices > 0 && ci.power_known ? ci.power_w : SAMPLE_UNKNOWN;
}

void http_history_add(struct http_history *h, const struct control *ctl, uint64_t realtime_usec) {
        struct history_sample *s = &h->samples[h->next];
        double soc;

        *s = (struct history_sample) {
                .time_s = (int64_t) (realtime_usec / 1000000),
                .grid_w = class_power(ctl, DEVICE_CLASS_CONSUMPTION),
                .inverter_w = class_power(ctl, DEVICE_CLASS_INVERTER),
                .solar_w = class_power(ctl, DEVICE_CLASS_SOLAR),
                .charger_w = class_power(ctl, DEVICE_CLASS_CHARGER),
                .soc_pct = http_api_battery_soc(ctl, &soc) ? (float) soc : NAN,
        };
        h->next = (h->next + 1) % h->capacity;
        if (h->n < h->capacity)
                h->n++;
}

static void history_int(FILE *f, int32_t v) {
        if (v == SAMPLE_UNKNOWN)
                fputs(",null", f);
        else
                fprintf(f, ",%d", (int) v);
}

int http_history_json(const struct http_history *h, unsigned interval_s, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        fprintf(f, "{\"interval_s\":%u,\"capacity\":%zu,"
                   "\"fields\":[\"time\",\"grid\",\"inverter\",\"solar\",\"charger\",\"soc\"],\"samples\":[",
                interval_s, h->capacity);
        for (size_t i = 0; i < h->n; i++) {
                size_t k = (h->next + h->capacity - h->n + i) % h->capacity;
                const struct history_sample *s = &h->samples[k];
                fprintf(f, "%s[%lld", i ? "," : "", (long long) s->time_s);
                history_int(f, s->grid_w);
                history_int(f, s->inverter_w);
                history_int(f, s->solar_w);
                history_int(f, s->charger_w);
                if (isfinite(s->soc_pct))
                        fprintf(f, ",%.1f]", (double) s->soc_pct);
                else
                        fputs(",null]", f);
        }
        fputs("]}", f);
        return stream_finish(f, &buf, &len, ret, ret_len);
}
