/* SPDX-License-Identifier: MIT */
/* Loads /etc/homebattery/config.json: JSON parse errors with line and column,
 * then every section of spec/config.md validated into typed structs, then the
 * cross-section rules. All problems are collected and reported together. */

#include <arpa/inet.h>
#include <ctype.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "config-ctx.h"
#include "file-util.h"
#include "hb-build-config.h"
#include "homebattery/log.h"
#include "log-setup.h"
#include "registry.h"

#define CONFIG_SIZE_MAX (1024 * 1024)
/* The longest string MQTT carries (a two-byte length). */
#define MQTT_STRING_MAX 65535

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

static struct json_object *section(struct config_ctx *ctx, struct json_object *root, const char *key,
                                   bool required) {
        struct json_object *v;

        if (!json_object_object_get_ex(root, key, &v)) {
                if (required)
                        config_error(ctx, key, "required section is missing");
                return NULL;
        }
        if (!json_object_is_type(v, json_type_object)) {
                config_type_error(ctx, "", key, v, "an object");
                return NULL;
        }
        return v;
}

static void parse_general(struct config_ctx *ctx, struct json_object *o, struct config_general *g) {
        static const char *const keys[] = { "default_mode", "inverter_power", NULL };
        _cleanup_free_ char *mode = NULL;
        char shown[CONFIG_SHOW_SIZE];

        g->default_mode = MODE_IDLE;
        if (!o)
                return;
        config_check_keys(ctx, "general", o, keys);
        if (config_get_string(ctx, "general", o, "default_mode", false, "idle", &mode) >= 0 && mode) {
                enum mode m = mode_from_string(mode);
                if (m < 0)
                        config_error(ctx, "general.default_mode",
                                     "expected charge, discharge, idle or protect, got \"%s\"",
                                     config_show(shown, mode));
                else
                        g->default_mode = m;
        }
        if (json_object_object_get_ex(o, "inverter_power", NULL) &&
            config_get_int(ctx, "general", o, "inverter_power", false, 0, 0, 100000, &g->inverter_power_w) >= 0)
                g->has_inverter_power = true;
}

static int default_client_id(char **ret) {
        char host[HOST_NAME_MAX + 1] = "";

        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
                snprintf(host, sizeof(host), "unknown");
        return asprintf(ret, "homebattery-%s", host) < 0 ? -ENOMEM : 0;
}

static bool root_topic_is_valid(const char *s) {
        return mqtt_topic_is_valid(s) && strlen(s) <= 128;
}

/* libmosquitto refuses these at start (the daemon would exit 1 on every start): refuse them here. */
static void check_mqtt_strings(struct config_ctx *ctx, const struct config_mqtt *m) {
        if (m->client_id && (strlen(m->client_id) > MQTT_STRING_MAX || !mqtt_string_is_valid(m->client_id)))
                config_error(ctx, "mqtt.client_id",
                             "expected at most %d bytes without control characters", MQTT_STRING_MAX);
        if (m->user && (strlen(m->user) > MQTT_STRING_MAX || !mqtt_string_is_valid(m->user)))
                config_error(ctx, "mqtt.user", "expected at most %d bytes without control characters",
                             MQTT_STRING_MAX);
        if (m->password && strlen(m->password) > MQTT_STRING_MAX)
                config_error(ctx, "mqtt.password", "too long: at most %d bytes", MQTT_STRING_MAX);
}

static void parse_ha(struct config_ctx *ctx, struct json_object *o, struct config_mqtt *m) {
        static const char *const ha_keys[] = { "enabled", "prefix", NULL };
        char shown[CONFIG_SHOW_SIZE];
        struct json_object *ha;

        if (!json_object_object_get_ex(o, "homeassistant", &ha))
                return;
        if (!json_object_is_type(ha, json_type_object)) {
                config_type_error(ctx, "mqtt", "homeassistant", ha, "an object");
                return;
        }
        config_check_keys(ctx, "mqtt.homeassistant", ha, ha_keys);
        config_get_bool(ctx, "mqtt.homeassistant", ha, "enabled", false, true, &m->ha_enabled);
        if (config_get_string(ctx, "mqtt.homeassistant", ha, "prefix", false, "homeassistant", &m->ha_prefix) >= 0 &&
            m->ha_prefix && !root_topic_is_valid(m->ha_prefix))
                config_error(ctx, "mqtt.homeassistant.prefix", "not a valid topic prefix: \"%s\"",
                             config_show(shown, m->ha_prefix));
}

