/* SPDX-License-Identifier: MIT */
/* Pylontech INFO layouts (pylon-decode.h). All values big-endian; the
 * current is two's complement (the original firmware subtracted 0xFFFF, one
 * off); temperatures are 0.1 K. */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "homebattery/cleanup.h"
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

int pylon_decode_params(const uint8_t *info, size_t n, struct pylon_params *ret) {
        struct cursor c = { .p = info, .n = n, .at = 1 };

        ret->cell_high_mv = get(&c, 2);
        ret->cell_low_mv = get(&c, 2);
        ret->cell_under_mv = get(&c, 2);
        ret->charge_high_c = kelvin10_to_c(get(&c, 2));
        ret->charge_low_c = kelvin10_to_c(get(&c, 2));
        ret->charge_limit_a = (int16_t) get(&c, 2) / 10.0;
        ret->module_high_mv = get(&c, 2);
        ret->module_low_mv = get(&c, 2);
        ret->module_under_mv = get(&c, 2);
        ret->discharge_high_c = kelvin10_to_c(get(&c, 2));
        ret->discharge_low_c = kelvin10_to_c(get(&c, 2));
        ret->discharge_limit_a = (int16_t) get(&c, 2) / 10.0;
        return c.short_read ? -EBADMSG : 0;
}

int pylon_decode_alarms(const uint8_t *info, size_t n, struct pylon_alarms *ret) {
        struct cursor c = { .p = info, .n = n, .at = 2 }; /* DATAFLAG, address */

        *ret = (struct pylon_alarms) {};
        ret->n_cells = get(&c, 1);
        if (ret->n_cells > BATTERY_CELLS_MAX)
                return -EBADMSG;
        for (unsigned i = 0; i < ret->n_cells; i++)
                ret->cell[i] = (uint8_t) get(&c, 1);
        ret->n_temps = get(&c, 1);
        if (ret->n_temps > 16)
                return -EBADMSG;
        for (unsigned i = 0; i < ret->n_temps; i++)
                ret->temp[i] = (uint8_t) get(&c, 1);
        ret->charge_current = (uint8_t) get(&c, 1);
        ret->module_voltage = (uint8_t) get(&c, 1);
        ret->discharge_current = (uint8_t) get(&c, 1);
        for (size_t i = 0; i < 5; i++)
                ret->status[i] = (uint8_t) get(&c, 1);
        return c.short_read ? -EBADMSG : 0;
}

struct text {
        char *buf;
        size_t size, len;
};

static void add(struct text *t, const char *fmt, ...) _printf_(2, 3);
static void add(struct text *t, const char *fmt, ...) {
        va_list ap;
        int n;

        if (t->len + 1 >= t->size)
                return;
        if (t->len > 0)
                t->len += (size_t) snprintf(t->buf + t->len, t->size - t->len, ", ");
        if (t->len + 1 >= t->size) {
                t->len = t->size - 1;
                return;
        }
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
        va_end(ap);
        t->len = n < 0 ? t->len : t->len + (size_t) n;
        if (t->len >= t->size)
                t->len = t->size - 1;
}

static const char *state_word(uint8_t s) {
        return s == 1 ? "below limit" : s == 2 ? "above limit" : "error";
}

static void describe_states(struct text *t, const struct pylon_alarms *a) {
        for (unsigned i = 0; i < a->n_cells; i++)
                if (a->cell[i])
                        add(t, "cell %u %s", i + 1, state_word(a->cell[i]));
        for (unsigned i = 0; i < a->n_temps; i++)
                if (a->temp[i])
                        add(t, "temperature %u %s", i + 1, state_word(a->temp[i]));
        if (a->charge_current)
                add(t, "charge current %s", state_word(a->charge_current));
        if (a->module_voltage)
                add(t, "module voltage %s", state_word(a->module_voltage));
        if (a->discharge_current)
                add(t, "discharge current %s", state_word(a->discharge_current));
}

void pylon_alarms_describe(const struct pylon_alarms *a, char *buf, size_t size) {
        static const char *const status1[8] = { "module over voltage", "cell under voltage", "charge over current",
                                                NULL, "discharge over current", "discharge over temperature",
                                                "charge over temperature", "module under voltage" };
        static const char *const status2[8] = { "charge MOSFET on", "discharge MOSFET on", "using battery power" };
        static const char *const status3[8] = { "buzzer", NULL, NULL, "fully charged", NULL,
                                                "effective discharge current", NULL, "effective charge current" };
        struct text t = { .buf = buf, .size = size };

        if (size == 0)
                return;
        buf[0] = 0;
        describe_states(&t, a);
        for (unsigned bit = 0; bit < 8; bit++) {
                if ((a->status[0] >> bit & 1) && status1[bit])
                        add(&t, "%s", status1[bit]);
                if ((a->status[1] >> bit & 1) && status2[bit])
                        add(&t, "%s", status2[bit]);
                if ((a->status[2] >> bit & 1) && status3[bit])
                        add(&t, "%s", status3[bit]);
        }
        for (unsigned bit = 0; bit < 16; bit++)
                if (a->status[3 + bit / 8] >> (bit % 8) & 1)
                        add(&t, "cell %u failure", bit + 1);
        if (t.len == 0)
                snprintf(buf, size, "none");
}

int pylon_decode_management(const uint8_t *info, size_t n, struct pylon_management *ret) {
        struct cursor c = { .p = info, .n = n, .at = 1 }; /* the address */

        ret->charge_voltage_mv = get(&c, 2);
        ret->discharge_voltage_mv = get(&c, 2);
        ret->charge_limit_a = (int16_t) get(&c, 2) / 10.0;
        ret->discharge_limit_a = (int16_t) get(&c, 2) / 10.0;
        ret->status = (uint8_t) get(&c, 1);
        return c.short_read ? -EBADMSG : 0;
}
