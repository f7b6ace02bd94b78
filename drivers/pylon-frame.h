/* SPDX-License-Identifier: MIT */
/* Pylontech RS485 framing (the ASCII protocol of Pylontech US batteries):
 * requests out, answers checked field by field (SOI, EOI, length and its
 * checksum, frame checksum, address, CID1, return code) and their INFO
 * turned into bytes. Pure code, unit-tested and fuzzed from bytes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum {
        PYLON_CID1 = 0x46,             /* lithium battery */
        PYLON_ANALOG = 0x42,           /* analog values: cells, temperatures, current, ... */
        PYLON_ALARMS = 0x44,
        PYLON_SYSTEM_PARAMETERS = 0x47,
        PYLON_MANAGEMENT = 0x92,       /* charge/discharge management info */
        PYLON_SERIAL = 0x93,
        PYLON_REQUEST_SIZE = 20,       /* every request here: INFO is one byte, the address */
        PYLON_INFO_MAX = 2047,         /* LENID is 12 bits: at most 4095 hex characters */
};

/* Writes the request for command cid2 to battery adr (INFO: the address again), without a terminating NUL;
 * returns PYLON_REQUEST_SIZE. */
size_t pylon_request_build(uint8_t adr, uint8_t cid2, char buf[static PYLON_REQUEST_SIZE]);

struct pylon_answer {
        size_t skipped;      /* bytes before SOI */
        size_t length;       /* the frame, SOI to EOI */
        uint8_t rtn;         /* the return code of an answer that is not 00 */
        size_t n_info;       /* INFO bytes decoded into the caller's buffer */
        const char *reason;  /* why the frame was dropped (-EBADMSG) */
};

/* Looks for a whole answer of battery adr in buf[0..n): from '~' to '\r'. Returns
 *   0            a good answer: its INFO (n_info bytes) is in info[];
 *   -EAGAIN      no complete frame yet (skipped bytes before '~' may be dropped);
 *   -EREMOTEIO   the battery answered with return code rtn (not 00);
 *   -EBADMSG     a frame that fails a check (reason); nothing from it may be used. */
int pylon_parse(const char *buf, size_t n, uint8_t adr, uint8_t info[static PYLON_INFO_MAX], struct pylon_answer *ret);