static void parse_mqtt(struct config_ctx *ctx, struct json_object *o, struct config_mqtt *m) {
        static const char *const keys[] = { "host", "ca", "tls_insecure", "user", "password", "root",
                                            "client_id", "json", "homeassistant", NULL };
        char shown[CONFIG_SHOW_SIZE];

        m->json = true;
        m->ha_enabled = true;
        if (!o)
                return;
        config_check_keys(ctx, "mqtt", o, keys);
        config_get_hostport(ctx, "mqtt", o, "host", true, &m->host, &m->port);
        config_get_file(ctx, "mqtt", o, "ca", false, &m->ca);
        config_get_bool(ctx, "mqtt", o, "tls_insecure", false, false, &m->tls_insecure);
        config_get_string(ctx, "mqtt", o, "user", false, NULL, &m->user);
        config_get_string(ctx, "mqtt", o, "password", false, NULL, &m->password);
        if (m->password && !m->user)
                config_error(ctx, "mqtt.password", "a password needs mqtt.user as well");
        if (m->tls_insecure && !json_object_object_get_ex(o, "ca", NULL))
                config_warning(ctx, "mqtt.tls_insecure", "has no effect without mqtt.ca (TLS is off)");
        if (config_get_string(ctx, "mqtt", o, "root", false, "homebattery", &m->root) >= 0 && m->root &&
            !root_topic_is_valid(m->root))
                config_error(ctx, "mqtt.root",
                             "expected a topic without '+', '#', '//', control characters and without a leading or "
                             "trailing '/', got \"%s\"",
                             config_show(shown, m->root));
        config_get_string(ctx, "mqtt", o, "client_id", false, NULL, &m->client_id);
        if (!m->client_id && default_client_id(&m->client_id) < 0)
                ctx->oom = true;
        check_mqtt_strings(ctx, m);
        config_get_bool(ctx, "mqtt", o, "json", false, true, &m->json);
        parse_ha(ctx, o, m);
        if (!m->ha_prefix && !(m->ha_prefix = strdup("homeassistant")))
                ctx->oom = true;
}

static void parse_logging(struct config_ctx *ctx, struct json_object *o, struct config_logging *l) {
        static const char *const keys[] = { "host", "ignore", "level", NULL };
        _cleanup_free_ char *level = NULL;
        char shown[CONFIG_SHOW_SIZE];
        struct json_object *ign;

        l->level = LOG_INFO;
        if (!o)
                return;
        config_check_keys(ctx, "logging", o, keys);
        config_get_hostport(ctx, "logging", o, "host", false, &l->host, &l->port);
        if (config_get_string(ctx, "logging", o, "level", false, "info", &level) >= 0 && level) {
                int lv = log_level_from_string(level);
                if (lv < 0)
                        config_error(ctx, "logging.level", "expected debug, info, warning or error, got \"%s\"",
                                     config_show(shown, level));
                else
                        l->level = lv;
        }
        if (json_object_object_get_ex(o, "ignore", &ign)) {
                if (!json_object_is_type(ign, json_type_array)) {
                        config_type_error(ctx, "logging", "ignore", ign, "a list of strings");
                        return;
                }
                size_t n = json_object_array_length(ign);
                l->ignore = calloc(n + 1, sizeof(char *));
                if (!l->ignore) {
                        ctx->oom = true;
                        return;
                }
                for (size_t i = 0; i < n; i++) {
                        struct json_object *e = json_object_array_get_idx(ign, i);
                        char kp[64];
                        snprintf(kp, sizeof(kp), "ignore[%zu]", i);
                        if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0) {
                                config_type_error(ctx, "logging", kp, e, "a non-empty string (a sender name)");
                                continue;
                        }
                        if (!(l->ignore[l->n_ignore++] = strdup(json_object_get_string(e))))
                                ctx->oom = true;
                }
        }
}

