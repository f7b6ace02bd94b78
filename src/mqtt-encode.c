/* SPDX-License-Identifier: MIT */
/* Round, clamp, big-endian: the exact encodings of the compatibility topics.
 * NaN encodes as 0 rather than as an arbitrary bit pattern. */

#include <math.h>

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
