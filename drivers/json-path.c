/* SPDX-License-Identifier: MIT */
/* The JSON path walk of httpConsumption: parse once with json-c, follow the
 * path, sum below "*". Any doubt (a missing member, a wrong type, null, a
 * partial sum) is an error with its position, never a guessed number. */

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-path.h"

static int fail(struct json_path_error *e, size_t pos, const char *reason, int error) {
        e->pos = pos;
        e->reason = reason;
        return error;
}

bool json_path_decimal(const char *s, double *ret) {
        const char *p = s;
        size_t digits = 0;
        char *end;

        if (*p == '+' || *p == '-')
                p++;
        for (; *p >= '0' && *p <= '9'; p++)
                digits++;
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++)
                        digits++;
        if (digits == 0)
                return false;
        if (*p == 'e' || *p == 'E') {
                p++;
                if (*p == '+' || *p == '-')
                        p++;
                if (!(*p >= '0' && *p <= '9'))
                        return false;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if (*p)
                return false;
        /* The grammar above is a subset of strtod's: it takes the whole text. */
        double d = strtod(s, &end);
        if (*end || !isfinite(d))
                return false;
        *ret = d;
        return true;
}

/* The value at the end of the path. */
static int leaf(struct json_object *o, size_t pos, double *ret, struct json_path_error *e) {
        switch (json_object_get_type(o)) {
        case json_type_int:
        case json_type_double:
                *ret = json_object_get_double(o);
                if (!isfinite(*ret))
                        return fail(e, pos, "the number is out of range", -EINVAL);
                return 0;
        case json_type_string:
                if (!json_path_decimal(json_object_get_string(o), ret))
                        return fail(e, pos, "a string that is not a decimal number", -EINVAL);
                return 0;
        case json_type_null:
                return fail(e, pos, "null instead of a number", -EINVAL);
        default:
                return fail(e, pos, "not a number", -EINVAL);
        }
}

static int walk(struct json_object *o, const struct json_path *p, size_t k, double *ret,
                struct json_path_error *e);

/* "*": the sum of the values below every element or member; one failure fails it all. */
static int walk_all(struct json_object *o, const struct json_path *p, size_t k, double *ret,
                    struct json_path_error *e) {
        double sum = 0, v;
        size_t n = 0;
        int r;

        if (json_object_is_type(o, json_type_array)) {
                n = json_object_array_length(o);
                for (size_t i = 0; i < n; i++) {
                        if ((r = walk(json_object_array_get_idx(o, i), p, k + 1, &v, e)) < 0)
                                return r;
                        sum += v;
                }
        } else if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, key, val) {
                        (void) key;
                        if ((r = walk(val, p, k + 1, &v, e)) < 0)
                                return r;
                        sum += v;
                        n++;
                }
        } else
                return fail(e, k, json_object_is_type(o, json_type_null) ? "null instead of an array or object"
                                                                        : "not an array or object", -EINVAL);
        if (n == 0)
                return fail(e, k, "an empty array or object: nothing to sum", -ENOENT);
        if (!isfinite(sum))
                return fail(e, k, "the sum is out of range", -EINVAL);
        *ret = sum;
        return 0;
}

static int walk(struct json_object *o, const struct json_path *p, size_t k, double *ret,
                struct json_path_error *e) {
        const struct json_path_elem *el;
        struct json_object *next;

        if (k == p->n)
                return leaf(o, k, ret, e);
        el = &p->e[k];
        switch (el->kind) {
        case JSON_PATH_MEMBER:
                if (!json_object_is_type(o, json_type_object))
                        return fail(e, k, json_object_is_type(o, json_type_null) ? "null instead of an object"
                                                                                : "not an object", -EINVAL);
                if (!json_object_object_get_ex(o, el->member, &next))
                        return fail(e, k, "no such member", -ENOENT);
                return walk(next, p, k + 1, ret, e);
        case JSON_PATH_INDEX:
                if (!json_object_is_type(o, json_type_array))
                        return fail(e, k, json_object_is_type(o, json_type_null) ? "null instead of an array"
                                                                                : "not an array", -EINVAL);
                if (el->index >= json_object_array_length(o))
                        return fail(e, k, "index out of range", -ENOENT);
                return walk(json_object_array_get_idx(o, el->index), p, k + 1, ret, e);
        case JSON_PATH_ALL:
                return walk_all(o, p, k, ret, e);
        }
        return fail(e, k, "bad path", -EINVAL);
}

/* json-c needs the terminating NUL to end a top-level number ("412"): parse a
 * copy that has one, and refuse NUL bytes inside (not JSON, and json-c would
 * stop there). */
static struct json_object *parse(const char *body, size_t size) {
        struct json_tokener *tok;
        struct json_object *o;
        char *copy;
        bool good;

        if (memchr(body, 0, size) || !(copy = malloc(size + 1)))
                return NULL;
        memcpy(copy, body, size);
        copy[size] = 0;
        tok = json_tokener_new();
        if (!tok) {
                free(copy);
                return NULL;
        }
        o = json_tokener_parse_ex(tok, copy, (int) size + 1);
        good = o && json_tokener_get_error(tok) == json_tokener_success;
        /* Anything but white space after the value: not one JSON text. */
        for (size_t i = json_tokener_get_parse_end(tok); good && i < size; i++)
                good = strchr(" \t\r\n", copy[i]) != NULL;
        json_tokener_free(tok);
        free(copy);
        if (!good) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int json_path_extract(const char *body, size_t size, const struct json_path *path, double *ret,
                      struct json_path_error *ret_error) {
        struct json_object *o;
        double v = 0;
        int r;

        if (size > JSON_PATH_MAX_BODY)
                return fail(ret_error, JSON_PATH_POS_BODY, "the answer is too large", -EBADMSG);
        if (size == 0)
                return fail(ret_error, JSON_PATH_POS_BODY, "an empty answer", -EBADMSG);
        o = parse(body, size);
        if (!o) {
                /* A JSON null text parses to NULL too: not a number either way. */
                return fail(ret_error, JSON_PATH_POS_BODY, "not JSON (or a bare null)", -EBADMSG);
        }
        r = walk(o, path, 0, &v, ret_error);
        json_object_put(o);
        if (r >= 0)
                *ret = v;
        return r;
}

const char *json_path_describe(const struct json_path *path, size_t pos, char *buf, size_t size) {
        if (pos == JSON_PATH_POS_BODY)
                snprintf(buf, size, "the answer");
        else if (pos >= path->n)
                snprintf(buf, size, "the value at the end of the path");
        else if (path->e[pos].kind == JSON_PATH_MEMBER)
                snprintf(buf, size, "path[%zu] (\"%.64s\")", pos, path->e[pos].member);
        else if (path->e[pos].kind == JSON_PATH_INDEX)
                snprintf(buf, size, "path[%zu] (%zu)", pos, path->e[pos].index);
        else
                snprintf(buf, size, "path[%zu] (*)", pos);
        return buf;
}

int json_path_watts(double value, double factor, int *ret_w) {
        double w = value * factor;

        if (!isfinite(w) || fabs(w) > 1e9)
                return -ERANGE;
        *ret_w = (int) lround(w);
        return 0;
}
