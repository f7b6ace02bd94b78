/* SPDX-License-Identifier: MIT */
/* The typed key readers every section and every driver uses to validate its
 * keys. Each problem becomes one line "<file>: <key path>: <what>"; secrets
 * (passwords, tokens) are never echoed into those lines. */

#include <ctype.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-ctx.h"
#include "homebattery/log.h"

static int strv_push(char ***v, size_t *n, char *s) {
        char **nv = realloc(*v, (*n + 1) * sizeof(char *));
        if (!nv) {
                free(s);
                return -ENOMEM;
        }
        nv[(*n)++] = s;
        *v = nv;
        return 0;
}

/* Decodes the UTF-8 sequence at s (n > 0 bytes left) into *ret; returns its length, or 0 when it is not
 * valid UTF-8 (overlong, a surrogate, above U+10FFFF, cut short). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret) {
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t len;
        uint32_t cp;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret = cp;
        return len;
}

bool utf8_is_valid(const char *s, size_t len) {
        uint32_t cp;
        for (size_t i = 0, k; i < len; i += k)
                if (!(k = utf8_decode((const unsigned char *) s + i, len - i, &cp)))
                        return false;
        return true;
}

static bool is_control(uint32_t cp) {
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

bool mqtt_string_is_valid(const char *s) {
        size_t len = strlen(s);
        uint32_t cp;

        /* What libmosquitto refuses in topics, client ids and user names (MQTT 5, 1.5.4). */
        for (size_t i = 0, k; i < len; i += k) {
                if (!(k = utf8_decode((const unsigned char *) s + i, len - i, &cp)))
                        return false;
                if (is_control(cp) || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
                        return false;
        }
        return true;
}

/* Error lines go to a terminal or the journal: control characters and broken UTF-8 (in a key, a
 * value or the file name) become '?', so a value cannot move the cursor or garble the line. */
static void sanitize_line(char *line) {
        size_t len = strlen(line), out = 0;
        uint32_t cp;

        for (size_t i = 0, k; i < len; i += k) {
                k = utf8_decode((const unsigned char *) line + i, len - i, &cp);
                if (k == 0 || is_control(cp)) {
                        line[out++] = '?';
                        k = k ? k : 1;
                } else {
                        memmove(line + out, line + i, k);
                        out += k;
                }
        }
        line[out] = 0;
}

const char *config_show(char buf[static CONFIG_SHOW_SIZE], const char *s) {
        const char *at = strrchr(s, '@');
        size_t len, max = CONFIG_SHOW_SIZE - 4, prefix = 0;

        /* "user:password@host" written into a value: show only what follows the '@'. */
        if (at) {
                memcpy(buf, "***", 3);
                prefix = 3;
                s = at;
        }
        len = strlen(s);
        if (prefix + len <= CONFIG_SHOW_SIZE - 1) {
                memcpy(buf + prefix, s, len + 1);
                return buf;
        }
        /* Cut at a character boundary, then mark the cut. */
        len = max - prefix;
        while (len > 0 && ((unsigned char) s[len] & 0xc0) == 0x80)
                len--;
        memcpy(buf + prefix, s, len);
        memcpy(buf + prefix + len, "...", 4);
        return buf;
}

enum line_kind { LINE_ERROR, LINE_WARNING, LINE_NOTE };

_printf_(4, 0) static void config_add_line(struct config_ctx *ctx, enum line_kind kind, const char *path,
                                              const char *fmt, va_list ap) {
        char msg[512], *line = NULL;

        vsnprintf(msg, sizeof(msg), fmt, ap);
        /* A "line:column" position joins the file name with ':' like a
         * compiler's; a key path is separated by ": ". */
        bool position = path && path[0] >= '0' && path[0] <= '9';
        if (asprintf(&line, "%s%s%s%s%s", ctx->file, position ? ":" : ": ", path && *path ? path : "",
                     path && *path ? ": " : "", msg) < 0) {
                ctx->oom = true;
                return;
        }
        sanitize_line(line);
        if (kind == LINE_WARNING) {
                if (strv_push(&ctx->errors->warnings, &ctx->errors->n_warnings, line) < 0)
                        ctx->oom = true;
        } else if (kind == LINE_NOTE) {
                if (strv_push(&ctx->errors->notes, &ctx->errors->n_notes, line) < 0)
                        ctx->oom = true;
        } else {
                ctx->failed = true;
                if (strv_push(&ctx->errors->lines, &ctx->errors->n, line) < 0)
                        ctx->oom = true;
        }
}

void config_error(struct config_ctx *ctx, const char *path, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        config_add_line(ctx, LINE_ERROR, path, fmt, ap);
        va_end(ap);
}

