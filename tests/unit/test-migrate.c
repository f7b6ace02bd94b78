/* SPDX-License-Identifier: MIT */
/* --migrate-config (src/migrate.c): every row of the mapping from an original
 * firmware config.json (1.x, and the shape before 1.0) to this daemon's keys,
 * device names, ext1/ext2 and --port, drivers this build lacks, the order and
 * indentation of the output, and the exit statuses. */

#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "migrate.h"
#include "registry.h"

struct run {
        int status;
        char *out;
        char *err;
        struct json_object *json;
};

static void run_with(const char *text, const struct migrate_options *o, struct run *r) {
        size_t n_out = 0, n_err = 0;
        FILE *out = open_memstream(&r->out, &n_out), *err = open_memstream(&r->err, &n_err);

        assert_non_null(out);
        assert_non_null(err);
        r->status = migrate_text(text, strlen(text), o, out, err);
        fclose(out);
        fclose(err);
        r->json = r->status == 0 ? json_tokener_parse(r->out) : NULL;
        if (r->status == 0 && !r->json)
                fail_msg("output is not JSON:\n%s", r->out);
}

static void run(const char *text, struct run *r) {
        run_with(text, NULL, r);
}

static void done(struct run *r) {
        json_object_put(r->json);
        free(r->out);
        free(r->err);
}

/* The value at a dotted path of the output, or NULL. */
static struct json_object *at(struct run *r, const char *path) {
        char buf[256], *save = NULL;
        struct json_object *cur = r->json;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
                if (!json_object_is_type(cur, json_type_object) || !json_object_object_get_ex(cur, k, &cur))
                        cur = NULL;
        return cur;
}

static void want_string(struct run *r, const char *path, const char *want) {
        struct json_object *v = at(r, path);
        if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), want) != 0)
                fail_msg("%s: want \"%s\", got %s\noutput:\n%s", path, want, v ? json_object_to_json_string(v) : "none",
                         r->out);
}

static void want_number(struct run *r, const char *path, double want) {
        struct json_object *v = at(r, path);
        if (!(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) ||
            json_object_get_double(v) != want)
                fail_msg("%s: want %g, got %s\noutput:\n%s", path, want, v ? json_object_to_json_string(v) : "none",
                         r->out);
}

static void want_bool(struct run *r, const char *path, bool want) {
        struct json_object *v = at(r, path);
        if (!json_object_is_type(v, json_type_boolean) || json_object_get_boolean(v) != want)
                fail_msg("%s: want %s, got %s\noutput:\n%s", path, want ? "true" : "false",
                         v ? json_object_to_json_string(v) : "none", r->out);
}

static void want_absent(struct run *r, const char *path) {
        if (at(r, path))
                fail_msg("%s: want absent, got %s\noutput:\n%s", path, json_object_to_json_string(at(r, path)), r->out);
}

static void want_err(struct run *r, const char *want) {
        if (!strstr(r->err, want))
                fail_msg("stderr lacks \"%s\":\n%s", want, r->err);
}

static void want_no_err(struct run *r, const char *unwanted) {
        if (strstr(r->err, unwanted))
                fail_msg("stderr has \"%s\":\n%s", unwanted, r->err);
}

#define MQ "\"mqtt\": {\"host\": \"broker:1883\"}"

