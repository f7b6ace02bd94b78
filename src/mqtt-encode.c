/* SPDX-License-Identifier: MIT */
/* Round, clamp, big-endian: the exact encodings of the compatibility topics.
 * NaN encodes as 0 rather than as an arbitrary bit pattern. And the JSON
 * battery record, written by hand so that every number has fixed decimals. */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "homebattery/cleanup.h"

#include "mqtt-encode.h"

static long clamp_round(double v, long min, long max) {
        if (isnan(v))
                return 0;
        double r = round(v);
        if (r < (double) min)
                return min;
        if (r > (double) max)
                return max;
        return (long) r;
}

void encode_u8(double v, uint8_t out[static 1]) {
        out[0] = (uint8_t) clamp_round(v, 0, UINT8_MAX);
}

void encode_s8(double v, uint8_t out[static 1]) {
        out[0] = (uint8_t) (int8_t) clamp_round(v, INT8_MIN, INT8_MAX);
}

void encode_u16(double v, uint8_t out[static 2]) {
        uint16_t x = (uint16_t) clamp_round(v, 0, UINT16_MAX);
        out[0] = (uint8_t) (x >> 8);
        out[1] = (uint8_t) x;
}

void encode_s16(double v, uint8_t out[static 2]) {
        uint16_t x = (uint16_t) (int16_t) clamp_round(v, INT16_MIN, INT16_MAX);
        out[0] = (uint8_t) (x >> 8);
        out[1] = (uint8_t) x;
}

/* ---- JSON ---- */

struct out {
        char *buf;
        size_t size, n;
        bool overflow;
};

_printf_(2, 3) static void put(struct out *o, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vsnprintf(o->buf + o->n, o->size - o->n, fmt, ap);
        va_end(ap);
        if (k < 0 || (size_t) k >= o->size - o->n) {
                o->overflow = true;
                o->n = o->size - 1;
        } else
                o->n += (size_t) k;
}

static void put_number(struct out *o, const char *key, double v, int decimals) {
        if (key)
                put(o, "\"%s\":", key);
        if (!isfinite(v)) {
                put(o, "null");
                return;
        }
        if (fabs(v) < 0.5 * pow(10, -decimals))
                v = 0; /* no "-0.00" */
        put(o, "%.*f", decimals, v);
}

int battery_record_to_json(const struct battery_record *r, char *buf, size_t size) {
        struct out o = { .buf = buf, .size = size };

        if (!buf || size == 0)
                return -ENOBUFS;
        buf[0] = 0;
        put(&o, "{");
        put_number(&o, "v", r->voltage_v, 2);
        put(&o, ",");
        put_number(&o, "i", r->current_a, 2);
        put(&o, ",");
        put_number(&o, "soc", r->soc_pct, 1);
        put(&o, ",");
        put_number(&o, "c", r->remaining_ah, 2);
        put(&o, ",");
        put_number(&o, "c_full", r->full_ah, 2);
        put(&o, ",");
        put(&o, "\"n\":%u,\"temps\":[", r->cycles);
        for (size_t k = 0; k < r->n_temps && k < BATTERY_TEMPS_MAX; k++) {
                put(&o, "%s", k > 0 ? "," : "");
                put_number(&o, NULL, r->temps_c[k], 1);
        }
        put(&o, "],\"cells\":[");
        for (size_t k = 0; k < r->n_cells && k < BATTERY_CELLS_MAX; k++) {
                put(&o, "%s", k > 0 ? "," : "");
                put_number(&o, NULL, r->cells_v[k], 3);
        }
        put(&o, "]}");
        if (o.overflow)
                return -ENOBUFS;
        return (int) o.n;
}
