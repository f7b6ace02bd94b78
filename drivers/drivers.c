/* SPDX-License-Identifier: MIT */
/* Every driver this build knows, in one NULL-terminated table. Adding a
 * driver means one file in drivers/ and one line here. */

#include "drivers.h"

const struct driver *const driver_table[] = {
        &driver_llt_power_bms_v4_ble,
        &driver_daly_8s_24v_60a,
        &driver_jk_bms_bd4,
        &driver_mqtt_battery,
        &driver_victron_mppt,
        &driver_victron_smartshunt,
        &driver_shelly_charger,
        &driver_shelly_heater,
        &driver_ahoy_dtu,
        &driver_open_dtu,
        &driver_mqtt_consumption,
        &driver_generic_solar,
        &driver_pylon_lv,
        &driver_growatt_inverter_modbus,
        &driver_http_consumption,
        NULL,
};
