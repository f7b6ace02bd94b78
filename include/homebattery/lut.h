/* SPDX-License-Identifier: MIT */
/* Power look-up table of a Hoymiles inverter (drivers.md, ahoyDtu "Power LUT
 * file"): which relative limit in percent gives which output power. The ahoyDtu
 * and openDtu drivers set only percents from the table and report its watts. */
#pragma once

#include <stddef.h>

/* More entries than this is not a LUT but a mistake. */
#define LUT_ENTRIES_MAX 1000u
#define LUT_FILE_SIZE_MAX (64u * 1024u)
/* A relative limit above 100 % cannot be set on the inverter: such lines are ignored. */
#define LUT_PERCENT_MAX 100

struct lut_entry {
        int percent;
        int power_w;
};

struct lut;

/* text need not be NUL-terminated. Lines "percent;watt" (non-negative decimal integers, spaces and tabs
 * around them); every other line is ignored; CRLF is fine. Entries keep file order.
 * -ENODATA when no line is valid, -E2BIG for more than LUT_ENTRIES_MAX valid lines, -ENOMEM. */
int lut_parse(const char *text, size_t size, struct lut **ret);
/* lut_parse() of a file (src/lut-file.c: the only I/O); -errno when it cannot be read, -EISDIR or
 * -EINVAL when it is not a regular file, -EFBIG when it is larger than LUT_FILE_SIZE_MAX. */
int lut_load(const char *path, struct lut **ret);
struct lut *lut_free(struct lut *l);

size_t lut_size(const struct lut *l);
/* Entry i in file order, i < lut_size(). */
const struct lut_entry *lut_get(const struct lut *l, size_t i);

int lut_min_w(const struct lut *l);         /* smallest watt */
int lut_max_w(const struct lut *l);         /* largest watt */
int lut_start_percent(const struct lut *l); /* smallest percent */

/* Watt of the first entry (file order) whose percent >= percent; the last entry's past the end. */
int lut_percent_to_power_w(const struct lut *l, int percent);
/* Clamp power_w to [min, max]; the percent of the last entry (file order) whose watt <= it;
 * the first entry's if none. */
int lut_power_to_percent(const struct lut *l, int power_w);
