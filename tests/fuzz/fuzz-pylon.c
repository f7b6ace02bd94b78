/* SPDX-License-Identifier: MIT */
/* Fuzzes the Pylontech answer parser and the INFO layouts on what it
 * accepts: the first input byte is the address asked, the rest the bytes
 * from the bus. Also the layouts (0x42, 0x93, 0x47, 0x44 with its text,
 * 0x92) on raw bytes, which a good frame can carry. */

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "pylon-decode.h"
#include "pylon-frame.h"

static void layouts(const uint8_t *info, size_t n) {
        struct pylon_analog an;
        struct pylon_params q;
        struct pylon_alarms al;
        struct pylon_management m;
        const char *reason;
        char text[256];

        (void) pylon_decode_analog(info, n, &an, &reason);
        (void) pylon_serial_matches(info, n, "PPTAP01");
        (void) pylon_decode_params(info, n, &q);
        (void) pylon_decode_management(info, n, &m);
        if (pylon_decode_alarms(info, n, &al) == 0) {
                pylon_alarms_describe(&al, text, sizeof(text));
                assert(strlen(text) < sizeof(text));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t info[PYLON_INFO_MAX];
        struct pylon_answer a;

        if (size < 1)
                return 0;
        uint8_t adr = data[0] % 16;
        data++, size--;
        int r = pylon_parse((const char *) data, size, adr, info, &a);
        assert(a.skipped <= size);
        if (r != -EAGAIN)
                assert(a.skipped + a.length <= size);
        if (r == 0) {
                assert(a.n_info <= PYLON_INFO_MAX);
                layouts(info, a.n_info);
        }
        layouts(data, size);
        return 0;
}
