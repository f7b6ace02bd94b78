/* SPDX-License-Identifier: MIT */
/* Builds Pylontech answers for the unit tests (pylon-test-frame.h):
 * LCHKSUM = -(sum of LENID's nibbles) mod 16, CHKSUM = -(sum of the
 * characters VER..INFO) mod 65536. */

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pylon-test-frame.h"

void pylon_test_frame(char *out, size_t size, const char *ver_adr_cid1_rtn, const char *info) {
        unsigned lenid = (unsigned) strlen(info), sum = 0;
        unsigned lchk = (16 - (lenid % 16 + lenid / 16 % 16 + lenid / 256 % 16) % 16) % 16;
        char body[4200];

        snprintf(body, sizeof(body), "%s%X%03X%s", ver_adr_cid1_rtn, lchk, lenid, info);
        for (const char *p = body; *p; p++)
                sum += (unsigned char) *p;
        assert_true(strlen(body) + 7 <= size);
        out[0] = '~';
        memcpy(out + 1, body, strlen(body));
        snprintf(out + 1 + strlen(body), 6, "%04X\r", (0x10000 - sum % 0x10000) % 0x10000);
}
