/* SPDX-License-Identifier: MIT */
/* Meter payloads (binary s16/s32, text, JSON path) and mqttBattery parts.
 * Everything here sees bytes from the network: lengths are checked before
 * reading, numbers are range-checked, nothing is trusted to be terminated. */

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt-decode.h"

#define BAD(reason)                        \
        ({                                 \
                if (ret_reason)            \
                        *ret_reason = (reason); \
                -EBADMSG;                  \
        })

static bool parse_text_number(const char *p, size_t len, double *ret) {
        char buf[32];
        size_t i = 0, digits = 0;

        /* Surrounding white space is common in hand-made payloads. */
        while (len > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r' || p[len - 1] == '\n'))
                len--;
        if (len == 0 || len >= sizeof(buf))
                return false;
        if (p[0] == '+' || p[0] == '-')
                i++;
        bool point = false;
        for (; i < len; i++) {
                if (p[i] >= '0' && p[i] <= '9')
                        digits++;
                else if (p[i] == '.' && !point)
                        point = true;
                else
                        return false;
        }
        if (digits == 0)
                return false;
        memcpy(buf, p, len);
        buf[len] = 0;
        *ret = strtod(buf, NULL);
        return isfinite(*ret);
}

static int to_watts(double v, int *ret_w, const char **ret_reason) {
        if (!isfinite(v) || fabs(v) > 10e6)
                return BAD("value out of range (more than 10 MW)");
        *ret_w = (int) lround(v);
        return 0;
}

static int decode_binary(const uint8_t *b, size_t len, int *ret_w, const char **ret_reason) {
        if (len == 2) {
                *ret_w = (int16_t) (uint16_t) ((b[0] << 8) | b[1]);
                return 0;
        }
        if (len == 4) {
                uint32_t u = ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) | ((uint32_t) b[2] << 8) | b[3];
                return to_watts((double) (int32_t) u, ret_w, ret_reason);
        }
        return BAD("binary payload must be 2 (s16) or 4 (s32) bytes");
}

/* Parses exactly one JSON document: trailing bytes other than white space
 * (or a terminating NUL) make the payload invalid. */
static struct json_object *parse_whole(const char *p, size_t len) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o;

        if (!tok)
                return NULL;
        o = json_tokener_parse_ex(tok, p, (int) len);
        bool ok = json_tokener_get_error(tok) == json_tokener_success;
        for (size_t i = ok ? json_tokener_get_parse_end(tok) : len; ok && i < len; i++)
                if (!strchr(" \t\r\n", p[i]) || p[i] == 0)
                        ok = p[i] == 0 && i + 1 == len;
        json_tokener_free(tok);
        if (!ok) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int decode_json(const char *path, const char *p, size_t len, int *ret_w, const char **ret_reason) {
        struct json_object *root, *cur;
        char key[129];
        int r;

        if (!path || len > 65536)
                return BAD("JSON payload too large");
        root = parse_whole(p, len);
        if (!root)
                return BAD("not valid JSON");
        cur = root;
        for (const char *s = path; cur && *s;) {
                const char *dot = strchr(s, '.');
                size_t klen = dot ? (size_t) (dot - s) : strlen(s);
                if (klen == 0 || klen >= sizeof(key)) {
                        cur = NULL;
                        break;
                }
                memcpy(key, s, klen);
                key[klen] = 0;
                if (!json_object_is_type(cur, json_type_object) || !json_object_object_get_ex(cur, key, &cur))
                        cur = NULL;
                s += klen + (dot ? 1 : 0);
        }
        if (!cur)
                r = BAD("JSON path not found");
        else if (json_object_is_type(cur, json_type_int) || json_object_is_type(cur, json_type_double))
                r = to_watts(json_object_get_double(cur), ret_w, ret_reason);
        else
                r = BAD("value at the JSON path is not a number");
        json_object_put(root);
        return r;
}

