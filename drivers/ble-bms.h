/* SPDX-License-Identifier: MIT */
/* The read cycle shared by the three Bluetooth LE BMS drivers: open a BLE
 * link, run the protocol's bms_session (requests out, notifications in),
 * report the record or the failure, close the link. */
#pragma once

#include "ble-battery.h"
#include "bms-decode.h"

int ble_bms_new(struct device *d, const struct ble_battery_config *c, enum bms_kind kind, void **ret);
void ble_bms_free(void *state);
extern const struct battery_ops ble_bms_battery_ops;
