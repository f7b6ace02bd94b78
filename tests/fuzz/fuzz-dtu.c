/* SPDX-License-Identifier: MIT */
/* Fuzzes the AhoyDTU and OpenDTU answer parsers with arbitrary bodies. */

#include <stdlib.h>

#include "dtu-decode.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *body = (const char *) data;
        char err[DTU_ERROR_MAX];
        struct dtu_reading r = {};
        char *token = NULL;

        (void) dtu_ahoy_decode_state(body, size, &r);
        (void) dtu_ahoy_decode_answer(body, size, err);
        if (dtu_ahoy_decode_login(body, size, &token, err) >= 0)
                free(token);
        (void) dtu_opendtu_decode_livedata(body, size, "114182912345", &r);
        (void) dtu_opendtu_decode_limit_status(body, size, "114182912345", &r);
        (void) dtu_opendtu_decode_answer(body, size, err);
        return 0;
}
