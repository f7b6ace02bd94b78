/* SPDX-License-Identifier: MIT */
/* Home Assistant MQTT discovery (mqtt.md): builds the retained config
 * documents that make the daemon appear in Home Assistant as one device with
 * a mode select and sensors reading the JSON topics. Pure: it formats topics
 * and payloads and hands them to a callback; publishing (retained) is the
 * caller's business. */
#pragma once

#include <stddef.h>

#include "config.h"

/* One battery whose records this controller publishes (its driver is not
 * forwarded): its device name and the number of cells and temperatures of
 * its latest record. */
struct ha_battery_shape {
        const char *name;
        size_t n_cells;
        size_t n_temps;
};

/* Receives one discovery document: publish `payload` retained on `topic`. */
typedef void (*ha_emit)(void *userdata, const char *topic, const char *payload);

/* Every document for the current knowledge: the mode select and the top-lock
 * sensor; per switched class that has devices (charger "cha", inverter "inv",
 * solar "sol") a status, a power (W) and an energy (Wh, total_increasing)
 * sensor; the battery sums (current, capacity, SoC) when at least one
 * battery device is not forwarded; the consumption power when a consumption
 * device exists; and the documents of every battery in `bats` (see below).
 * With mqtt.json false only the select and the lock sensor are emitted (the
 * JSON topics the others read do not exist); with mqtt.homeassistant
 * disabled nothing is. Returns 0 or a negative errno (-ENOMEM). */
int homeassistant_documents(const struct config *c, const struct ha_battery_shape *bats, size_t n_bats,
                            ha_emit emit, void *userdata);

/* The documents of one battery: voltage, current, SoC, capacity, cycles, one
 * sensor per cell voltage and one per temperature (5 + n_cells + n_temps).
 * Send them after the battery's first record and again when its cell or
 * temperature count changes. Nothing with mqtt.json false or discovery
 * disabled. Returns 0 or a negative errno. */
int homeassistant_battery_documents(const struct config *c, const struct ha_battery_shape *bat, ha_emit emit,
                                    void *userdata);
