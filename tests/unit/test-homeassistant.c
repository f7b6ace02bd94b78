/* SPDX-License-Identifier: MIT */
/* Unit tests of the Home Assistant discovery documents (mqtt.md): topics, the
 * shared device, availability, what each kind of sensor declares, the mode
 * select, the battery documents, mqtt.json false, discovery disabled, the
 * prefix, and a root topic with '/' in it. Configs come from config_parse(). */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, asprintf */
#endif

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "config.h"
#include "homeassistant.h"

/* The inverter's power LUT lives in a temp dir next to the config path. */
static char tmpdir[] = "/tmp/hb-test-ha-XXXXXX";
static char cfg_path[PATH_MAX];
static char lut_path[PATH_MAX];

static int group_setup(void **state) {
        FILE *f;

        (void) state;
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", tmpdir);
        snprintf(lut_path, sizeof(lut_path), "%s/lut.csv", tmpdir);
        f = fopen(lut_path, "we");
        if (!f)
                return -1;
        fputs("# HM-600\n2;30\n50;300\n100;600\n", f);
        return fclose(f) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
        (void) state;
        (void) unlink(lut_path);
        return rmdir(tmpdir) < 0 ? -1 : 0;
}

/* ---- configs ---- */

/* Every class: a meter, a battery of another controller (forwarded), a charger, a solar charger and an
 * inverter. MQTT(extra) puts extra keys into the mqtt section. */
#define DEVICES_ALL                                                                                         \
        "\"devices\": {"                                                                                    \
        "\"meter\": {\"driver\": \"mqttConsumption\", \"topic\": \"tele/meter/SENSOR\","                    \
        " \"format\": {\"json\": \"SML.Power\"}},"                                                          \
        "\"remote1\": {\"driver\": \"mqttBattery\", \"root_topic\": \"other/bat/dev/b1\","                  \
        " \"cells_count\": 4, \"temperature_count\": 2},"                                                   \
        "\"charger1\": {\"driver\": \"shellyCharger\", \"host\": \"192.0.2.10:80\"},"                       \
        "\"mppt\": {\"driver\": \"victronMppt\", \"port\": \"/dev/null\"},"                                 \
        "\"hm600\": {\"driver\": \"ahoyDtu\", \"host\": \"192.0.2.11:80\", \"id\": 0,"                      \
        " \"power_lut\": \"lut.csv\"}}"
#define CONFIG(mqtt_extra, devices)                                                                         \
        "{\"general\": {\"inverter_power\": 300},"                                                          \
        " \"mqtt\": {\"host\": \"192.0.2.1:1883\"" mqtt_extra "}, " devices "}"

/* Only a consumption meter and a forwarded battery (no BLE, no switched class). */
#define DEVICES_METER_REMOTE                                                                                \
        "\"devices\": {"                                                                                    \
        "\"meter\": {\"driver\": \"mqttConsumption\", \"topic\": \"tele/meter/SENSOR\"},"                   \
        "\"remote1\": {\"driver\": \"mqttBattery\", \"root_topic\": \"other/bat/dev/b1\","                  \
        " \"cells_count\": 4, \"temperature_count\": 2}}"

/* A battery this controller reads itself (only parsed here: nothing touches Bluetooth). */
#define DEVICES_OWN_BATTERY                                                                                 \
        "\"devices\": {"                                                                                    \
        "\"bat1\": {\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"aa:bb:cc:dd:ee:ff\"}}"

static struct config *parse_valid(const char *text) {
        struct config_errors e = {};
        struct config *c = NULL;
        int r = config_parse(cfg_path, text, strlen(text), &c, &e);

        if (r != 0 || e.n != 0) {
                print_message("  config_parse() = %d for:\n%s\n", r, text);
                for (size_t i = 0; i < e.n; i++)
                        print_message("    error: %s\n", e.lines[i]);
        }
        assert_int_equal(r, 0);
        assert_int_equal(e.n, 0);
        assert_non_null(c);
        config_errors_done(&e);
        return c;
}

/* ---- capture ---- */

#define DOCS_MAX 256

struct doc {
        char *topic;
        char *payload;
        struct json_object *j;
};

