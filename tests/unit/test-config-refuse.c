/* SPDX-License-Identifier: MIT */
/* Unit tests of what --check-config refuses so that the daemon does not fail after the check passed:
 * duplicate keys, broken strings, MQTT topics read twice or shared with the daemon, special files,
 * secrets inside other values, numbers as written, GPIO without libgpiod, temperature checks without
 * sensors, HTTP listen names. Each table row is one file and the line it must (not) produce. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, asprintf */
#endif

#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "config-ctx.h"
#include "config.h"
#include "config-test.h"
#include "drivers/victron-config.h"
#include "hb-build-config.h"

static char tmpdir[] = "/tmp/hb-test-refuse-XXXXXX";
static char cfg_path[PATH_MAX];

static void tmp_path(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s/%s", tmpdir, name);
}

static int group_setup(void **state) {
        char p[PATH_MAX];
        FILE *f;

        (void) state;
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", tmpdir);
        tmp_path(p, sizeof(p), "lut.csv");
        f = fopen(p, "we");
        if (!f || fputs("2;30\n100;600\n", f) < 0 || fclose(f) != 0)
                return -1;
        tmp_path(p, sizeof(p), "fifo");
        return mkfifo(p, 0600) < 0 ? -1 : 0;
}

static int group_teardown(void **state) {
        static const char *const names[] = { "lut.csv", "fifo", "big.json", "config.json" };
        char p[PATH_MAX];

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                tmp_path(p, sizeof(p), names[i]);
                (void) unlink(p);
        }
        return rmdir(tmpdir) < 0 ? -1 : 0;
}

static int parse(const char *text, struct config **ret, struct config_errors *e) {
        *ret = NULL;
        *e = (struct config_errors) {};
        return config_parse(cfg_path, text, strlen(text), ret, e);
}

static bool any_line_contains(const struct config_errors *e, const char *s) {
        return find_line(e->lines, e->n, s, NULL) || find_line(e->warnings, e->n_warnings, s, NULL);
}

#define MQ "\"mqtt\": {\"host\": \"broker.example:1883\", \"root\": \"hb\"}"
#define CFG(rest) "{" MQ ", " rest "}"
#define DEVICES(d) CFG("\"devices\": {" d "}")
#define MQTT(keys) "{\"mqtt\": {\"host\": \"broker.example:1883\"" keys "}}"
#define MQTT_HOST(h) "{\"mqtt\": {\"host\": \"" h "\"}}"
#define NZ_KEY(k, v) CFG("\"netzero\": {\"enabled\": false, \"signed\": true, \"" k "\": " v "}")
#define METER(name, topic) "\"" name "\": {\"driver\": \"mqttConsumption\", \"topic\": \"" topic "\"}"
#define MBAT(name, root, temps)                                                                          \
        "\"" name "\": {\"driver\": \"mqttBattery\", \"root_topic\": \"" root "\", \"cells_count\": 8, " \
        "\"temperature_count\": " temps "}"
#define LLT "\"ble\": {\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"aa:bb:cc:dd:ee:ff\"}"
#define A50 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TEMP_LOW_CHARGE "\"temp_low_charge\": {\"enabled\": true, \"threshold\": 10, \"hysteresis\": 2}"

/* A case: the file, the text one error line must hold (with want2 too, when set), and a text no line may
 * hold (a secret, a clamped number). want == NULL: the file is valid. */
struct refuse_case {
        const char *name;
        const char *text;
        const char *want;
        const char *want2;
        const char *never;
};

static bool check_case(const struct refuse_case *t) {
        struct config_errors e;
        struct config *c = NULL;
        int r = parse(t->text, &c, &e);
        const char *why = NULL;

        if (!t->want && (r != 0 || !c))
                why = "refused, want valid";
        else if (t->want && (r != -EINVAL || c))
                why = "accepted, want refused";
        else if (t->want && !find_line(e.lines, e.n, t->want, t->want2))
                why = "expected text missing";
        else if (t->never && any_line_contains(&e, t->never))
                why = "a line shows what it must not";
        for (size_t i = 0; !why && i < e.n; i++)
                if (!utf8_is_valid(e.lines[i], strlen(e.lines[i])))
                        why = "a line is not valid UTF-8";
        if (why) {
                print_message("  case \"%s\": %s (config_parse() = %d; want '%s'%s%s)\n    %s\n", t->name, why, r,
                              t->want ? t->want : "(valid)", t->want2 ? " and " : "", t->want2 ? t->want2 : "",
                              t->text);
                dump(&e);
        }
        config_free(c);
        config_errors_done(&e);
        return !why;
}