/* netzero.max_power and netzero.fallback (control.md, "Output cap" and "Meter fallback"). */
static void parse_netzero_limits(struct config_ctx *ctx, struct json_object *o, struct config_netzero *n) {
        static const char *const fb_keys[] = { "after", "power", NULL };
        struct json_object *fb;

        if (json_object_object_get_ex(o, "max_power", NULL) &&
            config_get_int(ctx, "netzero", o, "max_power", false, 0, 1, 100000, &n->max_power_w) >= 0)
                n->has_max_power = true;
        if (!json_object_object_get_ex(o, "fallback", &fb))
                return;
        if (!json_object_is_type(fb, json_type_object)) {
                config_type_error(ctx, "netzero", "fallback", fb, "an object");
                return;
        }
        config_check_keys(ctx, "netzero.fallback", fb, fb_keys);
        config_get_int(ctx, "netzero.fallback", fb, "after", false, NETZERO_FALLBACK_AFTER_S_DEFAULT, 5, 3600,
                       &n->fallback_after_s);
        config_get_int(ctx, "netzero.fallback", fb, "power", false, NETZERO_FALLBACK_POWER_W_DEFAULT, 0, 100000,
                       &n->fallback_power_w);
}

static void parse_netzero(struct config_ctx *ctx, struct json_object *o, struct config_netzero *n) {
        static const char *const keys[] = { "enabled", "signed", "evaluated_time_span", "maturity_time_span",
                                            "power_offset", "power_hysteresis", "power_change_upwards",
                                            "power_change_downwards", "algorithm", "max_power", "fallback", NULL };
        const struct netzero_config def = NETZERO_CONFIG_DEFAULTS;
        _cleanup_free_ char *alg = NULL;
        char shown[CONFIG_SHOW_SIZE];
        int span = (int) def.evaluated_time_span_s, maturity = (int) def.maturity_time_span_s;

        n->nz = def;
        n->fallback_after_s = NETZERO_FALLBACK_AFTER_S_DEFAULT;
        n->fallback_power_w = NETZERO_FALLBACK_POWER_W_DEFAULT;
        if (!o)
                return;
        n->present = true;
        config_check_keys(ctx, "netzero", o, keys);
        parse_netzero_limits(ctx, o, n);
        config_get_bool(ctx, "netzero", o, "enabled", true, false, &n->enabled);
        config_get_bool(ctx, "netzero", o, "signed", true, false, &n->nz.signed_meter);
        /* Values above 120 s are accepted (the original firmware did) but capped. */
        if (config_get_int(ctx, "netzero", o, "evaluated_time_span", false, span, 2, 3600, &span) >= 0 &&
            span > (int) NETZERO_TIME_SPAN_MAX_S)
                config_warning(ctx, "netzero.evaluated_time_span", "%d s is capped at %u s", span,
                               NETZERO_TIME_SPAN_MAX_S);
        n->nz.evaluated_time_span_s = (unsigned) span;
        config_get_int(ctx, "netzero", o, "maturity_time_span", false, maturity, 0, 3600, &maturity);
        n->nz.maturity_time_span_s = (unsigned) maturity;
        config_get_int(ctx, "netzero", o, "power_offset", false, def.power_offset_w, -10000, 10000,
                       &n->nz.power_offset_w);
        config_get_int(ctx, "netzero", o, "power_hysteresis", false, def.power_hysteresis_w, 0, 10000,
                       &n->nz.power_hysteresis_w);
        config_get_int(ctx, "netzero", o, "power_change_upwards", false, def.power_change_upwards_w, 1, 100000,
                       &n->nz.power_change_upwards_w);
        config_get_int(ctx, "netzero", o, "power_change_downwards", false, def.power_change_downwards_w, 1, 100000,
                       &n->nz.power_change_downwards_w);
        if (config_get_string(ctx, "netzero", o, "algorithm", false, netzero_algorithm_to_string(def.algorithm),
                              &alg) >= 0 &&
            alg) {
                enum netzero_algorithm a = netzero_algorithm_from_string(alg);
                if (a < 0) {
                        char known[128] = "";
                        size_t len = 0;
                        for (int i = 0; i < _NETZERO_ALGORITHM_MAX; i++)
                                len += (size_t) snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "",
                                                         netzero_algorithm_to_string((enum netzero_algorithm) i));
                        config_error(ctx, "netzero.algorithm", "unknown algorithm \"%s\" (known: %s)",
                                     config_show(shown, alg), known);
                } else
                        n->nz.algorithm = a;
        }
        /* Step limits not given are the algorithm's own (netzero.h). */
        netzero_config_default_steps(&n->nz, json_object_object_get_ex(o, "power_change_upwards", NULL),
                                     json_object_object_get_ex(o, "power_change_downwards", NULL));
}