static void test_general_network_mqtt_logging(void **state) {
        struct run r = {};

        (void) state;
        run("{\"general\": {\"default_mode\": \"discharge\"}, \"network\": {\"ssid\": \"x\", \"password\": \"y\"},"
            " \"mqtt\": {\"host\": \"10.0.0.1:1883\", \"root\": \"hb\", \"user\": \"u\", \"password\": \"p\"},"
            " \"logging\": {\"host\": \"10.0.0.2:5555\", \"ignore\": [\"bluetooth\", \"modbus0\"]},"
            " \"inverter\": {\"power\": 275, \"reduce_power_during_fault\": true}}",
            &r);
        assert_int_equal(r.status, 0);
        want_string(&r, "general.default_mode", "discharge");
        want_number(&r, "general.inverter_power", 275);
        want_absent(&r, "network");
        want_err(&r, "note: network: dropped");
        want_string(&r, "mqtt.host", "10.0.0.1:1883");
        want_string(&r, "mqtt.root", "hb");
        want_string(&r, "mqtt.user", "u");
        want_string(&r, "mqtt.password", "p");
        want_absent(&r, "mqtt.ca");
        want_string(&r, "logging.host", "10.0.0.2:5555");
        /* Sender names as written. */
        assert_string_equal(json_object_get_string(json_object_array_get_idx(at(&r, "logging.ignore"), 1)),
                            "modbus0");
        want_absent(&r, "netzero");
        want_absent(&r, "inverter");
        /* true is what this daemon does anyway: no note. */
        want_no_err(&r, "reduce_power_during_fault");
        done(&r);

        run("{" MQ ", \"inverter\": {\"power\": 100, \"reduce_power_during_fault\": false}}", &r);
        want_err(&r, "note: inverter.reduce_power_during_fault: dropped");
        done(&r);
}

static void test_tls(void **state) {
        struct run r = {};

        (void) state;
        run("{\"mqtt\": {\"host\": \"b:8883\", \"tls\": {\"ca\": \"ca.der\", \"insecure\": true}}}", &r);
        want_string(&r, "mqtt.ca", "ca.der");
        want_bool(&r, "mqtt.tls_insecure", true);
        want_err(&r, "warning: mqtt.tls.ca: ");
        want_err(&r, "openssl x509 -inform der -in ca.der -out ca.pem");
        done(&r);

        /* insecure without a CA: dropped with a note (it would be a warning of --check-config). */
        run("{\"mqtt\": {\"host\": \"b:1883\", \"tls\": {\"insecure\": true}}}", &r);
        want_absent(&r, "mqtt.tls_insecure");
        want_absent(&r, "mqtt.tls");
        want_err(&r, "note: mqtt.tls.insecure: dropped");
        done(&r);

        /* Before 1.0: flat keys, "" for not given. */
        run("{\"mqtt\": {\"host\": \"b:1883\", \"ca\": \"\", \"tls_insecure\": false, \"user\": \"\", "
            "\"password\": \"\"}}",
            &r);
        want_absent(&r, "mqtt.ca");
        want_absent(&r, "mqtt.tls_insecure");
        want_absent(&r, "mqtt.user");
        want_absent(&r, "mqtt.password");
        want_err(&r, "note: mqtt.user: empty, left out");
        done(&r);

        run("{\"mqtt\": {\"host\": \"b:8883\", \"ca\": \"ca.der\", \"tls_insecure\": true}}", &r);
        want_string(&r, "mqtt.ca", "ca.der");
        want_bool(&r, "mqtt.tls_insecure", true);
        done(&r);
}

#define METER "\"devices\": {\"m\": {\"driver\": \"mqttConsumption\", \"topic\": \"meter/p\"}}"

