/* SPDX-License-Identifier: MIT */
/* AhoyDTU/OpenDTU answers → values and the command bodies (drivers.md,
 * ahoyDtu and openDtu). Pure: json-c only, so it is tested from JSON texts.
 * Texts that come from the DTU and end up in logs are reduced to printable
 * ASCII first. */

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtu-decode.h"
#include "hex-digit.h"

static struct json_object *parse_object(const char *body, size_t size) {
        struct json_tokener *tok;
        struct json_object *root;
        bool ok;

        if (!body || size == 0 || size > INT_MAX)
                return NULL;
        tok = json_tokener_new();
        if (!tok)
                return NULL;
        root = json_tokener_parse_ex(tok, body, (int) size);
        ok = json_tokener_get_error(tok) == json_tokener_success;
        if (ok)
                for (size_t i = json_tokener_get_parse_end(tok); i < size; i++)
                        if (!strchr(" \t\r\n", body[i]) || body[i] == 0) {
                                ok = false;
                                break;
                        }
        json_tokener_free(tok);
        if (!ok || !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                return NULL;
        }
        return root;
}

static void copy_text(char err[static DTU_ERROR_MAX], const char *s) {
        size_t n = 0;

        for (; s && *s && n + 1 < DTU_ERROR_MAX; s++)
                err[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
        err[n] = 0;
}

/* A relative limit: a number 0..100 (one decimal at most matters). */
static bool get_percent(struct json_object *o, const char *key, int *ret_x10) {
        struct json_object *v;
        double d;

        if (!json_object_object_get_ex(o, key, &v))
                return false;
        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                return false;
        d = json_object_get_double(v);
        if (!isfinite(d) || d < 0 || d > 100)
                return false;
        *ret_x10 = (int) lround(d * 10);
        return true;
}

static int get_bool(struct json_object *o, const char *key, bool *ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return -ENOENT;
        if (json_object_is_type(v, json_type_boolean) || json_object_is_type(v, json_type_int)) {
                *ret = json_object_get_boolean(v);
                return 0;
        }
        return -EBADMSG;
}

/* ---- AhoyDTU ---- */

static enum dtu_state ahoy_status_to_state(int64_t status) {
        switch (status) {
        case 2: /* producing */
                return DTU_STATE_ON;
        case 1: /* starting */
        case 3: /* was producing */
                return DTU_STATE_OFF;
        default: /* 0 off/unreachable, 4 was on, anything new */
                return DTU_STATE_FAULT;
        }
}

int dtu_ahoy_decode_state(const char *body, size_t size, struct dtu_reading *ret) {
        struct json_object *root, *v;
        struct dtu_reading r = { .limit_ack = true };
        int k = -EBADMSG;

        root = parse_object(body, size);
        if (!root)
                return -EBADMSG;
        if (!json_object_object_get_ex(root, "status", &v) || !json_object_is_type(v, json_type_int))
                goto out;
        r.state = ahoy_status_to_state(json_object_get_int64(v));
        r.percent_known = get_percent(root, "power_limit_read", &r.percent_x10);
        if (get_bool(root, "power_limit_ack", &r.limit_ack) == -EBADMSG)
                goto out;
        *ret = r;
        k = 0;
out:
        json_object_put(root);
        return k;
}

static bool ahoy_success(struct json_object *root, bool *ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(root, "success", &v))
                return false;
        if (json_object_is_type(v, json_type_boolean))
                *ret = json_object_get_boolean(v);
        else if (json_object_is_type(v, json_type_string))
                *ret = strcmp(json_object_get_string(v), "true") == 0;
        else
                return false;
        return true;
}

static int ahoy_refusal(struct json_object *root, char err[static DTU_ERROR_MAX]) {
        struct json_object *v;
        const char *e = "";

        if (json_object_object_get_ex(root, "error", &v) && json_object_is_type(v, json_type_string))
                e = json_object_get_string(v);
        copy_text(err, e);
        return strcmp(e, "ERR_PROTECTED") == 0 ? -EACCES : -EPERM;
}

int dtu_ahoy_decode_answer(const char *body, size_t size, char err[static DTU_ERROR_MAX]) {
        struct json_object *root;
        bool success;
        int k;

        err[0] = 0;
        root = parse_object(body, size);
        if (!root)
                return -EBADMSG;
        if (!ahoy_success(root, &success))
                k = -EBADMSG;
        else
                k = success ? 0 : ahoy_refusal(root, err);
        json_object_put(root);
        return k;
}