struct capture {
        struct doc docs[DOCS_MAX];
        size_t n;
};

static void on_doc(void *userdata, const char *topic, const char *payload) {
        struct capture *cap = userdata;
        struct doc *d;

        assert_non_null(topic);
        assert_non_null(payload);
        assert_true(cap->n < DOCS_MAX);
        d = &cap->docs[cap->n++];
        d->topic = strdup(topic);
        d->payload = strdup(payload);
        assert_non_null(d->topic);
        assert_non_null(d->payload);
        d->j = json_tokener_parse(payload);
        if (!d->j || !json_object_is_type(d->j, json_type_object))
                fail_msg("payload on %s is not a JSON object: %s", topic, payload);
}

static void capture_done(struct capture *cap) {
        for (size_t i = 0; i < cap->n; i++) {
                free(cap->docs[i].topic);
                free(cap->docs[i].payload);
                json_object_put(cap->docs[i].j);
        }
        cap->n = 0;
}

static const char *jstr(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool has_key(struct json_object *o, const char *key) {
        return json_object_object_get_ex(o, key, NULL);
}

/* The document whose topic is <prefix>/<component>/<node>/<object>/config. */
static const struct doc *find_doc(const struct capture *cap, const char *prefix, const char *component,
                                  const char *node, const char *object) {
        char topic[512];

        snprintf(topic, sizeof(topic), "%s/%s/%s/%s/config", prefix, component, node, object);
        for (size_t i = 0; i < cap->n; i++)
                if (strcmp(cap->docs[i].topic, topic) == 0)
                        return &cap->docs[i];
        return NULL;
}

static const struct doc *get_doc(const struct capture *cap, const char *component, const char *object) {
        const struct doc *d = find_doc(cap, "homeassistant", component, "homebattery_homebattery", object);
        if (!d)
                fail_msg("no document for %s/%s", component, object);
        return d;
}

static void assert_str_field(const struct doc *d, const char *key, const char *expected) {
        const char *v = jstr(d->j, key);
        if (!expected) {
                if (has_key(d->j, key))
                        fail_msg("%s: unexpected \"%s\" in %s", d->topic, key, d->payload);
                return;
        }
        if (!v || strcmp(v, expected) != 0)
                fail_msg("%s: \"%s\" is \"%s\", expected \"%s\"", d->topic, key, v ? v : "(missing)",
                         expected);
}

/* device_class, unit_of_measurement, state_class; NULL = must be absent. */
static void assert_kind(const struct doc *d, const char *device_class, const char *unit,
                        const char *state_class) {
        assert_str_field(d, "device_class", device_class);
        assert_str_field(d, "unit_of_measurement", unit);
        assert_str_field(d, "state_class", state_class);
}

/* A sensor reading a JSON topic: state_topic and a template using value_json.<key>. */
static void assert_reads(const struct doc *d, const char *state_topic, const char *template_part) {
        const char *t = jstr(d->j, "value_template");

        assert_str_field(d, "state_topic", state_topic);
        if (!t || !strstr(t, template_part))
                fail_msg("%s: value_template \"%s\" does not contain \"%s\"", d->topic, t ? t : "(missing)",
                         template_part);
}

/* What every document must have, for a controller with root `root` (node = sanitized). */
static void assert_common(const struct capture *cap, const char *prefix, const char *root,
                          const char *node) {
        const char *first_ids = NULL;
        char availability[256], want_prefix[256], want_uid[256], want_name[256];

        snprintf(availability, sizeof(availability), "%s/status", root);
        snprintf(want_name, sizeof(want_name), "homebattery %s", root);
        assert_true(cap->n > 0);
        for (size_t i = 0; i < cap->n; i++) {
                const struct doc *d = &cap->docs[i];
                struct json_object *dev, *ids;
                const char *comp_end, *object;
                size_t plen;

                /* <prefix>/<component>/<node>/<object>/config */
                plen = strlen(prefix);
                assert_int_equal(strncmp(d->topic, prefix, plen), 0);
                assert_int_equal(d->topic[plen], '/');
                comp_end = strchr(d->topic + plen + 1, '/');
                assert_non_null(comp_end);
                bool is_select = (size_t) (comp_end - d->topic - plen - 1) == strlen("select") &&
                                 strncmp(d->topic + plen + 1, "select", 6) == 0;
                bool is_sensor = (size_t) (comp_end - d->topic - plen - 1) == strlen("sensor") &&
                                 strncmp(d->topic + plen + 1, "sensor", 6) == 0;
                assert_true(is_select || is_sensor);
                snprintf(want_prefix, sizeof(want_prefix), "/%s/", node);
                assert_int_equal(strncmp(comp_end, want_prefix, strlen(want_prefix)), 0);
                object = comp_end + strlen(want_prefix);
                size_t olen = strlen(object);
                assert_true(olen > strlen("/config"));
                assert_string_equal(object + olen - strlen("/config"), "/config");
                for (const char *p = object; p < object + olen - strlen("/config"); p++)
                        assert_true((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-');

                /* unique_id = <node>_<object>, object_id present, a name */
                snprintf(want_uid, sizeof(want_uid), "%s_%.*s", node, (int) (olen - strlen("/config")),
                         object);
                assert_str_field(d, "unique_id", want_uid);
                assert_non_null(jstr(d->j, "object_id"));
                assert_non_null(jstr(d->j, "name"));
                assert_non_null(jstr(d->j, "state_topic"));
                assert_int_equal(strncmp(jstr(d->j, "state_topic"), root, strlen(root)), 0);

                assert_str_field(d, "availability_topic", availability);
                assert_str_field(d, "payload_available", "online");
                assert_str_field(d, "payload_not_available", "offline");

                /* one device for all */
                assert_true(json_object_object_get_ex(d->j, "device", &dev));
                assert_true(json_object_is_type(dev, json_type_object));
                assert_true(json_object_object_get_ex(dev, "identifiers", &ids));
                assert_true(json_object_is_type(ids, json_type_array));
                assert_int_equal(json_object_array_length(ids), 1);
                const char *ids_s = json_object_to_json_string_ext(ids, JSON_C_TO_STRING_PLAIN);
                if (!first_ids)
                        first_ids = strdup(ids_s);
                assert_string_equal(ids_s, first_ids);
                assert_string_equal(json_object_get_string(json_object_array_get_idx(ids, 0)), node);
                assert_string_equal(jstr(dev, "name"), want_name);
                assert_string_equal(jstr(dev, "manufacturer"), "homebattery");
                assert_string_equal(jstr(dev, "model"), "homebattery daemon");
                assert_non_null(jstr(dev, "sw_version"));

                /* unique ids and topics are unique */
                for (size_t k = 0; k < i; k++) {
                        assert_string_not_equal(cap->docs[k].topic, d->topic);
                        assert_string_not_equal(jstr(cap->docs[k].j, "unique_id"), jstr(d->j, "unique_id"));
                        assert_string_not_equal(jstr(cap->docs[k].j, "object_id"), jstr(d->j, "object_id"));
                }
        }
        free((char *) first_ids);
}

static size_t count_component(const struct capture *cap, const char *component) {
        char needle[64];
        size_t n = 0;

        snprintf(needle, sizeof(needle), "/%s/", component);
        for (size_t i = 0; i < cap->n; i++)
                if (strstr(cap->docs[i].topic, needle))
                        n++;
        return n;
}

/* ---- tests ---- */

static void test_select_and_lock(void **state) {
        struct capture cap = {};
        struct config *c = parse_valid(CONFIG("", DEVICES_ALL));
        struct json_object *opts;
        const struct doc *d;

        (void) state;
        assert_int_equal(homeassistant_documents(c, NULL, 0, on_doc, &cap), 0);
        assert_common(&cap, "homeassistant", "homebattery", "homebattery_homebattery");
        assert_int_equal(count_component(&cap, "select"), 1);

        d = get_doc(&cap, "select", "mode");
        assert_str_field(d, "unique_id", "homebattery_homebattery_mode");
        assert_str_field(d, "command_topic", "homebattery/mode/set");
        assert_str_field(d, "state_topic", "homebattery/mode/actual");
        assert_str_field(d, "device_class", NULL);
        assert_true(json_object_object_get_ex(d->j, "options", &opts));
        assert_true(json_object_is_type(opts, json_type_array));
        assert_int_equal(json_object_array_length(opts), 4);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(opts, 0)), "charge");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(opts, 1)), "discharge");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(opts, 2)), "idle");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(opts, 3)), "protect");

        d = get_doc(&cap, "sensor", "locked");
        assert_str_field(d, "state_topic", "homebattery/locked");
        assert_kind(d, NULL, NULL, NULL);
        /* an empty payload (no lock) shows as "none" */
        assert_non_null(strstr(jstr(d->j, "value_template"), "'none'"));

        capture_done(&cap);
        config_free(c);
}

