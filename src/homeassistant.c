/* SPDX-License-Identifier: MIT */
/* Home Assistant MQTT discovery documents (mqtt.md). Every document is one
 * JSON object published retained on
 *   <prefix>/<component>/homebattery_<root>/<object>/config
 * where <root> is mqtt.root with every character outside [A-Za-z0-9_-]
 * (notably '/') replaced by '_', because Home Assistant accepts only those in
 * the node and object ids of a discovery topic. All documents share one
 * `device`, so Home Assistant shows one device per controller. */

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "homeassistant.h"

#if defined(__has_include)
#if __has_include("hb-build-config.h")
#include "hb-build-config.h"
#endif
#endif
#ifndef HB_VERSION
#define HB_VERSION "unknown"
#endif

/* How Home Assistant should read one kind of value; NULL fields are left out. */
struct ha_kind {
        const char *device_class;
        const char *unit;
        const char *state_class;
        const char *icon;
};

static const struct ha_kind kind_voltage = { "voltage", "V", "measurement", NULL };
static const struct ha_kind kind_current = { "current", "A", "measurement", NULL };
static const struct ha_kind kind_soc = { "battery", "%", "measurement", NULL };
static const struct ha_kind kind_power = { "power", "W", "measurement", NULL };
static const struct ha_kind kind_energy = { "energy", "Wh", "total_increasing", NULL };
static const struct ha_kind kind_temperature = { "temperature", "\u00b0C", "measurement", NULL };
static const struct ha_kind kind_capacity = { NULL, "Ah", "measurement", "mdi:battery-charging-medium" };
static const struct ha_kind kind_cycles = { NULL, NULL, "measurement", "mdi:battery-sync" };
static const struct ha_kind kind_status = { NULL, NULL, NULL, "mdi:list-status" };
static const struct ha_kind kind_lock = { NULL, NULL, NULL, "mdi:lock-alert" };

/* The 15-minute report carries the energy of the last quarter hour only,
 * and the other messages on the same topic carry none. Home Assistant's
 * total_increasing wants a growing counter: add each report to the entity's
 * own state (`this`), keep the state on messages without "energy". When the
 * state is unknown (Home Assistant restarted, controller was offline) the
 * counter starts again from this report, which total_increasing reads as a
 * meter reset, so no energy is lost or counted twice. */
static const char energy_template[] =
        "{% if value_json.energy is defined %}"
        "{{ ((this.state | float(0)) + (value_json.energy | float(0))) | round(0) | int }}"
        "{% elif this.state | is_number %}{{ this.state }}"
        "{% else %}None{% endif %}";

struct ha {
        const struct config *c;
        char *root_id; /* sanitized root */
        char *node;    /* homebattery_<root_id> */
        char *availability;
        struct json_object *device;
        struct json_object *origin;
        ha_emit emit;
        void *userdata;
};

static bool id_char_ok(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '-';
}

static char *sanitize(const char *s) {
        char *r = strdup(s);
        if (!r)
                return NULL;
        for (char *p = r; *p; p++)
                if (!id_char_ok(*p))
                        *p = '_';
        return r;
}

/* Takes ownership of v, also on failure. Every key is a string literal, so
 * json-c need not copy it (which also avoids json-c leaking the copy when
 * growing its table fails). */
static int add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_CONSTANT_KEY) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_str(struct json_object *o, const char *key, const char *s) {
        return s ? add(o, key, json_object_new_string(s)) : 0;
}

static void ha_done(struct ha *h) {
        free(h->root_id);
        free(h->node);
        free(h->availability);
        json_object_put(h->device);
        json_object_put(h->origin);
}

