/* SPDX-License-Identifier: MIT */
/* --migrate-config: maps every key of an original-firmware config.json (1.x,
 * and the flat shape before 1.0) to this daemon's keys, section by section,
 * and prints the result in the order of the configuration reference. What
 * has no equivalent is dropped with a warning naming the key, so the output
 * passes --check-config of this build. Which drivers and top-level sections
 * exist is asked at run time (registry, config_top_level_keys), so drivers
 * added later are carried over without a change here. */

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"
#include "file-util.h"
#include "migrate-bus.h"
#include "migrate.h"
#include "registry.h"

#define MIGRATE_SIZE_MAX (1024 * 1024)

static const char *const port_names[MIGRATE_N_PORTS] = { "ext1", "ext2" };
static const char *const port_defaults[MIGRATE_N_PORTS] = { "/dev/ttyUSB0", "/dev/ttyUSB1" };

struct migrate {
        const struct migrate_options *o;
        FILE *err;
        bool oom;
        struct migrate_bus bus;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

/* Key paths hold the user's device names: no control character reaches the terminal. */
_printf_(4, 5) static void say(struct migrate *m, const char *kind, const char *path, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        for (char *p = msg; *p; p++)
                if (iscntrl((unsigned char) *p))
                        *p = '?';
        fprintf(m->err, "%s: ", kind);
        for (const char *p = path; *p; p++)
                fputc(iscntrl((unsigned char) *p) ? '?' : *p, m->err);
        fprintf(m->err, ": %s\n", msg);
}
#define warn(m, path, ...) say(m, "warning", path, __VA_ARGS__)
#define note(m, path, ...) say(m, "note", path, __VA_ARGS__)

static struct json_object *get(struct json_object *o, const char *key) {
        struct json_object *v = NULL;
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

static bool is_empty_string(struct json_object *v) {
        return json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0;
}

/* The same value object in both trees: numbers keep the digits the user wrote. */
static void put(struct migrate *m, struct json_object *to, const char *key, struct json_object *v) {
        if (json_object_object_add(to, key, json_object_get(v)) < 0)
                m->oom = true;
}

static void put_new(struct migrate *m, struct json_object *to, const char *key, struct json_object *v) {
        if (!v || json_object_object_add(to, key, v) < 0) {
                json_object_put(v);
                m->oom = true;
        }
}

static struct json_object *new_object(struct migrate *m) {
        struct json_object *o = json_object_new_object();
        if (!o)
                m->oom = true;
        return o;
}

static bool in_list(const char *key, const char *const *list) {
        for (; *list; list++)
                if (strcmp(key, *list) == 0)
                        return true;
        return false;
}

/* Keys of an old section that nothing here reads. */
static void drop_unknown(struct migrate *m, const char *path, struct json_object *o, const char *const *known) {
        if (!json_object_is_type(o, json_type_object))
                return;
        json_object_object_foreach(o, key, v) {
                (void) v;
                if (in_list(key, known))
                        continue;
                char kp[256];
                snprintf(kp, sizeof(kp), "%s%s%s", path, *path ? "." : "", key);
                warn(m, kp, "not used by this daemon, dropped");
        }
}

/* The old firmware's example files write "" for an optional value not given. */
static void put_optional(struct migrate *m, const char *path, struct json_object *from, const char *key,
                         struct json_object *to, const char *to_key) {
        struct json_object *v = get(from, key);
        char kp[256];

        if (!v)
                return;
        snprintf(kp, sizeof(kp), "%s.%s", path, key);
        if (is_empty_string(v) || json_object_is_type(v, json_type_null)) {
                note(m, kp, "empty, left out");
                return;
        }
        put(m, to, to_key, v);
}

/* Only a section of the configuration reference that is not empty is printed. */
static void put_section(struct migrate *m, struct json_object *root, const char *key, struct json_object *s) {
        if (!s)
                return;
        if (json_object_object_length(s) == 0) {
                json_object_put(s);
                return;
        }
        put_new(m, root, key, s);
}

static bool section_is_known(const char *key) {
        return in_list(key, (const char *const *) config_top_level_keys);
}

/* general.default_mode; the fixed inverter power is inverter.power in 1.x, general.inverter_power before. */
static struct json_object *migrate_general(struct migrate *m, struct json_object *root) {
        static const char *const known[] = { "default_mode", "inverter_power", NULL };
        struct json_object *g = get(root, "general"), *out = new_object(m), *v;

