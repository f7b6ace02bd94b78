/* SPDX-License-Identifier: MIT */
/* Power LUT of a Hoymiles inverter: parsing of the "percent;watt" text and the
 * two lookups of drivers.md (pure: reading the file is lut-file.c's). Lookups walk the entries in file order on purpose:
 * the spec defines them that way, so an unsorted file behaves as written. */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "homebattery/lut.h"

struct lut {
        size_t n;
        struct lut_entry entries[];
};

static const char *skip_blanks(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

/* A non-negative decimal int. NULL when there is no digit or the value does not fit. */
static const char *parse_number(const char *p, const char *end, int *ret) {
        const char *start = p;
        int v = 0;

        for (; p < end && *p >= '0' && *p <= '9'; p++) {
                int d = *p - '0';

                if (v > (INT_MAX - d) / 10)
                        return NULL;
                v = v * 10 + d;
        }
        if (p == start)
                return NULL;

        *ret = v;
        return p;
}

/* One line without its '\n'. Anything that is not exactly "percent;watt" is not an entry. */
static bool parse_line(const char *p, const char *end, struct lut_entry *ret) {
        struct lut_entry e;

        if (end > p && end[-1] == '\r')
                end--;

        p = parse_number(skip_blanks(p, end), end, &e.percent);
        if (!p)
                return false;
        p = skip_blanks(p, end);
        if (p >= end || *p != ';')
                return false;
        p = parse_number(skip_blanks(p + 1, end), end, &e.power_w);
        if (!p)
                return false;
        if (skip_blanks(p, end) != end)
                return false;
        if (e.percent > LUT_PERCENT_MAX)
                return false;

        *ret = e;
        return true;
}

/* Counts the valid lines, and stores them while there is room in entries (which may be NULL). */
static size_t parse_lines(const char *text, size_t size, struct lut_entry *entries, size_t n_max) {
        const char *p = text, *end = text + size;
        size_t n = 0;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                struct lut_entry e;

                if (!eol)
                        eol = end;
                if (parse_line(p, eol, &e)) {
                        if (entries && n < n_max)
                                entries[n] = e;
                        n++;
                }
                p = eol < end ? eol + 1 : end;
        }

        return n;
}

int lut_parse(const char *text, size_t size, struct lut **ret) {
        struct lut *l;
        size_t n;

        assert(text || size == 0);
        assert(ret);

        if (size == 0)
                return -ENODATA;

        n = parse_lines(text, size, NULL, 0);
        if (n == 0)
                return -ENODATA;
        if (n > LUT_ENTRIES_MAX)
                return -E2BIG;

        l = malloc(sizeof(*l) + n * sizeof(l->entries[0]));
        if (!l)
                return -ENOMEM;

        l->n = parse_lines(text, size, l->entries, n);
        assert(l->n == n);

        *ret = l;
        return 0;
}

struct lut *lut_free(struct lut *l) {
        free(l);
        return NULL;
}

size_t lut_size(const struct lut *l) {
        assert(l);
        return l->n;
}

const struct lut_entry *lut_get(const struct lut *l, size_t i) {
        assert(l);
        assert(i < l->n);
        return &l->entries[i];
}

int lut_min_w(const struct lut *l) {
        int v;

        assert(l && l->n > 0);

        v = l->entries[0].power_w;
        for (size_t i = 1; i < l->n; i++)
                if (l->entries[i].power_w < v)
                        v = l->entries[i].power_w;
        return v;
}

int lut_max_w(const struct lut *l) {
        int v;

        assert(l && l->n > 0);

        v = l->entries[0].power_w;
        for (size_t i = 1; i < l->n; i++)
                if (l->entries[i].power_w > v)
                        v = l->entries[i].power_w;
        return v;
}

int lut_start_percent(const struct lut *l) {
        int v;

        assert(l && l->n > 0);

        v = l->entries[0].percent;
        for (size_t i = 1; i < l->n; i++)
                if (l->entries[i].percent < v)
                        v = l->entries[i].percent;
        return v;
}

int lut_percent_to_power_w(const struct lut *l, int percent) {
        assert(l && l->n > 0);

        for (size_t i = 0; i < l->n; i++)
                if (l->entries[i].percent >= percent)
                        return l->entries[i].power_w;
        return l->entries[l->n - 1].power_w;
}

int lut_power_to_percent(const struct lut *l, int power_w) {
        int min_w, max_w;
        size_t found = 0;

        assert(l && l->n > 0);

        min_w = lut_min_w(l);
        max_w = lut_max_w(l);
        if (power_w < min_w)
                power_w = min_w;
        if (power_w > max_w)
                power_w = max_w;

        /* Not a search that stops early: in an unsorted file a later entry may still fit. */
        for (size_t i = 0; i < l->n; i++)
                if (l->entries[i].power_w <= power_w)
                        found = i;
        return l->entries[found].percent;
}
