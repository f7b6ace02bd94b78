/* SPDX-License-Identifier: MIT */
/* A number at a path in a JSON text (httpConsumption): the path is a list of
 * object members, array indexes and "*" (every element or member, summed).
 * Pure: bytes in, a number or the path position that failed out; tested from
 * JSON texts, fuzzed, and used by the driver in http-consumption.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define JSON_PATH_MAX 16                /* elements of one path */
#define JSON_PATH_MAX_BODY (64 * 1024)  /* the HTTP client's largest answer */

enum json_path_kind {
        JSON_PATH_MEMBER, /* an object member, exact and case sensitive */
        JSON_PATH_INDEX,  /* an array index, 0-based */
        JSON_PATH_ALL,    /* "*": every element of an array or member of an object, summed */
};

struct json_path_elem {
        enum json_path_kind kind;
        const char *member; /* JSON_PATH_MEMBER; not owned */
        size_t index;       /* JSON_PATH_INDEX */
};

struct json_path {
        size_t n;
        struct json_path_elem e[JSON_PATH_MAX];
};

/* Where and why an extraction failed. pos is the index of the path element
 * that could not be followed, n when the value found at the end is not a
 * number, JSON_PATH_POS_BODY when the text itself is the problem. */
#define JSON_PATH_POS_BODY ((size_t) -1)
struct json_path_error {
        size_t pos;
        const char *reason; /* static text, e.g. "no such member" */
};

/* The number at `path` in body[0..size) (need not be NUL-terminated): a JSON
 * number, or a string holding a decimal number; "*" sums every value below it.
 * Returns 0, or -EBADMSG (not JSON, or larger than JSON_PATH_MAX_BODY),
 * -ENOENT (missing member, index out of range, "*" over nothing) or -EINVAL
 * (a wrong type on the way, null, or no number at the end), with *ret_error set. */
int json_path_extract(const char *body, size_t size, const struct json_path *path, double *ret,
                      struct json_path_error *ret_error);

/* "path[2] (\"power\")", "path[1] (*)", "the value at the end of the path" or
 * "the answer", for log lines. Returns buf. */
const char *json_path_describe(const struct json_path *path, size_t pos, char *buf, size_t size);

/* W = value × factor, rounded half away from zero; -ERANGE when it is not
 * finite or beyond ±1 GW (a wrong factor or path, not a house). */
int json_path_watts(double value, double factor, int *ret_w);

/* A string that is a decimal number: optional sign, digits with an optional
 * fraction, optional exponent; nothing else (no spaces, hex, inf or nan). */
bool json_path_decimal(const char *s, double *ret);
