/* SPDX-License-Identifier: MIT */
/* Unit tests of the JSON path walk of httpConsumption (drivers/json-path.c)
 * from answer texts: the presets' example answers, "*" over arrays and
 * objects, numbers written as strings, and every way a path can fail (with the
 * position it reports), deep nesting and huge input; rounding to W. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json-path.h"

#define M(s) ((struct json_path_elem) { .kind = JSON_PATH_MEMBER, .member = (s) })
#define I(k) ((struct json_path_elem) { .kind = JSON_PATH_INDEX, .index = (k) })
#define ALL ((struct json_path_elem) { .kind = JSON_PATH_ALL })
#define PATH(...)                                                                                     \
        ((struct json_path) { .n = sizeof((struct json_path_elem[]) { __VA_ARGS__ }) /                \
                                   sizeof(struct json_path_elem),                                     \
                              .e = { __VA_ARGS__ } })

static double ok(const char *body, struct json_path p) {
        struct json_path_error e = { .reason = "(none)" };
        double v = -12345;
        int r = json_path_extract(body, strlen(body), &p, &v, &e);
        if (r < 0)
                print_message("unexpected failure at %zu: %s\n", e.pos, e.reason);
        assert_int_equal(r, 0);
        return v;
}

/* Fails with `error` at path position `pos`; returns the reason. */
static const char *bad(const char *body, size_t len, struct json_path p, int error, size_t pos) {
        struct json_path_error e = {};
        double v = -12345;
        int r = json_path_extract(body, len, &p, &v, &e);
        assert_int_equal(r, error);
        assert_true(e.pos == pos);
        assert_non_null(e.reason);
        assert_true(v == -12345); /* nothing written on failure */
        return e.reason;
}

/* A literal's own length (it may hold a NUL). */
#define BAD(lit, ...) bad(lit, sizeof(lit) - 1, __VA_ARGS__)

static int watts(double v, double factor) {
        int w = -777;
        assert_int_equal(json_path_watts(v, factor, &w), 0);
        return w;
}

static void test_presets(void **state) {
        /* tasmota (SML script): the user's path. */
        const char *tasmota =
                "{\"StatusSNS\":{\"Time\":\"2025-01-01T12:00:00\",\"SML\":{\"Total_in\":1234.5,\"Power_curr\":412}}}";
        assert_int_equal(watts(ok(tasmota, PATH(M("StatusSNS"), M("SML"), M("Power_curr"))), 1), 412);
        /* shelly3em: the three phases summed, one of them feeding in. */
        const char *em3 = "{\"wifi_sta\":{\"connected\":true},\"emeters\":[{\"power\":100.4,\"pf\":0.9,\"total\":1},"
                          "{\"power\":50.3,\"pf\":0.8,\"total\":2},{\"power\":-20.1,\"pf\":-0.7,\"total\":3}],"
                          "\"total_power\":130.6}";
        double v = ok(em3, PATH(M("emeters"), ALL, M("power")));
        assert_true(v > 130.59 && v < 130.61);
        assert_int_equal(watts(v, 1), 131);
        /* shellyPro3em */
        const char *pro = "{\"id\":0,\"a_current\":0.4,\"a_act_power\":80.1,\"b_act_power\":60.3,"
                          "\"c_act_power\":65.3,\"total_current\":1.2,\"total_act_power\":205.7,\"user_calibrated_phase\":[]}";
        assert_int_equal(watts(ok(pro, PATH(M("total_act_power"))), 1), 206);
        /* generic */
        const char *gen = "{\"data\":[{\"value\":1},{\"value\":-250.4}]}";
        assert_int_equal(watts(ok(gen, PATH(M("data"), I(1), M("value"))), 1), -250);
}

static void test_rounding_and_factor(void **state) {
        assert_int_equal(watts(0.5, 1), 1);
        assert_int_equal(watts(-0.5, 1), -1); /* halves away from zero */
        assert_int_equal(watts(2.5, 1), 3);
        assert_int_equal(watts(-2.5, 1), -3);
        assert_int_equal(watts(0.4124, 1000), 412); /* kW */
        assert_int_equal(watts(412, -1), -412);
        int w = 5;
        assert_int_equal(json_path_watts(2e9, 1, &w), -ERANGE);
        assert_int_equal(json_path_watts(1e6, 1e6, &w), -ERANGE);
        assert_int_equal(w, 5);
}

