/* SPDX-License-Identifier: MIT */
/* Unit tests of the configuration (spec/config.md, drivers.md): typed values and defaults of valid files,
 * a table of broken files and the error line each must produce, secrets, and the pure string helpers. */

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
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config-test.h"
#include "drivers/ble-battery.h"
#include "drivers/dtu-config.h"
#include "drivers.h"
#include "registry.h"

/* The files the configs below refer to by relative name; they live in a temp dir next to the config path. */
static char tmpdir[] = "/tmp/hb-test-config-XXXXXX";
static char cfg_path[PATH_MAX];
static const char *const tmp_files[] = { "lut.csv", "empty.csv", "ca.pem", "share/lut.csv", "share/shipped.csv",
                                          NULL };

static void write_file(const char *name, const char *text) {
        char p[PATH_MAX];
        FILE *f;

        snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
        f = fopen(p, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static int group_setup(void **state) {
        (void) state;

        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", tmpdir);
        write_file("lut.csv", "# HM-600\n2;30\n50;300\n100;600\n");
        write_file("empty.csv", "# percent;watt\nnothing here\n");
        write_file("ca.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        return 0;
}

static int group_teardown(void **state) {
        char p[PATH_MAX];

        (void) state;
        for (const char *const *f = tmp_files; *f; f++) {
                snprintf(p, sizeof(p), "%s/%s", tmpdir, *f);
                (void) unlink(p);
        }
        snprintf(p, sizeof(p), "%s/share", tmpdir);
        (void) rmdir(p);
        return rmdir(tmpdir) < 0 ? -1 : 0;
}

/* ---- helpers ---- */

static int parse_at(const char *path, const char *text, struct config **ret, struct config_errors *e) {
        *ret = NULL;
        *e = (struct config_errors) {};
        return config_parse(path, text, strlen(text), ret, e);
}

static int parse(const char *text, struct config **ret, struct config_errors *e) {
        return parse_at(cfg_path, text, ret, e);
}

/* Every line starts with "<path>:" (spec: every error names the file). */
static bool lines_start_with_path(char *const *lines, size_t n, const char *path) {
        size_t len = strlen(path);
        for (size_t i = 0; i < n; i++)
                if (strncmp(lines[i], path, len) != 0 || lines[i][len] != ':')
                        return false;
        return true;
}

static bool any_line_contains(const struct config_errors *e, const char *s) {
        return find_line(e->lines, e->n, s, NULL) || find_line(e->warnings, e->n_warnings, s, NULL);
}

static struct config *parse_valid(const char *text) {
        struct config_errors e;
        struct config *c = NULL;
        int r = parse(text, &c, &e);
        if (r != 0 || e.n != 0) {
                print_message("  config_parse() = %d for:\n%s\n", r, text);
                dump(&e);
        }
        assert_int_equal(r, 0);
        assert_int_equal(e.n, 0);
        assert_non_null(c);
        config_errors_done(&e);
        return c;
}

static const struct config_device *find_device(const struct config *c, const char *name) {
        for (size_t i = 0; i < c->n_devices; i++)
                if (strcmp(c->devices[i].name, name) == 0)
                        return &c->devices[i];
        return NULL;
}

/* cmocka 1.1.5 has no assert_double_equal(). */
#define assert_near(a, b) assert_near_impl((a), (b), #a, __FILE__, __LINE__)
static void assert_near_impl(double a, double b, const char *expr, const char *file, int line) {
        if (a - b > 1e-9 || b - a > 1e-9) {
                print_message("%s:%d: %s = %g, want %g\n", file, line, expr, a, b);
                fail();
        }
}

static bool ends_with(const char *s, const char *suffix) {
        size_t ls = strlen(s), lx = strlen(suffix);
        return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* ---- building blocks of the config texts ---- */

#define MQ "\"mqtt\": {\"host\": \"broker.example:1883\"}"
#define CFG(rest) "{" MQ ", " rest "}"
#define DEVICES(d) CFG("\"devices\": {" d "}")
#define DEV(d) DEVICES("\"d1\": " d)
/* An inverter needs general.inverter_power when netzero is off. */
#define INV_DEV(d) CFG("\"general\": {\"inverter_power\": 300}, \"devices\": {\"d1\": " d "}")
#define SUP(checks) CFG("\"supervisor\": {" checks "}")
#define NZ(extra) CFG("\"netzero\": {\"enabled\": false, \"signed\": true" extra "}")
#define MQTT(keys) "{\"mqtt\": {\"host\": \"broker.example:1883\"" keys "}}"
#define LLT(extra) DEV("{\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"aa:bb:cc:dd:ee:ff\"" extra "}")
#define DALY(extra) DEV("{\"driver\": \"daly8S24V60A\", \"mac\": \"aa:bb:cc:dd:ee:ff\"" extra "}")
#define JK(extra) DEV("{\"driver\": \"jkBmsBd4\", \"mac\": \"c8:47:8c:00:00:03\"" extra "}")
#define MB(extra) \
        DEV("{\"driver\": \"mqttBattery\", \"root_topic\": \"other/bat/dev/bat1\", \"temperature_count\": 2" \
            extra "}")
#define VIC(extra) DEV("{\"driver\": \"victronMppt\", \"port\": \"/dev/null\"" extra "}")
#define SHELLY(extra) DEV("{\"driver\": \"shellyCharger\", \"host\": \"192.168.1.21:80\"" extra "}")
#define AHOY(extra) \
        INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"192.168.1.22:80\", \"id\": 0, \"power_lut\": \"lut.csv\"" \
                extra "}")
#define ODTU(extra) \
        INV_DEV("{\"driver\": \"openDtu\", \"host\": \"192.168.1.23:80\", \"serial\": \"114182912345\", " \
                "\"power_lut\": \"lut.csv\"" extra "}")
#define MC(extra) DEV("{\"driver\": \"mqttConsumption\", \"topic\": \"meter/power\"" extra "}")
#define CONSUMER "\"meter\": {\"driver\": \"mqttConsumption\", \"topic\": \"meter/power\"}"
#define INVERTER \
        "\"inv\": {\"driver\": \"ahoyDtu\", \"host\": \"192.168.1.22:80\", \"id\": 1, \"power_lut\": \"lut.csv\"}"

#define NAME33 "abcdefghijklmnopqrstuvwxyz0123456"
#define NAME32 "abcdefghijklmnopqrstuvwxyz012345"

/* ---- valid minimal config: every default ---- */

static void test_minimal_defaults(void **state) {
        struct config *c;

        (void) state;
        c = parse_valid("{\"mqtt\": {\"host\": \"broker.local:1883\"}}");

        assert_string_equal(c->path, cfg_path);
        assert_string_equal(c->dir, tmpdir);
        /* general */
        assert_int_equal(c->general.default_mode, MODE_IDLE);
        assert_false(c->general.has_inverter_power);
        /* mqtt */
        assert_string_equal(c->mqtt.host, "broker.local");
        assert_int_equal(c->mqtt.port, 1883);
        assert_null(c->mqtt.ca);
        assert_false(c->mqtt.tls_insecure);
        assert_null(c->mqtt.user);
        assert_null(c->mqtt.password);
        assert_string_equal(c->mqtt.root, "homebattery");
        assert_non_null(c->mqtt.client_id);
        assert_int_equal(strncmp(c->mqtt.client_id, "homebattery-", 12), 0);
        assert_true(strlen(c->mqtt.client_id) > 12);
        assert_true(c->mqtt.json);
        assert_true(c->mqtt.ha_enabled);
        assert_string_equal(c->mqtt.ha_prefix, "homeassistant");
        /* logging */
        assert_null(c->logging.host);
        assert_int_equal(c->logging.n_ignore, 0);
        assert_int_equal(c->logging.level, LOG_INFO);
        /* netzero: absent = disabled, defaults in place */
        assert_false(c->netzero.present);
        assert_false(c->netzero.enabled);
        assert_int_equal(c->netzero.nz.evaluated_time_span_s, 30);
        assert_int_equal(c->netzero.nz.maturity_time_span_s, 15);
        assert_int_equal(c->netzero.nz.power_offset_w, 10);
        assert_int_equal(c->netzero.nz.power_hysteresis_w, 5);
        assert_int_equal(c->netzero.nz.power_change_upwards_w, NETZERO_DIRECT_CHANGE_UPWARDS_W);
        assert_int_equal(c->netzero.nz.power_change_downwards_w, NETZERO_DIRECT_CHANGE_DOWNWARDS_W);
        assert_int_equal(c->netzero.nz.algorithm, NETZERO_ALGORITHM_DIRECT);
        /* supervisor: an absent check is disabled */
        for (int i = 0; i < _LOCK_MAX; i++)
                assert_false(c->supervisor.checks[i].enabled);
        /* bluetooth, http, devices */
        assert_string_equal(c->bluetooth_adapter, "hci0");
        assert_false(c->http.enabled);
        assert_int_equal(c->n_devices, 0);
        config_free(c);
}

/* Step limits not given are the algorithm's own; one given is kept, the other still defaults. */
static void test_netzero_step_defaults(void **state) {
        struct config *c;

        (void) state;
        c = parse_valid("{\"mqtt\": {\"host\": \"10.0.0.1:1883\"}, \"netzero\": {\"enabled\": false,"
                        " \"signed\": true, \"algorithm\": \"classic\"}}");
        assert_int_equal(c->netzero.nz.algorithm, NETZERO_ALGORITHM_CLASSIC);
        assert_int_equal(c->netzero.nz.power_change_upwards_w, NETZERO_CLASSIC_CHANGE_UPWARDS_W);
        assert_int_equal(c->netzero.nz.power_change_downwards_w, NETZERO_CLASSIC_CHANGE_DOWNWARDS_W);
        config_free(c);
        c = parse_valid("{\"mqtt\": {\"host\": \"10.0.0.1:1883\"}, \"netzero\": {\"enabled\": false,"
                        " \"signed\": true, \"algorithm\": \"direct\","
                        " \"power_change_upwards\": 150}}");
        assert_int_equal(c->netzero.nz.algorithm, NETZERO_ALGORITHM_DIRECT);
        assert_int_equal(c->netzero.nz.power_change_upwards_w, 150);
        assert_int_equal(c->netzero.nz.power_change_downwards_w, NETZERO_DIRECT_CHANGE_DOWNWARDS_W);
        config_free(c);
        c = parse_valid("{\"mqtt\": {\"host\": \"10.0.0.1:1883\"}, \"netzero\": {\"enabled\": false,"
                        " \"signed\": true, \"power_change_downwards\": 30}}");
        assert_int_equal(c->netzero.nz.algorithm, NETZERO_ALGORITHM_DIRECT);
        assert_int_equal(c->netzero.nz.power_change_upwards_w, NETZERO_DIRECT_CHANGE_UPWARDS_W);
        assert_int_equal(c->netzero.nz.power_change_downwards_w, 30);
        config_free(c);
        /* The algorithm's own limits differ, or the test shows nothing. */
        assert_int_not_equal(NETZERO_DIRECT_CHANGE_UPWARDS_W, NETZERO_CLASSIC_CHANGE_UPWARDS_W);
        assert_int_not_equal(NETZERO_DIRECT_CHANGE_DOWNWARDS_W, NETZERO_CLASSIC_CHANGE_DOWNWARDS_W);
}

static void test_section_defaults(void **state) {
        struct config *c;

        (void) state;
        /* Sections present but (almost) empty: their defaults apply. */
        c = parse_valid("{\"mqtt\": {\"host\": \"10.0.0.1:8883\", \"homeassistant\": {}}, \"general\": {},"
                        " \"logging\": {}, \"netzero\": {\"enabled\": false, \"signed\": false},"
                        " \"supervisor\": {}, \"bluetooth\": {}, \"http\": {}, \"devices\": {}}");
        assert_int_equal(c->general.default_mode, MODE_IDLE);
        assert_string_equal(c->mqtt.host, "10.0.0.1");
        assert_int_equal(c->mqtt.port, 8883);
        assert_true(c->mqtt.ha_enabled);
        assert_string_equal(c->mqtt.ha_prefix, "homeassistant");
        assert_int_equal(c->logging.level, LOG_INFO);
        assert_true(c->netzero.present);
        assert_false(c->netzero.enabled);
        assert_false(c->netzero.nz.signed_meter);
        assert_int_equal(c->netzero.nz.evaluated_time_span_s, 30);
        assert_int_equal(c->netzero.nz.maturity_time_span_s, 15);
        assert_int_equal(c->netzero.nz.power_offset_w, 10);
        assert_int_equal(c->netzero.nz.power_hysteresis_w, 5);
        /* "direct" with an unsigned meter takes classic's step limits (netzero_config_default_steps()). */
        assert_int_equal(c->netzero.nz.power_change_upwards_w, NETZERO_CLASSIC_CHANGE_UPWARDS_W);
        assert_int_equal(c->netzero.nz.power_change_downwards_w, NETZERO_CLASSIC_CHANGE_DOWNWARDS_W);
        assert_int_equal(c->netzero.nz.algorithm, NETZERO_ALGORITHM_DIRECT);
        assert_string_equal(c->bluetooth_adapter, "hci0");
        /* http section without listen: 127.0.0.1:8080 */
        assert_true(c->http.enabled);
        assert_string_equal(c->http.listen_host, "127.0.0.1");
        assert_int_equal(c->http.listen_port, 8080);
        assert_null(c->http.token);
        assert_int_equal(c->n_devices, 0);
        config_free(c);
}

static void test_explicit_values(void **state) {
        _cleanup_free_ char *text = NULL;
        struct config *c;
        const struct config_device *d;
        const struct ble_battery_config *b;
        const struct dtu_config *dtu;
        char ca_abs[PATH_MAX], lut_abs[PATH_MAX];

        (void) state;
        snprintf(ca_abs, sizeof(ca_abs), "%s/ca.pem", tmpdir);
        snprintf(lut_abs, sizeof(lut_abs), "%s/lut.csv", tmpdir);
        assert_true(asprintf(&text,
                             "{\"general\": {\"default_mode\": \"protect\"},"
                             " \"mqtt\": {\"host\": \"[fe80::1]:8883\", \"ca\": \"%s\", \"tls_insecure\": true,"
                             "   \"user\": \"u\", \"password\": \"p\", \"root\": \"home/battery\","
                             "   \"client_id\": \"cid\", \"json\": false,"
                             "   \"homeassistant\": {\"enabled\": false, \"prefix\": \"ha/disc\"}},"
                             " \"logging\": {\"host\": \"logs.local:5140\", \"ignore\": [\"bluetooth\", \"bat1\"],"
                             "   \"level\": \"debug\"},"
                             " \"netzero\": {\"enabled\": true, \"signed\": false, \"evaluated_time_span\": 60,"
                             "   \"maturity_time_span\": 0, \"power_offset\": -20, \"power_hysteresis\": 0,"
                             "   \"power_change_upwards\": 250, \"power_change_downwards\": 75,"
                             "   \"algorithm\": \"classic\"},"
                             " \"supervisor\":"
                             "   {\"cell_low\": {\"enabled\": true, \"threshold\": 1.0, \"hysteresis\": 0},"
                             "   \"cell_high\": {\"enabled\": true, \"threshold\": 5.0, \"hysteresis\": 1.0},"
                             "   \"temp_low_charge\": {\"enabled\": false, \"threshold\": -40},"
                             "   \"temp_high_charge\": {\"enabled\": true, \"threshold\": 100,"
                             "     \"hysteresis\": 2.5},"
                             "   \"battery_offline\": {\"enabled\": true, \"threshold\": 1},"
                             "   \"mqtt_offline\": {\"enabled\": true, \"threshold\": 86400}},"
                             " \"bluetooth\": {\"adapter\": \"hci1\"},"
                             " \"http\": {\"listen\": \"0.0.0.0:80\", \"token\": \"0123456789abcdef\"},"
                             " \"devices\": {"
                             "   \"" NAME32 "\": {\"driver\": \"jkBmsBd4\", \"mac\": \"c8:47:8c:0a:bc:0d\","
                             "     \"interval\": 5, \"layout\": \"24s\"},"
                             "   \"B_2-x\": {\"driver\": \"daly8S24V60A\", \"mac\": \"AA:bb:CC:dd:EE:ff\","
                             "     \"interval\": 3600},"
                             "   \"inv\": {\"driver\": \"openDtu\", \"host\": \"dtu.local:8080\","
                             "     \"serial\": \"1141829\","
                             "     \"power_lut\": \"%s\"},"
                             "   \"meter\": {\"driver\": \"mqttConsumption\", \"topic\": \"meter/power\"}}}",
                             ca_abs, lut_abs) > 0);
        c = parse_valid(text);

        assert_int_equal(c->general.default_mode, MODE_PROTECT);
        assert_false(c->general.has_inverter_power);
        assert_string_equal(c->mqtt.host, "fe80::1");
        assert_int_equal(c->mqtt.port, 8883);
        assert_string_equal(c->mqtt.ca, ca_abs);
        assert_true(c->mqtt.tls_insecure);
        assert_string_equal(c->mqtt.user, "u");
        assert_string_equal(c->mqtt.password, "p");
        assert_string_equal(c->mqtt.root, "home/battery");
        assert_string_equal(c->mqtt.client_id, "cid");
        assert_false(c->mqtt.json);
        assert_false(c->mqtt.ha_enabled);
        assert_string_equal(c->mqtt.ha_prefix, "ha/disc");
        assert_string_equal(c->logging.host, "logs.local");
        assert_int_equal(c->logging.port, 5140);
        assert_int_equal(c->logging.n_ignore, 2);
        assert_string_equal(c->logging.ignore[0], "bluetooth");
        assert_string_equal(c->logging.ignore[1], "bat1");
        assert_int_equal(c->logging.level, LOG_DEBUG);
        assert_true(c->netzero.present);
        assert_true(c->netzero.enabled);
        assert_false(c->netzero.nz.signed_meter);
        assert_int_equal(c->netzero.nz.evaluated_time_span_s, 60);
        assert_int_equal(c->netzero.nz.maturity_time_span_s, 0);
        assert_int_equal(c->netzero.nz.power_offset_w, -20);
        assert_int_equal(c->netzero.nz.power_hysteresis_w, 0);
        assert_int_equal(c->netzero.nz.power_change_upwards_w, 250);
        assert_int_equal(c->netzero.nz.power_change_downwards_w, 75);
        assert_true(c->supervisor.checks[LOCK_CELL_LOW].enabled);
        assert_near(c->supervisor.checks[LOCK_CELL_LOW].threshold, 1.0);
        assert_near(c->supervisor.checks[LOCK_CELL_LOW].hysteresis, 0.0);
        assert_near(c->supervisor.checks[LOCK_CELL_HIGH].threshold, 5.0);
        assert_near(c->supervisor.checks[LOCK_CELL_HIGH].hysteresis, 1.0);
        assert_false(c->supervisor.checks[LOCK_TEMP_LOW_CHARGE].enabled);
        assert_near(c->supervisor.checks[LOCK_TEMP_LOW_CHARGE].threshold, -40.0);
        assert_true(c->supervisor.checks[LOCK_TEMP_HIGH_CHARGE].enabled);
        assert_near(c->supervisor.checks[LOCK_TEMP_HIGH_CHARGE].threshold, 100.0);
        assert_near(c->supervisor.checks[LOCK_TEMP_HIGH_CHARGE].hysteresis, 2.5);
        assert_near(c->supervisor.checks[LOCK_BATTERY_OFFLINE].threshold, 1.0);
        assert_near(c->supervisor.checks[LOCK_MQTT_OFFLINE].threshold, 86400.0);
        assert_false(c->supervisor.checks[LOCK_TEMP_LOW_DISCHARGE].enabled);
        assert_false(c->supervisor.checks[LOCK_LIVE_DATA_LOST_CHARGE].enabled);
        assert_string_equal(c->bluetooth_adapter, "hci1");
        assert_true(c->http.enabled);
        assert_string_equal(c->http.listen_host, "0.0.0.0");
        assert_int_equal(c->http.listen_port, 80);
        assert_string_equal(c->http.token, "0123456789abcdef");

        assert_int_equal(c->n_devices, 4);
        assert_non_null(d = find_device(c, NAME32));
        assert_string_equal(d->driver->name, "jkBmsBd4");
        b = d->driver_config;
        assert_string_equal(b->mac, "C8:47:8C:0A:BC:0D"); /* returned in upper case */
        assert_int_equal(b->interval_s, 5);
        assert_int_equal(b->layout, JK_LAYOUT_24S);
        assert_non_null(d = find_device(c, "B_2-x"));
        assert_string_equal(d->driver->name, "daly8S24V60A");
        b = d->driver_config;
        assert_string_equal(b->mac, "AA:BB:CC:DD:EE:FF");
        assert_int_equal(b->interval_s, 3600);
        assert_non_null(d = find_device(c, "inv"));
        assert_string_equal(d->driver->name, "openDtu");
        dtu = d->driver_config;
        assert_string_equal(dtu->host, "dtu.local");
        assert_int_equal(dtu->port, 8080);
        assert_string_equal(dtu->serial, "1141829");
        assert_string_equal(dtu->lut_path, lut_abs);
        assert_string_equal(dtu->user, "admin"); /* default */
        assert_null(dtu->password);
        assert_non_null(dtu->lut);
        assert_int_equal(lut_size(dtu->lut), 3);
        assert_int_equal(lut_max_w(dtu->lut), 600);
        assert_int_equal(config_count_class(c, DEVICE_CLASS_BATTERY), 2);
        assert_int_equal(config_count_class(c, DEVICE_CLASS_INVERTER), 1);
        assert_int_equal(config_count_class(c, DEVICE_CLASS_CONSUMPTION), 1);
        assert_int_equal(config_count_class(c, DEVICE_CLASS_CHARGER), 0);
        config_free(c);
}

static void test_relative_files(void **state) {
        struct config *c;
        const struct config_device *d;
        const struct dtu_config *dtu;
        const struct ble_battery_config *b;
        char ca_abs[PATH_MAX], lut_abs[PATH_MAX];

        (void) state;
        /* Relative file names resolve against the directory of the config file. */
        snprintf(ca_abs, sizeof(ca_abs), "%s/ca.pem", tmpdir);
        snprintf(lut_abs, sizeof(lut_abs), "%s/lut.csv", tmpdir);
        c = parse_valid("{\"mqtt\": {\"host\": \"b:1\", \"ca\": \"ca.pem\"}, \"general\": {\"inverter_power\": 0},"
                        " \"devices\": {\"inv\": {\"driver\": \"ahoyDtu\", \"host\": \"192.168.1.22:80\","
                        "   \"id\": 255,"
                        "   \"power_lut\": \"lut.csv\", \"password\": \"pw\"},"
                        "  \"bat\": {\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"a4:c1:38:00:00:01\"},"
                        "  \"jk\": {\"driver\": \"jkBmsBd4\", \"mac\": \"a4:c1:38:00:00:02\"}}}");
        assert_string_equal(c->mqtt.ca, ca_abs);
        assert_true(c->general.has_inverter_power);
        assert_int_equal(c->general.inverter_power_w, 0);
        assert_non_null(d = find_device(c, "inv"));
        dtu = d->driver_config;
        assert_string_equal(dtu->lut_path, lut_abs);
        assert_int_equal(dtu->id, 255);
        assert_string_equal(dtu->host, "192.168.1.22");
        assert_int_equal(dtu->port, 80);
        assert_string_equal(dtu->password, "pw");
        assert_int_equal(lut_min_w(dtu->lut), 30);
        assert_int_equal(lut_start_percent(dtu->lut), 2);
        assert_non_null(d = find_device(c, "bat"));
        b = d->driver_config;
        assert_string_equal(b->mac, "A4:C1:38:00:00:01");
        assert_int_equal(b->interval_s, 60); /* default */
        assert_non_null(d = find_device(c, "jk"));
        b = d->driver_config;
        assert_int_equal(b->layout, JK_LAYOUT_AUTO); /* default */
        config_free(c);
}

/* ---- the full example of etc/ ---- */

static char *read_text(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf;
        long n;

        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n > 0);
        rewind(f);
        buf = malloc((size_t) n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = 0;
        fclose(f);
        return buf;
}

/* A relative power_lut that is not next to the config is looked up in the data directory of the
 * shipped LUTs, so the installed example works without copying the LUT; one next to the config wins. */
static void test_shipped_lut(void **state) {
        static const char fmt[] = "{\"general\": {\"inverter_power\": 100}, \"mqtt\": {\"host\": \"127.0.0.1:1883\"}, "
                                  "\"devices\": {\"inv\": "
                                  "{\"driver\": \"ahoyDtu\", \"host\": \"127.0.0.1:80\", \"id\": 0, "
                                  "\"power_lut\": \"%s\"}}}";
        char share[PATH_MAX], want[PATH_MAX + 16], text[512];
        struct config_errors e;
        struct config *c = NULL;

        (void) state;
        snprintf(share, sizeof(share), "%s/share", tmpdir);
        assert_int_equal(mkdir(share, 0700), 0);
        write_file("share/shipped.csv", "2;30\n100;600\n");
        write_file("share/lut.csv", "2;30\n100;600\n");
        assert_int_equal(setenv("HOMEBATTERY_DATADIR", share, 1), 0);

        snprintf(text, sizeof(text), fmt, "shipped.csv");
        c = parse_valid(text);
        snprintf(want, sizeof(want), "%s/shipped.csv", share);
        assert_string_equal(((struct dtu_config *) c->devices[0].driver_config)->lut_path, want);
        config_free(c);

        snprintf(text, sizeof(text), fmt, "lut.csv");
        c = parse_valid(text);
        snprintf(want, sizeof(want), "%s/lut.csv", tmpdir);
        assert_string_equal(((struct dtu_config *) c->devices[0].driver_config)->lut_path, want);
        config_free(c);

        /* Neither next to the config nor in the data directory: the error names the config's directory. */
        assert_int_equal(unsetenv("HOMEBATTERY_DATADIR"), 0);
        snprintf(text, sizeof(text), fmt, "shipped.csv");
        assert_int_equal(parse(text, &c, &e), -EINVAL);
        assert_true(any_line_contains(&e, "cannot read file"));
        config_errors_done(&e);
}

static void test_example(void **state) {
        static const char *const path = TEST_SRCDIR "/../../etc/config.example.json";
        static const struct {
                const char *name, *driver;
        } devices[] = {
                { "bat1", "lltPowerBmsV4Ble" }, { "bat2", "daly8S24V60A" },   { "bat3", "jkBmsBd4" },
                { "garage", "mqttBattery" },    { "mppt", "victronMppt" },     { "charger", "shellyCharger" },
                { "inverter", "ahoyDtu" },      { "inverter2", "openDtu" },    { "meter", "mqttConsumption" },
        };
        _cleanup_free_ char *text = read_text(path);
        struct config_errors e;
        struct config *c = NULL;
        const struct config_device *d;
        int r;

        (void) state;
        r = parse_at(path, text, &c, &e);
        if (r != 0)
                dump(&e);
        assert_int_equal(r, 0);
        assert_int_equal(e.n, 0);
        assert_true(lines_start_with_path(e.warnings, e.n_warnings, path));
        config_errors_done(&e);

        assert_int_equal(c->general.default_mode, MODE_IDLE);
        assert_true(c->general.has_inverter_power);
        assert_int_equal(c->general.inverter_power_w, 200);
        assert_string_equal(c->mqtt.host, "192.168.1.10");
        assert_int_equal(c->mqtt.port, 1883);
        assert_null(c->mqtt.ca); /* plain MQTT: the example needs no file besides itself */
        assert_string_equal(c->mqtt.user, "homebattery");
        assert_string_equal(c->mqtt.password, "change-me");
        assert_string_equal(c->mqtt.root, "homebattery");
        assert_string_equal(c->mqtt.client_id, "homebattery-pi");
        assert_true(c->mqtt.json);
        assert_true(c->mqtt.ha_enabled);
        assert_string_equal(c->mqtt.ha_prefix, "homeassistant");
        assert_string_equal(c->logging.host, "192.168.1.10");
        assert_int_equal(c->logging.port, 5140);
        assert_int_equal(c->logging.n_ignore, 1);
        assert_string_equal(c->logging.ignore[0], "bluetooth");
        assert_int_equal(c->logging.level, LOG_INFO);
        assert_true(c->netzero.present);
        assert_true(c->netzero.enabled);
        assert_true(c->netzero.nz.signed_meter);
        assert_int_equal(c->netzero.nz.evaluated_time_span_s, 30);
        assert_int_equal(c->netzero.nz.maturity_time_span_s, 15);
        assert_int_equal(c->netzero.nz.power_offset_w, 10);
        assert_int_equal(c->netzero.nz.power_hysteresis_w, 5);
        assert_int_equal(c->netzero.nz.power_change_upwards_w, 400);
        assert_int_equal(c->netzero.nz.power_change_downwards_w, 200);
        assert_int_equal(c->netzero.nz.algorithm, NETZERO_ALGORITHM_DIRECT);
        assert_true(c->netzero.has_max_power);
        assert_int_equal(c->netzero.max_power_w, 800);
        assert_int_equal(c->netzero.fallback_after_s, 60);
        assert_int_equal(c->netzero.fallback_power_w, 0);
        assert_true(c->supervisor.current_discharge.enabled);
        assert_near(c->supervisor.current_discharge.threshold, 50);
        assert_near(c->supervisor.checks[LOCK_SOC_LOW].threshold, 10);
        assert_near(c->supervisor.checks[LOCK_SOC_HIGH].hysteresis, 5);
        for (int i = 0; i < _LOCK_MAX; i++)
                if (i != LOCK_INTERNAL && i != LOCK_STARTUP)
                        assert_true(c->supervisor.checks[i].enabled);
        assert_near(c->supervisor.checks[LOCK_BATTERY_OFFLINE].threshold, 120);
        assert_near(c->supervisor.checks[LOCK_CELL_LOW].threshold, 3.1);
        assert_near(c->supervisor.checks[LOCK_CELL_LOW].hysteresis, 0.1);
        assert_near(c->supervisor.checks[LOCK_CELL_HIGH].threshold, 3.65);
        assert_near(c->supervisor.checks[LOCK_CELL_HIGH].hysteresis, 0.2);
        assert_near(c->supervisor.checks[LOCK_TEMP_LOW_CHARGE].threshold, 10);
        assert_near(c->supervisor.checks[LOCK_TEMP_LOW_DISCHARGE].threshold, 0);
        assert_near(c->supervisor.checks[LOCK_TEMP_HIGH_CHARGE].threshold, 40);
        assert_near(c->supervisor.checks[LOCK_TEMP_HIGH_DISCHARGE].hysteresis, 2);
        assert_near(c->supervisor.checks[LOCK_LIVE_DATA_LOST_CHARGE].threshold, 300);
        assert_near(c->supervisor.checks[LOCK_LIVE_DATA_LOST_DISCHARGE].threshold, 60);
        assert_near(c->supervisor.checks[LOCK_MQTT_OFFLINE].threshold, 60);
        assert_string_equal(c->bluetooth_adapter, "hci0");
        assert_true(c->http.enabled);
        assert_string_equal(c->http.listen_host, "127.0.0.1");
        assert_int_equal(c->http.listen_port, 8080);
        assert_string_equal(c->http.token, "replace-with-a-long-random-token");

        /* Every driver appears once, in file order. */
        assert_int_equal(c->n_devices, ELEMENTSOF(devices));
        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                assert_string_equal(c->devices[i].name, devices[i].name);
                assert_string_equal(c->devices[i].driver->name, devices[i].driver);
                assert_non_null(c->devices[i].driver_config);
        }
        assert_int_equal(config_count_class(c, DEVICE_CLASS_BATTERY), 4);
        assert_int_equal(config_count_class(c, DEVICE_CLASS_SOLAR), 1);
        assert_int_equal(config_count_class(c, DEVICE_CLASS_CHARGER), 1);
        assert_int_equal(config_count_class(c, DEVICE_CLASS_INVERTER), 2);
        assert_int_equal(config_count_class(c, DEVICE_CLASS_CONSUMPTION), 1);

        assert_non_null(d = find_device(c, "bat1"));
        assert_string_equal(((const struct ble_battery_config *) d->driver_config)->mac, "A4:C1:38:00:00:01");
        assert_int_equal(((const struct ble_battery_config *) d->driver_config)->interval_s, 60);
        assert_non_null(d = find_device(c, "bat3"));
        assert_int_equal(((const struct ble_battery_config *) d->driver_config)->layout, JK_LAYOUT_AUTO);
        assert_non_null(d = find_device(c, "inverter"));
        {
                const struct dtu_config *dtu = d->driver_config;
                assert_string_equal(dtu->host, "192.168.1.22");
                assert_int_equal(dtu->port, 80);
                assert_int_equal(dtu->id, 0);
                assert_true(ends_with(dtu->lut_path, "/etc/hm600-lut.csv"));
                assert_non_null(dtu->lut);
                assert_true(lut_size(dtu->lut) > 0);
                assert_string_equal(dtu->password, "change-me");
        }
        assert_non_null(d = find_device(c, "inverter2"));
        {
                const struct dtu_config *dtu = d->driver_config;
                assert_string_equal(dtu->host, "192.168.1.23");
                assert_string_equal(dtu->serial, "114182912345");
                assert_string_equal(dtu->user, "admin");
        }
        config_free(c);
}

/* ---- valid variants ---- */

struct good_case {
        const char *name;
        const char *text;
        const char *warning; /* a substring one warning must contain; NULL: no warning at all */
};

static const struct good_case good_cases[] = {
        { "minimal", MQTT(""), NULL },
        { "IPv6 broker in brackets", "{\"mqtt\": {\"host\": \"[::1]:1883\"}}", NULL },
        { "DNS name, highest port", "{\"mqtt\": {\"host\": \"mqtt.example.org:65535\"}}", NULL },
        { "port 1", "{\"mqtt\": {\"host\": \"b:1\"}}", NULL },
        { "network section accepted with a warning", CFG("\"network\": {\"ssid\": \"x\", \"ntp\": \"pool\"}"),
          "network: ignored" },
        { "tls_insecure without ca warns", MQTT(", \"tls_insecure\": true"), "mqtt.tls_insecure" },
        { "user and password", MQTT(", \"user\": \"u\", \"password\": \"p\""), NULL },
        { "user alone", MQTT(", \"user\": \"u\""), NULL },
        { "root with levels", MQTT(", \"root\": \"home/battery/1\""), NULL },
        { "every mode", CFG("\"general\": {\"default_mode\": \"charge\"}"), NULL },
        { "discharge mode", CFG("\"general\": {\"default_mode\": \"discharge\"}"), NULL },
        { "logging levels", CFG("\"logging\": {\"level\": \"warning\"}"), NULL },
        { "logging error level", CFG("\"logging\": {\"level\": \"error\", \"ignore\": []}"), NULL },
        { "evaluated_time_span 120", NZ(", \"evaluated_time_span\": 120"), NULL },
        { "evaluated_time_span above 120 is capped with a warning", NZ(", \"evaluated_time_span\": 200"),
          "capped at 120" },
        { "negative power_offset", NZ(", \"power_offset\": -50"), NULL },
        { "netzero with consumption and inverter",
          CFG("\"netzero\": {\"enabled\": true, \"signed\": true}, \"devices\": {" CONSUMER ", " INVERTER "}"),
          NULL },
        { "netzero without inverter only warns",
          CFG("\"netzero\": {\"enabled\": true, \"signed\": false}, \"devices\": {" CONSUMER "}"),
          "netzero has nothing to control" },
        { "inverter with general.inverter_power", AHOY(""), NULL },
        { "cell bounds 1.0 and 5.0",
          SUP("\"cell_low\": {\"enabled\": true, \"threshold\": 1.0}, "
              "\"cell_high\": {\"enabled\": true, \"threshold\": 5.0}"),
          NULL },
        { "cell_low >= cell_high while one is disabled",
          SUP("\"cell_low\": {\"enabled\": false, \"threshold\": 3.7}, "
              "\"cell_high\": {\"enabled\": true, \"threshold\": 3.6}"),
          NULL },
        { "temperature bounds",
          SUP("\"temp_low_charge\": {\"enabled\": true, \"threshold\": -40, \"hysteresis\": 0}, "
              "\"temp_high_discharge\": {\"enabled\": true, \"threshold\": 100}"),
          NULL },
        { "time bounds",
          SUP("\"battery_offline\": {\"enabled\": true, \"threshold\": 1}, "
              "\"mqtt_offline\": {\"enabled\": false, \"threshold\": 86400}"),
          NULL },
        { "live_data_lost without consumption only warns",
          SUP("\"live_data_lost_charge\": {\"enabled\": true, \"threshold\": 300}"), "live_data_lost" },
        { "device name of 32 characters", DEVICES("\"" NAME32 "\": {\"driver\": \"lltPowerBmsV4Ble\", "
                                                  "\"mac\": \"aa:bb:cc:dd:ee:ff\"}"),
          NULL },
        { "device name with _ and -", DEVICES("\"Bat_1-a\": {\"driver\": \"lltPowerBmsV4Ble\", "
                                              "\"mac\": \"aa:bb:cc:dd:ee:ff\"}"),
          NULL },
        { "upper case MAC", DEV("{\"driver\": \"daly8S24V60A\", \"mac\": \"AA:BB:CC:DD:EE:FF\"}"), NULL },
        { "interval 5", LLT(", \"interval\": 5"), NULL },
        { "interval 3600", DALY(", \"interval\": 3600"), NULL },
        { "jk layout auto", JK(", \"layout\": \"auto\""), NULL },
        { "jk layout 24s", JK(", \"layout\": \"24s\""), NULL },
        { "jk layout 32s", JK(", \"layout\": \"32s\""), NULL },
        { "mqttBattery cells_count", MB(", \"cells_count\": 8"), NULL },
        { "mqttBattery cell_count alias", MB(", \"cell_count\": 16"), NULL },
        /* Without counts: JSON on root_topic only (what an original 1.x controller sends); the temperature
         * checks are not refused, as each message tells whether it has temperatures. */
        { "mqttBattery JSON only", DEV("{\"driver\": \"mqttBattery\", \"root_topic\": \"a\"}"), NULL },
        { "mqttBattery JSON only, temperature check",
          CFG("\"supervisor\": {\"temp_low_charge\": {\"enabled\": true, \"threshold\": 10}}, \"devices\": "
              "{\"d1\": {\"driver\": \"mqttBattery\", \"root_topic\": \"a\"}}"),
          NULL },
        { "jkBmsBd alias", DEV("{\"driver\": \"jkBmsBd\", \"mac\": \"c8:47:8c:00:00:03\"}"), NULL },
        { "mqttBattery limits", DEV("{\"driver\": \"mqttBattery\", \"root_topic\": \"a\", \"cells_count\": 32, "
                                    "\"temperature_count\": 0}"),
          NULL },
        { "victron default control", VIC(""), NULL },
        { "victron control hex", VIC(", \"control\": \"hex\", \"power_hysteresis\": 1"), NULL },
        { "victron control none", VIC(", \"control\": \"none\""), NULL },
        { "victron control gpio",
          VIC(", \"control\": {\"gpio\": {\"chip\": \"gpiochip0\", \"line\": 4, \"active_low\": false}}"), NULL },
        { "victron control gpio, only line", VIC(", \"control\": {\"gpio\": {\"line\": 0}}"), NULL },
        { "victron gpio chip as /dev path", VIC(", \"control\": {\"gpio\": {\"chip\": \"/dev/gpiochip1\", "
                                                "\"line\": 1023, \"active_low\": true}}"),
          NULL },
        { "victron port that does not exist only warns",
          DEV("{\"driver\": \"victronMppt\", \"port\": \"/dev/serial/by-id/hb-test-none\"}"), "does not exist" },
        { "shelly minimal", SHELLY(""), NULL },
        { "shelly all keys", SHELLY(", \"relay_id\": 15, \"generation\": 1, \"user\": \"admin\", "
                                    "\"password\": \"pw\""),
          NULL },
        { "shelly generation 2", SHELLY(", \"relay_id\": 0, \"generation\": 2"), NULL },
        { "openDtu", ODTU(", \"user\": \"admin\", \"password\": \"pw\""), NULL },
        { "ahoy id bounds", AHOY(", \"password\": \"pw\""), NULL },
        { "consumption format auto", MC(", \"format\": \"auto\""), NULL },
        { "consumption format binary", MC(", \"format\": \"binary\""), NULL },
        { "consumption format text", MC(", \"format\": \"text\""), NULL },
        { "consumption format json", MC(", \"format\": {\"json\": \"SML.Power\"}"), NULL },
        { "http token of 16 characters", CFG("\"http\": {\"token\": \"0123456789abcdef\"}"), NULL },
        { "http listen IPv6", CFG("\"http\": {\"listen\": \"[::]:8080\"}"), NULL },
        { "bluetooth hci12", CFG("\"bluetooth\": {\"adapter\": \"hci12\"}"), NULL },
        { "homeassistant prefix", MQTT(", \"homeassistant\": {\"enabled\": true, \"prefix\": \"ha\"}"), NULL },
        { "white space after the document", "\n  " MQTT("") "\n\n\t \r\n", NULL },
};

static void test_good_table(void **state) {
        unsigned failures = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(good_cases); i++) {
                const struct good_case *t = &good_cases[i];
                struct config_errors e;
                struct config *c = NULL;
                int r = parse(t->text, &c, &e);
                bool ok = r == 0 && c && e.n == 0 && lines_start_with_path(e.warnings, e.n_warnings, cfg_path);

                if (t->warning)
                        ok = ok && find_line(e.warnings, e.n_warnings, t->warning, NULL);
                else
                        ok = ok && e.n_warnings == 0;
                if (!ok) {
                        print_message("  good case \"%s\": config_parse() = %d, %zu error(s), %zu warning(s) "
                                      "(want warning: %s)\n    %s\n",
                                      t->name, r, e.n, e.n_warnings, t->warning ? t->warning : "none", t->text);
                        dump(&e);
                        failures++;
                }
                config_free(c);
                config_errors_done(&e);
        }
        assert_int_equal(failures, 0);
}

/* ---- broken variants ---- */

struct bad_case {
        const char *name;
        const char *text;
        int r;              /* what config_parse() returns */
        const char *expect; /* one error line must contain this ... */
        const char *expect2; /* ... and this (optional) */
};

#define BAD(name, text, expect) { name, text, -EINVAL, expect, NULL }
#define BAD2(name, text, expect, expect2) { name, text, -EINVAL, expect, expect2 }

static const struct bad_case bad_cases[] = {
        /* syntax */
        BAD("parse error: trailing comma", "{\n  \"mqtt\": {\"host\": \"a:1\"},\n}\n", "parse error"),
        BAD("parse error: truncated", "{\"mqtt\": {\"host\": \"a:1\"}", "parse error"),
        BAD("parse error: empty file", "", "parse error"),
        BAD("parse error: single-quoted string", "{\"mqtt\": {\"host\": 'a:1'}}", "parse error"),
        BAD("parse error: comment", "{/* c */ " MQ "}", "parse error"),
        BAD("trailing garbage", MQTT("") " x", "parse error"),
        BAD("a second document", MQTT("") "{}", "parse error"),
        BAD("top level is an array", "[1, 2]\n", "expected a JSON object at the top level"),
        BAD("top level is a string", "\"mqtt\"\n", "expected a JSON object at the top level"),
        BAD("top level is a number", "5\n", "expected a JSON object at the top level"),
        /* unknown keys, in every section */
        BAD2("unknown top-level key", CFG("\"mqttt\": {}"), "mqttt: unknown key", "mqtt"),
        BAD("unknown key in general", CFG("\"general\": {\"mode\": \"idle\"}"), "general.mode: unknown key"),
        BAD2("unknown key in mqtt", MQTT(", \"port\": 1883"), "mqtt.port: unknown key", "host"),
        BAD("unknown key in mqtt.homeassistant", MQTT(", \"homeassistant\": {\"discovery\": true}"),
            "mqtt.homeassistant.discovery: unknown key"),
        BAD("unknown key in logging", CFG("\"logging\": {\"file\": \"/tmp/x\"}"), "logging.file: unknown key"),
        BAD("unknown key in netzero", NZ(", \"power_offsett\": 3"), "netzero.power_offsett: unknown key"),
        BAD("unknown key in supervisor", SUP("\"cell_lo\": {\"enabled\": true, \"threshold\": 3}"),
            "supervisor.cell_lo: unknown key"),
        BAD("unknown key in a check",
            SUP("\"cell_low\": {\"enabled\": true, \"threshold\": 3, \"hysterisis\": 0.1}"),
            
            "supervisor.cell_low.hysterisis: unknown key"),
        BAD("hysteresis on a time check",
            SUP("\"mqtt_offline\": {\"enabled\": true, \"threshold\": 60, \"hysteresis\": 5}"),
            "supervisor.mqtt_offline.hysteresis: unknown key"),
        BAD("unknown key in bluetooth", CFG("\"bluetooth\": {\"device\": \"hci0\"}"),
            "bluetooth.device: unknown key"),
        BAD("unknown key in http", CFG("\"http\": {\"port\": 8080}"), "http.port: unknown key"),
        BAD("unknown key in lltPowerBmsV4Ble", LLT(", \"intervall\": 60"), "devices.d1.intervall: unknown key"),
        BAD("unknown key in daly8S24V60A", DALY(", \"layout\": \"24s\""), "devices.d1.layout: unknown key"),
        BAD("unknown key in jkBmsBd4", JK(", \"cells\": 8"), "devices.d1.cells: unknown key"),
        BAD("unknown key in mqttBattery", MB(", \"cells_count\": 8, \"mac\": \"x\""),
            "devices.d1.mac: unknown key"),
        BAD("unknown key in victronMppt", VIC(", \"baud\": 19200"), "devices.d1.baud: unknown key"),
        BAD("unknown key in victron control", VIC(", \"control\": {\"gpio\": {\"line\": 1}, \"pwm\": 1}"),
            "devices.d1.control.pwm: unknown key"),
        BAD("unknown key in victron gpio", VIC(", \"control\": {\"gpio\": {\"line\": 1, \"pin\": 2}}"),
            "devices.d1.control.gpio.pin: unknown key"),
        BAD("unknown key in shellyCharger", SHELLY(", \"channel\": 0"), "devices.d1.channel: unknown key"),
        BAD("unknown key in ahoyDtu", AHOY(", \"serial\": \"1\""), "devices.d1.serial: unknown key"),
        BAD("unknown key in openDtu", ODTU(", \"id\": 1"), "devices.d1.id: unknown key"),
        BAD("unknown key in mqttConsumption", MC(", \"unit\": \"W\""), "devices.d1.unit: unknown key"),
        BAD("unknown key in consumption format", MC(", \"format\": {\"json\": \"a\", \"x\": 1}"),
            "devices.d1.format.x: unknown key"),
        /* types: string, integer, boolean, number, object, list */
        BAD("section is not an object", "{\"mqtt\": 5}", "mqtt: expected an object, got 5"),
        BAD("general is a list", CFG("\"general\": []"), "general: expected an object, got "),
        BAD("devices is a list", CFG("\"devices\": []"), "devices: expected an object, got "),
        BAD("string expected", "{\"mqtt\": {\"host\": 1883}}", "mqtt.host: expected a string, got 1883"),
        BAD("string expected, got bool", MQTT(", \"root\": true"), "mqtt.root: expected a string, got true"),
        BAD("empty string", MQTT(", \"user\": \"\""), "mqtt.user: expected a non-empty string"),
        BAD("integer expected, got string", CFG("\"general\": {\"inverter_power\": \"300\"}"),
            "general.inverter_power: expected an integer, got \"300\""),
        BAD("integer expected, got fraction", LLT(", \"interval\": 60.5"),
            "devices.d1.interval: expected an integer, got 60.5"),
        BAD("boolean expected, got string", MQTT(", \"json\": \"yes\""),
            "mqtt.json: expected true or false, got \"yes\""),
        BAD("boolean expected, got 1", "{" MQ ", \"netzero\": {\"enabled\": 1, \"signed\": true}}",
            "netzero.enabled: expected true or false, got 1"),
        BAD("number expected", SUP("\"cell_low\": {\"enabled\": true, \"threshold\": \"3,1\"}"),
            "supervisor.cell_low.threshold: expected a number, got \"3,1\""),
        BAD("object expected for a check", SUP("\"cell_low\": true"),
            "supervisor.cell_low: expected an object, got true"),
        BAD("object expected for homeassistant", MQTT(", \"homeassistant\": true"),
            "mqtt.homeassistant: expected an object, got true"),
        BAD("object expected for a device", DEV("\"lltPowerBmsV4Ble\""), "devices.d1: expected an object"),
        BAD("list expected", CFG("\"logging\": {\"ignore\": \"bluetooth\"}"),
            "logging.ignore: expected a list of strings, got \"bluetooth\""),
        BAD("list of strings expected", CFG("\"logging\": {\"ignore\": [\"mqtt\", 1]}"),
            "logging.ignore[1]: expected a non-empty string"),
        BAD("driver is not a string", DEV("{\"driver\": 5}"),
            "devices.d1.driver: expected a driver name (string), got 5"),
        /* enumerations */
        BAD2("bad default_mode", CFG("\"general\": {\"default_mode\": \"auto\"}"),
            "general.default_mode: expected charge",
             "\"auto\""),
        BAD2("bad logging level", CFG("\"logging\": {\"level\": \"verbose\"}"), "logging.level: expected debug",
             "\"verbose\""),
        BAD2("bad algorithm", NZ(", \"algorithm\": \"pid\""), "netzero.algorithm: unknown algorithm \"pid\"",
             "classic"),
        BAD2("bad bluetooth adapter", CFG("\"bluetooth\": {\"adapter\": \"bt0\"}"), "bluetooth.adapter: expected",
             "\"bt0\""),
        BAD("bluetooth adapter without number", CFG("\"bluetooth\": {\"adapter\": \"hci\"}"),
            "bluetooth.adapter: expected"),
        /* ranges */
        BAD("evaluated_time_span too small", NZ(", \"evaluated_time_span\": 1"),
            "netzero.evaluated_time_span: 1 out of range"),
        BAD("evaluated_time_span too large", NZ(", \"evaluated_time_span\": 3601"),
            "netzero.evaluated_time_span: 3601 out of range"),
        BAD("negative maturity_time_span", NZ(", \"maturity_time_span\": -1"),
            "netzero.maturity_time_span: -1 out of range"),
        BAD("negative netzero hysteresis", NZ(", \"power_hysteresis\": -1"),
            "netzero.power_hysteresis: -1 out of range"),
        BAD("power_change_upwards 0", NZ(", \"power_change_upwards\": 0"),
            "netzero.power_change_upwards: 0 out of range"),
        BAD("power_change_downwards 0", NZ(", \"power_change_downwards\": 0"),
            "netzero.power_change_downwards: 0 out of range"),
        BAD("power_offset too large", NZ(", \"power_offset\": 10001"), "netzero.power_offset: 10001 out of range"),
        BAD("negative inverter_power", CFG("\"general\": {\"inverter_power\": -1}"),
            "general.inverter_power: -1 out of range"),
        BAD("cell threshold below 1.0 V", SUP("\"cell_low\": {\"enabled\": true, \"threshold\": 0.9}"),
            "supervisor.cell_low.threshold: 0.9 out of range"),
        BAD("cell threshold above 5.0 V", SUP("\"cell_high\": {\"enabled\": true, \"threshold\": 5.1}"),
            "supervisor.cell_high.threshold: 5.1 out of range"),
        BAD("cell threshold in mV", SUP("\"cell_high\": {\"enabled\": true, \"threshold\": 3650}"),
            "supervisor.cell_high.threshold: 3650 out of range"),
        BAD("temperature below -40", SUP("\"temp_low_charge\": {\"enabled\": true, \"threshold\": -41}"),
            "supervisor.temp_low_charge.threshold: -41 out of range"),
        BAD("temperature above 100", SUP("\"temp_high_discharge\": {\"enabled\": true, \"threshold\": 101}"),
            "supervisor.temp_high_discharge.threshold: 101 out of range"),
        BAD("time 0", SUP("\"battery_offline\": {\"enabled\": true, \"threshold\": 0}"),
            "supervisor.battery_offline.threshold: 0 out of range"),
        BAD("time above a day", SUP("\"mqtt_offline\": {\"enabled\": true, \"threshold\": 86401}"),
            "supervisor.mqtt_offline.threshold: 86401 out of range"),
        BAD("time below 1 s", SUP("\"live_data_lost_charge\": {\"enabled\": true, \"threshold\": 0.5}"),
            "supervisor.live_data_lost_charge.threshold: 0.5 out of range"),
        BAD("time range checked when disabled",
            SUP("\"live_data_lost_discharge\": {\"enabled\": false, \"threshold\": -5}"),
            
            "supervisor.live_data_lost_discharge.threshold: -5 out of range"),
        BAD("negative cell hysteresis",
            SUP("\"cell_low\": {\"enabled\": true, \"threshold\": 3.1, \"hysteresis\": -0.1}"),
            
            "supervisor.cell_low.hysteresis: -0.1 out of range"),
        BAD("negative temperature hysteresis",
            SUP("\"temp_high_charge\": {\"enabled\": true, \"threshold\": 40, \"hysteresis\": -1}"),
            "supervisor.temp_high_charge.hysteresis: -1 out of range"),
        BAD("interval below 5", LLT(", \"interval\": 4"), "devices.d1.interval: 4 out of range"),
        BAD("interval above 3600", JK(", \"interval\": 3601"), "devices.d1.interval: 3601 out of range"),
        BAD("huge interval", LLT(", \"interval\": 99999999999999999999"), "devices.d1.interval:"),
        BAD("negative relay_id", SHELLY(", \"relay_id\": -1"), "devices.d1.relay_id: -1 out of range"),
        BAD("relay_id too large", SHELLY(", \"relay_id\": 16"), "devices.d1.relay_id: 16 out of range"),
        BAD("generation 3", SHELLY(", \"generation\": 3"), "devices.d1.generation: 3 out of range"),
        BAD("generation 0", SHELLY(", \"generation\": 0"), "devices.d1.generation: 0 out of range"),
        BAD("negative ahoy id", INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"id\": -1, "
                                        "\"power_lut\": \"lut.csv\"}"),
            "devices.d1.id: -1 out of range"),
        BAD("ahoy id too large", INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"id\": 256, "
                                         "\"power_lut\": \"lut.csv\"}"),
            "devices.d1.id: 256 out of range"),
        BAD("cells_count 0", MB(", \"cells_count\": 0"), "devices.d1.cells_count: 0 out of range"),
        BAD("cells_count 33", MB(", \"cells_count\": 33"), "devices.d1.cells_count: 33 out of range"),
        BAD("temperature_count 9", DEV("{\"driver\": \"mqttBattery\", \"root_topic\": \"a\", \"cells_count\": 8, "
                                       "\"temperature_count\": 9}"),
            "devices.d1.temperature_count: 9 out of range"),
        BAD("victron power_hysteresis 0", VIC(", \"power_hysteresis\": 0"),
            "devices.d1.power_hysteresis: 0 out of range"),
        BAD("gpio line too large", VIC(", \"control\": {\"gpio\": {\"line\": 1024}}"),
            "devices.d1.control.gpio.line: 1024 out of range"),
        /* required keys */
        BAD("no mqtt section", "{}", "mqtt: required section is missing"),
        BAD("no mqtt.host", "{\"mqtt\": {}}", "mqtt.host: required string is missing"),
        BAD("no netzero.enabled", CFG("\"netzero\": {\"signed\": true}"),
            "netzero.enabled: required boolean is missing"),
        BAD("no netzero.signed", CFG("\"netzero\": {\"enabled\": false}"),
            "netzero.signed: required boolean is missing"),
        BAD("no check threshold", SUP("\"cell_low\": {\"enabled\": true}"),
            "supervisor.cell_low.threshold: required number is missing"),
        BAD("no check enabled", SUP("\"battery_offline\": {\"threshold\": 120}"),
            "supervisor.battery_offline.enabled: required boolean is missing"),
        BAD("no driver", DEV("{\"mac\": \"aa:bb:cc:dd:ee:ff\"}"),
            "devices.d1: required key \"driver\" is missing"),
        BAD("no mac", DEV("{\"driver\": \"daly8S24V60A\"}"), "devices.d1.mac: required string is missing"),
        BAD("no root_topic", DEV("{\"driver\": \"mqttBattery\", \"cells_count\": 8, \"temperature_count\": 1}"),
            "devices.d1.root_topic: required string is missing"),
        BAD("no cells_count", MB(""), "devices.d1.cells_count: required integer is missing"),
        BAD("no temperature_count",
            DEV("{\"driver\": \"mqttBattery\", \"root_topic\": \"a\", \"cells_count\": 8}"),
            
            "devices.d1.temperature_count: required integer is missing"),
        BAD("no topic", DEV("{\"driver\": \"mqttConsumption\"}"), "devices.d1.topic: required string is missing"),
        BAD("no port", DEV("{\"driver\": \"victronMppt\"}"), "devices.d1.port: required string is missing"),
        BAD("no shelly host", DEV("{\"driver\": \"shellyCharger\", \"relay_id\": 0}"),
            "devices.d1.host: required string is missing"),
        BAD("no dtu host", INV_DEV("{\"driver\": \"ahoyDtu\", \"id\": 0, \"power_lut\": \"lut.csv\"}"),
            "devices.d1.host: required string is missing"),
        BAD("no power_lut", INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"id\": 0}"),
            "devices.d1.power_lut: required string is missing"),
        BAD("no ahoy id", INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"power_lut\": \"lut.csv\"}"),
            "devices.d1.id: required integer is missing"),
        BAD("no serial", INV_DEV("{\"driver\": \"openDtu\", \"host\": \"h:80\", \"power_lut\": \"lut.csv\"}"),
            "devices.d1.serial: required string is missing"),
        BAD("no gpio line", VIC(", \"control\": {\"gpio\": {\"chip\": \"gpiochip0\"}}"),
            "devices.d1.control.gpio.line: required integer is missing"),
        /* drivers and device names */
        BAD2("unknown driver", DEV("{\"driver\": \"jkBmsBD4\"}"), "devices.d1.driver: unknown driver \"jkBmsBD4\"",
             "(known: ahoyDtu, daly8S24V60A, genericSolar, growattInverterModbus, httpConsumption, jkBmsBd4, "),
        BAD2("device name too long", DEVICES("\"" NAME33 "\": {\"driver\": \"lltPowerBmsV4Ble\"}"),
             "devices: invalid device name", NAME33),
        BAD("device name with a space", DEVICES("\"bat 1\": {\"driver\": \"lltPowerBmsV4Ble\"}"),
            "devices: invalid device name \"bat 1\""),
        BAD("device name with a dot", DEVICES("\"bat.1\": {\"driver\": \"lltPowerBmsV4Ble\"}"),
            "devices: invalid device name \"bat.1\""),
        BAD("device name with a slash", DEVICES("\"bat/1\": {\"driver\": \"lltPowerBmsV4Ble\"}"),
            "devices: invalid device name \"bat/1\""),
        BAD("device name with a wildcard", DEVICES("\"bat+\": {\"driver\": \"lltPowerBmsV4Ble\"}"),
            "devices: invalid device name \"bat+\""),
        BAD("empty device name", DEVICES("\"\": {\"driver\": \"lltPowerBmsV4Ble\"}"),
            "devices: invalid device name \"\""),
        /* MAC */
        BAD("short MAC", DEV("{\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"aa:bb:cc:dd:ee\"}"),
            "devices.d1.mac: expected a MAC address like aa:bb:cc:dd:ee:ff, got \"aa:bb:cc:dd:ee\""),
        BAD("MAC with dashes", DEV("{\"driver\": \"jkBmsBd4\", \"mac\": \"aa-bb-cc-dd-ee-ff\"}"),
            "devices.d1.mac: expected a MAC address"),
        BAD("MAC not hex", DEV("{\"driver\": \"daly8S24V60A\", \"mac\": \"gg:bb:cc:dd:ee:ff\"}"),
            "devices.d1.mac: expected a MAC address"),
        BAD("MAC as a number", DEV("{\"driver\": \"daly8S24V60A\", \"mac\": 42}"),
            "devices.d1.mac: expected a string"),
        /* host:port */
        BAD2("host without port", "{\"mqtt\": {\"host\": \"broker\"}}",
            "mqtt.host: expected host:port", "\"broker\""),
        BAD2("host with empty port", "{\"mqtt\": {\"host\": \"broker:\"}}", "mqtt.host: expected host:port",
             "\"broker:\""),
        BAD2("port 0", "{\"mqtt\": {\"host\": \"broker:0\"}}", "mqtt.host: expected host:port", "\"broker:0\""),
        BAD2("port 70000", "{\"mqtt\": {\"host\": \"broker:70000\"}}", "mqtt.host: expected host:port",
             "\"broker:70000\""),
        BAD2("bare IPv6", "{\"mqtt\": {\"host\": \"::1:1883\"}}", "mqtt.host: expected host:port", "\"::1:1883\""),
        BAD2("IPv6 without port", "{\"mqtt\": {\"host\": \"[::1]\"}}",
            "mqtt.host: expected host:port", "\"[::1]\""),
        BAD("port not a number", "{\"mqtt\": {\"host\": \"broker:mqtt\"}}", "mqtt.host: expected host:port"),
        BAD("no host before port", "{\"mqtt\": {\"host\": \":1883\"}}", "mqtt.host: expected host:port"),
        BAD("logging host without port", CFG("\"logging\": {\"host\": \"loghost\"}"),
            "logging.host: expected host:port"),
        BAD("http listen without host", CFG("\"http\": {\"listen\": \"8080\"}"),
            "http.listen: expected host:port"),
        BAD("shelly host without port", DEV("{\"driver\": \"shellyCharger\", \"host\": \"192.168.1.21\"}"),
            "devices.d1.host: expected host:port"),
        BAD("dtu host port 0", INV_DEV("{\"driver\": \"openDtu\", \"host\": \"dtu:0\", \"serial\": \"1\", "
                                       "\"power_lut\": \"lut.csv\"}"),
            "devices.d1.host: expected host:port"),
        /* files */
        BAD2("missing LUT file",
            INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"id\": 0, \"power_lut\": \"nope.csv\"}"),
            "devices.d1.power_lut: cannot read file", "nope.csv"),
        BAD2("LUT without a valid line", INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"id\": 0, "
                                                 "\"power_lut\": \"empty.csv\"}"),
             "devices.d1.power_lut: ", "has no valid \"percent;watt\" line"),
        BAD2("openDtu LUT without a valid line",
             INV_DEV("{\"driver\": \"openDtu\", \"host\": \"h:80\", \"serial\": \"1\", "
                     "\"power_lut\": \"empty.csv\"}"),
             "devices.d1.power_lut: ", "has no valid"),
        BAD2("missing CA file", MQTT(", \"ca\": \"no-such-ca.pem\""),
            "mqtt.ca: cannot read file", "no-such-ca.pem"),
        /* topics */
        BAD2("root with +", MQTT(", \"root\": \"home/+/battery\""),
            "mqtt.root: expected a topic", "\"home/+/battery\""),
        BAD2("root with #", MQTT(", \"root\": \"home/#\""), "mqtt.root: expected a topic", "\"home/#\""),
        BAD2("root with leading /", MQTT(", \"root\": \"/homebattery\""), "mqtt.root: expected a topic",
             "\"/homebattery\""),
        BAD2("root with trailing /", MQTT(", \"root\": \"homebattery/\""), "mqtt.root: expected a topic",
             "\"homebattery/\""),
        BAD("root with an empty level", MQTT(", \"root\": \"home//battery\""), "mqtt.root: expected a topic"),
        BAD("bad homeassistant prefix", MQTT(", \"homeassistant\": {\"prefix\": \"ha/#\"}"),
            "mqtt.homeassistant.prefix:"),
        BAD("consumption topic with #", DEV("{\"driver\": \"mqttConsumption\", \"topic\": \"meter/#\"}"),
            "devices.d1.topic: expected an MQTT topic"),
        BAD("battery root_topic with +", DEV("{\"driver\": \"mqttBattery\", \"root_topic\": \"other/+/bat1\", "
                                             "\"cells_count\": 8, \"temperature_count\": 1}"),
            "devices.d1.root_topic: expected an MQTT topic"),
        /* credentials */
        BAD("password without user", MQTT(", \"password\": \"p\""), "mqtt.password: a password needs mqtt.user"),
        BAD("http token too short", CFG("\"http\": {\"token\": \"0123456789abcde\"}"),
            "http.token: too short: use at least 16 characters"),
        /* mqttBattery cells_count / cell_count */
        BAD("cells_count and cell_count", MB(", \"cells_count\": 8, \"cell_count\": 8"),
            "devices.d1.cell_count: give either cells_count or its alias cell_count, not both"),
        BAD("cell_count alias range-checked", MB(", \"cell_count\": 0"), "devices.d1.cell_count: 0 out of range"),
        BAD("cell_count alias type-checked", MB(", \"cell_count\": \"8\""),
            "devices.d1.cell_count: expected an integer"),
        /* mqttConsumption format */
        BAD2("format unknown string", MC(", \"format\": \"xml\""),
            "devices.d1.format: expected \"auto\", \"binary\", \"text\"",
             "\"xml\""),
        BAD("format a number", MC(", \"format\": 5"), "devices.d1.format: expected \"auto\", \"binary\", \"text\""),
        BAD("format object without json", MC(", \"format\": {}"),
            "devices.d1.format.json: required string is missing"),
        BAD("format json path with ..", MC(", \"format\": {\"json\": \"SML..Power\"}"),
            "devices.d1.format.json: expected a dotted path"),
        BAD("format json path with leading dot", MC(", \"format\": {\"json\": \".Power\"}"),
            "devices.d1.format.json: expected a dotted path"),
        /* victronMppt control and port */
        BAD2("control unknown string", VIC(", \"control\": \"gpio\""),
            "devices.d1.control: expected \"hex\", \"none\"",
             "\"gpio\""),
        BAD("control upper case", VIC(", \"control\": \"HEX\""), "devices.d1.control: expected \"hex\""),
        BAD("control a number", VIC(", \"control\": 1"), "devices.d1.control: expected \"hex\""),
        BAD("control empty object", VIC(", \"control\": {}"), "devices.d1.control: expected \"hex\""),
        BAD("control gpio not an object", VIC(", \"control\": {\"gpio\": 4}"),
            "devices.d1.control.gpio: expected an object"),
        BAD("control gpio chip relative path",
            VIC(", \"control\": {\"gpio\": {\"chip\": \"dev/gpiochip0\", \"line\": 1}}"),
            
            "devices.d1.control.gpio.chip: expected a chip name"),
        BAD("control gpio active_low not a bool",
            VIC(", \"control\": {\"gpio\": {\"line\": 1, \"active_low\": 0}}"),
            
            "devices.d1.control.gpio.active_low: expected true or false"),
        BAD("relative port", DEV("{\"driver\": \"victronMppt\", \"port\": \"ttyUSB0\"}"),
            "devices.d1.port: expected an absolute device path"),
        /* jkBmsBd4 layout */
        BAD2("jk layout unknown", JK(", \"layout\": \"48s\""),
            "devices.d1.layout: expected auto, 24s or 32s", "\"48s\""),
        BAD("jk layout a number", JK(", \"layout\": 24"), "devices.d1.layout: expected a string, got 24"),
        /* limit_refresh, restart_at */
        BAD("limit_refresh too short",
            INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"id\": 0, \"power_lut\": \"lut.csv\", "
                    "\"limit_refresh\": 9}"),
            "devices.d1.limit_refresh: 9 out of range"),
        BAD("limit_refresh too long",
            INV_DEV("{\"driver\": \"openDtu\", \"host\": \"h:80\", \"serial\": \"114182912345\", "
                    "\"power_lut\": \"lut.csv\", \"limit_refresh\": 3601}"),
            "devices.d1.limit_refresh: 3601 out of range"),
        BAD("restart_at hour 25",
            INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"id\": 0, \"power_lut\": \"lut.csv\", "
                    "\"restart_at\": \"25:00\"}"),
            "devices.d1.restart_at: expected a local time \"HH:MM\""),
        BAD("restart_at without leading zero",
            INV_DEV("{\"driver\": \"openDtu\", \"host\": \"h:80\", \"serial\": \"114182912345\", "
                    "\"power_lut\": \"lut.csv\", \"restart_at\": \"3:00\"}"),
            "devices.d1.restart_at: expected a local time \"HH:MM\""),
        BAD("restart_at a number",
            INV_DEV("{\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"id\": 0, \"power_lut\": \"lut.csv\", "
                    "\"restart_at\": 300}"),
            "devices.d1.restart_at"),
        /* openDtu serial */
        BAD("openDtu serial with dashes",
            INV_DEV("{\"driver\": \"openDtu\", \"host\": \"h:80\", \"serial\": \"1141-8291\", "
                    "\"power_lut\": \"lut.csv\"}"),
            "devices.d1.serial: expected the inverter serial"),
        /* output cap, meter fallback, SoC and current limits (control.md) */
        BAD("max_power 0", NZ(", \"max_power\": 0"), "netzero.max_power: 0 out of range"),
        BAD("max_power too large", NZ(", \"max_power\": 100001"), "netzero.max_power: 100001 out of range"),
        BAD("max_power not an integer", NZ(", \"max_power\": 800.5"), "netzero.max_power"),
        BAD("fallback not an object", NZ(", \"fallback\": 60"), "netzero.fallback"),
        BAD("fallback after too short", NZ(", \"fallback\": {\"after\": 4}"), "netzero.fallback.after: 4 out of range"),
        BAD("fallback after too long", NZ(", \"fallback\": {\"after\": 3601}"),
            "netzero.fallback.after: 3601 out of range"),
        BAD("fallback power negative", NZ(", \"fallback\": {\"power\": -1}"), "netzero.fallback.power: -1 out of range"),
        BAD("fallback unknown key", NZ(", \"fallback\": {\"afterwards\": 60}"),
            "netzero.fallback.afterwards: unknown key"),
        BAD2("inverter_power above max_power",
             CFG("\"general\": {\"inverter_power\": 900}, \"netzero\": {\"enabled\": false, \"signed\": true, "
                 "\"max_power\": 800}"),
             "general.inverter_power: 900 W is above netzero.max_power", "800 W"),
        BAD("soc_low above 100", SUP("\"soc_low\": {\"enabled\": true, \"threshold\": 101}"),
            "supervisor.soc_low.threshold: 101 out of range"),
        BAD("soc_high hysteresis too large", SUP("\"soc_high\": {\"enabled\": true, \"threshold\": 90, \"hysteresis\": 51}"),
            "supervisor.soc_high.hysteresis: 51 out of range"),
        BAD("soc_low not below soc_high",
            SUP("\"soc_low\": {\"enabled\": true, \"threshold\": 50}, \"soc_high\": {\"enabled\": true, \"threshold\": 50}"),
            "supervisor.soc_low.threshold: must be below supervisor.soc_high.threshold"),
        BAD("current_discharge threshold 0", SUP("\"current_discharge\": {\"enabled\": true, \"threshold\": 0}"),
            "supervisor.current_discharge.threshold: 0 out of range"),
        BAD("current_charge without threshold", SUP("\"current_charge\": {\"enabled\": true}"),
            "supervisor.current_charge.threshold"),
        /* cross-section rules */
        BAD("inverter without netzero and without inverter_power",
            DEVICES(INVERTER), "general.inverter_power: required when an inverter is configured"),
        BAD("inverter with netzero disabled and without inverter_power",
            CFG("\"netzero\": {\"enabled\": false, \"signed\": true}, \"devices\": {" INVERTER ", " CONSUMER "}"),
            "general.inverter_power: required when an inverter is configured"),
        BAD("netzero enabled without a consumption device",
            CFG("\"netzero\": {\"enabled\": true, \"signed\": true}, \"general\": {\"inverter_power\": 100}, "
                "\"devices\": {" INVERTER "}"),
            "netzero.enabled: netzero needs at least one consumption device"),
        BAD("cell_low equal to cell_high",
            SUP("\"cell_low\": {\"enabled\": true, \"threshold\": 3.5}, "
                "\"cell_high\": {\"enabled\": true, \"threshold\": 3.5}"),
            "supervisor.cell_low.threshold: must be below supervisor.cell_high.threshold"),
        BAD("cell_low above cell_high",
            SUP("\"cell_low\": {\"enabled\": true, \"threshold\": 3.7}, "
                "\"cell_high\": {\"enabled\": true, \"threshold\": 3.6}"),
            "supervisor.cell_low.threshold: must be below supervisor.cell_high.threshold"),
};

