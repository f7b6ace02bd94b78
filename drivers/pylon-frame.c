/* SPDX-License-Identifier: MIT */
/* Pylontech RS485 framing (pylon-frame.h). A frame is
 * ~ VER ADR CID1 CID2 LENGTH INFO CHKSUM \r, all but SOI and EOI as hex digits;
 * LENGTH carries its own 4-bit checksum over the 12-bit INFO length, CHKSUM is
 * the two's complement of the sum of the characters from VER to INFO. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hex-digit.h"
#include "pylon-frame.h"

/* n hex digits at p as a number; -1 when one is not a hex digit. */
static long hex_value(const char *p, size_t n) {
        long v = 0;
        for (size_t i = 0; i < n; i++) {
                int d = hex_digit_value(p[i]);
                if (d < 0)
                        return -1;
                v = v << 4 | d;
        }
        return v;
}

static unsigned length_checksum(unsigned lenid) {
        return (16 - ((lenid & 0xF) + (lenid >> 4 & 0xF) + (lenid >> 8 & 0xF)) % 16) % 16;
}

static unsigned frame_checksum(const char *p, size_t n) {
        unsigned sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += (unsigned char) p[i];
        return (0x10000 - (sum & 0xFFFF)) & 0xFFFF;
}

size_t pylon_request_build(uint8_t adr, uint8_t cid2, char buf[static PYLON_REQUEST_SIZE]) {
        char tmp[PYLON_REQUEST_SIZE + 1];

        /* VER 20, LENGTH E002: two INFO characters (LCHKSUM of 0x002 is 0xE). */
        snprintf(tmp, sizeof(tmp), "~20%02X%02X%02X%X%03X%02X", adr, PYLON_CID1, cid2, length_checksum(2), 2u, adr);
        snprintf(tmp + 15, sizeof(tmp) - 15, "%04X\r", frame_checksum(tmp + 1, 14));
        memcpy(buf, tmp, PYLON_REQUEST_SIZE);
        return PYLON_REQUEST_SIZE;
}

static int bad(struct pylon_answer *ret, const char *reason) {
        ret->reason = reason;
        return -EBADMSG;
}

/* Checks the frame at f (SOI .. EOI, len characters) and decodes its INFO. */
static int check_frame(const char *f, size_t len, uint8_t adr, uint8_t *info, struct pylon_answer *ret) {
        long lenfield, chk, v;
        size_t lenid;

        if (len < 18)
                return bad(ret, "truncated");
        lenfield = hex_value(f + 9, 4);
        if (lenfield < 0 || hex_value(f + 1, 8) < 0)
                return bad(ret, "not hex");
        lenid = (size_t) lenfield & 0xFFF;
        if (len != 18 + lenid)
                return bad(ret, "length differs from LENID");
        if ((unsigned) (lenfield >> 12) != length_checksum((unsigned) lenid))
                return bad(ret, "bad length checksum");
        chk = hex_value(f + 13 + lenid, 4);
        if (chk < 0 || (unsigned) chk != frame_checksum(f + 1, 12 + lenid))
                return bad(ret, "bad checksum");
        if (lenid % 2)
                return bad(ret, "odd INFO length");
        if (hex_value(f + 3, 2) != adr)
                return bad(ret, "another address");
        if (hex_value(f + 5, 2) != PYLON_CID1)
                return bad(ret, "CID1 is not 46");
        v = hex_value(f + 7, 2);
        if (v != 0) {
                ret->rtn = (uint8_t) v;
                return -EREMOTEIO;
        }
        for (size_t i = 0; i < lenid / 2; i++) {
                v = hex_value(f + 13 + 2 * i, 2);
                if (v < 0)
                        return bad(ret, "INFO not hex");
                info[i] = (uint8_t) v;
        }
        ret->n_info = lenid / 2;
        return 0;
}

int pylon_parse(const char *buf, size_t n, uint8_t adr, uint8_t info[static PYLON_INFO_MAX], struct pylon_answer *ret) {
        const char *soi, *eoi;

        *ret = (struct pylon_answer) {};
        soi = memchr(buf, '~', n);
        if (!soi) {
                ret->skipped = n;
                return -EAGAIN;
        }
        ret->skipped = (size_t) (soi - buf);
        eoi = memchr(soi, '\r', n - ret->skipped);
        if (!eoi)
                return -EAGAIN;
        ret->length = (size_t) (eoi - soi) + 1;
        return check_frame(soi, ret->length, adr, info, ret);
}