void config_warning(struct config_ctx *ctx, const char *path, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        config_add_line(ctx, LINE_WARNING, path, fmt, ap);
        va_end(ap);
}

void config_note(struct config_ctx *ctx, const char *path, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        config_add_line(ctx, LINE_NOTE, path, fmt, ap);
        va_end(ap);
}

void config_key_path(char *buf, size_t size, const char *path, const char *key) {
        if (path && *path)
                snprintf(buf, size, "%s.%s", path, key);
        else
                snprintf(buf, size, "%s", key);
}

static bool key_is_secret(const char *key) {
        return strstr(key, "password") || strstr(key, "token") || strcmp(key, "auth") == 0;
}

/* What the user wrote, for "expected X, got Y" — short, and never a secret. */
static void describe_value(char *buf, size_t size, const char *key, struct json_object *v) {
        char shown[CONFIG_SHOW_SIZE];

        /* Objects and lists may hold secrets deeper down: name only their type. */
        if (key_is_secret(key) || json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array)) {
                const char *t = json_type_to_name(json_object_get_type(v));
                snprintf(buf, size, "%s %s (value hidden)", strchr("aeiou", t[0]) ? "an" : "a", t);
                return;
        }
        if (json_object_is_type(v, json_type_string)) {
                snprintf(buf, size, "\"%s\"", config_show(shown, json_object_get_string(v)));
                return;
        }
        /* A number as written in the file (config-json.c keeps the text of those json-c cannot hold). */
        const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        snprintf(buf, size, "%s", config_show(shown, s ? s : "?"));
}

int config_type_error(struct config_ctx *ctx, const char *path, const char *key, struct json_object *v,
                      const char *expected) {
        char kp[256], got[CONFIG_SHOW_SIZE + 32];

        config_key_path(kp, sizeof(kp), path, key);
        describe_value(got, sizeof(got), key, v);
        config_error(ctx, kp, "expected %s, got %s", expected, got);
        return -EINVAL;
}

static int missing(struct config_ctx *ctx, const char *path, const char *key, const char *what) {
        char kp[256];
        config_key_path(kp, sizeof(kp), path, key);
        config_error(ctx, kp, "required %s is missing", what);
        return -ENOENT;
}

int config_check_keys(struct config_ctx *ctx, const char *path, struct json_object *obj,
                      const char *const *allowed) {
        int r = 0;

        json_object_object_foreach(obj, key, val) {
                bool ok = false;
                (void) val;
                for (const char *const *a = allowed; *a; a++)
                        if (strcmp(*a, key) == 0) {
                                ok = true;
                                break;
                        }
                if (!ok) {
                        char kp[256], known[256] = "";
                        size_t len = 0;
                        config_key_path(kp, sizeof(kp), path, key);
                        for (const char *const *a = allowed; *a && len < sizeof(known) - 40; a++)
                                len += (size_t) snprintf(known + len, sizeof(known) - len, "%s%s",
                                                         a == allowed ? "" : ", ", *a);
                        config_error(ctx, kp, "unknown key (known: %s)", known);
                        r = -EINVAL;
                }
        }
        return r;
}