static void test_bad_table(void **state) {
        unsigned failures = 0;

        (void) state;
        assert_true(ELEMENTSOF(bad_cases) >= 40);
        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
                const struct bad_case *t = &bad_cases[i];
                struct config_errors e;
                struct config *c = NULL;
                int r = parse(t->text, &c, &e);
                const char *why = NULL;

                if (r != t->r)
                        why = "wrong return value";
                else if (c)
                        why = "a config was returned";
                else if (e.n == 0)
                        why = "no error line";
                else if (!find_line(e.lines, e.n, t->expect, t->expect2))
                        why = "expected text missing";
                else if (!lines_start_with_path(e.lines, e.n, cfg_path) ||
                         !lines_start_with_path(e.warnings, e.n_warnings, cfg_path))
                        why = "a line does not start with the file path";
                if (why) {
                        print_message("  bad case \"%s\": %s (config_parse() = %d, want %d; want a line with "
                                      "'%s'%s%s%s)\n    %s\n",
                                      t->name, why, r, t->r, t->expect, t->expect2 ? " and '" : "",
                                      t->expect2 ? t->expect2 : "", t->expect2 ? "'" : "", t->text);
                        dump(&e);
                        failures++;
                }
                config_free(c);
                config_errors_done(&e);
        }
        assert_int_equal(failures, 0);
}

