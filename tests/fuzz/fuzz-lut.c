/* SPDX-License-Identifier: MIT */
/* Fuzzes the power LUT parser and both lookups on whatever it accepted. */

#include "fuzz.h"
#include "homebattery/lut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct lut *l = NULL;

        if (lut_parse((const char *) data, size, &l) < 0)
                return 0;
        for (int p = -5; p <= 105; p += 7)
                (void) lut_percent_to_power_w(l, p);
        for (int w = -100; w <= 3000; w += 97)
                (void) lut_power_to_percent(l, w);
        lut_free(l);
        return 0;
}
