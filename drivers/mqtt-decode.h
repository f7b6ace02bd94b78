/* SPDX-License-Identifier: MIT */
/* Payload decoders of the two MQTT drivers, separate from the transport so
 * they are tested (and fuzzed) from bytes: meter readings in their formats,
 * and battery records assembled from compatibility sub-topics or one JSON. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/device.h"
#include "homebattery/time-util.h"

enum consumption_format {
        CONSUMPTION_FORMAT_AUTO,
        CONSUMPTION_FORMAT_BINARY,
        CONSUMPTION_FORMAT_TEXT,
        CONSUMPTION_FORMAT_JSON,
};

/* Returns 0 and the power in W (positive = drawn from the grid), or
 * -EBADMSG with a short reason in *ret_reason. */
int consumption_decode(enum consumption_format format, const char *json_path, const void *payload, size_t len,
                       int *ret_w, const char **ret_reason);

/* Parts older than this are dropped and the record starts again. */
#define MQTT_BATTERY_PART_MAX_AGE_USEC (10ULL * USEC_PER_SEC)

struct mqtt_battery_assembler {
        unsigned cells_count;
        unsigned temps_count;
        bool started;
        uint64_t first_usec;
        unsigned fields;     /* bits: v, i, soc, c, n */
        uint32_t cells_seen; /* bit per cell index */
        uint32_t temps_seen;
        struct battery_record record;
};

void mqtt_battery_assembler_init(struct mqtt_battery_assembler *a, unsigned cells_count, unsigned temps_count);
/* Feeds one part; `sub` is the topic below the battery's root ("v",
 * "cell/3", ...). Returns 1 with a complete record in *ret, 0 while parts are
 * missing, -EBADMSG (wrong size, index out of range, unknown part) with a
 * reason. */
int mqtt_battery_feed(struct mqtt_battery_assembler *a, const char *sub, const void *payload, size_t len,
                      uint64_t now_usec, struct battery_record *ret, const char **ret_reason);
/* One JSON message of the mqtt.md battery shape = one record. */
int mqtt_battery_parse_json(const void *payload, size_t len, struct battery_record *ret, const char **ret_reason);