/* ---- parse errors: file:line:column ---- */

static void test_parse_error_position(void **state) {
        static const struct {
                const char *text;
                const char *where; /* line:column of the offending character */
        } cases[] = {
                { "{\n  \"mqtt\": {\"host\": \"a:1\"},\n}\n", "3:1" },
                { "{\n  \"mqtt\" {\n", "2:10" },
                { "{\"a\": 1,\n\"b\": tru}", "2:9" },
                { "\n\n   {\"mqtt\": }", "3:13" },
                { MQTT("") " x", "1:43" },
        };
        unsigned failures = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct config_errors e;
                struct config *c = NULL;
                char want[PATH_MAX + 64];
                int r = parse(cases[i].text, &c, &e);

                /* spec/config.md: "/etc/homebattery/config.json:14:5: parse error: ..." */
                snprintf(want, sizeof(want), "%s:%s: parse error: ", cfg_path, cases[i].where);
                if (r != -EINVAL || c || e.n != 1 || strncmp(e.lines[0], want, strlen(want)) != 0) {
                        print_message("  parse error case %zu: config_parse() = %d, want a single line starting "
                                      "with \"%s\"\n",
                                      i, r, want);
                        dump(&e);
                        failures++;
                }
                config_free(c);
                config_errors_done(&e);
        }
        assert_int_equal(failures, 0);
}

