/* SPDX-License-Identifier: MIT */
/* Fuzzes the Shelly answer parsers (Gen1 and Gen2+) with arbitrary bodies. */

#include "fuzz.h"
#include "shelly-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct shelly_state st = {};
        const char *body = (const char *) data;

        (void) shelly_decode_generation(body, size);
        (void) shelly_decode_gen1_relay(body, size, &st);
        (void) shelly_decode_gen1_meter(body, size, &st);
        (void) shelly_decode_gen2_status(body, size, &st);
        return 0;
}