        if (!out)
                return NULL;
        drop_unknown(m, "general", g, known);
        if ((v = get(g, "default_mode")))
                put(m, out, "default_mode", v);
        if ((v = get(get(root, "inverter"), "power")))
                put(m, out, "inverter_power", v);
        else if ((v = get(g, "inverter_power")))
                put(m, out, "inverter_power", v);
        return out;
}

/* TLS: mqtt.tls.{ca,insecure} in 1.x, mqtt.{ca,tls_insecure} before. */
static void migrate_tls(struct migrate *m, struct json_object *mq, struct json_object *out) {
        static const char *const tls_known[] = { "ca", "insecure", NULL };
        struct json_object *tls = get(mq, "tls");
        struct json_object *ca = tls ? get(tls, "ca") : get(mq, "ca");
        struct json_object *insecure = tls ? get(tls, "insecure") : get(mq, "tls_insecure");
        const char *ca_key = tls ? "mqtt.tls.ca" : "mqtt.ca";

        if (tls)
                drop_unknown(m, "mqtt.tls", tls, tls_known);
        if (json_object_is_type(ca, json_type_string) && !is_empty_string(ca)) {
                put(m, out, "ca", ca);
                warn(m, ca_key,
                     "the original firmware read the CA certificate as DER, libmosquitto needs PEM: convert it with "
                     "'openssl x509 -inform der -in %s -out ca.pem' and set mqtt.ca to ca.pem",
                     json_object_get_string(ca));
                if (insecure)
                        put(m, out, "tls_insecure", insecure);
                return;
        }
        if (ca)
                note(m, ca_key, "empty, left out: no TLS");
        if (insecure)
                note(m, tls ? "mqtt.tls.insecure" : "mqtt.tls_insecure",
                     "dropped: it only matters with a CA certificate (TLS)");
}

static struct json_object *migrate_mqtt(struct migrate *m, struct json_object *root) {
        static const char *const known[] = { "host", "root", "user", "password", "tls", "ca", "tls_insecure",
                                             "live_consumption_topic", NULL };
        struct json_object *mq = get(root, "mqtt"), *out = new_object(m), *host;

        if (!out)
                return NULL;
        drop_unknown(m, "mqtt", mq, known);
        put_optional(m, "mqtt", mq, "host", out, "host");
        if (!json_object_object_get_ex(out, "host", &host))
                warn(m, "mqtt.host", "missing, but required here: set the broker as host:port");
        migrate_tls(m, mq, out);
        put_optional(m, "mqtt", mq, "user", out, "user");
        put_optional(m, "mqtt", mq, "password", out, "password");
        put_optional(m, "mqtt", mq, "root", out, "root");
        return out;
}

static struct json_object *migrate_logging(struct migrate *m, struct json_object *root) {
        static const char *const known[] = { "host", "ignore", NULL };
        struct json_object *lg = get(root, "logging"), *out = new_object(m), *ign;