/* ---- the unknown-driver message lists every driver ---- */

static void test_unknown_driver_lists_all(void **state) {
        struct config_errors e;
        struct config *c = NULL;
        const char *line;

        (void) state;
        assert_int_equal(parse(DEV("{\"driver\": \"noSuchDriver\"}"), &c, &e), -EINVAL);
        assert_null(c);
        line = find_line(e.lines, e.n, "devices.d1.driver: unknown driver \"noSuchDriver\" (known: ", NULL);
        if (!line) {
                dump(&e);
                fail();
                return; /* cmocka's fail() is not declared noreturn: -O2 would see a NULL line below */
        }
        assert_true(registry_count() >= 9);
        for (const struct driver *const *d = driver_table; *d; d++) {
                char quoted[80];
                /* each name appears as a whole list entry */
                snprintf(quoted, sizeof(quoted), " %s", (*d)->name);
                if (!strstr(line, quoted))
                        print_message("  \"%s\" missing from: %s\n", (*d)->name, line);
                assert_non_null(strstr(line, quoted));
        }
        config_errors_done(&e);
}

/* ---- all errors are listed, not just the first ---- */

static void test_all_errors_listed(void **state) {
        static const char *const keys[] = {
                "general.default_mode", "mqtt.root", "logging.level", "supervisor.cell_low.threshold",
                "devices.bat.mac", "bluetooth.adapter", "devices.inv.id", "http.token",
        };
        struct config_errors e;
        struct config *c = NULL;

        (void) state;
        assert_int_equal(parse("{\"general\": {\"default_mode\": \"turbo\"},"
                               " \"mqtt\": {\"host\": \"b:1\", \"root\": \"a/#\"},"
                               " \"logging\": {\"level\": \"loud\"},"
                               " \"supervisor\": {\"cell_low\": {\"enabled\": true, \"threshold\": \"3,1\"}},"
                               " \"bluetooth\": {\"adapter\": \"usb0\"},"
                               " \"http\": {\"token\": \"abc\"},"
                               " \"devices\": {\"bat\": {\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"nope\"},"
                               "   \"inv\": {\"driver\": \"ahoyDtu\", \"host\": \"h:80\", \"id\": 999,"
                               "     \"power_lut\": \"lut.csv\"}}}",
                               &c, &e),
                         -EINVAL);
        assert_null(c);
        if (e.n < ELEMENTSOF(keys))
                dump(&e);
        assert_true(e.n >= ELEMENTSOF(keys));
        assert_true(lines_start_with_path(e.lines, e.n, cfg_path));
        /* each mistake has its own line naming its key */
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                char k[128];
                size_t hits = 0;
                snprintf(k, sizeof(k), ": %s: ", keys[i]);
                for (size_t j = 0; j < e.n; j++)
                        if (strstr(e.lines[j], k))
                                hits++;
                if (hits != 1) {
                        print_message("  key %s named on %zu lines\n", keys[i], hits);
                        dump(&e);
                }
                assert_int_equal(hits, 1);
        }
        config_errors_done(&e);
}

