/* SPDX-License-Identifier: MIT */
/* Fuzzes everything that arrives over MQTT: meter payloads in every format,
 * mqttBattery parts (first byte picks the sub-topic) and JSON records, and
 * mode/set requests. */

#include <string.h>

#include "fuzz.h"
#include "mode.h"
#include "mqtt-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const subs[] = { "v", "i", "soc", "c", "n", "cell/0", "cell/7", "cell/31", "temp/0",
                                            "temp/1", "temp/9", "x", "cell/", "temp/-1" };
        struct mqtt_battery_assembler a;
        struct battery_record rec;
        struct mode_switcher *ms = NULL;
        struct mode_result res;
        const char *reason;
        int w;

        for (int f = CONSUMPTION_FORMAT_AUTO; f <= CONSUMPTION_FORMAT_JSON; f++)
                (void) consumption_decode(f, "SML.Power", data, size, &w, &reason);
        (void) mqtt_battery_parse_json(data, size, &rec, &reason);

        mqtt_battery_assembler_init(&a, 8, 2);
        for (size_t off = 0; off + 1 < size; off += 3) {
                size_t n = size - off - 1 < 2 ? size - off - 1 : 2;
                (void) mqtt_battery_feed(&a, subs[data[off] % (sizeof(subs) / sizeof(subs[0]))], data + off + 1, n,
                                         off * 100000, &rec, &reason);
        }

        if (mode_switcher_new(MODE_IDLE, &ms) >= 0) {
                (void) mode_request(ms, (const char *) data, size, &res);
                mode_switcher_free(ms);
        }
        return 0;
}
