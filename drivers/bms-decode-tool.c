/* SPDX-License-Identifier: MIT */
/* The --decode tool: parses hex lines (one notification each), feeds them to
 * bms_session_decode_only() and prints what comes out. Lets a user check a
 * btmon or phone-app capture, and tests feed bytes through the daemon's code. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bms-decode.h"
#include "bms-decode-tool.h"
#include "hex-digit.h"
#include "homebattery/cleanup.h"
#include "homebattery/record-json.h"

/* A BLE notification is at most 512 bytes: longer lines are fed in pieces
 * that always fit the session's reassembly buffer. */
#define DECODE_CHUNK 512

int decode_tool_parse_hex(const char *line, uint8_t *out, size_t size, size_t *ret_len, const char **ret_error) {
        size_t n = 0;
        int high = -1;

        *ret_len = 0;
        for (const char *p = line; *p && *p != '#'; p++) {
                if (strchr(" \t\r\n:", *p))
                        continue;
                int v = hex_digit_value(*p);
                if (v < 0) {
                        *ret_error = "not hex";
                        return -EINVAL;
                }
                if (high < 0) {
                        high = v;
                        continue;
                }
                if (n >= size)
                        return -ENOBUFS;
                out[n++] = (uint8_t) (high << 4 | v);
                high = -1;
        }
        if (high >= 0) {
                *ret_error = "odd number of hex digits";
                return -EINVAL;
        }
        *ret_len = n;
        return 0;
}

static int print_event(const struct bms_event *ev, FILE *out) {
        char json[BATTERY_JSON_MAX];

        if (ev->rejected)
                fprintf(out, "rejected: %s\n", ev->reason);
        if (ev->action == BMS_ACTION_RECORD) {
                int r = battery_record_to_json(&ev->record, json, sizeof(json));
                if (r < 0)
                        return r;
                fprintf(out, "%s\n", json);
        }
        return 0;
}

/* Feeds one notification and everything it completes. */
static int feed(struct bms_session *s, const uint8_t *data, size_t len, FILE *out) {
        struct bms_event ev;
        int r;

        bms_session_decode_only(s, data, len, &ev);
        for (;;) {
                r = print_event(&ev, out);
                if (r < 0)
                        return r;
                if (ev.action != BMS_ACTION_RECORD && !ev.rejected)
                        return 0;
                bms_session_decode_only(s, NULL, 0, &ev);
        }
}

int decode_tool_run(const char *driver, FILE *in, FILE *out, FILE *err) {
        _cleanup_(bms_session_freep) struct bms_session *s = NULL;
        _cleanup_free_ char *line = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        size_t line_size = 0, bytes_size = 0;
        unsigned lineno = 0;
        struct bms_event ev;
        ssize_t k;
        int r;

        enum bms_kind kind = bms_kind_from_driver(driver);
        if (kind < 0)
                return -EINVAL;
        /* Layout auto: learnt from a device info frame, else 32s. */
        r = bms_session_new(kind, BMS_LAYOUT_AUTO, &s);
        if (r < 0)
                return r;

        errno = 0;
        while ((k = getline(&line, &line_size, in)) >= 0) {
                const char *error = NULL;
                size_t n;

                lineno++;
                if ((size_t) k / 2 + 1 > bytes_size) {
                        uint8_t *b = realloc(bytes, (size_t) k / 2 + 1);
                        if (!b)
                                return -ENOMEM;
                        bytes = b;
                        bytes_size = (size_t) k / 2 + 1;
                }
                r = decode_tool_parse_hex(line, bytes, bytes_size, &n, &error);
                if (r < 0) {
                        fprintf(err, "line %u: %s, skipped\n", lineno, error ? error : "too long");
                        continue;
                }
                for (size_t off = 0; off < n; off += DECODE_CHUNK) {
                        r = feed(s, bytes + off, n - off < DECODE_CHUNK ? n - off : DECODE_CHUNK, out);
                        if (r < 0)
                                return r;
                }
                errno = 0;
        }
        if (ferror(in))
                return errno > 0 ? -errno : -EIO;

        bms_session_decode_end(s, &ev);
        r = print_event(&ev, out);
        if (r < 0)
                return r;
        fflush(out);
        return 0;
}