enum check_unit { UNIT_SECONDS, UNIT_VOLT, UNIT_CELSIUS, UNIT_PERCENT, UNIT_AMPERE };

/* One supervisor check object: {"enabled", "threshold"[, "hysteresis"]}. */
static void parse_check(struct config_ctx *ctx, struct json_object *o, const char *name, enum check_unit unit,
                        bool hysteresis, struct supervisor_check_config *c) {
        static const char *const keys_h[] = { "enabled", "threshold", "hysteresis", NULL };
        static const char *const keys_t[] = { "enabled", "threshold", NULL };
        struct json_object *co;
        char path[64];
        double min, max, hmax;

        snprintf(path, sizeof(path), "supervisor.%s", name);
        if (!json_object_object_get_ex(o, name, &co))
                return;
        if (!json_object_is_type(co, json_type_object)) {
                config_type_error(ctx, "supervisor", name, co, "an object");
                return;
        }
        config_check_keys(ctx, path, co, hysteresis ? keys_h : keys_t);
        switch (unit) {
        case UNIT_SECONDS:
                min = 1, max = 86400, hmax = 0;
                break;
        case UNIT_VOLT:
                min = 1.0, max = 5.0, hmax = 1.0;
                break;
        case UNIT_PERCENT:
                min = 0, max = 100, hmax = 50;
                break;
        case UNIT_AMPERE:
                min = 0.1, max = 2000, hmax = 1000;
                break;
        default:
                min = -40, max = 100, hmax = 50;
                break;
        }
        config_get_bool(ctx, path, co, "enabled", true, false, &c->enabled);
        /* A disabled check needs no threshold: {"enabled": false} says it all. */
        config_get_double(ctx, path, co, "threshold", c->enabled, 0, min, max, &c->threshold);
        if (hysteresis)
                config_get_double(ctx, path, co, "hysteresis", false, 0, 0, hmax, &c->hysteresis);
}

static void parse_supervisor(struct config_ctx *ctx, struct json_object *o, struct supervisor_config *s) {
        static const struct {
                enum lock_id id;
                enum check_unit unit;
                bool hysteresis;
        } checks[] = {
                { LOCK_BATTERY_OFFLINE, UNIT_SECONDS, false },
                { LOCK_CELL_LOW, UNIT_VOLT, true },
                { LOCK_CELL_HIGH, UNIT_VOLT, true },
                { LOCK_TEMP_LOW_CHARGE, UNIT_CELSIUS, true },
                { LOCK_TEMP_LOW_DISCHARGE, UNIT_CELSIUS, true },
                { LOCK_TEMP_HIGH_CHARGE, UNIT_CELSIUS, true },
                { LOCK_TEMP_HIGH_DISCHARGE, UNIT_CELSIUS, true },
                { LOCK_LIVE_DATA_LOST_CHARGE, UNIT_SECONDS, false },
                { LOCK_LIVE_DATA_LOST_DISCHARGE, UNIT_SECONDS, false },
                { LOCK_MQTT_OFFLINE, UNIT_SECONDS, false },
                { LOCK_SOC_LOW, UNIT_PERCENT, true },
                { LOCK_SOC_HIGH, UNIT_PERCENT, true },
                { LOCK_CURRENT_CHARGE, UNIT_AMPERE, true },
        };
        const char *allowed[ELEMENTSOF(checks) + 2];

        *s = (struct supervisor_config) {};
        if (!o)
                return;
        for (size_t i = 0; i < ELEMENTSOF(checks); i++)
                allowed[i] = lock_to_string(checks[i].id);
        allowed[ELEMENTSOF(checks)] = "current_discharge";
        allowed[ELEMENTSOF(checks) + 1] = NULL;
        config_check_keys(ctx, "supervisor", o, allowed);

        for (size_t i = 0; i < ELEMENTSOF(checks); i++)
                parse_check(ctx, o, lock_to_string(checks[i].id), checks[i].unit, checks[i].hysteresis,
                            &s->checks[checks[i].id]);
        parse_check(ctx, o, "current_discharge", UNIT_AMPERE, true, &s->current_discharge);

        const struct supervisor_check_config *lo = &s->checks[LOCK_CELL_LOW], *hi = &s->checks[LOCK_CELL_HIGH];
        if (lo->enabled && hi->enabled && lo->threshold >= hi->threshold)
                config_error(ctx, "supervisor.cell_low.threshold", "must be below supervisor.cell_high.threshold");
        lo = &s->checks[LOCK_SOC_LOW], hi = &s->checks[LOCK_SOC_HIGH];
        if (lo->enabled && hi->enabled && lo->threshold >= hi->threshold)
                config_error(ctx, "supervisor.soc_low.threshold", "must be below supervisor.soc_high.threshold");
}