static void test_classes_consumption(void **state) {
        static const char *const cls[] = { "cha", "inv", "sol" };
        struct capture cap = {};
        struct config *c = parse_valid(CONFIG("", DEVICES_ALL));
        char object[64], topic[64];
        const struct doc *d;

        (void) state;
        assert_int_equal(homeassistant_documents(c, NULL, 0, on_doc, &cap), 0);
        /* select + lock + 3 classes x 3 + consumption; the only battery is forwarded: no battery sums */
        assert_int_equal(cap.n, 2 + 9 + 1);

        for (size_t i = 0; i < 3; i++) {
                snprintf(topic, sizeof(topic), "homebattery/%s/sum", cls[i]);

                snprintf(object, sizeof(object), "%s_status", cls[i]);
                d = get_doc(&cap, "sensor", object);
                assert_reads(d, topic, "value_json.status");
                assert_kind(d, NULL, NULL, NULL);

                snprintf(object, sizeof(object), "%s_power", cls[i]);
                d = get_doc(&cap, "sensor", object);
                assert_reads(d, topic, "value_json.power");
                assert_kind(d, "power", "W", "measurement");

                snprintf(object, sizeof(object), "%s_energy", cls[i]);
                d = get_doc(&cap, "sensor", object);
                assert_reads(d, topic, "value_json.energy");
                assert_kind(d, "energy", "Wh", "total_increasing");
        }

        d = get_doc(&cap, "sensor", "consumption_power");
        assert_reads(d, "homebattery/consumption", "value_json.power");
        assert_kind(d, "power", "W", "measurement");

        assert_null(find_doc(&cap, "homeassistant", "sensor", "homebattery_homebattery", "bat_soc"));
        capture_done(&cap);
        config_free(c);
}