static void test_star(void **state) {
        /* Over an object: every member. */
        assert_true(ok("{\"p\":{\"a\":1,\"b\":2.5,\"c\":-0.5}}", PATH(M("p"), ALL)) == 3.0);
        /* Nested stars: a sum of sums. */
        assert_true(ok("[[1,2],[3],[4,5]]", PATH(ALL, ALL)) == 15.0);
        /* Star then index. */
        assert_true(ok("[[1,2],[3,4]]", PATH(ALL, I(1))) == 6.0);
        /* Strings count too. */
        assert_true(ok("[\"1.5\", 2]", PATH(ALL)) == 3.5);
        /* One bad element fails it all (a partial sum would mislead), at its position. */
        BAD("{\"emeters\":[{\"power\":1},{\"pow\":2}]}", PATH(M("emeters"), ALL, M("power")), -ENOENT, 2);
        BAD("{\"emeters\":[{\"power\":1},{\"power\":null}]}", PATH(M("emeters"), ALL, M("power")), -EINVAL, 3);
        /* Nothing to sum. */
        BAD("{\"emeters\":[]}", PATH(M("emeters"), ALL, M("power")), -ENOENT, 1);
        BAD("{\"emeters\":{}}", PATH(M("emeters"), ALL), -ENOENT, 1);
        /* Not a container. */
        BAD("{\"emeters\":5}", PATH(M("emeters"), ALL), -EINVAL, 1);
        BAD("{\"emeters\":null}", PATH(M("emeters"), ALL), -EINVAL, 1);
}

static void test_strings(void **state) {
        assert_true(ok("{\"p\":\"412\"}", PATH(M("p"))) == 412);
        assert_true(ok("{\"p\":\"-250.4\"}", PATH(M("p"))) == -250.4);
        assert_true(ok("{\"p\":\"+1.5e3\"}", PATH(M("p"))) == 1500);
        assert_true(ok("{\"p\":\".5\"}", PATH(M("p"))) == 0.5);
        const char *not_numbers[] = { "", " 1", "1 ", "1,5", "0x10", "inf", "nan", "1e", "1e400", "-", ".", "12W",
                                      "--1", "1.2.3" };
        for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
                char body[64];
                snprintf(body, sizeof(body), "{\"p\":\"%s\"}", not_numbers[i]);
                bad(body, strlen(body), PATH(M("p")), -EINVAL, 1);
        }
}

static void test_failures(void **state) {
        struct json_path p = PATH(M("data"), I(1), M("value"));
        char buf[96];

        /* Missing member, at position 0 and 2. */
        assert_string_equal(BAD("{\"dat\":[]}", p, -ENOENT, 0), "no such member");
        BAD("{\"data\":[{},{\"Value\":1}]}", p, -ENOENT, 2); /* case sensitive */
        /* Index out of range. */
        assert_string_equal(BAD("{\"data\":[{\"value\":1}]}", p, -ENOENT, 1), "index out of range");
        /* Wrong types on the way. */
        assert_string_equal(BAD("{\"data\":{\"1\":{\"value\":1}}}", p, -EINVAL, 1), "not an array");
        BAD("{\"data\":[1,[2]]}", p, -EINVAL, 2);
        BAD("[1]", p, -EINVAL, 0);
        BAD("{\"data\":null}", p, -EINVAL, 1);
        /* The end: null, bool, object, array. */
        assert_string_equal(BAD("{\"data\":[0,{\"value\":null}]}", p, -EINVAL, 3), "null instead of a number");
        BAD("{\"data\":[0,{\"value\":true}]}", p, -EINVAL, 3);
        BAD("{\"data\":[0,{\"value\":{}}]}", p, -EINVAL, 3);
        BAD("{\"data\":[0,{\"value\":[1]}]}", p, -EINVAL, 3);
        /* Not JSON at all. */
        BAD("<html>", p, -EBADMSG, JSON_PATH_POS_BODY);
        BAD("", p, -EBADMSG, JSON_PATH_POS_BODY);
        BAD("{\"data\":", p, -EBADMSG, JSON_PATH_POS_BODY);
        BAD("{} {}", p, -EBADMSG, JSON_PATH_POS_BODY);   /* two texts */
        BAD("{\"a\":1}\0x", p, -EBADMSG, JSON_PATH_POS_BODY); /* a NUL inside */
        BAD("null", p, -EBADMSG, JSON_PATH_POS_BODY);
        /* Trailing white space is fine; the answer may be a bare number. */
        assert_true(ok("{\"data\":[0,{\"value\":7}]}\r\n", p) == 7);
        assert_true(ok("42", (struct json_path) { .n = 0 }) == 42);
        /* What the log lines say. */
        assert_string_equal(json_path_describe(&p, 2, buf, sizeof(buf)), "path[2] (\"value\")");
        assert_string_equal(json_path_describe(&p, 1, buf, sizeof(buf)), "path[1] (1)");
        assert_string_equal(json_path_describe(&p, 3, buf, sizeof(buf)), "the value at the end of the path");
        assert_string_equal(json_path_describe(&p, JSON_PATH_POS_BODY, buf, sizeof(buf)), "the answer");
        struct json_path s = PATH(M("emeters"), ALL);
        assert_string_equal(json_path_describe(&s, 1, buf, sizeof(buf)), "path[1] (*)");
}