        if (!out)
                return NULL;
        drop_unknown(m, "logging", lg, known);
        put_optional(m, "logging", lg, "host", out, "host");
        /* Sender names stay as written: most are the same here (bluetooth, mqtt, consumption, device names). */
        ign = get(lg, "ignore");
        if (ign && !(json_object_is_type(ign, json_type_array) && json_object_array_length(ign) == 0))
                put(m, out, "ignore", ign);
        return out;
}

/* The netzero keys: 1.x names (inverter.netzero) and the flat section's names before 1.0 (= this daemon's). */
static const struct {
        const char *v1;
        const char *name;
} netzero_keys[] = {
        { "signed", "signed" },
        { "evaluated_time_span", "evaluated_time_span" },
        { "maturity_time_span", "maturity_time_span" },
        { "target", "power_offset" },
        { "hysteresis", "power_hysteresis" },
        { "change_upwards", "power_change_upwards" },
        { "change_downwards", "power_change_downwards" },
};

static void netzero_keys_known(bool v1, const char **known) {
        size_t n = 0;
        if (!v1)
                known[n++] = "enabled";
        for (size_t i = 0; i < ELEMENTSOF(netzero_keys); i++)
                known[n++] = v1 ? netzero_keys[i].v1 : netzero_keys[i].name;
        known[n] = NULL;
}

static void migrate_inverter_rest(struct migrate *m, struct json_object *inv) {
        static const char *const known[] = { "power", "reduce_power_during_fault", "netzero", NULL };
        struct json_object *r = get(inv, "reduce_power_during_fault");

        drop_unknown(m, "inverter", inv, known);
        if (json_object_is_type(r, json_type_boolean) && !json_object_get_boolean(r))
                note(m, "inverter.reduce_power_during_fault",
                     "dropped: this daemon always sets the inverters to 0 W while one of them is in fault");
}

/* 1.x: the presence of inverter.netzero switches it on. Before 1.0: a top-level netzero section with
 * this daemon's key names. Without a consumption device carried over, netzero cannot run here. */
static struct json_object *migrate_netzero(struct migrate *m, struct json_object *root, bool have_meter) {
        const char *known[ELEMENTSOF(netzero_keys) + 2];
        struct json_object *nz1 = get(get(root, "inverter"), "netzero"), *nz0 = get(root, "netzero");
        struct json_object *nz = nz1 ? nz1 : nz0, *out, *v;
        const char *path = nz1 ? "inverter.netzero" : "netzero";
        bool enabled = true;

        migrate_inverter_rest(m, get(root, "inverter"));
        if (nz1 && nz0)
                warn(m, "netzero", "dropped: inverter.netzero is used");
        if (!json_object_is_type(nz, json_type_object))
                return NULL;
        if (!(out = new_object(m)))
                return NULL;
        netzero_keys_known(nz1, known);
        drop_unknown(m, path, nz, known);
        if (!nz1 && json_object_is_type(v = get(nz0, "enabled"), json_type_boolean))
                enabled = json_object_get_boolean(v);
        if (enabled && !have_meter) {
                warn(m, path, "no consumption device was carried over: netzero disabled (set netzero.enabled to "
                              "true once a meter device is configured)");
                enabled = false;
        }
        put_new(m, out, "enabled", json_object_new_boolean(enabled));
        /* Required here; the earliest firmware had no such key and treated the meter as unsigned. */
        if (!get(nz, "signed")) {
                warn(m, path, "has no \"signed\": set false (the meter reports 0 during feed-in); say true if it "
                              "reports feed-in as negative power");
                put_new(m, out, "signed", json_object_new_boolean(false));
        }
        for (size_t i = 0; i < ELEMENTSOF(netzero_keys); i++)
                if ((v = get(nz, nz1 ? netzero_keys[i].v1 : netzero_keys[i].name)))
                        put(m, out, netzero_keys[i].name, v);
        /* The original firmware's loop; this daemon's default is "direct". */
        put_new(m, out, "algorithm", json_object_new_string("classic"));
        note(m, "netzero.algorithm", "\"classic\" behaves as the original firmware; \"direct\" is recommended");
        return out;
}

/* Which checks take a hysteresis, in the order of the configuration reference. */
static const struct {
        const char *name;
        bool hysteresis;
} supervisor_checks[] = {
        { "battery_offline", false },       { "cell_low", true },
        { "cell_high", true },              { "temp_low_charge", true },
        { "temp_low_discharge", true },     { "temp_high_charge", true },
        { "temp_high_discharge", true },    { "live_data_lost_charge", false },
        { "live_data_lost_discharge", false }, { "mqtt_offline", false },
};

/* 1.x: {threshold[, hysteresis]}, present = on. Before 1.0: with "enabled" as here. */
static struct json_object *migrate_check(struct migrate *m, const char *name, struct json_object *c, bool hyst) {
        static const char *const known[] = { "enabled", "threshold", "hysteresis", NULL };
        struct json_object *out, *v;
        char kp[128];

