/* SPDX-License-Identifier: MIT */
/* Unit tests of the inverter power LUT: parsing edge cases, both lookups
 * (drivers.md, ahoyDtu "Power LUT file") on sorted and unsorted tables,
 * min/max/start and loading from a file. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkstemp, mkdtemp */
#endif

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "homebattery/lut.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static struct lut *parse_ok(const char *text) {
        struct lut *l = NULL;

        assert_int_equal(lut_parse(text, strlen(text), &l), 0);
        assert_non_null(l);
        return l;
}

/* ---- parsing ---- */

struct parse_case {
        const char *name;
        const char *text;
        size_t size; /* 0: strlen(text) */
        int r;
        size_t n;
        struct lut_entry entries[4];
};

static const struct parse_case parse_cases[] = {
        { "basic", "2;20\n10;100\n", 0, 0, 2, { { 2, 20 }, { 10, 100 } } },
        { "no final newline", "2;20\n10;100", 0, 0, 2, { { 2, 20 }, { 10, 100 } } },
        { "spaces and tabs", " 2 ; 20 \n\t10\t;\t100\t\n  7;70\n", 0, 0, 3,
          { { 2, 20 }, { 10, 100 }, { 7, 70 } } },
        { "CRLF", "2;20\r\n10;100\r\n", 0, 0, 2, { { 2, 20 }, { 10, 100 } } },
        { "CRLF, no final newline", "2;20\r\n10;100\r", 0, 0, 2, { { 2, 20 }, { 10, 100 } } },
        { "CR inside a line", "2\r;20\n10;100\n", 0, 0, 1, { { 10, 100 } } },
        { "comments, header, blank lines", "# HM-600\npercent;watt\n\n2;20\n// note\n\n10;100\n", 0, 0, 2,
          { { 2, 20 }, { 10, 100 } } },
        { "negative numbers", "-2;20\n2;-20\n- 2;20\n10;100\n", 0, 0, 1, { { 10, 100 } } },
        { "plus sign", "+2;20\n2;+20\n10;100\n", 0, 0, 1, { { 10, 100 } } },
        { "garbage", "abc\n10;\n;100\n10;100;5\n10;100W\n10 100\n10,100\n1 0;100\n0x10;100\n10;1e2\n3;30\n",
          0, 0, 1, { { 3, 30 } } },
        { "trailing comment makes a line invalid", "10;100 # full\n20;200\n", 0, 0, 1, { { 20, 200 } } },
        { "overflow", "2147483648;5\n10;2147483648\n10;99999999999999999999\n10;2147483647\n", 0, 0, 1,
          { { 10, INT_MAX } } },
        { "percent above 100", "101;800\n100;800\n", 0, 0, 1, { { 100, 800 } } },
        { "zero", "0;0\n", 0, 0, 1, { { 0, 0 } } },
        { "leading zeros", "007;050\n", 0, 0, 1, { { 7, 50 } } },
        { "file order and duplicates kept", "50;400\n10;100\n50;400\n", 0, 0, 3,
          { { 50, 400 }, { 10, 100 }, { 50, 400 } } },
        { "size is honoured", "10;2005", 6, 0, 1, { { 10, 200 } } },
        { "NUL is garbage", "10;200\0\n20;300", 14, 0, 1, { { 20, 300 } } },
        { "empty", "", 0, -ENODATA, 0, { { 0, 0 } } },
        { "only comments", "# nothing\n\n", 0, -ENODATA, 0, { { 0, 0 } } },
        { "only CRLF", "\r\n\r\n", 0, -ENODATA, 0, { { 0, 0 } } },
        { "only invalid lines", "-1;5\n101;5\nfoo\n", 0, -ENODATA, 0, { { 0, 0 } } },
};

static void test_parse_table(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(parse_cases); i++) {
                const struct parse_case *c = &parse_cases[i];
                struct lut *l = NULL;
                size_t size = c->size > 0 ? c->size : strlen(c->text);

                print_message("case: %s\n", c->name);
                assert_int_equal(lut_parse(c->text, size, &l), c->r);
                if (c->r < 0) {
                        assert_null(l);
                        continue;
                }
                assert_int_equal(lut_size(l), c->n);
                for (size_t j = 0; j < c->n; j++) {
                        assert_int_equal(lut_get(l, j)->percent, c->entries[j].percent);
                        assert_int_equal(lut_get(l, j)->power_w, c->entries[j].power_w);
                }
                l = lut_free(l);
                assert_null(l);
        }
}