static void test_netzero(void **state) {
        struct run r = {};

        (void) state;
        run("{" MQ ", " METER ", \"inverter\": {\"power\": 200, \"reduce_power_during_fault\": true, \"netzero\": "
            "{\"signed\": true, \"evaluated_time_span\": 40, \"maturity_time_span\": 20, \"target\": 15, "
            "\"hysteresis\": 6, \"change_upwards\": 120, \"change_downwards\": 45}}}",
            &r);
        want_bool(&r, "netzero.enabled", true);
        want_bool(&r, "netzero.signed", true);
        want_number(&r, "netzero.evaluated_time_span", 40);
        want_number(&r, "netzero.maturity_time_span", 20);
        want_number(&r, "netzero.power_offset", 15);
        want_number(&r, "netzero.power_hysteresis", 6);
        want_number(&r, "netzero.power_change_upwards", 120);
        want_number(&r, "netzero.power_change_downwards", 45);
        want_string(&r, "netzero.algorithm", "classic");
        want_absent(&r, "netzero.target");
        want_number(&r, "general.inverter_power", 200);
        done(&r);

        /* No meter carried over: netzero cannot run here, so it is off (and the file stays valid). */
        run("{" MQ ", \"inverter\": {\"power\": 200, \"netzero\": {\"signed\": false}}}", &r);
        want_bool(&r, "netzero.enabled", false);
        want_err(&r, "warning: inverter.netzero: no consumption device was carried over");
        done(&r);

        /* Before 1.0: a top-level section with this daemon's names. */
        run("{" MQ ", " METER ", \"general\": {\"inverter_power\": 150}, \"netzero\": {\"enabled\": false, "
            "\"signed\": true, \"power_offset\": 20, \"power_change_downwards\": 30}}",
            &r);
        want_bool(&r, "netzero.enabled", false);
        want_number(&r, "netzero.power_offset", 20);
        want_number(&r, "netzero.power_change_downwards", 30);
        want_number(&r, "general.inverter_power", 150);
        done(&r);

        /* The earliest shape: no enabled, no signed; the meter topic was a key of mqtt. */
        run("{\"mqtt\": {\"host\": \"b:1883\", \"live_consumption_topic\": \"meter/p\"}, \"netzero\": "
            "{\"power_offset\": 10}}",
            &r);
        want_bool(&r, "netzero.enabled", true);
        want_bool(&r, "netzero.signed", false);
        want_err(&r, "warning: netzero: has no \"signed\"");
        want_string(&r, "devices.meter.driver", "mqttConsumption");
        want_string(&r, "devices.meter.topic", "meter/p");
        want_absent(&r, "mqtt.live_consumption_topic");
        done(&r);
}

static void test_supervisor(void **state) {
        struct run r = {};

        (void) state;
        run("{" MQ ", \"supervisor\": {\"cell_low\": {\"threshold\": 3.1, \"hysteresis\": 0.1}, "
            "\"mqtt_offline\": {\"threshold\": 60, \"hysteresis\": 5}, \"battery_offline\": {\"threshold\": 300}, "
            "\"temp_low_charge\": {\"enabled\": false, \"threshold\": 10}, \"fancy\": {\"threshold\": 1}}}",
            &r);
        want_bool(&r, "supervisor.cell_low.enabled", true);
        want_number(&r, "supervisor.cell_low.threshold", 3.1);
        want_number(&r, "supervisor.cell_low.hysteresis", 0.1);
        /* The digits as written, not 3.1000000000000001. */
        assert_non_null(strstr(r.out, "\"threshold\": 3.1,"));
        want_bool(&r, "supervisor.battery_offline.enabled", true);
        want_absent(&r, "supervisor.mqtt_offline.hysteresis");
        want_err(&r, "note: supervisor.mqtt_offline: hysteresis dropped");
        want_bool(&r, "supervisor.temp_low_charge.enabled", false);
        /* Absent checks stay absent (disabled, as in the original firmware). */
        want_absent(&r, "supervisor.cell_high");
        want_absent(&r, "supervisor.fancy");
        want_err(&r, "warning: supervisor.fancy: not used by this daemon, dropped");
        done(&r);
}

static void test_heater(void **state) {
        bool known = false;
        struct run r = {};

        (void) state;
        for (const char *const *k = config_top_level_keys; *k; k++)
                known |= strcmp(*k, "heater") == 0;
        run("{" MQ ", \"heater\": {\"activate\": {\"battery\": 5}, \"deactivate\": {\"battery\": 8}}}", &r);
        if (known) {
                want_number(&r, "heater.activate.battery", 5);
                want_number(&r, "heater.deactivate.battery", 8);
        } else {
                want_absent(&r, "heater");
                want_err(&r, "warning: heater: this build has no heater support: dropped");
        }
        done(&r);
}