        snprintf(kp, sizeof(kp), "supervisor.%s", name);
        if (!json_object_is_type(c, json_type_object)) {
                warn(m, kp, "not an object, dropped (the check is off)");
                return NULL;
        }
        if (!(out = new_object(m)))
                return NULL;
        drop_unknown(m, kp, c, known);
        v = get(c, "enabled");
        if (v)
                put(m, out, "enabled", v);
        else
                put_new(m, out, "enabled", json_object_new_boolean(true));
        if ((v = get(c, "threshold")))
                put(m, out, "threshold", v);
        else
                warn(m, kp, "has no threshold: add one or remove the check");
        if ((v = get(c, "hysteresis")) && hyst)
                put(m, out, "hysteresis", v);
        else if (v)
                note(m, kp, "hysteresis dropped: this check takes none here");
        return out;
}

static struct json_object *migrate_supervisor(struct migrate *m, struct json_object *root) {
        const char *known[ELEMENTSOF(supervisor_checks) + 1];
        struct json_object *s = get(root, "supervisor"), *out = new_object(m), *c;

        if (!out)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(supervisor_checks); i++)
                known[i] = supervisor_checks[i].name;
        known[ELEMENTSOF(supervisor_checks)] = NULL;
        drop_unknown(m, "supervisor", s, known);
        for (size_t i = 0; i < ELEMENTSOF(supervisor_checks); i++)
                if ((c = get(s, supervisor_checks[i].name))) {
                        struct json_object *n = migrate_check(m, supervisor_checks[i].name, c,
                                                              supervisor_checks[i].hysteresis);
                        if (n)
                                put_new(m, out, supervisor_checks[i].name, n);
                }
        return out;
}

/* Same shape here; carried over only when this build's parser knows the section. */
static struct json_object *migrate_heater(struct migrate *m, struct json_object *root) {
        static const char *const known[] = { "activate", "deactivate", NULL };
        struct json_object *h = get(root, "heater"), *out, *v;