static void test_parse_null_empty(void **state) {
        struct lut *l = NULL;
        (void) state;

        assert_int_equal(lut_parse(NULL, 0, &l), -ENODATA);
        assert_null(l);
        assert_null(lut_free(NULL));
}

static char *make_lines(size_t n_valid, bool with_invalid) {
        size_t size = (n_valid + 1) * 16 + 1;
        char *text = malloc(size), *p = text;

        assert_non_null(text);
        for (size_t i = 0; i < n_valid; i++)
                p += sprintf(p, "%zu;%zu\n", i % 101, i);
        if (with_invalid)
                p += sprintf(p, "-1;-1\n");
        *p = 0;
        return text;
}

static void test_parse_too_many(void **state) {
        struct lut *l = NULL;
        char *text;
        (void) state;

        text = make_lines(LUT_ENTRIES_MAX, true);
        assert_int_equal(lut_parse(text, strlen(text), &l), 0);
        assert_int_equal(lut_size(l), LUT_ENTRIES_MAX);
        assert_int_equal(lut_get(l, LUT_ENTRIES_MAX - 1)->power_w, LUT_ENTRIES_MAX - 1);
        l = lut_free(l);
        free(text);

        text = make_lines(LUT_ENTRIES_MAX + 1, false);
        assert_int_equal(lut_parse(text, strlen(text), &l), -E2BIG);
        assert_null(l);
        free(text);
}

/* ---- lookups ---- */

static const char lut_sorted[] = "2;20\n10;100\n20;200\n50;400\n100;800\n";
/* Not sorted by percent: the lookups walk in file order. */
static const char lut_unsorted[] = "50;400\n10;100\n100;800\n20;200\n";
/* Sorted by percent, but the watt values dip: the power lookup does not stop at the first bigger one. */
static const char lut_dip[] = "10;100\n20;300\n30;250\n40;400\n";
static const char lut_flat[] = "10;100\n11;100\n12;150\n";
static const char lut_single[] = "50;300\n";

struct lookup_case {
        const char *lut;
        int asked;
        int expected;
};

static void test_percent_to_power(void **state) {
        static const struct lookup_case cases[] = {
                { lut_sorted, INT_MIN, 20 },
                { lut_sorted, 0, 20 },        /* below the first: the first */
                { lut_sorted, 2, 20 },        /* exact */
                { lut_sorted, 3, 100 },       /* next step up */
                { lut_sorted, 10, 100 },
                { lut_sorted, 11, 200 },
                { lut_sorted, 50, 400 },
                { lut_sorted, 99, 800 },
                { lut_sorted, 100, 800 },
                { lut_sorted, 101, 800 },     /* past the end: the last */
                { lut_sorted, INT_MAX, 800 },

                { lut_unsorted, -5, 400 },    /* the first in file order, not the smallest percent */
                { lut_unsorted, 10, 400 },
                { lut_unsorted, 15, 400 },
                { lut_unsorted, 50, 400 },
                { lut_unsorted, 51, 800 },
                { lut_unsorted, 100, 800 },
                { lut_unsorted, 101, 200 },   /* past the end: the last in file order, not the largest */

                { lut_dip, 25, 250 },
                { lut_dip, 30, 250 },
                { lut_dip, 31, 400 },

                { lut_single, 0, 300 },
                { lut_single, 50, 300 },
                { lut_single, 100, 300 },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct lut *l = parse_ok(cases[i].lut);

                print_message("case %zu: %d %%\n", i, cases[i].asked);
                assert_int_equal(lut_percent_to_power_w(l, cases[i].asked), cases[i].expected);
                lut_free(l);
        }
}