static void test_only_meter_and_forwarded_battery(void **state) {
        struct capture cap = {};
        struct config *c = parse_valid(CONFIG("", DEVICES_METER_REMOTE));

        (void) state;
        assert_int_equal(homeassistant_documents(c, NULL, 0, on_doc, &cap), 0);
        assert_common(&cap, "homeassistant", "homebattery", "homebattery_homebattery");
        /* select, lock, consumption: no class without devices, no sums of forwarded batteries */
        assert_int_equal(cap.n, 3);
        assert_non_null(get_doc(&cap, "sensor", "consumption_power"));
        assert_null(find_doc(&cap, "homeassistant", "sensor", "homebattery_homebattery", "cha_power"));
        assert_null(find_doc(&cap, "homeassistant", "sensor", "homebattery_homebattery", "bat_current"));
        capture_done(&cap);
        config_free(c);
}

static void test_battery_sums(void **state) {
        struct capture cap = {};
        struct config *c = parse_valid(CONFIG("", DEVICES_OWN_BATTERY));
        const struct doc *d;

        (void) state;
        assert_int_equal(homeassistant_documents(c, NULL, 0, on_doc, &cap), 0);
        assert_common(&cap, "homeassistant", "homebattery", "homebattery_homebattery");
        assert_int_equal(cap.n, 2 + 3);

        d = get_doc(&cap, "sensor", "bat_current");
        assert_reads(d, "homebattery/bat/sum", "value_json.current");
        assert_kind(d, "current", "A", "measurement");
        d = get_doc(&cap, "sensor", "bat_capacity");
        assert_reads(d, "homebattery/bat/sum", "value_json.capacity");
        assert_kind(d, NULL, "Ah", "measurement");
        d = get_doc(&cap, "sensor", "bat_soc");
        assert_reads(d, "homebattery/bat/sum", "value_json.soc");
        assert_kind(d, "battery", "%", "measurement");
        capture_done(&cap);
        config_free(c);
}