        if (!h)
                return NULL;
        if (!section_is_known("heater")) {
                warn(m, "heater", "this build has no heater support: dropped");
                return NULL;
        }
        if (!(out = new_object(m)))
                return NULL;
        drop_unknown(m, "heater", h, known);
        for (size_t i = 0; known[i]; i++)
                if ((v = get(h, known[i])))
                        put(m, out, known[i], v);
        return out;
}

/* Driver names of the firmware before 1.0 that 1.x renamed; the 1.x names this daemon renamed are the
 * registry's aliases (registry_alias_target()). */
static const struct {
        const char *old_name;
        const char *name;
} old_driver_names[] = {
        { "victronmppt", "victronMppt" },
        { "shelly", "shellyCharger" },
        { "ahoydtu", "ahoyDtu" },
};

/* The keys each driver of the original firmware takes that mean the same here (the same names); any other
 * key of a device is dropped with a warning. */
static const struct {
        const char *driver;
        const char *keys[6];
} driver_keys[] = {
        { "lltPowerBmsV4Ble", { "mac" } },
        { "daly8S24V60A", { "mac" } },
        { "jkBmsBd4", { "mac" } },
        { "pylonLv", { "port", "serial" } },
        { "genericSolar", { "port", "address", "current_range", "threshold" } },
        { "growattInverterModbus", { "port", "family", "address" } },
        { "victronMppt", { "port" } },
        { "mqttBattery", { "root_topic" } },
        { "mqttConsumption", { "topic" } },
        { "shellyCharger", { "host", "generation", "relay_id" } },
        { "shellyHeater", { "host", "generation", "relay_id" } },
        { "ahoyDtu", { "host", "id", "power_lut" } },
        { "openDtu", { "host", "password", "serial", "power_lut" } },
        { "httpConsumption", { "host", "query", "path", "interval", "factor" } },
};

static const char *current_driver_name(const char *old) {
        const char *target;

        for (size_t i = 0; i < ELEMENTSOF(old_driver_names); i++)
                if (strcmp(old_driver_names[i].old_name, old) == 0)
                        return old_driver_names[i].name;
        target = registry_alias_target(old);
        return target ? target : old;
}

static const char *const *keys_of(const char *driver) {
        for (size_t i = 0; i < ELEMENTSOF(driver_keys); i++)
                if (strcmp(driver_keys[i].driver, driver) == 0)
                        return driver_keys[i].keys;
        return NULL;
}

/* Names here are [A-Za-z0-9_-]{1,32}: others become '_', cut to 32; a name taken already gets "_2", ... */
static void new_device_name(struct json_object *devices, const char *name, char buf[static 33]) {
        size_t n = 0;

        for (const char *p = name; *p && n < 32; p++, n++)
                buf[n] = (isalnum((unsigned char) *p) && isascii((unsigned char) *p)) || *p == '-' ? *p : '_';
        if (n == 0)
                buf[n++] = '_';
        buf[n] = 0;
        for (unsigned k = 2; get(devices, buf) && k < 1000; k++) {
                char suffix[8];
                int len = snprintf(suffix, sizeof(suffix), "_%u", k);
                size_t base = n + (size_t) len > 32 ? 32 - (size_t) len : n;
                memcpy(buf + base, suffix, (size_t) len + 1);
        }
}

/* ext1/ext2 were the add-on board's serial ports; here a port is a device path. */
static void migrate_port(struct migrate *m, const char *dev, struct json_object *v, struct json_object *out) {
        char kp[128];

        snprintf(kp, sizeof(kp), "devices.%s.port", dev);
        for (size_t i = 0; i < MIGRATE_N_PORTS; i++) {
                if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), port_names[i]))
                        continue;
                if (m->o && m->o->ports[i]) {
                        note(m, kp, "%s is %s (--port)", port_names[i], m->o->ports[i]);
                        put_new(m, out, "port", json_object_new_string(m->o->ports[i]));
                } else {
                        warn(m, kp, "%s became %s: set the real device (/dev/serial/by-id/...), or use --port %s=PATH",
                             port_names[i], port_defaults[i], port_names[i]);
                        put_new(m, out, "port", json_object_new_string(port_defaults[i]));
                }
                return;
        }
        put(m, out, "port", v);
}

/* Counts for the binary sub-topics; without both, the device reads the JSON on root_topic only. */
static void migrate_mqtt_battery(struct migrate *m, const char *dev, struct json_object *old,
                                 struct json_object *out) {
        struct json_object *cells = get(old, "cells_count"), *temps = get(old, "temperature_count");
        char kp[128];

        if (!cells)
                cells = get(old, "cell_count");
        if (!cells && !temps)
                return;
        snprintf(kp, sizeof(kp), "devices.%s", dev);
        if (json_object_is_type(cells, json_type_int) && json_object_get_int(cells) >= 1 &&
            json_object_is_type(temps, json_type_int)) {
                put(m, out, "cells_count", cells);
                put(m, out, "temperature_count", temps);
                return;
        }
        note(m, kp, "cell and temperature counts dropped: the device reads the JSON messages on root_topic only");
}

static void migrate_device_keys(struct migrate *m, const char *name, const char *driver, struct json_object *old,
                                struct json_object *out) {
        static const char *const mqtt_battery_counts[] = { "driver", "cells_count", "cell_count",
                                                           "temperature_count", NULL };
        const char *const *keys = keys_of(driver);
        char kp[128];

        json_object_object_foreach(old, key, v) {
                snprintf(kp, sizeof(kp), "devices.%s.%s", name, key);
                if (strcmp(driver, "mqttBattery") == 0 && in_list(key, mqtt_battery_counts))
                        continue;
                if (strcmp(key, "driver") == 0)
                        continue;
                if (keys && !in_list(key, keys)) {
                        warn(m, kp, "not used by this daemon, dropped");
                        continue;
                }
                if (strcmp(key, "port") == 0)
                        migrate_port(m, name, v, out);
                else
                        put(m, out, key, v);
        }
        if (strcmp(driver, "mqttBattery") == 0)
                migrate_mqtt_battery(m, name, old, out);
        if (strcmp(driver, "victronMppt") == 0) {
                put_new(m, out, "control", json_object_new_string("none"));
                snprintf(kp, sizeof(kp), "devices.%s.control", name);
                warn(m, kp, "\"none\": the original switched the charger through a GPIO of its add-on board; choose "
                            "\"hex\" (VE.Direct commands) or {\"gpio\": ...}, see configuration.md");
        }
}

