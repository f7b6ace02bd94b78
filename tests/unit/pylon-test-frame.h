/* SPDX-License-Identifier: MIT */
/* The unit tests' own builder of Pylontech answers (test-pylon.c,
 * test-pylon-lv.c): a frame with a correct LENGTH and CHKSUM around the given
 * fields, written from the rules, not from drivers/pylon-frame.c. */
#pragma once

#include <stddef.h>

/* out: "~" VER ADR CID1 RTN (the 8 characters given) LENGTH INFO CHKSUM "\r", NUL-terminated. */
void pylon_test_frame(char *out, size_t size, const char *ver_adr_cid1_rtn, const char *info);