static void check_battery_docs(const struct capture *cap, const char *name, size_t n_cells, size_t n_temps) {
        char object[96], topic[96], part[64];
        const struct doc *d;

        snprintf(topic, sizeof(topic), "homebattery/bat/dev/%s", name);

        snprintf(object, sizeof(object), "bat_%s_voltage", name);
        d = get_doc(cap, "sensor", object);
        assert_reads(d, topic, "value_json.v");
        assert_kind(d, "voltage", "V", "measurement");

        snprintf(object, sizeof(object), "bat_%s_current", name);
        d = get_doc(cap, "sensor", object);
        assert_reads(d, topic, "value_json.i");
        assert_kind(d, "current", "A", "measurement");

        snprintf(object, sizeof(object), "bat_%s_soc", name);
        d = get_doc(cap, "sensor", object);
        assert_reads(d, topic, "value_json.soc");
        assert_kind(d, "battery", "%", "measurement");

        snprintf(object, sizeof(object), "bat_%s_capacity", name);
        d = get_doc(cap, "sensor", object);
        assert_reads(d, topic, "value_json.c");
        assert_kind(d, NULL, "Ah", "measurement");

        snprintf(object, sizeof(object), "bat_%s_cycles", name);
        d = get_doc(cap, "sensor", object);
        assert_reads(d, topic, "value_json.n");

        for (size_t k = 0; k < n_cells; k++) {
                snprintf(object, sizeof(object), "bat_%s_cell_%zu", name, k);
                snprintf(part, sizeof(part), "value_json.cells[%zu]", k);
                d = get_doc(cap, "sensor", object);
                assert_reads(d, topic, part);
                assert_kind(d, "voltage", "V", "measurement");
        }
        snprintf(object, sizeof(object), "bat_%s_cell_%zu", name, n_cells);
        assert_null(find_doc(cap, "homeassistant", "sensor", "homebattery_homebattery", object));
        for (size_t k = 0; k < n_temps; k++) {
                snprintf(object, sizeof(object), "bat_%s_temp_%zu", name, k);
                snprintf(part, sizeof(part), "value_json.temps[%zu]", k);
                d = get_doc(cap, "sensor", object);
                assert_reads(d, topic, part);
                assert_kind(d, "temperature", "\u00b0C", "measurement");
        }
        snprintf(object, sizeof(object), "bat_%s_temp_%zu", name, n_temps);
        assert_null(find_doc(cap, "homeassistant", "sensor", "homebattery_homebattery", object));
}

static void test_battery_documents(void **state) {
        static const struct ha_battery_shape shapes[] = {
                { "bat1", 16, 2 },
                { "bat-2_x", 8, 0 },
                { "b3", 1, 8 },
        };
        struct config *c = parse_valid(CONFIG("", DEVICES_OWN_BATTERY));

        (void) state;
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
                struct capture cap = {};
                assert_int_equal(homeassistant_battery_documents(c, &shapes[i], on_doc, &cap), 0);
                assert_common(&cap, "homeassistant", "homebattery", "homebattery_homebattery");
                assert_int_equal(cap.n, 5 + shapes[i].n_cells + shapes[i].n_temps);
                assert_int_equal(count_component(&cap, "sensor"), cap.n);
                check_battery_docs(&cap, shapes[i].name, shapes[i].n_cells, shapes[i].n_temps);
                capture_done(&cap);
        }

        /* The full set includes every battery passed in, after the rest. */
        struct capture cap = {};
        assert_int_equal(homeassistant_documents(c, shapes, 2, on_doc, &cap), 0);
        assert_common(&cap, "homeassistant", "homebattery", "homebattery_homebattery");
        assert_int_equal(cap.n, 2 + 3 + (5 + 16 + 2) + (5 + 8 + 0));
        check_battery_docs(&cap, "bat1", 16, 2);
        check_battery_docs(&cap, "bat-2_x", 8, 0);
        capture_done(&cap);

        /* A name that could not be a device name is refused. */
        static const struct ha_battery_shape bad = { "a/b", 1, 0 };
        assert_int_equal(homeassistant_battery_documents(c, &bad, on_doc, &cap), -EINVAL);
        assert_int_equal(cap.n, 0);
        config_free(c);
}