static int ha_init(struct ha *h, const struct config *c, ha_emit emit, void *userdata) {
        struct json_object *ids, *id = NULL;
        char *name = NULL;
        int r = 0;

        *h = (struct ha) { .c = c, .emit = emit, .userdata = userdata };
        if (!(h->root_id = sanitize(c->mqtt.root)) || asprintf(&h->node, "homebattery_%s", h->root_id) < 0) {
                h->node = NULL;
                r = -ENOMEM;
        } else if (asprintf(&h->availability, "%s/status", c->mqtt.root) < 0) {
                h->availability = NULL;
                r = -ENOMEM;
        } else if (asprintf(&name, "homebattery %s", c->mqtt.root) < 0) {
                name = NULL;
                r = -ENOMEM;
        } else if (!(h->device = json_object_new_object()) || !(h->origin = json_object_new_object()) ||
                   !(ids = json_object_new_array()))
                r = -ENOMEM;
        else if ((id = json_object_new_string(h->node)) == NULL || json_object_array_add(ids, id) < 0) {
                json_object_put(id);
                json_object_put(ids);
                r = -ENOMEM;
        } else if ((r = add(h->device, "identifiers", ids)) >= 0 &&
                   (r = add_str(h->device, "name", name)) >= 0 &&
                   (r = add_str(h->device, "manufacturer", "homebattery")) >= 0 &&
                   (r = add_str(h->device, "model", "homebattery daemon")) >= 0 &&
                   (r = add_str(h->device, "sw_version", HB_VERSION)) >= 0 &&
                   (r = add_str(h->origin, "name", "homebattery")) >= 0)
                r = add_str(h->origin, "sw_version", HB_VERSION);
        free(name);
        if (r < 0)
                ha_done(h);
        return r < 0 ? r : 0;
}

/* The fields every document has. object is the short id ("cha_power"). */
static int doc_new(const struct ha *h, const char *object, const char *name, const char *state_topic,
                   const char *value_template, struct json_object **ret) {
        struct json_object *d = json_object_new_object();
        char *unique_id = NULL, *object_id = NULL;
        int r;

        if (!d)
                return -ENOMEM;
        if (asprintf(&unique_id, "%s_%s", h->node, object) < 0) {
                unique_id = NULL;
                r = -ENOMEM;
        } else if (asprintf(&object_id, "%s_%s", h->root_id, object) < 0) {
                object_id = NULL;
                r = -ENOMEM;
        } else if ((r = add_str(d, "name", name)) >= 0 && (r = add_str(d, "unique_id", unique_id)) >= 0 &&
                   (r = add_str(d, "object_id", object_id)) >= 0 &&
                   (r = add_str(d, "state_topic", state_topic)) >= 0 &&
                   (r = add_str(d, "value_template", value_template)) >= 0 &&
                   (r = add_str(d, "availability_topic", h->availability)) >= 0 &&
                   (r = add_str(d, "payload_available", "online")) >= 0 &&
                   (r = add_str(d, "payload_not_available", "offline")) >= 0 &&
                   (r = add(d, "device", json_object_get(h->device))) >= 0)
                r = add(d, "origin", json_object_get(h->origin));
        free(unique_id);
        free(object_id);
        if (r < 0) {
                json_object_put(d);
                return r;
        }
        *ret = d;
        return 0;
}

static int doc_add_kind(struct json_object *d, const struct ha_kind *k) {
        int r;
        if ((r = add_str(d, "device_class", k->device_class)) < 0 ||
            (r = add_str(d, "unit_of_measurement", k->unit)) < 0 ||
            (r = add_str(d, "state_class", k->state_class)) < 0)
                return r;
        return add_str(d, "icon", k->icon);
}

/* The text of a document. json-c's own serializer ignores a failed buffer
 * allocation and returns a shortened text; a retained discovery document
 * must never be cut, so the (small) documents are written here, with every
 * allocation checked. Output as JSON_C_TO_STRING_PLAIN with slashes left
 * alone; non-ASCII UTF-8 ("°C") is passed through. */
struct text {
        char *p;
        size_t len, size;
        bool oom;
};

static void text_put(struct text *t, const char *s, size_t n) {
        if (t->oom)
                return;
        if (t->len + n + 1 > t->size) {
                size_t size = t->size ? t->size : 512;
                while (t->len + n + 1 > size)
                        size *= 2;
                char *p = realloc(t->p, size);
                if (!p) {
                        t->oom = true;
                        return;
                }
                t->p = p;
                t->size = size;
        }
        memcpy(t->p + t->len, s, n);
        t->len += n;
        t->p[t->len] = 0;
}

