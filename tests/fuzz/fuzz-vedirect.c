/* SPDX-License-Identifier: MIT */
/* Fuzzes the VE.Direct text+HEX parser as the serial port delivers bytes
 * (first input byte picks the chunk size), and the HEX answer parser and the
 * MPPT field decoder on whatever it produced. */

#include "fuzz.h"
#include "vedirect.h"

static void on_block(void *userdata, const struct vedirect_block *b) {
        struct vedirect_mppt m = {}, into = {};
        vedirect_decode_mppt(b, &m);
        vedirect_mppt_merge(&into, &m);
}

static void on_hex(void *userdata, const char *frame, size_t len) {
        struct vedirect_hex_msg msg;
        (void) vedirect_hex_parse(frame, len, &msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const struct vedirect_handlers h = { .block = on_block, .hex = on_hex };
        struct vedirect_parser p;

        if (size < 1)
                return 0;
        size_t chunk = (size_t) data[0] % 97 + 1;
        data++, size--;
        vedirect_parser_init(&p);
        for (size_t off = 0; off < size; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;
                /* Every 8th chunk arrives after a pause long enough to reset. */
                vedirect_feed(&p, data + off, n, (off / chunk) * ((off / chunk) % 8 ? 1000 : 600000), &h, NULL);
        }
        (void) vedirect_hex_parse((const char *) data, size, &(struct vedirect_hex_msg) {});
        return 0;
}