static void parse_bluetooth(struct config_ctx *ctx, struct json_object *o, char **adapter) {
        static const char *const keys[] = { "adapter", NULL };
        char shown[CONFIG_SHOW_SIZE];

        if (o) {
                config_check_keys(ctx, "bluetooth", o, keys);
                if (config_get_string(ctx, "bluetooth", o, "adapter", false, "hci0", adapter) >= 0 && *adapter) {
                        const char *a = *adapter;
                        bool ok = strncmp(a, "hci", 3) == 0 && a[3] && strlen(a) <= 6;
                        for (const char *p = a + 3; ok && *p; p++)
                                ok = isdigit((unsigned char) *p);
                        if (!ok)
                                config_error(ctx, "bluetooth.adapter", "expected an adapter name like hci0, got \"%s\"",
                                             config_show(shown, a));
                }
        }
        if (!*adapter && !(*adapter = strdup("hci0")))
                ctx->oom = true;
}

static void parse_http(struct config_ctx *ctx, struct json_object *o, struct config_http *h) {
        static const char *const keys[] = { "listen", "token", NULL };

        if (!o)
                return;
        h->enabled = true;
        config_check_keys(ctx, "http", o, keys);
        if (config_get_hostport(ctx, "http", o, "listen", false, &h->listen_host, &h->listen_port) >= 0 &&
            h->listen_host) {
                /* The server binds before the loop runs and does not resolve names (http.c): a name would
                 * fail every start. */
                unsigned char addr[sizeof(struct in6_addr)];
                if (strcmp(h->listen_host, "localhost") != 0 && inet_pton(AF_INET, h->listen_host, addr) != 1 &&
                    inet_pton(AF_INET6, h->listen_host, addr) != 1)
                        config_error(ctx, "http.listen", "expected an IP address or localhost, not a name (names "
                                                         "are not resolved)");
                else if (h->listen_port < 1024)
                        config_warning(ctx, "http.listen", "port %u needs CAP_NET_BIND_SERVICE, which the shipped "
                                                           "systemd unit does not grant",
                                       h->listen_port);
        }
        if (!h->listen_host) {
                if (!(h->listen_host = strdup("127.0.0.1")))
                        ctx->oom = true;
                h->listen_port = 8080;
        }
        if (config_get_string(ctx, "http", o, "token", false, NULL, &h->token) >= 0 && h->token &&
            strlen(h->token) < 16)
                config_error(ctx, "http.token", "too short: use at least 16 characters");
}