/* ---- secrets never appear in error lines ---- */

struct secret_case {
        const char *name;
        const char *text;
        const char *secret;
        const char *key; /* the line about it must still name the key */
};

static const struct secret_case secret_cases[] = {
        { "mqtt.password as a number", MQTT(", \"user\": \"u\", \"password\": 73196482"), "73196482",
          "mqtt.password" },
        { "mqtt.password as a list", MQTT(", \"user\": \"u\", \"password\": [\"hunter2-mqtt\"]"), "hunter2",
          "mqtt.password" },
        { "mqtt.password as an object", MQTT(", \"user\": \"u\", \"password\": {\"v\": \"hunter2-obj\"}"),
          "hunter2",
          "mqtt.password" },
        { "mqtt.password without user", MQTT(", \"password\": \"hunter2-nouser\""), "hunter2", "mqtt.password" },
        { "http.token as a number", CFG("\"http\": {\"token\": 4815162342}"), "4815162342",
          "http.token" },
        { "http.token as a list", CFG("\"http\": {\"token\": [\"s3cr3t-t0ken-value-xyz\"]}"), "s3cr3t",
          "http.token" },
        { "http.token too short", CFG("\"http\": {\"token\": \"s3cr3t\"}"), "s3cr3t", "http.token" },
        { "shelly password as a number", SHELLY(", \"user\": \"admin\", \"password\": 55501234"), "55501234",
          "devices.d1.password" },
        { "ahoy password as a list", AHOY(", \"password\": [\"hunter2-ahoy\"]"), "hunter2",
          "devices.d1.password" },
        { "openDtu password as an object", ODTU(", \"password\": {\"p\": \"hunter2-odtu\"}"), "hunter2",
          "devices.d1.password" },
};