static void test_device_names(void **state) {
        struct run r = {};

        (void) state;
        run("{" MQ ", \"devices\": {\"garage bat\": {\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"aa:bb:cc:dd:ee:01\"},"
            " \"garage_bat\": {\"driver\": \"lltPowerBmsV4Ble\", \"mac\": \"aa:bb:cc:dd:ee:02\"},"
            " \"a-very-long-battery-name-of-40-characters\": {\"driver\": \"daly8S24V60A\", \"mac\": "
            "\"aa:bb:cc:dd:ee:03\"},"
            " \"B\\u00e4r\": {\"driver\": \"daly8S24V60A\", \"mac\": \"aa:bb:cc:dd:ee:04\"}}}",
            &r);
        want_string(&r, "devices.garage_bat.mac", "aa:bb:cc:dd:ee:01");
        want_string(&r, "devices.garage_bat_2.mac", "aa:bb:cc:dd:ee:02");
        want_err(&r, "warning: devices.garage bat: renamed to garage_bat");
        want_err(&r, "warning: devices.garage_bat: renamed to garage_bat_2");
        want_string(&r, "devices.a-very-long-battery-name-of-40-c.mac", "aa:bb:cc:dd:ee:03");
        /* Two bytes of UTF-8, two underscores. */
        want_string(&r, "devices.B__r.mac", "aa:bb:cc:dd:ee:04");
        done(&r);
}

static void test_ports(void **state) {
        struct migrate_options o = {};
        struct run r = {};
        const char *devs = "{" MQ ", \"devices\": {\"s1\": {\"driver\": \"victronMppt\", \"port\": \"ext1\"}, "
                           "\"s2\": {\"driver\": \"victronmppt\", \"port\": \"ext2\"}, "
                           "\"s3\": {\"driver\": \"victronMppt\", \"port\": \"/dev/ttyAMA0\"}}}";

        (void) state;
        run(devs, &r);
        want_string(&r, "devices.s1.port", "/dev/ttyUSB0");
        want_string(&r, "devices.s2.port", "/dev/ttyUSB1");
        want_string(&r, "devices.s2.driver", "victronMppt");
        want_string(&r, "devices.s3.port", "/dev/ttyAMA0");
        want_err(&r, "warning: devices.s1.port: ext1 became /dev/ttyUSB0");
        want_err(&r, "warning: devices.s2.port: ext2 became /dev/ttyUSB1");
        want_string(&r, "devices.s1.control", "none");
        want_err(&r, "warning: devices.s1.control: \"none\"");
        done(&r);

        assert_int_equal(migrate_parse_port(&o, "ext2=/dev/serial/by-id/usb-x"), 0);
        run_with(devs, &o, &r);
        want_string(&r, "devices.s1.port", "/dev/ttyUSB0");
        want_string(&r, "devices.s2.port", "/dev/serial/by-id/usb-x");
        want_err(&r, "note: devices.s2.port: ext2 is /dev/serial/by-id/usb-x (--port)");
        want_no_err(&r, "ext2 became");
        done(&r);

        assert_int_equal(migrate_parse_port(&o, "ext3=/dev/x"), -EINVAL);
        assert_int_equal(migrate_parse_port(&o, "ext1"), -EINVAL);
        assert_int_equal(migrate_parse_port(&o, "ext1=dev/x"), -EINVAL);
        assert_int_equal(migrate_parse_port(&o, "ext=/dev/x"), -EINVAL);
        assert_int_equal(migrate_parse_port(&o, "ext10=/dev/x"), -EINVAL);
}