bool device_name_is_valid(const char *name) {
        size_t len = strlen(name);
        if (len == 0 || len > 32)
                return false;
        for (const char *p = name; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-')
                        return false;
        return true;
}

static void parse_devices(struct config_ctx *ctx, struct json_object *o, struct config *c) {
        if (!o)
                return;
        size_t n = (size_t) json_object_object_length(o);
        c->devices = calloc(n ? n : 1, sizeof(struct config_device));
        if (!c->devices) {
                ctx->oom = true;
                return;
        }
        json_object_object_foreach(o, name, dev) {
                char path[64], shown[CONFIG_SHOW_SIZE];
                struct json_object *drv;

                if (!device_name_is_valid(name)) {
                        config_error(ctx, "devices", "invalid device name \"%s\": expected 1-32 of A-Z a-z 0-9 _ -",
                                     config_show(shown, name));
                        continue;
                }
                snprintf(path, sizeof(path), "devices.%s", name);
                if (!json_object_is_type(dev, json_type_object)) {
                        config_type_error(ctx, "devices", name, dev, "an object with a \"driver\" key");
                        continue;
                }
                if (!json_object_object_get_ex(dev, "driver", &drv)) {
                        config_error(ctx, path, "required key \"driver\" is missing");
                        continue;
                }
                if (!json_object_is_type(drv, json_type_string)) {
                        config_type_error(ctx, path, "driver", drv, "a driver name (string)");
                        continue;
                }
                const struct driver *d = registry_find(json_object_get_string(drv));
                if (!d) {
                        char known[512], kp[96];
                        registry_list(known, sizeof(known));
                        snprintf(kp, sizeof(kp), "%s.driver", path);
                        config_error(ctx, kp, "unknown driver \"%s\" (known: %s)",
                                     config_show(shown, json_object_get_string(drv)), known);
                        continue;
                }
                if (registry_alias_target(json_object_get_string(drv)))
                        config_note(ctx, path, "driver %s is now called %s", json_object_get_string(drv), d->name);
                struct config_device *cd = &c->devices[c->n_devices];
                void *dc = NULL;
                int k = d->parse_config(ctx, path, dev, &dc);
                if (k == -ENOMEM)
                        ctx->oom = true;
                if (k < 0 || !dc) {
                        /* A driver that refused without saying why still fails the file. */
                        if (!ctx->failed && !ctx->oom)
                                config_error(ctx, path, "invalid device configuration");
                        if (d->free_config)
                                d->free_config(dc);
                        continue;
                }
                cd->driver = d;
                cd->driver_config = dc;
                if (!(cd->name = strdup(name))) {
                        ctx->oom = true;
                        d->free_config(dc);
                        continue;
                }
                c->n_devices++;
        }
}

size_t config_count_class(const struct config *c, enum device_class cls) {
        size_t n = 0;
        for (size_t i = 0; i < c->n_devices; i++)
                if (c->devices[i].driver->classes & CLASS_BIT(cls))
                        n++;
        return n;
}

/* json-c reports the byte offset of a parse error; users want line:column. */
static void offset_to_line_col(const char *text, size_t offset, unsigned *line, unsigned *col) {
        *line = 1;
        *col = 1;
        for (size_t i = 0; i < offset && text[i]; i++) {
                if (text[i] == '\n') {
                        (*line)++;
                        *col = 1;
                } else
                        (*col)++;
        }
}

const char *config_data_dir(void) {
        /* The override is for a tree installed under another root (the install-path test, a package being
         * checked before it is installed); an empty value means the built-in place. */
        const char *e = getenv("HOMEBATTERY_DATADIR");
        return e && *e ? e : HB_DATA_DIR;
}

static int make_dir(const char *path, char **ret) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        *ret = strdup(dirname(copy));
        return *ret ? 0 : -ENOMEM;
}

static void too_large(struct config_ctx *ctx, unsigned long long size) {
        config_error(ctx, "", "too large (%llu bytes): a configuration file is at most 1 MiB (%d bytes)", size,
                     CONFIG_SIZE_MAX);
}

const char *const config_top_level_keys[] = { "general", "mqtt", "logging", "netzero", "supervisor",
                                              "bluetooth", "http", "devices", "heater", "network", NULL };

