/* SPDX-License-Identifier: MIT */
/* Route lookup, bearer token parsing and comparison, and the mode body of
 * POST /api/mode: everything of a request that is not libmicrohttpd's. */

#include <string.h>
#include <strings.h>

#include "http-request.h"

static const struct {
        const char *path;
        const char *method;
} routes[_HTTP_ROUTE_MAX] = {
        [HTTP_ROUTE_PAGE] = { "/", "GET" },
        [HTTP_ROUTE_STATUS] = { "/api/status", "GET" },
        [HTTP_ROUTE_HISTORY] = { "/api/history", "GET" },
        [HTTP_ROUTE_METRICS] = { "/metrics", "GET" },
        [HTTP_ROUTE_MODE] = { "/api/mode", "POST" },
};

enum http_route http_route_from_path(const char *path) {
        if (!path)
                return _HTTP_ROUTE_INVALID;
        for (enum http_route r = 0; r < _HTTP_ROUTE_MAX; r++)
                if (strcmp(routes[r].path, path) == 0)
                        return r;
        return _HTTP_ROUTE_INVALID;
}

const char *http_route_method(enum http_route r) {
        return (unsigned) r < _HTTP_ROUTE_MAX ? routes[r].method : "";
}

/* Response times must not tell how many leading bytes were right. */
bool http_token_equal(const char *given, size_t given_len, const char *token, size_t token_len) {
        volatile unsigned char diff = given_len != token_len;

        for (size_t i = 0; i < token_len; i++)
                diff |= (unsigned char) token[i] ^ (unsigned char) (i < given_len ? given[i] : 0);
        return diff == 0;
}

const char *http_bearer_token(const char *h, size_t *ret_len) {
        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return NULL;
        h += 7;
        while (*h == ' ')
                h++;
        size_t len = strlen(h);
        while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
                len--;
        *ret_len = len;
        return h;
}

enum mode http_mode_from_body(const char *body, size_t len) {
        char buf[16];

        while (len > 0 && strchr("\n\r \t", body[len - 1]) && body[len - 1] != 0)
                len--;
        if (len == 0 || len >= sizeof(buf) || memchr(body, 0, len))
                return _MODE_INVALID;
        memcpy(buf, body, len);
        buf[len] = 0;
        return mode_from_string(buf);
}
