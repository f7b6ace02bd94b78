/* SPDX-License-Identifier: MIT */
/* Fuzzes the JSON path walk of httpConsumption: the presets' paths and a few
 * with "*" and indexes over the whole input. An input whose first line is
 * '#' and a path (elements split at '/': a member, digits for an index, or
 * "*") also runs that path over the rest. */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json-path.h"

#define M(s) { .kind = JSON_PATH_MEMBER, .member = (s) }
#define I(k) { .kind = JSON_PATH_INDEX, .index = (k) }
#define ALL { .kind = JSON_PATH_ALL }

static const struct json_path fixed[] = {
        { .n = 3, .e = { M("StatusSNS"), M("SML"), M("Power_curr") } },
        { .n = 3, .e = { M("emeters"), ALL, M("power") } },
        { .n = 1, .e = { M("total_act_power") } },
        { .n = 3, .e = { M("data"), I(1), M("value") } },
        { .n = 2, .e = { ALL, ALL } },
        { .n = 3, .e = { ALL, I(0), ALL } },
        { .n = 0 },
};

/* The path from a '#' header line; returns the body's offset, 0 without one. */
static size_t header_path(const uint8_t *data, size_t size, char *buf, struct json_path *p) {
        const uint8_t *nl;
        size_t len;

        if (size < 2 || data[0] != '#' || !(nl = memchr(data, '\n', size)) || (len = (size_t) (nl - data) - 1) > 255)
                return 0;
        memcpy(buf, data + 1, len);
        buf[len] = 0;
        p->n = 0;
        for (char *tok = buf, *next; tok && p->n < JSON_PATH_MAX; tok = next) {
                next = strchr(tok, '/');
                if (next)
                        *next++ = 0;
                struct json_path_elem *e = &p->e[p->n++];
                if (strcmp(tok, "*") == 0)
                        *e = (struct json_path_elem) ALL;
                else if (tok[0] >= '0' && tok[0] <= '9')
                        *e = (struct json_path_elem) I(strtoul(tok, NULL, 10));
                else
                        *e = (struct json_path_elem) M(tok);
        }
        return (size_t) (nl - data) + 1;
}

static void run(const char *body, size_t size, const struct json_path *p) {
        struct json_path_error e = {};
        char where[96];
        double v;
        int w;

        if (json_path_extract(body, size, p, &v, &e) >= 0)
                (void) json_path_watts(v, 1000, &w);
        else
                (void) json_path_describe(p, e.pos, where, sizeof(where));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char buf[256];
        struct json_path p;
        size_t off = header_path(data, size, buf, &p);

        if (off)
                run((const char *) data + off, size - off, &p);
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
                run((const char *) data, size, &fixed[i]);
        return 0;
}