/* One device: dropped with a warning when this build has no such driver. */
static void migrate_device(struct migrate *m, const char *old_name, struct json_object *old,
                               struct json_object *devices) {
        struct json_object *drv = get(old, "driver"), *out;
        const struct driver *d;
        char name[33], kp[128];

        snprintf(kp, sizeof(kp), "devices.%s", old_name);
        if (!json_object_is_type(drv, json_type_string)) {
                warn(m, kp, "has no driver name: dropped");
                return;
        }
        const char *old_driver = json_object_get_string(drv), *driver = current_driver_name(old_driver);
        if (!(d = registry_find(driver))) {
                warn(m, kp, "driver %s is not in this build: device dropped", old_driver);
                return;
        }
        new_device_name(devices, old_name, name);
        if (strcmp(name, old_name) != 0)
                warn(m, kp, "renamed to %s: names here are 1-32 of A-Z a-z 0-9 _ - (its MQTT topics change)", name);
        if (strcmp(driver, old_driver) != 0)
                note(m, kp, "driver %s is now called %s", old_driver, driver);
        if (!(out = new_object(m)))
                return;
        put_new(m, out, "driver", json_object_new_string(d->name));
        migrate_device_keys(m, name, d->name, old, out);
        char why[512];
        int r = migrate_bus_add(&m->bus, name, d, out, why, sizeof(why));
        if (r != 0) {
                if (r < 0)
                        m->oom = true;
                else
                        warn(m, kp, "%s: device dropped (one RS485 bus carries one protocol and speed here; give it "
                                    "its own adapter and add it again)", why);
                json_object_put(out);
                return;
        }
        put_new(m, devices, name, out);
}

/* Before 1.0 the meter's topic was mqtt.live_consumption_topic: here it is a device. */
static void migrate_meter_topic(struct migrate *m, struct json_object *root, struct json_object *devices) {
        struct json_object *t = get(get(root, "mqtt"), "live_consumption_topic"), *dev;
        char name[33];

        if (!t || is_empty_string(t))
                return;
        if (!(dev = new_object(m)))
                return;
        new_device_name(devices, "meter", name);
        put_new(m, dev, "driver", json_object_new_string("mqttConsumption"));
        put(m, dev, "topic", t);
        put_new(m, devices, name, dev);
        note(m, "mqtt.live_consumption_topic", "now the device devices.%s (mqttConsumption)", name);
}

/* Whether a consumption device will be carried over, asked before the sections are printed in order. */
static bool meter_carried_over(struct json_object *root) {
        struct json_object *t = get(get(root, "mqtt"), "live_consumption_topic");

        if (t && !is_empty_string(t))
                return true;
        if (!json_object_is_type(get(root, "devices"), json_type_object))
                return false;
        json_object_object_foreach(get(root, "devices"), name, dev) {
                struct json_object *drv = get(dev, "driver");
                const struct driver *d;
                (void) name;
                if (json_object_is_type(drv, json_type_string) &&
                    (d = registry_find(current_driver_name(json_object_get_string(drv)))) &&
                    d->classes & CLASS_BIT(DEVICE_CLASS_CONSUMPTION))
                        return true;
        }
        return false;
}

static struct json_object *migrate_devices(struct migrate *m, struct json_object *root) {
        struct json_object *devs = get(root, "devices"), *out = new_object(m);