static void run_cases(const struct refuse_case *cases, size_t n) {
        unsigned failures = 0;
        for (size_t i = 0; i < n; i++)
                if (!check_case(&cases[i]))
                        failures++;
        assert_int_equal(failures, 0);
}

/* ---- duplicate keys: json-c keeps the last one silently ---- */

static void test_duplicate_keys(void **state) {
        static const struct refuse_case cases[] = {
                /* a second, empty supervisor section would drop every check of the first */
                { "second supervisor",
                  "{" MQ ",\n \"supervisor\": {\"cell_low\": {\"enabled\": true, \"threshold\": 3.1}},\n"
                  " \"supervisor\": {}}",
                  ":3:2: duplicate key \"supervisor\"", NULL, NULL },
                { "key in mqtt", MQTT(", \"root\": \"a\", \"root\": \"b\""), ":1:55: duplicate key \"root\" in mqtt",
                  NULL, NULL },
                { "key in a check",
                  CFG("\"supervisor\": {\"cell_low\": {\"enabled\": true, \"threshold\": 3.1, \"enabled\": false}}"),
                  "duplicate key \"enabled\" in supervisor.cell_low", NULL, NULL },
                { "device name", DEVICES(METER("m", "a/b") ", " METER("m", "c/d")), "duplicate key \"m\" in devices",
                  NULL, NULL },
                { "written with an escape", MQTT(", \"root\": \"a\", \"r\\u006fot\": \"b\""),
                  "duplicate key \"root\" in mqtt", NULL, NULL },
                { "inside a list", CFG("\"network\": [{\"a\": 1}, {\"a\": 1, \"a\": 2}]"),
                  "duplicate key \"a\" in network[1]", NULL, NULL },
                { "same key in two objects", CFG("\"network\": [{\"a\": 1}, {\"a\": 1}], \"general\": {\"a\": 1}"),
                  "general.a: unknown key", NULL, "duplicate" },
                { "same key at two levels", CFG("\"network\": {\"network\": {\"network\": 1}}"), NULL, NULL, NULL },
        };

        (void) state;
        run_cases(cases, ELEMENTSOF(cases));
}

static void test_every_duplicate_listed(void **state) {
        struct config_errors e;
        struct config *c = NULL;
        char want[PATH_MAX + 64];

        (void) state;
        assert_int_equal(parse("{\"mqtt\": {\"host\": \"a:1\", \"host\": \"b:1\"},\n"
                               "\"general\": {},\n"
                               "\"general\": {\"default_mode\": \"x\", \"default_mode\": \"y\"}}",
                               &c, &e),
                         -EINVAL);
        if (e.n != 3)
                dump(&e);
        assert_int_equal(e.n, 3);
        /* file:line:column of the second occurrence */
        snprintf(want, sizeof(want), "%s:1:26: duplicate key \"host\" in mqtt", cfg_path);
        assert_string_equal(e.lines[0], want);
        snprintf(want, sizeof(want), "%s:3:1: duplicate key \"general\"", cfg_path);
        assert_string_equal(e.lines[1], want);
        snprintf(want, sizeof(want), "%s:3:34: duplicate key \"default_mode\" in general", cfg_path);
        assert_string_equal(e.lines[2], want);
        config_errors_done(&e);
}

/* ---- strings: UTF-8, NUL, and what libmosquitto refuses ---- */