static void text_puts(struct text *t, const char *s) {
        text_put(t, s, strlen(s));
}

static void text_string(struct text *t, const char *s, size_t len) {
        text_put(t, "\"", 1);
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char) s[i];
                char esc[8];
                if (ch == '"' || ch == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char) ch;
                        text_put(t, esc, 2);
                } else if (ch < 0x20) {
                        snprintf(esc, sizeof(esc), "\\u%04x", ch);
                        text_put(t, esc, 6);
                } else
                        text_put(t, &s[i], 1);
        }
        text_put(t, "\"", 1);
}

static void text_json(struct text *t, struct json_object *o) {
        char num[32];
        bool first = true;

        switch (json_object_get_type(o)) {
        case json_type_boolean:
                text_puts(t, json_object_get_boolean(o) ? "true" : "false");
                break;
        case json_type_int:
                snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(o));
                text_puts(t, num);
                break;
        case json_type_double:
                snprintf(num, sizeof(num), "%.17g", json_object_get_double(o));
                text_puts(t, num);
                break;
        case json_type_string:
                text_string(t, json_object_get_string(o), (size_t) json_object_get_string_len(o));
                break;
        case json_type_object:
                text_put(t, "{", 1);
                json_object_object_foreach(o, key, val) {
                        if (!first)
                                text_put(t, ",", 1);
                        first = false;
                        text_string(t, key, strlen(key));
                        text_put(t, ":", 1);
                        text_json(t, val);
                }
                text_put(t, "}", 1);
                break;
        case json_type_array:
                text_put(t, "[", 1);
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        if (i > 0)
                                text_put(t, ",", 1);
                        text_json(t, json_object_array_get_idx(o, i));
                }
                text_put(t, "]", 1);
                break;
        case json_type_null:
        default:
                text_puts(t, "null");
                break;
        }
}

/* Serializes and hands over one document; always releases d. */
static int doc_emit(const struct ha *h, const char *component, const char *object, struct json_object *d) {
        struct text t = {};
        char *topic = NULL;
        int r = -ENOMEM;

        if (asprintf(&topic, "%s/%s/%s/%s/config", h->c->mqtt.ha_prefix, component, h->node, object) < 0)
                topic = NULL;
        else {
                text_json(&t, d);
                if (!t.oom && t.p) {
                        h->emit(h->userdata, topic, t.p);
                        r = 0;
                }
        }
        free(t.p);
        free(topic);
        json_object_put(d);
        return r;
}

/* A sensor reading state_topic (relative to the root) through value_template. */
static int sensor(const struct ha *h, const char *object, const char *name, const char *topic_suffix,
                  const char *value_template, const struct ha_kind *k, int qos) {
        struct json_object *d = NULL;
        char *state_topic = NULL;
        int r;

        if (asprintf(&state_topic, "%s/%s", h->c->mqtt.root, topic_suffix) < 0)
                return -ENOMEM;
        r = doc_new(h, object, name, state_topic, value_template, &d);
        free(state_topic);
        if (r < 0)
                return r;
        if ((r = doc_add_kind(d, k)) < 0 || (qos > 0 && (r = add(d, "qos", json_object_new_int(qos))) < 0)) {
                json_object_put(d);
                return r;
        }
        return doc_emit(h, "sensor", object, d);
}