static void test_deep_and_huge(void **state) {
        struct json_path p = { .n = JSON_PATH_MAX };
        char body[512] = "";
        size_t len = 0;

        /* 16 levels, mixed: the longest path there is. */
        for (size_t i = 0; i < JSON_PATH_MAX; i++) {
                if (i % 2 == 0) {
                        p.e[i] = M("k");
                        len += (size_t) snprintf(body + len, sizeof(body) - len, "{\"k\":");
                } else {
                        p.e[i] = I(0);
                        len += (size_t) snprintf(body + len, sizeof(body) - len, "[");
                }
        }
        len += (size_t) snprintf(body + len, sizeof(body) - len, "-3");
        for (size_t i = JSON_PATH_MAX; i-- > 0;)
                len += (size_t) snprintf(body + len, sizeof(body) - len, i % 2 == 0 ? "}" : "]");
        assert_true(ok(body, p) == -3);

        /* Nesting far beyond any meter's (100000 levels): refused, no stack overflow. */
        size_t n = 100000;
        char *deep = malloc(2 * n);
        assert_non_null(deep);
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        bad(deep, 2 * n, PATH(I(0)), -EBADMSG, JSON_PATH_POS_BODY);
        free(deep);

        /* Larger than the HTTP client ever passes on: refused before parsing. */
        size_t big = JSON_PATH_MAX_BODY + 1;
        char *huge = malloc(big);
        assert_non_null(huge);
        memset(huge, ' ', big);
        memcpy(huge, "{\"p\":1}", 7);
        bad(huge, big, PATH(M("p")), -EBADMSG, JSON_PATH_POS_BODY);
        /* Just at the limit: fine (white space after the value). */
        assert_int_equal(json_path_extract(huge, big - 1, &PATH(M("p")), &(double) { 0 },
                                           &(struct json_path_error) {}),
                         0);
        free(huge);

        /* A large array summed by "*": 10000 elements of 0.5. */
        size_t cnt = 10000, cap = cnt * 4 + 16;
        char *arr = malloc(cap);
        assert_non_null(arr);
        size_t l = 0;
        arr[l++] = '[';
        for (size_t i = 0; i < cnt; i++)
                l += (size_t) snprintf(arr + l, cap - l, "%s0.5", i ? "," : "");
        arr[l++] = ']';
        arr[l] = 0;
        assert_true(ok(arr, PATH(ALL)) == 5000);
        free(arr);

        /* A sum that overflows is not a number. */
        BAD("[1e308,1e308]", PATH(ALL), -EINVAL, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_presets),
                cmocka_unit_test(test_rounding_and_factor),
                cmocka_unit_test(test_star),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_failures),
                cmocka_unit_test(test_deep_and_huge),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