static void check_no_secret(const struct secret_case *t, unsigned *failures) {
        struct config_errors e;
        struct config *c = NULL;
        int r = parse(t->text, &c, &e);
        const char *why = NULL;

        if (r != -EINVAL || c)
                why = "not rejected";
        else if (any_line_contains(&e, t->secret))
                why = "secret echoed";
        else if (!find_line(e.lines, e.n, t->key, NULL))
                why = "key not named";
        if (why) {
                print_message("  secret case \"%s\": %s (config_parse() = %d)\n", t->name, why, r);
                dump(&e);
                (*failures)++;
        }
        config_free(c);
        config_errors_done(&e);
}

static void test_secrets_hidden(void **state) {
        unsigned failures = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(secret_cases); i++)
                check_no_secret(&secret_cases[i], &failures);
        assert_int_equal(failures, 0);
}

/* A secret of the right type inside a container of the wrong type (e.g. the section wrapped in a list):
 * the "got ..." part of the message must not print it either. */
static const struct secret_case secret_container_cases[] = {
        { "mqtt section in a list",
          "{\"mqtt\": [{\"host\": \"b:1\", \"user\": \"u\", \"password\": \"hunter2-wrap\"}]}",
          "hunter2", "mqtt" },
        { "http section as a list", CFG("\"http\": [\"s3cr3t-t0ken-value-xyz\"]"), "s3cr3t", "http" },
        { "device in a list", DEVICES("\"c\": [{\"driver\": \"shellyCharger\", \"password\": \"hunter2-dev\"}]"),
          "hunter2", "devices.c" },
};