static int mode_select(const struct ha *h) {
        static const char *const options[] = { "charge", "discharge", "idle", "protect" };
        struct json_object *d = NULL, *opts;
        char *state_topic = NULL, *command_topic = NULL;
        int r;

        if (asprintf(&state_topic, "%s/mode/actual", h->c->mqtt.root) < 0)
                return -ENOMEM;
        if (asprintf(&command_topic, "%s/mode/set", h->c->mqtt.root) < 0) {
                free(state_topic);
                return -ENOMEM;
        }
        r = doc_new(h, "mode", "Mode", state_topic, NULL, &d);
        free(state_topic);
        if (r >= 0)
                r = add_str(d, "command_topic", command_topic);
        free(command_topic);
        if (r >= 0 && !(opts = json_object_new_array()))
                r = -ENOMEM;
        if (r >= 0) {
                for (size_t i = 0; i < sizeof(options) / sizeof(options[0]) && r >= 0; i++) {
                        struct json_object *s = json_object_new_string(options[i]);
                        if (!s || json_object_array_add(opts, s) < 0) {
                                json_object_put(s);
                                r = -ENOMEM;
                        }
                }
                if (r < 0)
                        json_object_put(opts);
                else
                        r = add(d, "options", opts);
        }
        /* mode/set is subscribed and mode/actual published with QoS 2. */
        if (r >= 0 && (r = add(d, "qos", json_object_new_int(2))) >= 0 &&
            (r = add(d, "retain", json_object_new_boolean(false))) >= 0)
                r = add_str(d, "icon", "mdi:home-battery");
        if (r < 0) {
                json_object_put(d);
                return r;
        }
        return doc_emit(h, "select", "mode", d);
}

static int lock_sensor(const struct ha *h) {
        /* An empty payload on <root>/locked means "no lock". */
        return sensor(h, "locked", "Top lock", "locked", "{{ value if value else 'none' }}", &kind_lock, 2);
}

static int class_sensors(const struct ha *h, enum device_class cls, const char *label) {
        const char *s = device_class_to_short(cls);
        char object[32], name[64], topic[32];
        int r;

        snprintf(topic, sizeof(topic), "%s/sum", s);
        snprintf(object, sizeof(object), "%s_status", s);
        snprintf(name, sizeof(name), "%s status", label);
        if ((r = sensor(h, object, name, topic, "{{ value_json.status }}", &kind_status, 0)) < 0)
                return r;
        snprintf(object, sizeof(object), "%s_power", s);
        snprintf(name, sizeof(name), "%s power", label);
        if ((r = sensor(h, object, name, topic, "{{ value_json.power }}", &kind_power, 0)) < 0)
                return r;
        snprintf(object, sizeof(object), "%s_energy", s);
        snprintf(name, sizeof(name), "%s energy", label);
        return sensor(h, object, name, topic, energy_template, &kind_energy, 0);
}

static bool has_published_battery(const struct config *c) {
        for (size_t i = 0; i < c->n_devices; i++) {
                const struct driver *d = c->devices[i].driver;
                if ((d->classes & CLASS_BIT(DEVICE_CLASS_BATTERY)) && !(d->battery && d->battery->forwarded))
                        return true;
        }
        return false;
}

static int battery_sum_sensors(const struct ha *h) {
        int r;
        if ((r = sensor(h, "bat_current", "Battery current", "bat/sum", "{{ value_json.current }}",
                        &kind_current, 0)) < 0 ||
            (r = sensor(h, "bat_capacity", "Battery capacity", "bat/sum", "{{ value_json.capacity }}",
                        &kind_capacity, 0)) < 0)
                return r;
        return sensor(h, "bat_soc", "Battery SoC", "bat/sum", "{{ value_json.soc }}", &kind_soc, 0);
}