/* Drivers of the original firmware: carried over when this build has them, else dropped by name. */
static void test_drivers(void **state) {
        static const struct {
                const char *old_driver, *driver, *keys;
        } rows[] = {
                { "lltPowerBmsV4Ble", "lltPowerBmsV4Ble", "\"mac\": \"aa:bb:cc:dd:ee:01\"" },
                { "daly8S24V60A", "daly8S24V60A", "\"mac\": \"aa:bb:cc:dd:ee:02\"" },
                { "jkBmsBd", "jkBmsBd4", "\"mac\": \"aa:bb:cc:dd:ee:03\"" },
                { "pylonLv", "pylonLv", "\"port\": \"/dev/ttyS1\", \"serial\": \"X1\"" },
                { "genericSolar", "genericSolar",
                  "\"port\": \"/dev/ttyS2\", \"address\": 1, \"current_range\": 100, \"threshold\": 5" },
                { "growattinvertermodbus", "growattInverterModbus",
                  "\"port\": \"/dev/ttyS3\", \"family\": \"MIC\", \"address\": 2" },
                { "mqttBattery", "mqttBattery", "\"root_topic\": \"o/bat/dev/b\"" },
                { "mqttConsumption", "mqttConsumption", "\"topic\": \"meter/p\"" },
                { "shellyCharger", "shellyCharger", "\"host\": \"h:80\", \"generation\": 2, \"relay_id\": 1" },
                { "shelly", "shellyCharger", "\"host\": \"h:80\", \"relay_id\": 0" },
                { "shellyHeater", "shellyHeater", "\"host\": \"h2:80\", \"generation\": 1, \"relay_id\": 0" },
                { "ahoyDtu", "ahoyDtu", "\"host\": \"a:80\", \"id\": 3, \"power_lut\": \"lut.csv\"" },
                { "ahoydtu", "ahoyDtu", "\"host\": \"a:80\", \"id\": 3, \"power_lut\": \"lut.csv\"" },
                { "openDtu", "openDtu",
                  "\"host\": \"o:80\", \"password\": \"pw\", \"serial\": \"1141\", \"power_lut\": \"lut.csv\"" },
                { "httpConsumption", "httpConsumption",
                  "\"host\": \"t:80\", \"query\": \"/status\", \"path\": [\"a\"], \"interval\": 2, \"factor\": 1" },
                { "heidelbergWallbox", NULL, "\"port\": \"ext1\"" },
                { "noSuchDriver", NULL, "\"x\": 1" },
        };

        (void) state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                char text[1024], path[64];
                struct run r = {};
                bool here = rows[i].driver && registry_find(rows[i].driver);

                snprintf(text, sizeof(text), "{" MQ ", \"devices\": {\"dev\": {\"driver\": \"%s\", %s}}}",
                         rows[i].old_driver, rows[i].keys);
                run(text, &r);
                assert_int_equal(r.status, 0);
                if (!here) {
                        char want[128];
                        want_absent(&r, "devices.dev");
                        snprintf(want, sizeof(want), "warning: devices.dev: driver %s is not in this build",
                                 rows[i].old_driver);
                        want_err(&r, want);
                        done(&r);
                        continue;
                }
                want_string(&r, "devices.dev.driver", rows[i].driver);
                /* Every key of the row is carried over under its own name. */
                struct json_object *old = json_tokener_parse(strchr(strstr(text, "\"dev\": "), '{'));
                assert_non_null(old);
                json_object_object_foreach(old, key, v) {
                        (void) v;
                        snprintf(path, sizeof(path), "devices.dev.%s", key);
                        if (strcmp(key, "driver") != 0 && !at(&r, path))
                                fail_msg("%s (%s): %s not carried over:\n%s", rows[i].old_driver, rows[i].driver, key,
                                         r.out);
                }
                json_object_put(old);
                want_no_err(&r, "warning: devices.dev.");
                done(&r);
        }
}

static void test_device_keys(void **state) {
        struct run r = {};

        (void) state;
        run("{" MQ ", \"devices\": {\"c\": {\"driver\": \"shelly\", \"host\": \"h:80\", \"relay_id\": 0, "
            "\"power_correction_factor\": 0.9},"
            " \"b\": {\"driver\": \"mqttBattery\", \"root_topic\": \"o/b\", \"cell_count\": 8, \"temperature_count\": 2},"
            " \"b0\": {\"driver\": \"mqttBattery\", \"root_topic\": \"o/b0\", \"cell_count\": 0, \"temperature_count\": 0},"
            " \"x\": \"not an object\"}}",
            &r);
        want_absent(&r, "devices.c.power_correction_factor");
        want_err(&r, "warning: devices.c.power_correction_factor: not used by this daemon, dropped");
        want_err(&r, "note: devices.c: driver shelly is now called shellyCharger");
        want_number(&r, "devices.b.cells_count", 8);
        want_number(&r, "devices.b.temperature_count", 2);
        want_absent(&r, "devices.b.cell_count");
        want_absent(&r, "devices.b0.cells_count");
        want_absent(&r, "devices.b0.temperature_count");
        want_err(&r, "note: devices.b0: cell and temperature counts dropped");
        want_absent(&r, "devices.x");
        want_err(&r, "warning: devices.x: has no driver name: dropped");
        done(&r);
}