static void test_strings(void **state) {
        static const struct refuse_case cases[] = {
                { "root not UTF-8", MQTT(", \"root\": \"a\xff\""), "mqtt.root: the value is not valid UTF-8", NULL,
                  NULL },
                { "client_id overlong", MQTT(", \"client_id\": \"a\xc0\xaf\""),
                  "mqtt.client_id: the value is not valid UTF-8", NULL, NULL },
                { "user a raw surrogate", MQTT(", \"user\": \"\xed\xa0\x80\""),
                  "mqtt.user: the value is not valid UTF-8", NULL, NULL },
                { "user cut short", MQTT(", \"user\": \"u\xe2\x82\""), "mqtt.user: the value is not valid UTF-8", NULL,
                  NULL },
                { "NUL in the password", MQTT(", \"user\": \"u\", \"password\": \"a\\u0000b\""),
                  "mqtt.password: the value contains a NUL character", NULL, NULL },
                { "NUL in a list", CFG("\"logging\": {\"ignore\": [\"mqtt\", \"a\\u0000\"]}"),
                  "logging.ignore[1]: the value contains a NUL character", NULL, NULL },
                { "NUL in a key", MQTT(", \"ro\\u0000ot\": \"x\""), "a key in mqtt contains a NUL character", NULL,
                  NULL },
                { "key not UTF-8", CFG("\"general\": {\"a\xfe\": 1}"), "a key in general is not valid UTF-8", NULL,
                  NULL },
                { "device topic not UTF-8", DEVICES(METER("m", "a/\xff")), "devices.m.topic: the value is not valid",
                  NULL, NULL },
                { "escape in root", MQTT(", \"root\": \"a\\u001b[2Jb\""), "mqtt.root: expected a topic", NULL, "\x1b" },
                { "bell in client_id", MQTT(", \"client_id\": \"a\\u0007\""), "mqtt.client_id: expected", NULL, NULL },
                { "non-character in client_id", MQTT(", \"client_id\": \"a\\uffff\""), "mqtt.client_id: expected",
                  NULL, NULL },
                { "C1 control in user", MQTT(", \"user\": \"a\\u0085\""), "mqtt.user: expected", NULL, NULL },
                { "tab in a device topic", DEVICES(METER("m", "a\\tb")), "devices.m.topic: expected an MQTT topic",
                  NULL, NULL },
                { "control in the HA prefix", MQTT(", \"homeassistant\": {\"prefix\": \"h\\u0001a\"}"),
                  "mqtt.homeassistant.prefix: not a valid topic prefix", NULL, NULL },
                { "escape in an unknown key is not echoed", CFG("\"general\": {\"\\u001b[31mx\": 1}"),
                  "general.?[31mx: unknown key", NULL, "\x1b" },
                { "UTF-8 accepted", MQTT(", \"root\": \"h\xc3\xa4us\", \"user\": \"j\xc3\xbcrgen\xe2\x82\xac\","
                                         " \"client_id\": \"hb-\xf0\x9f\x94\x8b\""),
                  NULL, NULL, NULL },
        };

        (void) state;
        run_cases(cases, ELEMENTSOF(cases));
}