static void test_power_to_percent(void **state) {
        static const struct lookup_case cases[] = {
                { lut_sorted, INT_MIN, 2 },
                { lut_sorted, -100, 2 },      /* clamped to min */
                { lut_sorted, 0, 2 },
                { lut_sorted, 20, 2 },        /* exact */
                { lut_sorted, 99, 2 },        /* not rounded up */
                { lut_sorted, 100, 10 },
                { lut_sorted, 150, 10 },
                { lut_sorted, 199, 10 },
                { lut_sorted, 200, 20 },
                { lut_sorted, 799, 50 },
                { lut_sorted, 800, 100 },
                { lut_sorted, 801, 100 },     /* clamped to max */
                { lut_sorted, INT_MAX, 100 },

                { lut_unsorted, 0, 10 },      /* clamped to min 100: only 10;100 fits */
                { lut_unsorted, 150, 10 },
                { lut_unsorted, 200, 20 },    /* the last that fits, in file order */
                { lut_unsorted, 450, 20 },
                { lut_unsorted, 5000, 20 },

                { lut_dip, 260, 30 },         /* 100 and 250 fit, 250 is the later one */
                { lut_dip, 299, 30 },
                { lut_dip, 300, 30 },         /* 20;300 fits, but 30;250 comes later */
                { lut_dip, 400, 40 },

                { lut_flat, 100, 11 },
                { lut_flat, 149, 11 },
                { lut_flat, 150, 12 },

                { lut_single, 0, 50 },
                { lut_single, 300, 50 },
                { lut_single, 1000, 50 },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct lut *l = parse_ok(cases[i].lut);

                print_message("case %zu: %d W\n", i, cases[i].asked);
                assert_int_equal(lut_power_to_percent(l, cases[i].asked), cases[i].expected);
                lut_free(l);
        }
}

struct bounds_case {
        const char *lut;
        int min_w, max_w, start_percent;
};

static void test_min_max_start(void **state) {
        static const struct bounds_case cases[] = {
                { lut_sorted, 20, 800, 2 },
                { lut_unsorted, 100, 800, 10 },
                { lut_dip, 100, 400, 10 },
                { lut_single, 300, 300, 50 },
                { "30;500\n5;600\n60;50\n", 50, 600, 5 },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct lut *l = parse_ok(cases[i].lut);

                print_message("case %zu\n", i);
                assert_int_equal(lut_min_w(l), cases[i].min_w);
                assert_int_equal(lut_max_w(l), cases[i].max_w);
                assert_int_equal(lut_start_percent(l), cases[i].start_percent);
                lut_free(l);
        }
}

/* ---- loading ---- */

static char *write_temp(const char *data, size_t size) {
        char *path = strdup("/tmp/test-lut-XXXXXX");
        int fd;

        assert_non_null(path);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t) size);
        assert_int_equal(close(fd), 0);
        return path;
}

static void test_load(void **state) {
        struct lut *l = NULL;
        char *path, *big, dir[] = "/tmp/test-lut-dir-XXXXXX";
        (void) state;

        path = write_temp(lut_unsorted, strlen(lut_unsorted));
        assert_int_equal(lut_load(path, &l), 0);
        assert_int_equal(lut_size(l), 4);
        assert_int_equal(lut_get(l, 0)->percent, 50);
        assert_int_equal(lut_get(l, 3)->power_w, 200);
        l = lut_free(l);
        unlink(path);
        free(path);

        path = write_temp("", 0);
        assert_int_equal(lut_load(path, &l), -ENODATA);
        assert_null(l);
        unlink(path);
        free(path);

        assert_int_equal(lut_load("/nonexistent/lut.csv", &l), -ENOENT);
        assert_null(l);

        assert_non_null(mkdtemp(dir));
        assert_int_equal(lut_load(dir, &l), -EISDIR);
        rmdir(dir);

        /* exactly the size limit, the only entry in the very last bytes: read completely */
        big = malloc(LUT_FILE_SIZE_MAX + 1);
        assert_non_null(big);
        memset(big, '#', LUT_FILE_SIZE_MAX + 1);
        memcpy(big + LUT_FILE_SIZE_MAX - 7, "\n10;100", 7);
        path = write_temp(big, LUT_FILE_SIZE_MAX);
        assert_int_equal(lut_load(path, &l), 0);
        assert_int_equal(lut_size(l), 1);
        assert_int_equal(lut_get(l, 0)->power_w, 100);
        l = lut_free(l);
        unlink(path);
        free(path);

        /* one byte more */
        memcpy(big + LUT_FILE_SIZE_MAX - 7, "\n10;100\n", 8);
        path = write_temp(big, LUT_FILE_SIZE_MAX + 1);
        assert_int_equal(lut_load(path, &l), -EFBIG);
        assert_null(l);
        unlink(path);
        free(path);
        free(big);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_table),
                cmocka_unit_test(test_parse_null_empty),
                cmocka_unit_test(test_parse_too_many),
                cmocka_unit_test(test_percent_to_power),
                cmocka_unit_test(test_power_to_percent),
                cmocka_unit_test(test_min_max_start),
                cmocka_unit_test(test_load),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