static void test_secrets_hidden_in_containers(void **state) {
        unsigned failures = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(secret_container_cases); i++)
                check_no_secret(&secret_container_cases[i], &failures);
        assert_int_equal(failures, 0);
}

/* ---- every line names the file, whatever the path ---- */

static void test_lines_name_the_file(void **state) {
        static const char *const paths[] = { "config.json", "/etc/homebattery/config.json", "./a b/c.json" };
        static const char *const texts[] = { "{", "[]", "{}", "{\"mqtt\": {\"host\": \"x\"}, \"foo\": 1}" };

        (void) state;
        for (size_t p = 0; p < ELEMENTSOF(paths); p++)
                for (size_t t = 0; t < ELEMENTSOF(texts); t++) {
                        struct config_errors e;
                        struct config *c = NULL;
                        assert_int_equal(parse_at(paths[p], texts[t], &c, &e), -EINVAL);
                        assert_null(c);
                        assert_true(e.n >= 1);
                        if (!lines_start_with_path(e.lines, e.n, paths[p]))
                                dump(&e);
                        assert_true(lines_start_with_path(e.lines, e.n, paths[p]));
                        config_errors_done(&e);
                }
}

/* ---- config_load(): the file itself ---- */

static void test_load(void **state) {
        struct config_errors e = {};
        struct config *c = NULL;
        char p[PATH_MAX];

        (void) state;
        snprintf(p, sizeof(p), "%s/does-not-exist.json", tmpdir);
        assert_true(config_load(p, &c, &e) < 0);
        assert_null(c);
        assert_int_equal(e.n, 1);
        assert_true(lines_start_with_path(e.lines, e.n, p));
        config_errors_done(&e);

        /* a directory is not a config file */
        assert_true(config_load(tmpdir, &c, &e) < 0);
        assert_null(c);
        assert_int_equal(e.n, 1);
        assert_true(lines_start_with_path(e.lines, e.n, tmpdir));
        config_errors_done(&e);

        /* the example loads from disk */
        assert_int_equal(config_load(TEST_SRCDIR "/../../etc/config.example.json", &c, &e), 0);
        assert_non_null(c);
        assert_int_equal(e.n, 0);
        assert_int_equal(c->n_devices, 9);
        config_free(c);
        config_errors_done(&e);
}

