/* SPDX-License-Identifier: MIT */
/* The driver objects, one per file in drivers/, and the table of them all
 * (drivers.c) that src/registry.c looks names up in. */
#pragma once

#include "homebattery/driver.h"

extern const struct driver driver_llt_power_bms_v4_ble;
extern const struct driver driver_daly_8s_24v_60a;
extern const struct driver driver_jk_bms_bd4;
extern const struct driver driver_mqtt_battery;
extern const struct driver driver_victron_mppt;
extern const struct driver driver_shelly_charger;
extern const struct driver driver_shelly_heater; /* shelly-charger.c too */
extern const struct driver driver_ahoy_dtu;
extern const struct driver driver_open_dtu;
extern const struct driver driver_mqtt_consumption;
extern const struct driver driver_generic_solar;
extern const struct driver driver_victron_smartshunt;
extern const struct driver driver_pylon_lv;
extern const struct driver driver_growatt_inverter_modbus;
extern const struct driver driver_http_consumption;

/* NULL-terminated. */
extern const struct driver *const driver_table[];