/* The sections in the order of the configuration reference, indented by 2. */
static void test_output_form(void **state) {
        struct run r = {};

        (void) state;
        run("{\"devices\": {\"m\": {\"driver\": \"mqttConsumption\", \"topic\": \"a/b\"}}, \"supervisor\": "
            "{\"mqtt_offline\": {\"threshold\": 60}}, \"inverter\": {\"power\": 1, \"netzero\": {\"signed\": true}}, "
            "\"logging\": {\"ignore\": [\"mqtt\"]}, \"mqtt\": {\"host\": \"h:1\"}, \"general\": {\"default_mode\": "
            "\"idle\"}, \"unknown\": 1}",
            &r);
        assert_int_equal(r.status, 0);
        const char *order[] = { "\n  \"general\": {", "\n  \"mqtt\": {",       "\n  \"logging\": {",
                                "\n  \"netzero\": {", "\n  \"supervisor\": {", "\n  \"devices\": {" };
        const char *prev = r.out;
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
                const char *p = strstr(r.out, order[i]);
                if (!p || p < prev)
                        fail_msg("%s missing or out of order:\n%s", order[i] + 1, r.out);
                prev = p;
        }
        assert_non_null(strstr(r.out, "\n    \"default_mode\": \"idle\""));
        want_err(&r, "warning: unknown: not used by this daemon, dropped");
        done(&r);

        /* Paths are not escaped ("\/"). */
        run("{" MQ ", \"devices\": {\"s\": {\"driver\": \"victronMppt\", \"port\": \"/dev/ttyS0\"}}}", &r);
        assert_non_null(strstr(r.out, "\"/dev/ttyS0\""));
        done(&r);
}

static void test_exit_status(void **state) {
        char dir[] = "/tmp/hb-test-migrate.XXXXXX", path[64];
        struct run r = {};
        FILE *devnull = fopen("/dev/null", "w");

        (void) state;
        assert_non_null(devnull);
        run("{\"mqtt\": ", &r);
        assert_int_equal(r.status, EX_CONFIG);
        want_err(&r, "not JSON");
        done(&r);
        run("[1, 2]", &r);
        assert_int_equal(r.status, EX_CONFIG);
        want_err(&r, "expected a JSON object");
        done(&r);
        run("{} x", &r);
        assert_int_equal(r.status, EX_CONFIG);
        done(&r);
        run("{}", &r);
        assert_int_equal(r.status, 0);
        want_err(&r, "warning: mqtt.host: missing");
        done(&r);

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/none.json", dir);
        assert_int_equal(migrate_file(path, NULL, devnull, devnull), EX_NOINPUT);
        assert_int_equal(migrate_file(dir, NULL, devnull, devnull), EX_NOINPUT);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("{\"mqtt\": {\"host\": \"h:1\"}}", f);
        fclose(f);
        assert_int_equal(migrate_file(path, NULL, devnull, devnull), 0);
        unlink(path);
        rmdir(dir);
        fclose(devnull);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_general_network_mqtt_logging),
                cmocka_unit_test(test_tls),
                cmocka_unit_test(test_netzero),
                cmocka_unit_test(test_supervisor),
                cmocka_unit_test(test_heater),
                cmocka_unit_test(test_device_names),
                cmocka_unit_test(test_ports),
                cmocka_unit_test(test_drivers),
                cmocka_unit_test(test_device_keys),
                cmocka_unit_test(test_output_form),
                cmocka_unit_test(test_exit_status),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
