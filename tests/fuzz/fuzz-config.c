/* SPDX-License-Identifier: MIT */
/* Fuzzes the configuration parser and validator with arbitrary file contents. */

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct config_errors e = {};
        struct config *c = NULL;

        if (config_parse("/fuzz/config.json", (const char *) data, size, &c, &e) >= 0)
                config_free(c);
        config_errors_done(&e);
        return 0;
}
