/* SPDX-License-Identifier: MIT */
/* Tests the HTTP API's own request parsing: routes, bearer tokens, the
 * constant-time compare and the POST /api/mode body. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http-request.h"

static void test_routes(void **state) {
        assert_int_equal(http_route_from_path("/"), HTTP_ROUTE_PAGE);
        assert_int_equal(http_route_from_path("/api/status"), HTTP_ROUTE_STATUS);
        assert_int_equal(http_route_from_path("/api/history"), HTTP_ROUTE_HISTORY);
        assert_int_equal(http_route_from_path("/metrics"), HTTP_ROUTE_METRICS);
        assert_int_equal(http_route_from_path("/api/mode"), HTTP_ROUTE_MODE);
        assert_int_equal(http_route_from_path("/api/mode/"), _HTTP_ROUTE_INVALID);
        assert_int_equal(http_route_from_path("/API/STATUS"), _HTTP_ROUTE_INVALID);
        assert_int_equal(http_route_from_path(""), _HTTP_ROUTE_INVALID);
        assert_int_equal(http_route_from_path(NULL), _HTTP_ROUTE_INVALID);
        assert_string_equal(http_route_method(HTTP_ROUTE_MODE), "POST");
        assert_string_equal(http_route_method(HTTP_ROUTE_STATUS), "GET");
        assert_string_equal(http_route_method(_HTTP_ROUTE_INVALID), "");
}

static void test_bearer(void **state) {
        static const struct {
                const char *header;
                const char *token; /* NULL: none */
        } table[] = {
                { "Bearer abc", "abc" },          { "bearer abc", "abc" },
                { "Bearer   abc  ", "abc" },      { "Bearer abc\t", "abc" },
                { "Basic YWJjOmRlZg==", NULL },   { "Bearerabc", NULL },
                { "", NULL },                     { NULL, NULL },
                { "Bearer ", "" },
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                size_t len = 999;
                const char *t = http_bearer_token(table[i].header, &len);
                if (!table[i].token) {
                        assert_null(t);
                        continue;
                }
                assert_non_null(t);
                assert_int_equal(len, strlen(table[i].token));
                assert_memory_equal(t, table[i].token, len);
        }
}

static void test_token_equal(void **state) {
        const char *tok = "0123456789abcdef";
        assert_true(http_token_equal(tok, 16, tok, 16));
        assert_false(http_token_equal("0123456789abcdeX", 16, tok, 16));
        assert_false(http_token_equal("X123456789abcdef", 16, tok, 16));
        assert_false(http_token_equal(tok, 15, tok, 16));          /* a prefix */
        assert_false(http_token_equal("0123456789abcdef0", 17, tok, 16)); /* longer */
        assert_false(http_token_equal("", 0, tok, 16));
}

static void test_mode_body(void **state) {
        static const struct {
                const char *body;
                size_t len;
                enum mode mode;
        } table[] = {
                { "charge", 6, MODE_CHARGE },
                { "discharge\n", 10, MODE_DISCHARGE },
                { "idle\r\n", 6, MODE_IDLE },
                { "protect \t", 9, MODE_PROTECT },
                { "idleX", 4, MODE_IDLE }, /* not NUL-terminated: only len counts */
                { " idle", 5, _MODE_INVALID },
                { "Idle", 4, _MODE_INVALID },
                { "idle\0x", 6, _MODE_INVALID },
                { "", 0, _MODE_INVALID },
                { "\n", 1, _MODE_INVALID },
                { "dischargedischarge", 18, _MODE_INVALID },
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                assert_int_equal(http_mode_from_body(table[i].body, table[i].len), table[i].mode);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_routes),
                cmocka_unit_test(test_bearer),
                cmocka_unit_test(test_token_equal),
                cmocka_unit_test(test_mode_body),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
