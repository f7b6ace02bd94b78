/* SPDX-License-Identifier: MIT */
/* Fuzzes victronSmartShunt's side of VE.Direct: the bytes go through the
 * text/HEX parser as the driver feeds it, every good block into the shunt's
 * values, and a record is made after each: never cells, at most one
 * temperature, SoC within 0..100. */

#include <assert.h>
#include <math.h>

#include "fuzz.h"
#include "smartshunt-decode.h"
#include "vedirect.h"

static struct smartshunt_values values;

static void on_block(void *userdata, const struct vedirect_block *b) {
        struct battery_record r;
        char text[64];

        (void) smartshunt_merge(&values, b);
        smartshunt_record(&values, 200, &r);
        assert(r.n_cells == 0 && r.n_temps <= 1);
        assert(r.soc_pct >= 0 && r.soc_pct <= 100);
        smartshunt_alarm_text(values.ar, text, sizeof(text));
}

static void on_hex(void *userdata, const char *frame, size_t len) {
        struct vedirect_hex_msg m;

        (void) vedirect_hex_parse(frame, len, &m);
}

static void on_error(void *userdata, int error, const char *reason) {
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const struct vedirect_handlers h = { .block = on_block, .hex = on_hex, .error = on_error };
        struct vedirect_parser p;

        values = (struct smartshunt_values) {};
        vedirect_parser_init(&p);
        vedirect_feed(&p, data, size, 1, &h, NULL);
        return 0;
}
