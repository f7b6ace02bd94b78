/* SPDX-License-Identifier: MIT */
/* Hex digits of the ASCII protocols (VE.Direct HEX, Pylontech) and of the
 * capture decoder: one definition of what a hex digit is, both cases
 * accepted, upper case written. */
#pragma once

/* The value of one hex digit, or -1 for any other character. */
static inline int hex_digit_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* The upper-case digit for v (0..15). */
static inline char hex_digit_char(unsigned v) {
        return "0123456789ABCDEF"[v & 0xF];
}
