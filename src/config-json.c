/* SPDX-License-Identifier: MIT */
/* What json-c does not tell about the text it parsed: a key given twice in
 * one object (json-c silently keeps the last value), keys and strings that
 * are not valid UTF-8 or hold a NUL (\u0000), and the text of integers too
 * large for json-c (it clamps them to 64 bits). A second, small scan of the
 * text, run only on text json-c accepted, walks json-c's tree alongside. */

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "config-ctx.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

/* json-c refuses deeper documents (JSON_TOKENER_DEFAULT_DEPTH); one more level is the top. */
#define DEPTH_MAX (JSON_TOKENER_DEFAULT_DEPTH + 1)

struct frame {
        bool object;
        struct json_object *node; /* json-c's container for this level; NULL when not matched */
        struct json_object *keys; /* objects: the keys seen so far, as a set */
        struct json_object *key;  /* objects: the current key (a json-c string) */
        size_t index;             /* arrays: the current element */
        size_t path_len;          /* length of the key path up to this level */
};

struct scan {
        struct config_ctx *ctx;
        const char *text;
        size_t size, pos;
        unsigned line;
        size_t line_start;
        struct json_tokener *tok;
        struct frame frames[DEPTH_MAX];
        size_t depth;
        char path[256];
};

static void position(const struct scan *s, size_t offset, char *buf, size_t size) {
        snprintf(buf, size, "%u:%zu", s->line, offset - s->line_start + 1);
}

static const char *parent_path(const struct scan *s) {
        return s->path[0] ? s->path : "the top level";
}

/* The string token at s->pos, decoded by json-c itself so escapes mean the same as in the tree. */
static struct json_object *read_string(struct scan *s) {
        size_t start = s->pos;

        for (s->pos++; s->pos < s->size && s->text[s->pos] != '"'; s->pos++) {
                if (s->text[s->pos] == '\\')
                        s->pos++;
                else if (s->text[s->pos] == '\n') {
                        s->line++;
                        s->line_start = s->pos + 1;
                }
        }
        s->pos = s->pos < s->size ? s->pos + 1 : s->size;
        json_tokener_reset(s->tok);
        return json_tokener_parse_ex(s->tok, s->text + start, (int) (s->pos - start));
}

static const char *string_problem(struct json_object *str) {
        const char *v = json_object_get_string(str);
        size_t len = (size_t) json_object_get_string_len(str);

        if (memchr(v, 0, len))
                return "contains a NUL character (\\u0000)";
        if (!utf8_is_valid(v, len))
                return "is not valid UTF-8";
        return NULL;
}

/* The json-c value the text is at now: the current key's or element's, or the root. */
static struct json_object *current_value(struct scan *s, struct json_object *root) {
        struct frame *f;
        struct json_object *v = NULL;

        if (s->depth == 0)
                return root;
        f = &s->frames[s->depth - 1];
        if (!f->node)
                return NULL;
        if (f->object)
                return f->key && json_object_object_get_ex(f->node, json_object_get_string(f->key), &v) ? v : NULL;
        return json_object_array_get_idx(f->node, f->index);
}

static void set_path(struct scan *s) {
        struct frame *f = &s->frames[s->depth - 1];
        size_t n = f->path_len;

        s->path[n] = 0;
        if (f->object && f->key)
                snprintf(s->path + n, sizeof(s->path) - n, "%s%s", n ? "." : "", json_object_get_string(f->key));
        else if (!f->object)
                snprintf(s->path + n, sizeof(s->path) - n, "[%zu]", f->index);
}

static int on_key(struct scan *s, size_t start) {
        struct frame *f = &s->frames[s->depth - 1];
        struct json_object *k = read_string(s);
        const char *problem;
        char where[32], shown[CONFIG_SHOW_SIZE];

        if (!k)
                return -ENOMEM; /* json-c parsed this very token before */
        json_object_put(f->key);
        f->key = k;
        s->path[f->path_len] = 0;
        position(s, start, where, sizeof(where));
        problem = string_problem(k);
        if (problem)
                config_error(s->ctx, where, "a key in %s %s", parent_path(s), problem);
        else if (json_object_object_get_ex(f->keys, json_object_get_string(k), NULL))
                config_error(s->ctx, where, "duplicate key \"%s\"%s%s",
                             config_show(shown, json_object_get_string(k)), s->path[0] ? " in " : "", s->path);
        else if (json_object_object_add(f->keys, json_object_get_string(k), NULL) < 0)
                return -ENOMEM;
        set_path(s);
        return 0;
}