int consumption_decode(enum consumption_format format, const char *json_path, const void *payload, size_t len,
                       int *ret_w, const char **ret_reason) {
        const char *p = payload;
        double v;

        switch (format) {
        case CONSUMPTION_FORMAT_BINARY:
                return decode_binary(payload, len, ret_w, ret_reason);
        case CONSUMPTION_FORMAT_TEXT:
                if (!parse_text_number(p, len, &v))
                        return BAD("not a decimal number");
                return to_watts(v, ret_w, ret_reason);
        case CONSUMPTION_FORMAT_JSON:
                return decode_json(json_path, p, len, ret_w, ret_reason);
        case CONSUMPTION_FORMAT_AUTO:
                /* A 2- or 4-byte payload is binary unless it reads as a text
                 * number ("12", "-5", "1.5"): a text meter's small values must
                 * not turn into kilowatts. */
                if ((len == 2 || len == 4) && !parse_text_number(p, len, &v))
                        return decode_binary(payload, len, ret_w, ret_reason);
                if (!parse_text_number(p, len, &v))
                        return BAD("neither a 2/4-byte binary value nor a decimal number");
                return to_watts(v, ret_w, ret_reason);
        }
        return BAD("unknown format");
}

enum {
        PART_V = 1 << 0,
        PART_I = 1 << 1,
        PART_SOC = 1 << 2,
        PART_C = 1 << 3,
        PART_N = 1 << 4,
        PARTS_ALL = (1 << 5) - 1,
};

void mqtt_battery_assembler_init(struct mqtt_battery_assembler *a, unsigned cells_count, unsigned temps_count) {
        *a = (struct mqtt_battery_assembler) {
                .cells_count = cells_count > BATTERY_CELLS_MAX ? BATTERY_CELLS_MAX : cells_count,
                .temps_count = temps_count > BATTERY_TEMPS_MAX ? BATTERY_TEMPS_MAX : temps_count,
        };
}

static void assembler_restart(struct mqtt_battery_assembler *a, uint64_t now_usec) {
        a->started = true;
        a->first_usec = now_usec;
        a->fields = 0;
        a->cells_seen = 0;
        a->temps_seen = 0;
        a->record = (struct battery_record) { .full_ah = NAN }; /* no sub-topic carries it */
}

static bool parse_index(const char *s, unsigned max, unsigned *ret) {
        unsigned v = 0;
        if (!*s || strlen(s) > 2)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (unsigned) (*s - '0');
        }
        if (v >= max)
                return false;
        *ret = v;
        return true;
}

static uint16_t be16(const uint8_t *b) {
        return (uint16_t) ((b[0] << 8) | b[1]);
}

static uint32_t mask_of(unsigned n) {
        return n >= 32 ? UINT32_MAX : ((uint32_t) 1 << n) - 1;
}

static int part_check(const struct mqtt_battery_assembler *a, const char *sub, size_t len, const char **ret_reason) {
        unsigned k;

        if (strcmp(sub, "v") == 0 || strcmp(sub, "i") == 0 || strcmp(sub, "c") == 0 || strcmp(sub, "n") == 0)
                return len == 2 ? 0 : BAD("expected 2 bytes");
        if (strcmp(sub, "soc") == 0)
                return len == 1 ? 0 : BAD("expected 1 byte");
        if (strncmp(sub, "cell/", 5) == 0) {
                if (!parse_index(sub + 5, a->cells_count, &k))
                        return BAD("cell index out of range");
                return len == 2 ? 0 : BAD("expected 2 bytes");
        }
        if (strncmp(sub, "temp/", 5) == 0) {
                if (!parse_index(sub + 5, a->temps_count, &k))
                        return BAD("temperature index out of range");
                return len == 2 ? 0 : BAD("expected 2 bytes");
        }
        return BAD("unknown part");
}

