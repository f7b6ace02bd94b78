/* SPDX-License-Identifier: MIT */
/* Formats what the control core reports into the topics of mqtt.md. A publish
 * that fails because the broker is away is dropped on purpose: states are
 * re-published after every connect. */

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "homeassistant.h"
#include "homebattery/log.h"
#include "mqtt-encode.h"
#include "outputs-mqtt.h"

/* What Home Assistant was told about each battery (cells, temperatures). */
struct ha_shape {
        char name[33];
        size_t n_cells, n_temps;
};

struct outputs_mqtt {
        struct mqtt *mqtt;
        const struct config *config;
        struct outputs outputs;
        char *root;
        char *status_topic;
        bool json;
        struct ha_shape shapes[64];
        size_t n_shapes;
};

static void ha_emit_doc(void *userdata, const char *topic, const char *payload) {
        struct outputs_mqtt *o = userdata;
        /* Retained, so Home Assistant finds them whenever it starts. */
        int r = mqtt_publish(o->mqtt, topic, payload, strlen(payload), 1, true);
        if (r < 0 && r != -ENOTCONN)
                log_debug_errno(r, "mqtt", "Publishing %s failed: %m", topic);
}

static void ha_battery_shape(struct outputs_mqtt *o, const char *name, const struct battery_record *r) {
        struct ha_shape *s = NULL;

        if (!o->config->mqtt.ha_enabled)
                return;
        for (size_t i = 0; i < o->n_shapes; i++)
                if (strcmp(o->shapes[i].name, name) == 0)
                        s = &o->shapes[i];
        if (s && s->n_cells == r->n_cells && s->n_temps == r->n_temps)
                return;
        if (!s) {
                if (o->n_shapes >= ELEMENTSOF(o->shapes))
                        return;
                s = &o->shapes[o->n_shapes++];
                snprintf(s->name, sizeof(s->name), "%s", name);
        }
        s->n_cells = r->n_cells;
        s->n_temps = r->n_temps;
        struct ha_battery_shape shape = { .name = s->name, .n_cells = s->n_cells, .n_temps = s->n_temps };
        if (homeassistant_battery_documents(o->config, &shape, ha_emit_doc, o) < 0)
                log_warning("mqtt", "Cannot build the Home Assistant documents of battery %s", name);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

static void pub(struct outputs_mqtt *o, const char *topic, const void *payload, size_t len, int qos) {
        int r = mqtt_publish(o->mqtt, topic, payload, len, qos, false);
        if (r < 0 && r != -ENOTCONN)
                log_debug_errno(r, "mqtt", "Publishing %s failed: %m", topic);
}

static void pubf(struct outputs_mqtt *o, const void *payload, size_t len, int qos, const char *fmt, ...)
        _printf_(5, 6);
static void pubf(struct outputs_mqtt *o, const void *payload, size_t len, int qos, const char *fmt, ...) {
        char topic[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(topic, sizeof(topic), fmt, ap);
        va_end(ap);
        pub(o, topic, payload, len, qos);
}

static void vpub_json(struct outputs_mqtt *o, struct json_object *j, int qos, const char *fmt, va_list ap)
        _printf_(4, 0);
static void vpub_json(struct outputs_mqtt *o, struct json_object *j, int qos, const char *fmt, va_list ap) {
        char topic[512];
        vsnprintf(topic, sizeof(topic), fmt, ap);
        const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        pub(o, topic, s, strlen(s), qos);
}

static void pub_json(struct outputs_mqtt *o, struct json_object *j, const char *fmt, ...) _printf_(3, 4);
static void pub_json(struct outputs_mqtt *o, struct json_object *j, const char *fmt, ...) {
        va_list ap;
        if (!o->json || !j)
                return;
        va_start(ap, fmt);
        vpub_json(o, j, 0, fmt, ap);
        va_end(ap);
}

/* The heater's topics (hea/sum, hea/dev/<name>) have no binary form: JSON whatever mqtt.json says, QoS 1. */
static void pub_heater(struct outputs_mqtt *o, struct json_object *j, const char *fmt, ...) _printf_(3, 4);
static void pub_heater(struct outputs_mqtt *o, struct json_object *j, const char *fmt, ...) {
        va_list ap;
        if (!j)
                return;
        va_start(ap, fmt);
        vpub_json(o, j, 1, fmt, ap);
        va_end(ap);
}

/* JSON numbers with a fixed number of decimals, as users read them. */
static struct json_object *jdouble(double v, int decimals) {
        char buf[32];
        if (!isfinite(v))
                return json_object_new_null();
        snprintf(buf, sizeof(buf), "%.*f", decimals, v);
        return json_object_new_double_s(v, buf);
}

static double state_value(enum device_status s) {
        return s == DEVICE_STATUS_ON ? 1 : s == DEVICE_STATUS_OFF ? 0 : -1;
}

static struct json_object *state_json(enum device_status s, int power_w) {
        struct json_object *j = json_object_new_object();
        if (!j)
                return NULL;
        json_object_object_add(j, "status", json_object_new_string(device_status_to_string(s)));
        json_object_object_add(j, "power", power_w >= 0 ? json_object_new_int(power_w) : json_object_new_null());
        return j;
}

static void on_mode_actual(void *userdata, enum mode displayed) {
        struct outputs_mqtt *o = userdata;
        const char *s = mode_to_string(displayed);
        pubf(o, s, strlen(s), 2, "%s/mode/actual", o->root);
}

static void on_locks(void *userdata, const struct supervisor_lock *locks, size_t n, const char *top_name,
                     bool top_changed, bool list_changed) {
        struct outputs_mqtt *o = userdata;

        if (top_changed)
                pubf(o, top_name, strlen(top_name), 2, "%s/locked", o->root);
        if (!list_changed || !o->json)
                return;
        _cleanup_(json_object_putp) struct json_object *arr = json_object_new_array();
        if (!arr)
                return;
        for (size_t i = 0; i < n; i++) {
                struct json_object *l = json_object_new_object(), *classes = json_object_new_array();
                if (!l || !classes) {
                        json_object_put(l);
                        json_object_put(classes);
                        return;
                }
                json_object_object_add(l, "name", json_object_new_string(locks[i].name));
                json_object_object_add(l, "priority", json_object_new_int((int) locks[i].priority));
                for (enum device_class c = 0; c < _DEVICE_CLASS_MAX; c++)
                        if (locks[i].class_mask & CLASS_BIT(c))
                                json_object_array_add(classes, json_object_new_string(device_class_to_string(c)));
                json_object_object_add(l, "locks", classes);
                if (locks[i].reason)
                        json_object_object_add(l, "reason", json_object_new_string(locks[i].reason));
                json_object_array_add(arr, l);
        }
        const char *s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
        pubf(o, s, strlen(s), 1, "%s/locks", o->root);
}

static void on_class_state(void *userdata, enum device_class c, enum device_status s, int power_w) {
        struct outputs_mqtt *o = userdata;
        uint8_t b[1];

        if (c == DEVICE_CLASS_HEATER) {
                _cleanup_(json_object_putp) struct json_object *j = state_json(s, power_w);
                pub_heater(o, j, "%s/hea/sum", o->root);
                return;
        }
        encode_s8(state_value(s), b);
        pubf(o, b, 1, 1, "%s/%s/state", o->root, device_class_to_short(c));
        _cleanup_(json_object_putp) struct json_object *j = state_json(s, power_w);
        pub_json(o, j, "%s/%s/sum", o->root, device_class_to_short(c));
}

static void on_class_power(void *userdata, enum device_class c, int power_w) {
        struct outputs_mqtt *o = userdata;
        uint8_t b[2];

        if (c == DEVICE_CLASS_HEATER)
                return; /* hea/sum carries it */
        encode_u16(power_w, b);
        pubf(o, b, 2, 0, "%s/%s/p", o->root, device_class_to_short(c));
}

static void on_device_state(void *userdata, enum device_class c, const char *name, enum device_status s,
                            int power_w) {
        struct outputs_mqtt *o = userdata;
        _cleanup_(json_object_putp) struct json_object *j = state_json(s, power_w);
        if (c == DEVICE_CLASS_HEATER)
                pub_heater(o, j, "%s/hea/dev/%s", o->root, name);
        else
                pub_json(o, j, "%s/%s/dev/%s", o->root, device_class_to_short(c), name);
}

static void on_device_power(void *userdata, enum device_class c, const char *name, int power_w) {
        struct outputs_mqtt *o = userdata;
        uint8_t b[2];

        if (c == DEVICE_CLASS_HEATER)
                return; /* hea/dev/<name> carries it */
        encode_u16(power_w, b);
        pubf(o, b, 2, 0, "%s/%s/dev/%s/p", o->root, device_class_to_short(c), name);
}

static void on_energy(void *userdata, enum device_class c, const char *name, double energy_wh,
                      enum device_status s, int power_w) {
        struct outputs_mqtt *o = userdata;
        const char *cls = device_class_to_short(c);
        uint8_t b[2];

        encode_u16(energy_wh, b);
        _cleanup_(json_object_putp) struct json_object *j = state_json(s, power_w);
        if (j)
                json_object_object_add(j, "energy", json_object_new_int64(llround(isfinite(energy_wh) ? energy_wh : 0)));
        if (c == DEVICE_CLASS_HEATER) {
                if (name)
                        pub_heater(o, j, "%s/hea/dev/%s", o->root, name);
                else
                        pub_heater(o, j, "%s/hea/sum", o->root);
                return;
        }
        if (name) {
                pubf(o, b, 2, 2, "%s/%s/dev/%s/e", o->root, cls, name);
                pub_json(o, j, "%s/%s/dev/%s", o->root, cls, name);
        } else {
                pubf(o, b, 2, 2, "%s/%s/e", o->root, cls);
                pub_json(o, j, "%s/%s/sum", o->root, cls);
        }
}

static void on_battery(void *userdata, const char *name, const struct battery_record *r) {
        struct outputs_mqtt *o = userdata;
        uint8_t b[2];

        ha_battery_shape(o, name, r);

        encode_u16(r->voltage_v * 100, b);
        pubf(o, b, 2, 0, "%s/bat/dev/%s/v", o->root, name);
        encode_s16(r->current_a * 10, b);
        pubf(o, b, 2, 0, "%s/bat/dev/%s/i", o->root, name);
        encode_u8(r->soc_pct, b);
        pubf(o, b, 1, 0, "%s/bat/dev/%s/soc", o->root, name);
        encode_u16(r->remaining_ah * 10, b);
        pubf(o, b, 2, 0, "%s/bat/dev/%s/c", o->root, name);
        encode_u16(r->cycles, b);
        pubf(o, b, 2, 0, "%s/bat/dev/%s/n", o->root, name);
        for (size_t k = 0; k < r->n_temps; k++) {
                encode_s16(r->temps_c[k] * 10, b);
                pubf(o, b, 2, 0, "%s/bat/dev/%s/temp/%zu", o->root, name, k);
        }
        for (size_t k = 0; k < r->n_cells; k++) {
                encode_u16(r->cells_v[k] * 1000, b);
                pubf(o, b, 2, 0, "%s/bat/dev/%s/cell/%zu", o->root, name, k);
        }

        char json[BATTERY_JSON_MAX];
        if (o->json && battery_record_to_json(r, json, sizeof(json)) >= 0)
                pubf(o, json, strlen(json), 0, "%s/bat/dev/%s", o->root, name);
}

static void on_battery_sum(void *userdata, double current_a, double remaining_ah, double soc_pct) {
        struct outputs_mqtt *o = userdata;
        uint8_t b[2];

        encode_s16(current_a * 10, b);
        pubf(o, b, 2, 0, "%s/bat/i", o->root);
        encode_u16(remaining_ah * 10, b);
        pubf(o, b, 2, 0, "%s/bat/c", o->root);

        _cleanup_(json_object_putp) struct json_object *j = json_object_new_object();
        if (!j)
                return;
        json_object_object_add(j, "current", jdouble(current_a, 1));
        json_object_object_add(j, "capacity", jdouble(remaining_ah, 1));
        json_object_object_add(j, "soc", isfinite(soc_pct) ? json_object_new_int((int) lround(soc_pct))
                                                            : json_object_new_null());
        pub_json(o, j, "%s/bat/sum", o->root);
}

static void on_consumption(void *userdata, int power_w) {
        struct outputs_mqtt *o = userdata;
        _cleanup_(json_object_putp) struct json_object *j = json_object_new_object();
        if (!j)
                return;
        json_object_object_add(j, "power", json_object_new_int(power_w));
        pub_json(o, j, "%s/consumption", o->root);
}

static const struct outputs_ops mqtt_outputs_ops = {
        .mode_actual = on_mode_actual,
        .locks = on_locks,
        .class_state = on_class_state,
        .class_power = on_class_power,
        .device_state = on_device_state,
        .device_power = on_device_power,
        .energy = on_energy,
        .battery = on_battery,
        .battery_sum = on_battery_sum,
        .consumption = on_consumption,
};

int outputs_mqtt_new(struct mqtt *mqtt, const struct config *config, struct outputs_mqtt **ret) {
        const struct config_mqtt *c = &config->mqtt;
        struct outputs_mqtt *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->mqtt = mqtt;
        o->config = config;
        o->json = c->json;
        o->outputs = (struct outputs) { .ops = &mqtt_outputs_ops, .userdata = o };
        if (!(o->root = strdup(c->root)) || asprintf(&o->status_topic, "%s/status", c->root) < 0) {
                o->status_topic = NULL;
                outputs_mqtt_free(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

struct outputs_mqtt *outputs_mqtt_free(struct outputs_mqtt *o) {
        if (!o)
                return NULL;
        free(o->root);
        free(o->status_topic);
        free(o);
        return NULL;
}

const struct outputs *outputs_mqtt_get(struct outputs_mqtt *o) {
        return &o->outputs;
}

const char *outputs_mqtt_status_topic(struct outputs_mqtt *o) {
        return o->status_topic;
}

void outputs_mqtt_connected(struct outputs_mqtt *o) {
        struct ha_battery_shape shapes[ELEMENTSOF(o->shapes)];

        if (!o->config->mqtt.ha_enabled)
                return;
        for (size_t i = 0; i < o->n_shapes; i++)
                shapes[i] = (struct ha_battery_shape) { o->shapes[i].name, o->shapes[i].n_cells, o->shapes[i].n_temps };
        if (homeassistant_documents(o->config, shapes, o->n_shapes, ha_emit_doc, o) < 0)
                log_warning("mqtt", "Cannot build the Home Assistant discovery documents");
}