/* json-c clamps an integer beyond 64 bits: keep what the user wrote for the error messages. */
static int keep_number_text(struct json_object *v, const char *text, size_t len) {
        const char *now;
        char *copy;

        if (!v || !json_object_is_type(v, json_type_int))
                return 0; /* decimals keep their text in json-c already */
        now = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        if (now && strlen(now) == len && memcmp(now, text, len) == 0)
                return 0;
        copy = strndup(text, len);
        if (!copy)
                return -ENOMEM;
        json_object_set_serializer(v, json_object_userdata_to_json_string, copy, json_object_free_userdata);
        return 0;
}

static int push(struct scan *s, struct json_object *v, bool object) {
        struct frame *f;

        if (s->depth == DEPTH_MAX)
                return -E2BIG; /* json-c refused deeper text already */
        f = &s->frames[s->depth++];
        *f = (struct frame) {
                .object = object,
                .node = v && json_object_is_type(v, object ? json_type_object : json_type_array) ? v : NULL,
                .path_len = strlen(s->path),
        };
        if (object && !(f->keys = json_object_new_object()))
                return -ENOMEM;
        if (!object)
                set_path(s);
        return 0;
}

static void pop(struct scan *s) {
        struct frame *f;

        if (s->depth == 0)
                return;
        f = &s->frames[--s->depth];
        json_object_put(f->keys);
        json_object_put(f->key);
        s->path[f->path_len] = 0;
}

static int step(struct scan *s, struct json_object *root, bool *want_key) {
        struct frame *f = s->depth ? &s->frames[s->depth - 1] : NULL;
        size_t start = s->pos;
        char c = s->text[s->pos];

        switch (c) {
        case '{':
        case '[':
                s->pos++;
                *want_key = c == '{';
                return push(s, current_value(s, root), c == '{');
        case '}':
        case ']':
                s->pos++;
                pop(s);
                return 0;
        case ',':
                s->pos++;
                if (f && f->object)
                        *want_key = true;
                else if (f) {
                        f->index++;
                        set_path(s);
                }
                return 0;
        case ':':
                s->pos++;
                return 0;
        case '"': {
                if (f && f->object && *want_key) {
                        *want_key = false;
                        return on_key(s, start);
                }
                _cleanup_(json_object_putp) struct json_object *str = read_string(s);
                const char *problem = str ? string_problem(str) : NULL;
                if (problem)
                        config_error(s->ctx, s->path, "the value %s", problem);
                return str ? 0 : -ENOMEM;
        }
        default: /* a number, true, false, null, NaN, Infinity */
                while (s->pos < s->size && !strchr(",:]}\"", s->text[s->pos]) &&
                       !isspace((unsigned char) s->text[s->pos]))
                        s->pos++;
                if (s->pos == start)
                        s->pos++; /* not JSON json-c accepted: step over it */
                return keep_number_text(current_value(s, root), s->text + start, s->pos - start);
        }
}

int config_json_check(struct config_ctx *ctx, const char *text, size_t size, struct json_object *root) {
        struct scan s = { .ctx = ctx, .text = text, .size = size, .line = 1 };
        bool want_key = false;
        int r = 0;

        s.tok = json_tokener_new();
        if (!s.tok)
                return -ENOMEM;
        while (r >= 0 && s.pos < s.size) {
                if (isspace((unsigned char) text[s.pos])) {
                        if (text[s.pos] == '\n') {
                                s.line++;
                                s.line_start = s.pos + 1;
                        }
                        s.pos++;
                        continue;
                }
                r = step(&s, root, &want_key);
        }
        while (s.depth > 0)
                pop(&s);
        json_tokener_free(s.tok);
        if (r == -ENOMEM)
                ctx->oom = true;
        return r < 0 ? r : 0;
}