int config_parse(const char *path, const char *text, size_t size, struct config **ret,
                 struct config_errors *errors) {
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        struct json_tokener *tok;
        struct config *c;
        int r;

        struct config_ctx ctx = { .file = path, .errors = errors };

        if (size > CONFIG_SIZE_MAX) {
                too_large(&ctx, size);
                return -EINVAL;
        }
        if (memchr(text, 0, size)) {
                config_error(&ctx, "", "the file contains a NUL byte: not a JSON text file");
                return -EINVAL;
        }

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, text, (int) size);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        if (jerr == json_tokener_continue)
                jerr = json_tokener_error_parse_eof;
        else if (jerr == json_tokener_success) {
                /* Anything but white space after the document is an error too. */
                for (size_t i = end; i < size; i++)
                        if (!isspace((unsigned char) text[i])) {
                                jerr = json_tokener_error_parse_unexpected;
                                end = i;
                                break;
                        }
        }
        json_tokener_free(tok);
        if (jerr != json_tokener_success) {
                unsigned line, col;
                char where[64];
                offset_to_line_col(text, end, &line, &col);
                snprintf(where, sizeof(where), "%u:%u", line, col);
                config_error(&ctx, where, "parse error: %s", json_tokener_error_desc(jerr));
                return -EINVAL;
        }
        if (!json_object_is_type(root, json_type_object)) {
                config_error(&ctx, "", "expected a JSON object at the top level");
                return -EINVAL;
        }
        /* A duplicate key or a broken string means json-c's tree is not what the user wrote: stop here, as
         * after a parse error, rather than validate values the user did not mean. */
        r = config_json_check(&ctx, text, size, root);
        if (r == -ENOMEM)
                return r;
        if (ctx.failed)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        if (!(c->path = strdup(path)) || make_dir(path, &c->dir) < 0) {
                config_free(c);
                return -ENOMEM;
        }
        ctx.dir = c->dir;
        ctx.data_dir = config_data_dir();

        config_check_keys(&ctx, "", root, config_top_level_keys);
        if (json_object_object_get_ex(root, "network", NULL))
                config_warning(&ctx, "network", "ignored: the operating system manages Wi-Fi and time");
        parse_general(&ctx, section(&ctx, root, "general", false), &c->general);
        parse_mqtt(&ctx, section(&ctx, root, "mqtt", true), &c->mqtt);
        parse_logging(&ctx, section(&ctx, root, "logging", false), &c->logging);
        parse_netzero(&ctx, section(&ctx, root, "netzero", false), &c->netzero);
        parse_supervisor(&ctx, section(&ctx, root, "supervisor", false), &c->supervisor);
        parse_bluetooth(&ctx, section(&ctx, root, "bluetooth", false), &c->bluetooth_adapter);
        parse_http(&ctx, section(&ctx, root, "http", false), &c->http);
        parse_devices(&ctx, section(&ctx, root, "devices", false), c);
        config_parse_heater(&ctx, root, c);
        /* Rules across sections and devices: only once every section is valid on its own. */
        if (!ctx.failed)
                config_check_rules(&ctx, c);

        if (ctx.oom) {
                config_free(c);
                return -ENOMEM;
        }
        r = ctx.failed ? -EINVAL : 0;
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

int config_load(const char *path, struct config **ret, struct config_errors *errors) {
        struct config_ctx ctx = { .file = path, .errors = errors };
        _cleanup_free_ char *buf = NULL;
        size_t n;
        mode_t mode;
        int r;

        r = read_regular_file(path, CONFIG_SIZE_MAX, &buf, &n, &mode);
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                too_large(&ctx, (unsigned long long) n);
        else if (r == -EINVAL)
                config_error(&ctx, "", "is %s, not a regular file", file_kind(mode));
        else if (r == -EACCES)
                /* The usual cause: a normal user checks the 0640 root:homebattery file. */
                config_error(&ctx, "", "cannot open: %s (the file is meant to be read by the service user: "
                             "sudo -u homebattery homebattery --check-config --config %s)", strerror(-r), path);
        else if (r < 0)
                config_error(&ctx, "", "cannot open: %s", strerror(-r));
        if (r < 0)
                return r;
        return config_parse(path, buf, n, ret, errors);
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

struct config *config_free(struct config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->dir);
        free(c->mqtt.host);
        free(c->mqtt.ca);
        free(c->mqtt.user);
        free(c->mqtt.password);
        free(c->mqtt.root);
        free(c->mqtt.client_id);
        free(c->mqtt.ha_prefix);
        free(c->logging.host);
        strv_free(c->logging.ignore, c->logging.n_ignore);
        free(c->bluetooth_adapter);
        free(c->http.listen_host);
        free(c->http.token);
        for (size_t i = 0; i < c->n_devices; i++) {
                free(c->devices[i].name);
                c->devices[i].driver->free_config(c->devices[i].driver_config);
        }
        free(c->devices);
        free(c);
        return NULL;
}

void config_errors_done(struct config_errors *e) {
        strv_free(e->lines, e->n);
        strv_free(e->warnings, e->n_warnings);
        strv_free(e->notes, e->n_notes);
        *e = (struct config_errors) {};
}