int dtu_ahoy_decode_login(const char *body, size_t size, char **ret_token, char err[static DTU_ERROR_MAX]) {
        struct json_object *root, *v;
        bool success;
        int k = -EBADMSG;

        err[0] = 0;
        root = parse_object(body, size);
        if (!root)
                return -EBADMSG;
        if (!ahoy_success(root, &success))
                goto out;
        if (!success) {
                k = ahoy_refusal(root, err);
                goto out;
        }
        if (!json_object_object_get_ex(root, "token", &v) || !json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) == 0)
                goto out;
        *ret_token = strdup(json_object_get_string(v));
        k = *ret_token ? 0 : -ENOMEM;
out:
        json_object_put(root);
        return k;
}

/* Takes the reference of o; NULL members (failed allocations) give -ENOMEM. */
static int to_string(struct json_object *o, bool ok, char **ret) {
        const char *s;
        int k = -ENOMEM;

        if (o && ok) {
                s = json_object_to_json_string_ext(o,
                                                   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                if (s && (*ret = strdup(s)))
                        k = 0;
        }
        json_object_put(o);
        return k;
}

static bool add(struct json_object *o, const char *key, struct json_object *v) {
        if (!o || !v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

int dtu_ahoy_encode_login(const char *password, char **ret) {
        struct json_object *o = json_object_new_object();
        bool ok = add(o, "auth", json_object_new_string(password ? password : ""));

        return to_string(o, ok, ret);
}

int dtu_ahoy_encode_command(int id, enum dtu_action a, int percent, const char *token, char **ret) {
        struct json_object *o;
        bool ok;

        if (a != DTU_ACTION_OFF && a != DTU_ACTION_ON && a != DTU_ACTION_RESTART && a != DTU_ACTION_LIMIT)
                return -EINVAL;
        o = json_object_new_object();
        ok = add(o, "id", json_object_new_int(id));
        if (token)
                ok = ok && add(o, "token", json_object_new_string(token));
        switch (a) {
        case DTU_ACTION_OFF:
        case DTU_ACTION_ON:
                ok = ok && add(o, "cmd", json_object_new_string("power"));
                ok = ok && add(o, "val", json_object_new_int(a == DTU_ACTION_ON));
                break;
        case DTU_ACTION_RESTART:
                ok = ok && add(o, "cmd", json_object_new_string("restart"));
                break;
        default:
                ok = ok && add(o, "cmd", json_object_new_string("limit_nonpersistent_relative"));
                ok = ok && add(o, "val", json_object_new_int(percent));
                break;
        }
        return to_string(o, ok, ret);
}

/* ---- OpenDTU ---- */

static bool serial_matches(struct json_object *inv, const char *serial, bool *ret_has_serial) {
        struct json_object *v;

        if (!json_object_object_get_ex(inv, "serial", &v))
                return false;
        *ret_has_serial = true;
        return json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), serial) == 0;
}

int dtu_opendtu_decode_livedata(const char *body, size_t size, const char *serial, struct dtu_reading *ret) {
        struct json_object *root, *invs, *inv = NULL;
        struct dtu_reading r = { .limit_ack = true };
        bool has_serial = false, reachable, producing;
        size_t n;
        int k = -EBADMSG;

        root = parse_object(body, size);
        if (!root)
                return -EBADMSG;
        if (!json_object_object_get_ex(root, "inverters", &invs) ||
            !json_object_is_type(invs, json_type_array))
                goto out;
        n = json_object_array_length(invs);
        for (size_t i = 0; i < n && !inv; i++) {
                struct json_object *e = json_object_array_get_idx(invs, i);
                if (json_object_is_type(e, json_type_object) && serial_matches(e, serial, &has_serial))
                        inv = e;
        }
        /* Versions that answer for the asked inverter only may leave the serial out. */
        if (!inv && !has_serial && n > 0)
                inv = json_object_array_get_idx(invs, 0);
        if (!inv) {
                k = n > 0 ? -ENOENT : -EBADMSG;
                goto out;
        }
        if (!json_object_is_type(inv, json_type_object) || get_bool(inv, "reachable", &reachable) < 0 ||
            get_bool(inv, "producing", &producing) < 0)
                goto out;
        r.state = !reachable ? DTU_STATE_FAULT : producing ? DTU_STATE_ON : DTU_STATE_OFF;
        r.percent_known = get_percent(inv, "limit_relative", &r.percent_x10);
        *ret = r;
        k = 0;
out:
        json_object_put(root);
        return k;
}

int dtu_opendtu_decode_limit_status(const char *body, size_t size, const char *serial,
                                    struct dtu_reading *r) {
        struct json_object *root, *inv, *v;
        int k = -EBADMSG;

        root = parse_object(body, size);
        if (!root)
                return -EBADMSG;
        if (!json_object_object_get_ex(root, serial, &inv)) {
                k = -ENOENT;
                goto out;
        }
        if (!json_object_is_type(inv, json_type_object))
                goto out;
        if (json_object_object_get_ex(inv, "limit_set_status", &v)) {
                if (!json_object_is_type(v, json_type_string))
                        goto out;
                r->limit_ack = strcmp(json_object_get_string(v), "Pending") != 0;
        }
        if (!r->percent_known)
                r->percent_known = get_percent(inv, "limit_relative", &r->percent_x10);
        k = 0;
out:
        json_object_put(root);
        return k;
}

int dtu_opendtu_decode_answer(const char *body, size_t size, char err[static DTU_ERROR_MAX]) {
        struct json_object *root, *v;
        int k = -EBADMSG;

        err[0] = 0;
        root = parse_object(body, size);
        if (!root)
                return -EBADMSG;
        if (json_object_object_get_ex(root, "type", &v) && json_object_is_type(v, json_type_string)) {
                if (strcmp(json_object_get_string(v), "success") == 0)
                        k = 0;
                else {
                        struct json_object *m;
                        if (json_object_object_get_ex(root, "message", &m) &&
                            json_object_is_type(m, json_type_string))
                                copy_text(err, json_object_get_string(m));
                        else
                                copy_text(err, json_object_get_string(v));
                        k = -EPERM;
                }
        }
        json_object_put(root);
        return k;
}

const char *dtu_opendtu_command_path(enum dtu_action a) {
        switch (a) {
        case DTU_ACTION_LIMIT:
                return "/api/limit/config";
        case DTU_ACTION_OFF:
        case DTU_ACTION_ON:
        case DTU_ACTION_RESTART:
                return "/api/power/config";
        default:
                return NULL;
        }
}

int dtu_form_encode(const char *s, char **ret) {
        char *out, *p;

        out = malloc(strlen(s) * 3 + 1);
        if (!out)
                return -ENOMEM;
        p = out;
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    strchr("-._~", c))
                        *p++ = (char) c;
                else if (c == ' ')
                        *p++ = '+';
                else {
                        *p++ = '%';
                        *p++ = hex_digit_char(c >> 4);
                        *p++ = hex_digit_char(c);
                }
        }
        *p = 0;
        *ret = out;
        return 0;
}

int dtu_opendtu_encode_command(const char *serial, enum dtu_action a, int percent, char **ret) {
        struct json_object *o;
        char *json = NULL, *enc = NULL;
        bool ok;
        int k;

        if (!dtu_opendtu_command_path(a))
                return -EINVAL;
        o = json_object_new_object();
        ok = add(o, "serial", json_object_new_string(serial));
        switch (a) {
        case DTU_ACTION_LIMIT:
                /* Type 1: relative and non-persistent. */
                ok = ok && add(o, "limit_type", json_object_new_int(1));
                ok = ok && add(o, "limit_value", json_object_new_int(percent));
                break;
        case DTU_ACTION_RESTART:
                ok = ok && add(o, "restart", json_object_new_boolean(true));
                break;
        default:
                ok = ok && add(o, "power", json_object_new_boolean(a == DTU_ACTION_ON));
                break;
        }
        k = to_string(o, ok, &json);
        if (k < 0)
                return k;
        k = dtu_form_encode(json, &enc);
        free(json);
        if (k < 0)
                return k;
        if (asprintf(ret, "data=%s", enc) < 0)
                k = -ENOMEM;
        free(enc);
        return k;
}