static int battery_sensors(const struct ha *h, const struct ha_battery_shape *b) {
        static const struct {
                const char *suffix, *label, *key;
                const struct ha_kind *kind;
        } fields[] = {
                { "voltage", "voltage", "v", &kind_voltage },
                { "current", "current", "i", &kind_current },
                { "soc", "SoC", "soc", &kind_soc },
                { "capacity", "capacity", "c", &kind_capacity },
                { "cycles", "cycles", "n", &kind_cycles },
        };
        char object[128], name[128], topic[64], tmpl[160];
        const char *id;
        int r = 0;

        /* Device names are validated by the config ([A-Za-z0-9_-]{1,32}); they
         * appear in topics and ids as they are. */
        if (!b || !b->name || !device_name_is_valid(b->name))
                return -EINVAL;
        id = b->name;
        snprintf(topic, sizeof(topic), "bat/dev/%s", b->name);
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]) && r >= 0; i++) {
                snprintf(object, sizeof(object), "bat_%s_%s", id, fields[i].suffix);
                snprintf(name, sizeof(name), "%s %s", b->name, fields[i].label);
                snprintf(tmpl, sizeof(tmpl), "{{ value_json.%s }}", fields[i].key);
                r = sensor(h, object, name, topic, tmpl, fields[i].kind, 0);
        }
        /* The lists may be shorter than an older discovery document expects:
         * render "None" (unknown) rather than a template error. */
        for (size_t k = 0; k < b->n_cells && r >= 0; k++) {
                snprintf(object, sizeof(object), "bat_%s_cell_%zu", id, k);
                snprintf(name, sizeof(name), "%s cell %zu", b->name, k);
                snprintf(tmpl, sizeof(tmpl),
                         "{%% if value_json.cells | length > %zu %%}{{ value_json.cells[%zu] }}{%% else "
                         "%%}None{%% endif %%}",
                         k, k);
                r = sensor(h, object, name, topic, tmpl, &kind_voltage, 0);
        }
        for (size_t k = 0; k < b->n_temps && r >= 0; k++) {
                snprintf(object, sizeof(object), "bat_%s_temp_%zu", id, k);
                snprintf(name, sizeof(name), "%s temperature %zu", b->name, k);
                snprintf(tmpl, sizeof(tmpl),
                         "{%% if value_json.temps | length > %zu %%}{{ value_json.temps[%zu] }}{%% else "
                         "%%}None{%% endif %%}",
                         k, k);
                r = sensor(h, object, name, topic, tmpl, &kind_temperature, 0);
        }
        return r < 0 ? r : 0;
}

int homeassistant_documents(const struct config *c, const struct ha_battery_shape *bats, size_t n_bats,
                            ha_emit emit, void *userdata) {
        static const struct {
                enum device_class cls;
                const char *label;
        } classes[] = {
                { DEVICE_CLASS_CHARGER, "Charger" },
                { DEVICE_CLASS_INVERTER, "Inverter" },
                { DEVICE_CLASS_SOLAR, "Solar" },
        };
        struct ha h;
        int r;

        if (!c || !emit || (n_bats > 0 && !bats))
                return -EINVAL;
        if (!c->mqtt.ha_enabled)
                return 0;
        if ((r = ha_init(&h, c, emit, userdata)) < 0)
                return r;

        if ((r = mode_select(&h)) < 0 || (r = lock_sensor(&h)) < 0)
                goto out;
        /* The heater's topics are JSON whatever mqtt.json says. */
        if (config_count_class(c, DEVICE_CLASS_HEATER) > 0 &&
            (r = class_sensors(&h, DEVICE_CLASS_HEATER, "Heater")) < 0)
                goto out;
        if (!c->mqtt.json)
                goto out;
        for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
                if (config_count_class(c, classes[i].cls) > 0 &&
                    (r = class_sensors(&h, classes[i].cls, classes[i].label)) < 0)
                        goto out;
        if (has_published_battery(c) && (r = battery_sum_sensors(&h)) < 0)
                goto out;
        if (config_count_class(c, DEVICE_CLASS_CONSUMPTION) > 0 &&
            (r = sensor(&h, "consumption_power", "Consumption", "consumption", "{{ value_json.power }}",
                        &kind_power, 0)) < 0)
                goto out;
        for (size_t i = 0; i < n_bats; i++)
                if ((r = battery_sensors(&h, &bats[i])) < 0)
                        goto out;
out:
        ha_done(&h);
        return r < 0 ? r : 0;
}

int homeassistant_battery_documents(const struct config *c, const struct ha_battery_shape *bat, ha_emit emit,
                                    void *userdata) {
        struct ha h;
        int r;

        if (!c || !bat || !emit)
                return -EINVAL;
        if (!c->mqtt.ha_enabled || !c->mqtt.json)
                return 0;
        if ((r = ha_init(&h, c, emit, userdata)) < 0)
                return r;
        r = battery_sensors(&h, bat);
        ha_done(&h);
        return r < 0 ? r : 0;
}
