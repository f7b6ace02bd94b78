/* SPDX-License-Identifier: MIT */
/* Fuzzes the Pylontech answer parser and the INFO layouts on what it
 * accepts: the first input byte is the address asked, the rest the bytes
 * from the bus. Also the layouts on raw bytes, which a good frame can carry. */

#include <assert.h>
#include <errno.h>

#include "fuzz.h"
#include "pylon-decode.h"
#include "pylon-frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t info[PYLON_INFO_MAX];
        struct pylon_answer a;
        struct pylon_analog an;
        const char *reason;

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
                (void) pylon_decode_analog(info, a.n_info, &an, &reason);
                (void) pylon_serial_matches(info, a.n_info, "PPTAP01");
        }
        (void) pylon_decode_analog(data, size, &an, &reason);
        return 0;
}