        if (!out)
                return NULL;
        if (devs && !json_object_is_type(devs, json_type_object))
                warn(m, "devices", "not an object: dropped");
        else if (devs) {
                json_object_object_foreach(devs, name, dev) {
                        migrate_device(m, name, dev, out);
                }
        }
        migrate_meter_topic(m, root, out);
        return out;
}

static int migrate_root(struct migrate *m, struct json_object *root, FILE *out) {
        static const char *const known[] = { "general", "network", "mqtt", "logging", "inverter", "netzero",
                                             "heater", "supervisor", "devices", NULL };
        _cleanup_(json_object_putp) struct json_object *res = json_object_new_object();
        if (!res)
                return EXIT_FAILURE;
        drop_unknown(m, "", root, known);
        if (get(root, "network"))
                note(m, "network", "dropped: the operating system manages Wi-Fi and time");
        put_section(m, res, "general", migrate_general(m, root));
        put_section(m, res, "mqtt", migrate_mqtt(m, root));
        put_section(m, res, "logging", migrate_logging(m, root));
        put_section(m, res, "netzero", migrate_netzero(m, root, meter_carried_over(root)));
        put_section(m, res, "supervisor", migrate_supervisor(m, root));
        put_section(m, res, "heater", migrate_heater(m, root));
        put_section(m, res, "devices", migrate_devices(m, root));
        if (m->oom)
                return EXIT_FAILURE;
        const char *s = json_object_to_json_string_ext(
                res, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s || fprintf(out, "%s\n", s) < 0 || fflush(out) != 0)
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}

int migrate_parse_port(struct migrate_options *o, const char *arg) {
        const char *eq = strchr(arg, '=');

        if (!eq || eq[1] != '/')
                return -EINVAL;
        for (size_t i = 0; i < MIGRATE_N_PORTS; i++)
                if (strlen(port_names[i]) == (size_t) (eq - arg) && strncmp(arg, port_names[i], eq - arg) == 0) {
                        o->ports[i] = eq + 1;
                        return 0;
                }
        return -EINVAL;
}

int migrate_text(const char *text, size_t size, const struct migrate_options *o, FILE *out, FILE *err) {
        struct migrate m = { .o = o, .err = err };
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        struct json_tokener *tok;

        if (memchr(text, 0, size)) {
                fprintf(err, "error: the file contains a NUL byte: not JSON\n");
                return EX_CONFIG;
        }
        if (!(tok = json_tokener_new()))
                return EXIT_FAILURE;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, text, (int) size);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (e == json_tokener_success)
                for (size_t i = end; i < size && e == json_tokener_success; i++)
                        if (!isspace((unsigned char) text[i]))
                                e = json_tokener_error_parse_unexpected;
        if (e != json_tokener_success) {
                fprintf(err, "error: not JSON: %s\n",
                        json_tokener_error_desc(e == json_tokener_continue ? json_tokener_error_parse_eof : e));
                return EX_CONFIG;
        }
        if (!json_object_is_type(root, json_type_object)) {
                fprintf(err, "error: expected a JSON object at the top level\n");
                return EX_CONFIG;
        }
        int r = migrate_root(&m, root, out);
        migrate_bus_done(&m.bus);
        return r;
}

int migrate_file(const char *path, const struct migrate_options *o, FILE *out, FILE *err) {
        _cleanup_free_ char *buf = NULL;
        size_t n;
        mode_t mode;
        int r;

        r = read_regular_file(path, MIGRATE_SIZE_MAX, &buf, &n, &mode);
        if (r == -ENOMEM)
                return EXIT_FAILURE;
        if (r == -EINVAL)
                fprintf(err, "error: %s: is %s, not a regular file\n", path, file_kind(mode));
        else if (r == -EFBIG)
                fprintf(err, "error: %s: too large for a configuration (more than 1 MiB)\n", path);
        else if (r < 0)
                fprintf(err, "error: %s: cannot read: %s\n", path, strerror(-r));
        if (r < 0)
                return EX_NOINPUT;
        return migrate_text(buf, n, o, out, err);
}