static void test_json_false(void **state) {
        static const struct ha_battery_shape shape = { "bat1", 4, 1 };
        struct capture cap = {};
        struct config *c = parse_valid(CONFIG(", \"json\": false", DEVICES_ALL));

        (void) state;
        assert_false(c->mqtt.json);
        assert_int_equal(homeassistant_documents(c, &shape, 1, on_doc, &cap), 0);
        assert_int_equal(cap.n, 2);
        assert_common(&cap, "homeassistant", "homebattery", "homebattery_homebattery");
        assert_non_null(get_doc(&cap, "select", "mode"));
        assert_non_null(get_doc(&cap, "sensor", "locked"));
        capture_done(&cap);

        assert_int_equal(homeassistant_battery_documents(c, &shape, on_doc, &cap), 0);
        assert_int_equal(cap.n, 0);
        config_free(c);
}

/* A heater: its sensors read hea/sum, with mqtt.json false too (the heater topics are always JSON). */
static void test_heater(void **state) {
        static const char *const json[] = { "", ", \"json\": false" };
        char text[512];

        (void) state;
        for (size_t i = 0; i < 2; i++) {
                struct capture cap = {};
                snprintf(text, sizeof(text), CONFIG("%s", "\"devices\": {\"hz\": {\"driver\": \"shellyHeater\", "
                                                          "\"host\": \"192.0.2.12:80\"}}, \"heater\": {\"activate\": "
                                                          "{\"battery\": 5}, \"deactivate\": {\"battery\": 10}}"),
                         json[i]);
                struct config *c = parse_valid(text);
                assert_int_equal(homeassistant_documents(c, NULL, 0, on_doc, &cap), 0);
                assert_int_equal(cap.n, 2 + 3); /* select + lock + the heater's three */
                assert_reads(get_doc(&cap, "sensor", "hea_status"), "homebattery/hea/sum", "value_json.status");
                const struct doc *d = get_doc(&cap, "sensor", "hea_power");
                assert_reads(d, "homebattery/hea/sum", "value_json.power");
                assert_kind(d, "power", "W", "measurement");
                d = get_doc(&cap, "sensor", "hea_energy");
                assert_reads(d, "homebattery/hea/sum", "value_json.energy");
                assert_kind(d, "energy", "Wh", "total_increasing");
                capture_done(&cap);
                config_free(c);
        }
}

static void test_disabled(void **state) {
        static const struct ha_battery_shape shape = { "bat1", 4, 1 };
        struct capture cap = {};
        struct config *c = parse_valid(CONFIG(", \"homeassistant\": {\"enabled\": false}", DEVICES_ALL));

        (void) state;
        assert_false(c->mqtt.ha_enabled);
        assert_int_equal(homeassistant_documents(c, &shape, 1, on_doc, &cap), 0);
        assert_int_equal(homeassistant_battery_documents(c, &shape, on_doc, &cap), 0);
        assert_int_equal(cap.n, 0);
        config_free(c);
}

