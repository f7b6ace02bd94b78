/* SPDX-License-Identifier: MIT */
/* `homebattery --decode DRIVER` (drivers.md, "A decoder tool"): hex lines of
 * BMS notifications in, one JSON record (mqtt.md shape) or one
 * "rejected: <reason>" line per outcome out, through the daemon's decoders. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Reads `in` to its end. Returns 0; -EINVAL for a driver without a decoder
 * (the caller prints the list), -ENOMEM, or -errno when reading fails. Lines
 * that are not hex get an error line on `err` and are skipped. */
int decode_tool_run(const char *driver, FILE *in, FILE *out, FILE *err);

/* One input line: hex digits, spaces, tabs and colons; `#` starts a comment.
 * Writes up to `size` bytes. Returns 0 (*ret_len = 0 for a blank or comment
 * line), -EINVAL with *ret_error set when it is not hex, -ENOBUFS. */
int decode_tool_parse_hex(const char *line, uint8_t *out, size_t size, size_t *ret_len, const char **ret_error);
