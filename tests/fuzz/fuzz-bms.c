/* SPDX-License-Identifier: MIT */
/* Fuzzes one BMS decoder (chosen at build time with -DBMS_KIND) the way the
 * daemon sees bytes: as notification fragments, both in a read session and in
 * decode-only mode. The first input byte picks the fragment size. */

#include "bms-decode.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct bms_session *s = NULL;
        struct bms_event ev;

        if (size < 1 || bms_session_new(BMS_KIND, BMS_LAYOUT_AUTO, &s) < 0)
                return 0;
        size_t chunk = (size_t) (data[0] % 64) + 1;
        data++, size--;

        bms_session_start(s, &ev);
        for (size_t off = 0; off < size; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;
                bms_session_feed(s, data + off, n, &ev);
                if (ev.action == BMS_ACTION_RECORD || ev.action == BMS_ACTION_FAILED)
                        bms_session_reset(s), bms_session_start(s, &ev);
        }
        bms_session_timeout(s, &ev);

        bms_session_reset(s);
        for (size_t off = 0; off < size; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;
                bms_session_decode_only(s, data + off, n, &ev);
                for (int i = 0; i < 64 && (ev.action != BMS_ACTION_WAIT || ev.rejected); i++)
                        bms_session_decode_only(s, NULL, 0, &ev);
        }
        bms_session_free(s);
        return 0;
}