int mqtt_battery_feed(struct mqtt_battery_assembler *a, const char *sub, const void *payload, size_t len,
                      uint64_t now_usec, struct battery_record *ret, const char **ret_reason) {
        const uint8_t *b = payload;
        unsigned k;
        int r;

        /* A rejected part changes nothing: not even the record's start time. */
        r = part_check(a, sub, len, ret_reason);
        if (r < 0)
                return r;
        if (!a->started || now_usec > a->first_usec + MQTT_BATTERY_PART_MAX_AGE_USEC)
                assembler_restart(a, now_usec);

        if (strcmp(sub, "v") == 0 || strcmp(sub, "i") == 0 || strcmp(sub, "c") == 0 || strcmp(sub, "n") == 0) {
                if (len != 2)
                        return BAD("expected 2 bytes");
                switch (sub[0]) {
                case 'v':
                        a->record.voltage_v = be16(b) / 100.0;
                        a->fields |= PART_V;
                        break;
                case 'i':
                        a->record.current_a = (int16_t) be16(b) / 10.0;
                        a->fields |= PART_I;
                        break;
                case 'c':
                        a->record.remaining_ah = be16(b) / 10.0;
                        a->fields |= PART_C;
                        break;
                default:
                        a->record.cycles = be16(b);
                        a->fields |= PART_N;
                        break;
                }
        } else if (strcmp(sub, "soc") == 0) {
                if (len != 1)
                        return BAD("expected 1 byte");
                a->record.soc_pct = b[0];
                a->fields |= PART_SOC;
        } else if (strncmp(sub, "cell/", 5) == 0) {
                if (!parse_index(sub + 5, a->cells_count, &k))
                        return BAD("cell index out of range");
                if (len != 2)
                        return BAD("expected 2 bytes");
                a->record.cells_v[k] = be16(b) / 1000.0;
                a->cells_seen |= (uint32_t) 1 << k;
        } else if (strncmp(sub, "temp/", 5) == 0) {
                if (!parse_index(sub + 5, a->temps_count, &k))
                        return BAD("temperature index out of range");
                if (len != 2)
                        return BAD("expected 2 bytes");
                a->record.temps_c[k] = (int16_t) be16(b) / 10.0;
                a->temps_seen |= (uint32_t) 1 << k;
        } else
                return BAD("unknown part");

        if (a->fields != PARTS_ALL || a->cells_seen != mask_of(a->cells_count) ||
            a->temps_seen != mask_of(a->temps_count))
                return 0;
        a->record.n_cells = a->cells_count;
        a->record.n_temps = a->temps_count;
        a->record.time_usec = a->first_usec;
        *ret = a->record;
        a->started = false;
        return 1;
}

static bool get_number(struct json_object *o, const char *key, double *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) ||
            !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
                return false;
        *ret = json_object_get_double(v);
        return isfinite(*ret);
}

static bool get_list(struct json_object *o, const char *key, double *out, size_t max, size_t *ret_n) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return false;
        size_t n = json_object_array_length(v);
        if (n > max)
                return false;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(v, i);
                if (!(json_object_is_type(e, json_type_int) || json_object_is_type(e, json_type_double)))
                        return false;
                out[i] = json_object_get_double(e);
                if (!isfinite(out[i]))
                        return false;
        }
        *ret_n = n;
        return true;
}

int mqtt_battery_parse_json(const void *payload, size_t len, struct battery_record *ret, const char **ret_reason) {
        struct battery_record r = {};
        struct json_object *root;
        double cycles = 0;
        int k = 0;

        if (len > 65536)
                return BAD("JSON payload too large");
        root = parse_whole(payload, len);
        if (!json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                return BAD("not a JSON object");
        }
        if (!get_number(root, "v", &r.voltage_v) || !get_number(root, "i", &r.current_a) ||
            !get_number(root, "soc", &r.soc_pct) || !get_number(root, "c", &r.remaining_ah))
                k = BAD("v, i, soc and c must be numbers");
        else if (!get_list(root, "cells", r.cells_v, BATTERY_CELLS_MAX, &r.n_cells))
                k = BAD("cells must be a list of at most 32 numbers");
        else if (json_object_object_get_ex(root, "temps", NULL) &&
                 !get_list(root, "temps", r.temps_c, BATTERY_TEMPS_MAX, &r.n_temps))
                k = BAD("temps must be a list of up to 8 numbers");
        else if (r.soc_pct < 0 || r.soc_pct > 100 || r.voltage_v < 0 || r.voltage_v > 1000)
                k = BAD("soc or v out of range");
        /* Absent or null (a peer's BMS that does not tell): not known. */
        if (!get_number(root, "c_full", &r.full_ah))
                r.full_ah = NAN;
        if (get_number(root, "n", &cycles) && cycles >= 0 && cycles < 1e6)
                r.cycles = (unsigned) cycles;
        json_object_put(root);
        if (k < 0)
                return k;
        *ret = r;
        return 0;
}