static void test_string_helpers(void **state) {
        (void) state;
        assert_true(utf8_is_valid("", 0));
        assert_true(utf8_is_valid("a\xc3\xa4\xe2\x82\xac\xf0\x9f\x94\x8b", 10));
        assert_false(utf8_is_valid("\x80", 1));
        assert_false(utf8_is_valid("\xc3", 1));
        assert_false(utf8_is_valid("\xe0\x80\x80", 3));     /* overlong */
        assert_false(utf8_is_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
        assert_false(utf8_is_valid("\xed\xb0\x80", 3));     /* surrogate */
        assert_true(mqtt_string_is_valid("home/battery \xc3\xa4"));
        assert_false(mqtt_string_is_valid("a\tb"));
        assert_false(mqtt_string_is_valid("a\x7f"));
        assert_false(mqtt_string_is_valid("a\xc2\x9f"));     /* C1 */
        assert_false(mqtt_string_is_valid("\xef\xb7\x90"));  /* U+FDD0 */
        assert_false(mqtt_string_is_valid("\xf0\x9f\xbf\xbe")); /* U+1FFFE */
        assert_false(mqtt_topic_is_valid("a/\x1b"));
}

/* ---- MQTT topics read twice, or shared with the daemon ---- */

static void test_filters_overlap(void **state) {
        static const struct {
                const char *a, *b;
                bool overlap;
        } cases[] = {
                { "a/b", "a/b", true },   { "a/b", "a/c", false },   { "a/#", "a", true },
                { "a/#", "a/b/c", true }, { "a/#", "ab/c", false },  { "a/+", "a", false },
                { "a/+", "a/b", true },   { "a/+/c", "a/b/#", true }, { "+/b", "a/+", true },
                { "a", "a/b", false },    { "a/b/#", "a/#", true },  { "#", "x/y", true },
                { "hb/#", "hb", true },   { "hb/#", "hbx/y", false }, { "h/status", "h/+/+/+/config", false },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                if (mqtt_filters_overlap(cases[i].a, cases[i].b) != cases[i].overlap ||
                    mqtt_filters_overlap(cases[i].b, cases[i].a) != cases[i].overlap)
                        print_message("  \"%s\" and \"%s\": want overlap %d\n", cases[i].a, cases[i].b,
                                      cases[i].overlap);
                assert_int_equal(mqtt_filters_overlap(cases[i].a, cases[i].b), cases[i].overlap);
                assert_int_equal(mqtt_filters_overlap(cases[i].b, cases[i].a), cases[i].overlap);
        }
}

static void test_topics(void **state) {
        static const struct refuse_case cases[] = {
                { "two meters on one topic", DEVICES(METER("m1", "meter/p") ", " METER("m2", "meter/p")),
                  "devices.m2.topic: MQTT topic \"meter/p\" overlaps \"meter/p\" of devices.m1.topic", NULL, NULL },
                { "two batteries on one root", DEVICES(MBAT("b1", "other/bat", "2") ", " MBAT("b2", "other/bat", "2")),
                  "devices.b2.root_topic: MQTT topic \"other/bat/#\" overlaps \"other/bat/#\" of devices.b1.root_topic",
                  NULL, NULL },
                { "a battery below another", DEVICES(MBAT("b1", "x", "2") ", " MBAT("b2", "x/y", "2")),
                  "devices.b2.root_topic", "devices.b1.root_topic", NULL },
                { "a meter inside a battery's topics", DEVICES(MBAT("b1", "x", "2") ", " METER("m", "x/power")),
                  "devices.m.topic", "devices.b1.root_topic", NULL },
                { "a meter on <root>/mode/set", DEVICES(METER("m", "hb/mode/set")),
                  "devices.m.topic: MQTT topic \"hb/mode/set\" overlaps this daemon's own topics (\"hb/#\", from "
                  "mqtt.root)",
                  NULL, NULL },
                { "a meter on <root>/consumption", DEVICES(METER("m", "hb/consumption")), "devices.m.topic",
                  "mqtt.root", NULL },
                { "a meter on <root>", DEVICES(METER("m", "hb")), "devices.m.topic", "mqtt.root", NULL },
                { "a battery on <root>", DEVICES(MBAT("b", "hb", "2")), "devices.b.root_topic", "mqtt.root", NULL },
                { "a meter on the HA status", DEVICES(METER("m", "homeassistant/status")), "devices.m.topic",
                  "Home Assistant's status topic", NULL },
                { "a battery over the HA topics", DEVICES(MBAT("b", "homeassistant", "2")), "devices.b.root_topic",
                  "Home Assistant", NULL },
                { "a custom HA prefix",
                  "{\"mqtt\": {\"host\": \"b:1\", \"homeassistant\": {\"prefix\": \"ha\"}}, \"devices\": {"
                  METER("m", "ha/status") "}}",
                  "devices.m.topic", "\"ha/status\"", NULL },
                { "HA disabled: its status topic is free",
                  "{\"mqtt\": {\"host\": \"b:1\", \"homeassistant\": {\"enabled\": false}}, \"devices\": {"
                  METER("m", "homeassistant/status") "}}",
                  NULL, NULL, NULL },
                { "distinct topics", DEVICES(METER("m1", "meter/one") ", " METER("m2", "meter/onex") ", "
                                             MBAT("b1", "other/bat", "2") ", " MBAT("b2", "other/bat2", "2") ", "
                                             METER("m3", "hbx/power")),
                  NULL, NULL, NULL },
        };

        (void) state;
        run_cases(cases, ELEMENTSOF(cases));
}

/* ---- temperature checks on batteries without a sensor ---- */

static void test_temperatures(void **state) {
        static const struct refuse_case cases[] = {
                { "mqttBattery without temperatures",
                  CFG("\"supervisor\": {" TEMP_LOW_CHARGE "}, \"devices\": {" MBAT("garage", "other/bat", "0") "}"),
                  "supervisor.temp_low_charge: enabled, but no battery can report a temperature (devices.garage "
                  "(mqttBattery))", NULL, NULL },
                { "every enabled check is named",
                  CFG("\"supervisor\": {\"temp_high_discharge\": {\"enabled\": true, \"threshold\": 40}}, "
                      "\"devices\": {" MBAT("garage", "other/bat", "0") ", " MBAT("shed", "other/shed", "0") "}"),
                  "supervisor.temp_high_discharge:", "devices.garage (mqttBattery), devices.shed (mqttBattery)",
                  NULL },
                { "one battery with temperatures is enough: the other gives no decision",
                  CFG("\"supervisor\": {" TEMP_LOW_CHARGE "}, \"devices\": {" MBAT("garage", "other/bat", "0") ", "
                      LLT "}"),
                  NULL, NULL, NULL },
                { "a disabled check",
                  CFG("\"supervisor\": {\"temp_low_charge\": {\"enabled\": false, \"threshold\": 10}},"
                      " \"devices\": {" MBAT("garage", "other/bat", "0") "}"),
                  NULL, NULL, NULL },
                { "with temperatures",
                  CFG("\"supervisor\": {" TEMP_LOW_CHARGE "}, \"devices\": {" MBAT("garage", "other/bat", "1") "}"),
                  NULL, NULL, NULL },
                { "a BMS tells only at run time", CFG("\"supervisor\": {" TEMP_LOW_CHARGE "}, \"devices\": {" LLT "}"),
                  NULL, NULL, NULL },
                { "no temperature check", DEVICES(MBAT("garage", "other/bat", "0")), NULL, NULL, NULL },
                { "a SmartShunt alone and a cell check",
                  CFG("\"supervisor\": {\"cell_low\": {\"enabled\": true, \"threshold\": 3.0}}, \"devices\": "
                      "{\"s\": {\"driver\": \"victronSmartShunt\", \"port\": \"/dev/ttyUSB9\"}}"),
                  "supervisor.cell_low: enabled, but no battery can report cell voltages (devices.s "
                  "(victronSmartShunt))", NULL, NULL },
                { "a SmartShunt alone, the cell check disabled without a threshold",
                  CFG("\"supervisor\": {\"cell_low\": {\"enabled\": false}}, \"devices\": "
                      "{\"s\": {\"driver\": \"victronSmartShunt\", \"port\": \"/dev/ttyUSB9\"}}"),
                  NULL, NULL, NULL },
                { "a SmartShunt and a BMS: the BMS's cells decide",
                  CFG("\"supervisor\": {\"cell_low\": {\"enabled\": true, \"threshold\": 3.0}}, \"devices\": "
                      "{\"s\": {\"driver\": \"victronSmartShunt\", \"port\": \"/dev/ttyUSB9\"}, " LLT "}"),
                  NULL, NULL, NULL },
        };

        (void) state;
        run_cases(cases, ELEMENTSOF(cases));
}

/* ---- secrets written into other values; numbers as written ---- */

static void test_secrets_masked(void **state) {
        static const struct refuse_case cases[] = {
                { "mqtt.host with user:password@", MQTT_HOST("user:pw-h0st@10.0.0.2:1883"),
                  "mqtt.host: expected host:port", "\"***@10.0.0.2:1883\"", "pw-h0st" },
                { "logging.host", CFG("\"logging\": {\"host\": \"admin:pw-l0g@10.0.0.3:514\"}"), "logging.host",
                  "***@10.0.0.3:514", "pw-l0g" },
                { "a password with an @", MQTT_HOST("u:p@ss-w0rd@broker:1883"), "mqtt.host", "***@broker:1883",
                  "ss-w0rd" },
                { "shelly host", DEVICES("\"c\": {\"driver\": \"shellyCharger\", \"host\": \"admin:pw-sh3lly@h\"}"),
                  "devices.c.host", "***@h", "pw-sh3lly" },
                { "a URL as root", MQTT(", \"root\": \"mqtt://u:pw-r00t@h/#\""), "mqtt.root", "***@h/#", "pw-r00t" },
                { "a wrong type", MQTT(", \"json\": \"u:pw-js0n@h\""), "mqtt.json: expected true or false",
                  "\"***@h\"", "pw-js0n" },
                { "default_mode", CFG("\"general\": {\"default_mode\": \"x:pw-m0de@idle\"}"), "general.default_mode",
                  "***@idle", "pw-m0de" },
                { "a long value is cut",
                  MQTT(", \"root\": \"#" A50 A50 A50 A50 "ZZEND\""),
                  "mqtt.root", "aaa...\"", "ZZEND" },
        };

        (void) state;
        run_cases(cases, ELEMENTSOF(cases));
}

static void test_config_show(void **state) {
        char buf[CONFIG_SHOW_SIZE], longer[200];

        (void) state;
        assert_string_equal(config_show(buf, "10.0.0.2:1883"), "10.0.0.2:1883");
        assert_string_equal(config_show(buf, "user:pw@10.0.0.2:1883"), "***@10.0.0.2:1883");
        assert_string_equal(config_show(buf, "a@b@c"), "***@c");
        /* cut at a character boundary: 200 two-byte characters */
        for (size_t i = 0; i < 100; i++)
                memcpy(longer + 2 * i, "\xc3\xa4", 2);
        longer[199] = 0;
        config_show(buf, longer);
        assert_true(strlen(buf) < CONFIG_SHOW_SIZE);
        assert_true(utf8_is_valid(buf, strlen(buf)));
        assert_non_null(strstr(buf, "..."));
}

static void test_numbers_as_written(void **state) {
        static const struct refuse_case cases[] = {
                { "10^30 as an integer", NZ_KEY("power_offset", "1000000000000000000000000000000"),
                  "netzero.power_offset: 1000000000000000000000000000000 out of range", NULL, "18446744073709551615" },
                { "-10^27", NZ_KEY("power_offset", "-1000000000000000000000000000"),
                  "netzero.power_offset: -1000000000000000000000000000 out of range", NULL, "9223372036854775808" },
                { "2^63", NZ_KEY("power_hysteresis", "9223372036854775808"),
                  "netzero.power_hysteresis: 9223372036854775808 out of range", NULL, "9223372036854775807" },
                { "1e30 where an integer belongs", NZ_KEY("power_offset", "1e30"),
                  "netzero.power_offset: expected an integer, got 1e30", NULL, NULL },
                { "1e30 as a threshold",
                  CFG("\"supervisor\": {\"cell_low\": {\"enabled\": true, \"threshold\": 1e30}}"),
                  "supervisor.cell_low.threshold: 1e30 out of range", NULL, NULL },
                { "10^30 as a threshold",
                  CFG("\"supervisor\": {\"cell_low\": {\"enabled\": true, "
                      "\"threshold\": 1000000000000000000000000000000}}"),
                  "supervisor.cell_low.threshold: 1000000000000000000000000000000 out of range", NULL,
                  "18446744073709551615" },
                { "in a device", DEVICES("\"c\": {\"driver\": \"shellyCharger\", \"host\": \"h:80\", "
                                         "\"relay_id\": 100000000000000000000}"),
                  "devices.c.relay_id: 100000000000000000000 out of range", NULL, NULL },
                { "-0 is 0", NZ_KEY("power_offset", "-0"), NULL, NULL, NULL },
        };

        (void) state;
        run_cases(cases, ELEMENTSOF(cases));
}

/* ---- GPIO control in a build without libgpiod ---- */

static void test_gpio_without_libgpiod(void **state) {
        struct config_errors e = {};
        struct config_ctx ctx = { .file = cfg_path, .dir = tmpdir, .errors = &e };
        struct victron_config gpio = { .control = VICTRON_CONTROL_GPIO }, hex = { .control = VICTRON_CONTROL_HEX };
        struct config *c = NULL;
        int r;

        (void) state;
        /* The check the parser runs with HAVE_LIBGPIOD, in both builds. */
        assert_int_equal(victron_check_control_supported(&ctx, "devices.mppt", &gpio, true), 0);
        assert_int_equal(victron_check_control_supported(&ctx, "devices.mppt", &hex, false), 0);
        assert_int_equal(e.n, 0);
        assert_int_equal(victron_check_control_supported(&ctx, "devices.mppt", &gpio, false), -EOPNOTSUPP);
        assert_true(ctx.failed);
        assert_int_equal(e.n, 1);
        assert_non_null(strstr(e.lines[0], ": devices.mppt.control.gpio: this build has no GPIO support (libgpiod)"));
        config_errors_done(&e);

        /* And this build: refused at check time exactly when libgpiod is missing. */
        r = parse(DEVICES("\"mppt\": {\"driver\": \"victronMppt\", \"port\": \"/dev/null\", "
                          "\"control\": {\"gpio\": {\"line\": 4}}}"),
                  &c, &e);
        if (HAVE_LIBGPIOD) {
                assert_int_equal(r, 0);
        } else {
                assert_int_equal(r, -EINVAL);
                assert_non_null(find_line(e.lines, e.n, "devices.mppt.control.gpio: this build has no GPIO", NULL));
        }
        config_free(c);
        config_errors_done(&e);
}

/* ---- http.listen: the server does not resolve names ---- */

static void test_http_listen(void **state) {
        static const struct refuse_case cases[] = {
                { "a name", CFG("\"http\": {\"listen\": \"myhost:8080\"}"),
                  "http.listen: expected an IP address or localhost", NULL, NULL },
                { "localhost", CFG("\"http\": {\"listen\": \"localhost:8080\"}"), NULL, NULL, NULL },
                { "any IPv4", CFG("\"http\": {\"listen\": \"0.0.0.0:8080\"}"), NULL, NULL, NULL },
                { "IPv6", CFG("\"http\": {\"listen\": \"[::1]:8080\"}"), NULL, NULL, NULL },
        };
        struct config_errors e;
        struct config *c = NULL;

        (void) state;
        run_cases(cases, ELEMENTSOF(cases));
        /* A privileged port is only a warning: the daemon may run with the capability. */
        assert_int_equal(parse(CFG("\"http\": {\"listen\": \"127.0.0.1:80\"}"), &c, &e), 0);
        assert_non_null(find_line(e.warnings, e.n_warnings, "http.listen: port 80 needs CAP_NET_BIND_SERVICE", NULL));
        config_free(c);
        config_errors_done(&e);
}

/* ---- files that are not regular: refused at once, never waited on ---- */

static void load_refused(const char *path, const char *want) {
        struct config_errors e = {};
        struct config *c = NULL;

        /* The old code blocked in fopen() on a FIFO: fail instead of hanging the suite. */
        alarm(10);
        assert_true(config_load(path, &c, &e) < 0);
        alarm(0);
        assert_null(c);
        if (e.n != 1 || !strstr(e.lines[0], want))
                dump(&e);
        assert_int_equal(e.n, 1);
        assert_non_null(strstr(e.lines[0], want));
        config_errors_done(&e);
}

static void test_special_files(void **state) {
        char fifo[PATH_MAX], big[PATH_MAX];
        int fd;

        (void) state;
        tmp_path(fifo, sizeof(fifo), "fifo");
        load_refused(fifo, "fifo: is a FIFO, not a regular file");
        load_refused("/dev/null", "/dev/null: is a character device, not a regular file");
        load_refused(tmpdir, ": is a directory, not a regular file");

        tmp_path(big, sizeof(big), "big.json");
        fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 1024 * 1024 + 1), 0);
        close(fd);
        load_refused(big, "big.json: too large (1048577 bytes): a configuration file is at most 1 MiB");
}

