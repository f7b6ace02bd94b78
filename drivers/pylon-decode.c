/* SPDX-License-Identifier: MIT */
/* Pylontech INFO layouts (pylon-decode.h). All values big-endian; the
 * current is two's complement (the original firmware subtracted 0xFFFF, one
 * off); temperatures are 0.1 K. */

#include <errno.h>
#include <math.h>
#include <string.h>

#include "pylon-decode.h"

/* A cursor over INFO: reads fail (and stay failed) past the end. */
struct cursor {
        const uint8_t *p;
        size_t n, at;
        bool short_read;
};

static unsigned get(struct cursor *c, size_t bytes) {
        unsigned v = 0;
        if (c->at + bytes > c->n) {
                c->short_read = true;
                return 0;
        }
        for (size_t i = 0; i < bytes; i++)
                v = v << 8 | c->p[c->at + i];
        c->at += bytes;
        return v;
}

static double kelvin10_to_c(unsigned raw) {
        return ((double) raw - 2731.0) / 10.0;
}

int pylon_decode_analog(const uint8_t *info, size_t n, struct pylon_analog *ret, const char **ret_reason) {
        struct cursor c = { .p = info, .n = n };
        struct battery_record *r = &ret->record;
        unsigned m, k, p, remaining_mah, full_mah;

        *ret = (struct pylon_analog) {};
        (void) get(&c, 2); /* DATAFLAG, address */
        m = get(&c, 1);
        if (c.short_read || m < 1 || m > BATTERY_CELLS_MAX) {
                *ret_reason = c.short_read ? "truncated" : "implausible: cell count";
                return -EBADMSG;
        }
        r->n_cells = m;
        for (unsigned i = 0; i < m; i++)
                r->cells_v[i] = get(&c, 2) / 1000.0;
        k = get(&c, 1);
        if (k > 16) {
                *ret_reason = "implausible: temperature count";
                return -EBADMSG;
        }
        for (unsigned i = 0; i < k; i++) {
                double t = kelvin10_to_c(get(&c, 2));
                if (i == 0) {
                        ret->bms_temp_c = t;
                        ret->has_bms_temp = true;
                } else if (r->n_temps < BATTERY_TEMPS_MAX)
                        r->temps_c[r->n_temps++] = t;
        }
        r->current_a = (int16_t) get(&c, 2) / 10.0;
        r->voltage_v = get(&c, 2) / 1000.0;
        remaining_mah = get(&c, 2);
        p = get(&c, 1);
        full_mah = get(&c, 2);
        r->cycles = get(&c, 2);
        if (p >= 4) {
                remaining_mah = get(&c, 3);
                full_mah = get(&c, 3);
        }
        if (c.short_read || p < 2) {
                *ret_reason = c.short_read ? "truncated" : "implausible: fewer than 2 user-defined items";
                return -EBADMSG;
        }
        r->remaining_ah = remaining_mah / 1000.0;
        r->full_ah = full_mah / 1000.0;
        ret->full_unknown = full_mah == 0;
        r->soc_pct = full_mah == 0 ? 0.0 : fmin(100.0, round(100.0 * remaining_mah / full_mah));
        return 0;
}

bool pylon_serial_matches(const uint8_t *info, size_t n, const char *serial) {
        size_t len;

        if (n < 1)
                return false;
        info++, n--; /* the address */
        len = n;
        while (len > 0 && (info[len - 1] == 0 || info[len - 1] == ' '))
                len--;
        return len == strlen(serial) && memcmp(info, serial, len) == 0;
}