/* ---- the pure helpers ---- */

static void test_hostport_parse(void **state) {
        static const struct {
                const char *s;
                bool ok;
                const char *host;
                uint16_t port;
        } cases[] = {
                { "127.0.0.1:1883", true, "127.0.0.1", 1883 },
                { "broker.example.org:8883", true, "broker.example.org", 8883 },
                { "my_host-1:1", true, "my_host-1", 1 },
                { "h:65535", true, "h", 65535 },
                { "h:080", true, "h", 80 },
                { "[::1]:1883", true, "::1", 1883 },
                { "[fe80::1:2]:80", true, "fe80::1:2", 80 },
                { "[::ffff:192.168.1.1]:443", true, "::ffff:192.168.1.1", 443 },
                { "", false, NULL, 0 },
                { "broker", false, NULL, 0 },
                { "broker:", false, NULL, 0 },
                { ":1883", false, NULL, 0 },
                { "broker:0", false, NULL, 0 },
                { "broker:65536", false, NULL, 0 },
                { "broker:70000", false, NULL, 0 },
                { "broker:123456", false, NULL, 0 },
                { "broker:-1", false, NULL, 0 },
                { "broker:+80", false, NULL, 0 },
                { "broker:80a", false, NULL, 0 },
                { "broker: 80", false, NULL, 0 },
                { "::1:1883", false, NULL, 0 },
                { "fe80::1", false, NULL, 0 },
                { "[::1]", false, NULL, 0 },
                { "[::1]1883", false, NULL, 0 },
                { "[::1]:", false, NULL, 0 },
                { "[]:80", false, NULL, 0 },
                { "[::1:80", false, NULL, 0 },
                { "[zz::1]:80", false, NULL, 0 },
                { "a b:80", false, NULL, 0 },
                { "-broker:80", false, NULL, 0 },
                { "a/b:80", false, NULL, 0 },
                { "a:b:80", false, NULL, 0 },
        };
        unsigned failures = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *host = NULL;
                uint16_t port = 0;
                int r = hostport_parse(cases[i].s, &host, &port);
                bool ok = cases[i].ok ? r == 0 && host && strcmp(host, cases[i].host) == 0 && port == cases[i].port
                                      : r < 0;
                if (!ok) {
                        print_message("  hostport_parse(\"%s\") = %d, host \"%s\", port %u\n", cases[i].s, r,
                                      host ? host : "(null)", port);
                        failures++;
                }
                if (r == 0)
                        free(host);
        }
        assert_int_equal(failures, 0);
}

static void test_mac_is_valid(void **state) {
        static const struct {
                const char *s;
                bool valid;
        } cases[] = {
                { "aa:bb:cc:dd:ee:ff", true },   { "AA:BB:CC:DD:EE:FF", true },   { "a4:C1:38:00:00:01", true },
                { "00:00:00:00:00:00", true },   { "", false },                   { "aa:bb:cc:dd:ee", false },
                { "aa:bb:cc:dd:ee:f", false },   { "aa:bb:cc:dd:ee:fff", false },
                { "aa:bb:cc:dd:ee:ff:00", false },
                { "aa-bb-cc-dd-ee-ff", false },  { "aabb.ccdd.eeff", false },     { "aabbccddeeff", false },
                { "gg:bb:cc:dd:ee:ff", false },  { "a:bbb:cc:dd:ee:ff", false },  { " aa:bb:cc:dd:ee:f", false },
                { "aa:bb:cc:dd:ee:ff ", false }, { "aa:bb:cc:dd:ee:f ", false },  { "aa::b:cc:dd:ee:ff", false },
        };
        unsigned failures = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (mac_is_valid(cases[i].s) != cases[i].valid) {
                        print_message("  mac_is_valid(\"%s\") != %s\n", cases[i].s,
                                      cases[i].valid ? "true" : "false");
                        failures++;
                }
        assert_int_equal(failures, 0);
}

static void test_device_name_is_valid(void **state) {
        static const struct {
                const char *s;
                bool valid;
        } cases[] = {
                { "bat1", true },   { "B", true },       { "0", true },        { "Bat_1-a", true },
                { NAME32, true },   { "-", true },       { "", false },        { NAME33, false },
                { "bat 1", false }, { "bat.1", false },  { "bat/1", false },   { "bat+", false },
                { "bat#", false },  { "b\xc3\xa4t", false }, { "bat:1", false }, { "bat\n", false },
        };
        unsigned failures = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (device_name_is_valid(cases[i].s) != cases[i].valid) {
                        print_message("  device_name_is_valid(\"%s\") != %s\n", cases[i].s,
                                      cases[i].valid ? "true" : "false");
                        failures++;
                }
        assert_int_equal(failures, 0);
}

static void test_mqtt_topic_is_valid(void **state) {
        static const struct {
                const char *s;
                bool valid;
        } cases[] = {
                { "homebattery", true },  { "a/b/c", true },      { "otherroot/bat/dev/bat1", true },
                { "tasmota/tele/meter/SENSOR", true }, { "a b", true }, { "", false },
                { "/a", false },          { "a/", false },        { "/", false },
                { "a//b", false },        { "a/+/b", false },     { "a/#", false },
                { "+", false },           { "#", false },         { "a+", false },
        };
        char topic[258];
        unsigned failures = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (mqtt_topic_is_valid(cases[i].s) != cases[i].valid) {
                        print_message("  mqtt_topic_is_valid(\"%s\") != %s\n", cases[i].s,
                                      cases[i].valid ? "true" : "false");
                        failures++;
                }
        assert_int_equal(failures, 0);

        /* at most 256 characters */
        memset(topic, 'a', 256);
        topic[256] = 0;
        assert_true(mqtt_topic_is_valid(topic));
        topic[256] = 'a';
        topic[257] = 0;
        assert_false(mqtt_topic_is_valid(topic));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_minimal_defaults),
                cmocka_unit_test(test_section_defaults),
                cmocka_unit_test(test_netzero_step_defaults),
                cmocka_unit_test(test_explicit_values),
                cmocka_unit_test(test_relative_files),
                cmocka_unit_test(test_example),
                cmocka_unit_test(test_shipped_lut),
                cmocka_unit_test(test_good_table),
                cmocka_unit_test(test_bad_table),
                cmocka_unit_test(test_parse_error_position),
                cmocka_unit_test(test_unknown_driver_lists_all),
                cmocka_unit_test(test_all_errors_listed),
                cmocka_unit_test(test_secrets_hidden),
                cmocka_unit_test(test_secrets_hidden_in_containers),
                cmocka_unit_test(test_lines_name_the_file),
                cmocka_unit_test(test_load),
                cmocka_unit_test(test_hostport_parse),
                cmocka_unit_test(test_mac_is_valid),
                cmocka_unit_test(test_device_name_is_valid),
                cmocka_unit_test(test_mqtt_topic_is_valid),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