static void test_prefix_and_root(void **state) {
        static const struct ha_battery_shape shape = { "bat1", 2, 1 };
        struct capture cap = {};
        struct config *c = parse_valid(CONFIG(", \"root\": \"site/garage.hb\","
                                              " \"homeassistant\": {\"prefix\": \"ha/disc\"}",
                                              DEVICES_ALL));
        const struct doc *d;

        (void) state;
        assert_int_equal(homeassistant_documents(c, &shape, 1, on_doc, &cap), 0);
        /* '/' (and anything else outside [A-Za-z0-9_-]) becomes '_' in ids and discovery topics; the state
         * topics, the availability topic and the device name keep the real root. */
        assert_common(&cap, "ha/disc", "site/garage.hb", "homebattery_site_garage_hb");
        assert_int_equal(cap.n, 2 + 9 + 1 + 5 + 2 + 1);

        d = find_doc(&cap, "ha/disc", "select", "homebattery_site_garage_hb", "mode");
        assert_non_null(d);
        assert_str_field(d, "unique_id", "homebattery_site_garage_hb_mode");
        assert_str_field(d, "object_id", "site_garage_hb_mode");
        assert_str_field(d, "command_topic", "site/garage.hb/mode/set");
        assert_str_field(d, "state_topic", "site/garage.hb/mode/actual");
        assert_str_field(d, "availability_topic", "site/garage.hb/status");

        d = find_doc(&cap, "ha/disc", "sensor", "homebattery_site_garage_hb", "bat_bat1_cell_1");
        assert_non_null(d);
        assert_str_field(d, "unique_id", "homebattery_site_garage_hb_bat_bat1_cell_1");
        assert_reads(d, "site/garage.hb/bat/dev/bat1", "value_json.cells[1]");

        d = find_doc(&cap, "ha/disc", "sensor", "homebattery_site_garage_hb", "inv_energy");
        assert_non_null(d);
        assert_reads(d, "site/garage.hb/inv/sum", "value_json.energy");

        for (size_t i = 0; i < cap.n; i++) {
                assert_null(strstr(jstr(cap.docs[i].j, "unique_id"), "/"));
                assert_null(strstr(jstr(cap.docs[i].j, "object_id"), "/"));
                assert_null(strstr(jstr(cap.docs[i].j, "unique_id"), "."));
        }
        capture_done(&cap);
        config_free(c);
}

/* The documents are serialized by the module itself: quotes, backslashes and control characters in the
 * root topic must come out as valid JSON that reads back as the same text. */
static void test_escaping(void **state) {
        struct capture cap = {};
        struct config *c =
                parse_valid(CONFIG(", \"root\": \"we\\\"ird\\\\r!t \\u00e4\"", DEVICES_METER_REMOTE));
        const struct doc *d;
        struct json_object *dev;

        (void) state;
        assert_string_equal(c->mqtt.root, "we\"ird\\r!t \u00e4");
        assert_int_equal(homeassistant_documents(c, NULL, 0, on_doc, &cap), 0);
        assert_int_equal(cap.n, 3);
        /* every character outside [A-Za-z0-9_-] is one '_' per byte (the UTF-8 a-umlaut has two) */
        assert_common(&cap, "homeassistant", "we\"ird\\r!t \u00e4", "homebattery_we_ird_r_t___");
        d = find_doc(&cap, "homeassistant", "sensor", "homebattery_we_ird_r_t___", "consumption_power");
        assert_non_null(d);
        assert_str_field(d, "state_topic", "we\"ird\\r!t \u00e4/consumption");
        assert_true(json_object_object_get_ex(d->j, "device", &dev));
        assert_string_equal(jstr(dev, "name"), "homebattery we\"ird\\r!t \u00e4");
        /* no raw control character in the text (the config refuses them in mqtt.root: '!' stands in) */
        for (size_t i = 0; i < cap.n; i++)
                for (const char *p = cap.docs[i].payload; *p; p++)
                        assert_true((unsigned char) *p >= 0x20);
        capture_done(&cap);
        config_free(c);
}

static void test_invalid_arguments(void **state) {
        struct capture cap = {};
        struct config *c = parse_valid(CONFIG("", DEVICES_ALL));

        (void) state;
        assert_int_equal(homeassistant_documents(c, NULL, 1, on_doc, &cap), -EINVAL);
        assert_int_equal(homeassistant_documents(c, NULL, 0, NULL, &cap), -EINVAL);
        assert_int_equal(homeassistant_battery_documents(c, NULL, on_doc, &cap), -EINVAL);
        assert_int_equal(cap.n, 0);
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_select_and_lock),
                cmocka_unit_test(test_classes_consumption),
                cmocka_unit_test(test_only_meter_and_forwarded_battery),
                cmocka_unit_test(test_battery_sums),
                cmocka_unit_test(test_battery_documents),
                cmocka_unit_test(test_json_false),
                cmocka_unit_test(test_heater),
                cmocka_unit_test(test_disabled),
                cmocka_unit_test(test_prefix_and_root),
                cmocka_unit_test(test_escaping),
                cmocka_unit_test(test_invalid_arguments),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
