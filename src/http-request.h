/* SPDX-License-Identifier: MIT */
/* The parts of an HTTP API request that homebattery itself interprets: the
 * route, the bearer token and the mode in a POST body. Pure, so they are
 * unit-tested and fuzzed without a server. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mode.h"

enum http_route {
        HTTP_ROUTE_PAGE,
        HTTP_ROUTE_STATUS,
        HTTP_ROUTE_HISTORY,
        HTTP_ROUTE_METRICS,
        HTTP_ROUTE_MODE,
        _HTTP_ROUTE_MAX,
        _HTTP_ROUTE_INVALID = -22,
};

/* Exact path match; _HTTP_ROUTE_INVALID otherwise. */
enum http_route http_route_from_path(const char *path);
/* "GET" or "POST". */
const char *http_route_method(enum http_route r);
/* Compares in a time that depends on the configured token's length only. */
bool http_token_equal(const char *given, size_t given_len, const char *token, size_t token_len);
/* The token of an "Authorization: Bearer <token>" header value (NULL-safe);
 * NULL when absent or of another scheme. */
const char *http_bearer_token(const char *header, size_t *ret_len);
/* A POST /api/mode body: the bare mode name, surrounding white space at the
 * end forgiven; the body need not be NUL-terminated. _MODE_INVALID otherwise. */
enum mode http_mode_from_body(const char *body, size_t len);