int config_get_string(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                      bool required, const char *def, char **ret) {
        struct json_object *v;

        *ret = NULL;
        if (!json_object_object_get_ex(obj, key, &v)) {
                if (required)
                        return missing(ctx, path, key, "string");
                if (def && !(*ret = strdup(def))) {
                        ctx->oom = true;
                        return -ENOMEM;
                }
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return config_type_error(ctx, path, key, v, "a string");
        if (json_object_get_string_len(v) == 0 || strlen(json_object_get_string(v)) !=
                                                           (size_t) json_object_get_string_len(v)) {
                char kp[256];
                config_key_path(kp, sizeof(kp), path, key);
                config_error(ctx, kp, "expected a non-empty string without NUL bytes");
                return -EINVAL;
        }
        if (!(*ret = strdup(json_object_get_string(v)))) {
                ctx->oom = true;
                return -ENOMEM;
        }
        return 0;
}

/* The number's text in the file: json-c keeps it for decimals, config-json.c for integers that
 * json-c clamped (1e30 and 1000000000000000000000000000000 stay what the user wrote). */
static const char *number_as_written(char buf[static CONFIG_SHOW_SIZE], struct json_object *v) {
        const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        return config_show(buf, s ? s : "?");
}

int config_get_int(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                   bool required, int def, int min, int max, int *ret) {
        char kp[256], shown[CONFIG_SHOW_SIZE];
        struct json_object *v;

        *ret = def;
        if (!json_object_object_get_ex(obj, key, &v))
                return required ? missing(ctx, path, key, "integer") : 0;
        if (!json_object_is_type(v, json_type_int))
                return config_type_error(ctx, path, key, v, "an integer");
        errno = 0;
        int64_t i = json_object_get_int64(v);
        if (errno != 0 || i < min || i > max) {
                config_key_path(kp, sizeof(kp), path, key);
                config_error(ctx, kp, "%s out of range: expected %d..%d", number_as_written(shown, v), min, max);
                return -ERANGE;
        }
        *ret = (int) i;
        return 0;
}

int config_get_double(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                      bool required, double def, double min, double max, double *ret) {
        char kp[256], shown[CONFIG_SHOW_SIZE];
        struct json_object *v;

        *ret = def;
        if (!json_object_object_get_ex(obj, key, &v))
                return required ? missing(ctx, path, key, "number") : 0;
        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                return config_type_error(ctx, path, key, v, "a number");
        double d = json_object_get_double(v);
        if (!isfinite(d) || d < min || d > max) {
                config_key_path(kp, sizeof(kp), path, key);
                config_error(ctx, kp, "%s out of range: expected %g..%g", number_as_written(shown, v), min, max);
                return -ERANGE;
        }
        *ret = d;
        return 0;
}

int config_get_bool(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                    bool required, bool def, bool *ret) {
        struct json_object *v;

        *ret = def;
        if (!json_object_object_get_ex(obj, key, &v))
                return required ? missing(ctx, path, key, "boolean") : 0;
        if (!json_object_is_type(v, json_type_boolean))
                return config_type_error(ctx, path, key, v, "true or false");
        *ret = json_object_get_boolean(v);
        return 0;
}

bool mac_is_valid(const char *s) {
        if (strlen(s) != 17)
                return false;
        for (size_t i = 0; i < 17; i++) {
                if (i % 3 == 2) {
                        if (s[i] != ':')
                                return false;
                } else if (!isxdigit((unsigned char) s[i]))
                        return false;
        }
        return true;
}

int config_get_mac(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                   char ret[static 18]) {
        _cleanup_free_ char *s = NULL;
        char shown[CONFIG_SHOW_SIZE];
        int r;

        ret[0] = 0;
        r = config_get_string(ctx, path, obj, key, true, NULL, &s);
        if (r < 0)
                return r;
        if (!mac_is_valid(s)) {
                char kp[256];
                config_key_path(kp, sizeof(kp), path, key);
                config_error(ctx, kp, "expected a MAC address like aa:bb:cc:dd:ee:ff, got \"%s\"",
                             config_show(shown, s));
                return -EINVAL;
        }
        for (size_t i = 0; i < 17; i++)
                ret[i] = (char) toupper((unsigned char) s[i]);
        ret[17] = 0;
        return 0;
}

static bool hostname_is_valid(const char *h) {
        size_t len = strlen(h);
        if (len == 0 || len > 253)
                return false;
        for (const char *p = h; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '-' && *p != '.' && *p != '_')
                        return false;
        return h[0] != '-' && h[0] != '.';
}

int hostport_parse(const char *s, char **ret_host, uint16_t *ret_port) {
        const char *colon, *host_start, *host_end;

        if (s[0] == '[') {
                host_end = strchr(s, ']');
                if (!host_end || host_end[1] != ':')
                        return -EINVAL;
                host_start = s + 1;
                colon = host_end + 1;
                for (const char *p = host_start; p < host_end; p++)
                        if (!isxdigit((unsigned char) *p) && *p != ':' && *p != '.')
                                return -EINVAL;
                if (host_end == host_start)
                        return -EINVAL;
        } else {
                colon = strrchr(s, ':');
                if (!colon || strchr(s, ':') != colon)
                        return -EINVAL; /* bare IPv6 must be bracketed */
                host_start = s;
                host_end = colon;
        }

        const char *port = colon + 1;
        if (*port == 0 || strlen(port) > 5)
                return -EINVAL;
        unsigned long p = 0;
        for (const char *q = port; *q; q++) {
                if (!isdigit((unsigned char) *q))
                        return -EINVAL;
                p = p * 10 + (unsigned long) (*q - '0');
        }
        if (p == 0 || p > 65535)
                return -ERANGE;

        char *host = strndup(host_start, (size_t) (host_end - host_start));
        if (!host)
                return -ENOMEM;
        if (s[0] != '[' && !hostname_is_valid(host)) {
                free(host);
                return -EINVAL;
        }
        *ret_host = host;
        *ret_port = (uint16_t) p;
        return 0;
}

int config_get_hostport(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                        bool required, char **ret_host, uint16_t *ret_port) {
        _cleanup_free_ char *s = NULL;
        char shown[CONFIG_SHOW_SIZE];
        int r;

        *ret_host = NULL;
        *ret_port = 0;
        r = config_get_string(ctx, path, obj, key, required, NULL, &s);
        if (r < 0 || !s)
                return r;
        r = hostport_parse(s, ret_host, ret_port);
        if (r == -ENOMEM) {
                ctx->oom = true;
                return r;
        }
        if (r < 0) {
                char kp[256];
                config_key_path(kp, sizeof(kp), path, key);
                config_error(ctx, kp, "expected host:port (IPv4, [IPv6]:port or a DNS name, port 1..65535), got \"%s\"",
                             config_show(shown, s));
        }
        return r;
}

int config_get_file(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                    bool required, char **ret_path) {
        _cleanup_free_ char *s = NULL;
        char *full = NULL;
        int r;

        *ret_path = NULL;
        r = config_get_string(ctx, path, obj, key, required, NULL, &s);
        if (r < 0 || !s)
                return r;
        if (s[0] == '/')
                full = TAKE_PTR(s);
        else if (asprintf(&full, "%s/%s", ctx->dir, s) < 0) {
                ctx->oom = true;
                return -ENOMEM;
        } else if (ctx->data_dir && access(full, F_OK) < 0 && errno == ENOENT) {
                /* Not next to the config: a shipped file (hm600-lut.csv) by its bare name. */
                char *shipped;
                if (asprintf(&shipped, "%s/%s", ctx->data_dir, s) < 0) {
                        free(full);
                        ctx->oom = true;
                        return -ENOMEM;
                }
                if (access(shipped, F_OK) == 0) {
                        free(full);
                        full = shipped;
                } else
                        free(shipped);
        }
        /* A FIFO or a device would block or misbehave when its reader opens it (lut_load, TLS setup). */
        struct stat st;
        if (stat(full, &st) < 0 || access(full, R_OK) < 0)
                r = -errno;
        else if (!S_ISREG(st.st_mode))
                r = -EINVAL;
        if (r < 0) {
                char kp[256], shown[CONFIG_SHOW_SIZE];
                config_key_path(kp, sizeof(kp), path, key);
                if (r == -EINVAL)
                        config_error(ctx, kp, "\"%s\" is not a regular file", config_show(shown, full));
                else
                        config_error(ctx, kp, "cannot read file \"%s\": %s", config_show(shown, full), strerror(-r));
                free(full);
                return r;
        }
        *ret_path = full;
        return 0;
}

bool mqtt_topic_is_valid(const char *s) {
        size_t len = strlen(s);
        return len > 0 && len <= 256 && !strpbrk(s, "+#") && s[0] != '/' && s[len - 1] != '/' && !strstr(s, "//") &&
               mqtt_string_is_valid(s);
}

int config_get_topic(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                     char **ret) {
        char shown[CONFIG_SHOW_SIZE];
        int r = config_get_string(ctx, path, obj, key, true, NULL, ret);
        if (r < 0)
                return r;
        if (!mqtt_topic_is_valid(*ret)) {
                char kp[256];
                config_key_path(kp, sizeof(kp), path, key);
                config_error(ctx, kp,
                             "expected an MQTT topic without '+', '#', '//', control characters and without a "
                             "leading or trailing '/', got \"%s\"",
                             config_show(shown, *ret));
                *ret = mfree(*ret);
                return -EINVAL;
        }
        return 0;
}

int config_get_choice(struct config_ctx *ctx, const char *path, struct json_object *obj, const char *key,
                      const char *const *words, const char *object_hint, int *ret_choice,
                      struct json_object **ret_object) {
        char kp[256], expected[160] = "", shown[CONFIG_SHOW_SIZE];
        struct json_object *v;
        size_t len = 0;

        *ret_choice = CONFIG_CHOICE_ABSENT;
        *ret_object = NULL;
        if (!json_object_object_get_ex(obj, key, &v))
                return 0;
        if (json_object_is_type(v, json_type_string))
                for (int i = 0; words[i]; i++)
                        if (strcmp(words[i], json_object_get_string(v)) == 0) {
                                *ret_choice = i;
                                return 0;
                        }
        if (object_hint && json_object_is_type(v, json_type_object)) {
                *ret_choice = CONFIG_CHOICE_OBJECT;
                *ret_object = v;
                return 0;
        }
        for (int i = 0; words[i] && len < sizeof(expected) - 40; i++)
                len += (size_t) snprintf(expected + len, sizeof(expected) - len, "%s\"%s\"", i ? ", " : "",
                                         words[i]);
        if (object_hint)
                snprintf(expected + len, sizeof(expected) - len, " or %s", object_hint);
        config_key_path(kp, sizeof(kp), path, key);
        if (json_object_is_type(v, json_type_string))
                config_error(ctx, kp, "expected %s, got \"%s\"", expected,
                             config_show(shown, json_object_get_string(v)));
        else
                config_error(ctx, kp, "expected %s", expected);
        return -EINVAL;
}