static void test_special_files_named_inside(void **state) {
        static const struct refuse_case cases[] = {
                { "a FIFO as power LUT",
                  "{" MQ ", \"general\": {\"inverter_power\": 1}, \"devices\": {\"inv\": {\"driver\": \"ahoyDtu\", "
                  "\"host\": \"h:80\", \"id\": 1, \"power_lut\": \"fifo\"}}}",
                  "devices.inv.power_lut:", "is not a regular file", NULL },
                { "a FIFO as CA", MQTT(", \"ca\": \"fifo\""), "mqtt.ca:", "is not a regular file", NULL },
                { "a directory as CA", MQTT(", \"ca\": \"/\""), "mqtt.ca: \"/\" is not a regular file", NULL, NULL },
                { "a regular file", MQTT(", \"ca\": \"lut.csv\""), NULL, NULL, NULL },
        };

        (void) state;
        alarm(10);
        run_cases(cases, ELEMENTSOF(cases));
        alarm(0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_duplicate_keys),
                cmocka_unit_test(test_every_duplicate_listed),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_string_helpers),
                cmocka_unit_test(test_filters_overlap),
                cmocka_unit_test(test_topics),
                cmocka_unit_test(test_temperatures),
                cmocka_unit_test(test_secrets_masked),
                cmocka_unit_test(test_config_show),
                cmocka_unit_test(test_numbers_as_written),
                cmocka_unit_test(test_gpio_without_libgpiod),
                cmocka_unit_test(test_http_listen),
                cmocka_unit_test(test_special_files),
                cmocka_unit_test(test_special_files_named_inside),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
