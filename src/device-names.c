/* SPDX-License-Identifier: MIT */
/* Names of classes and statuses, as they appear in topics, JSON and logs.
 * Pure: the control core and its tests use them too. */

#include "homebattery/device.h"

static const char *const class_names[_DEVICE_CLASS_MAX] = {
        [DEVICE_CLASS_BATTERY] = "battery",     [DEVICE_CLASS_SOLAR] = "solar",
        [DEVICE_CLASS_CHARGER] = "charger",     [DEVICE_CLASS_INVERTER] = "inverter",
        [DEVICE_CLASS_CONSUMPTION] = "consumption", [DEVICE_CLASS_HEATER] = "heater",
};
static const char *const class_shorts[_DEVICE_CLASS_MAX] = {
        [DEVICE_CLASS_BATTERY] = "bat",    [DEVICE_CLASS_SOLAR] = "sol",         [DEVICE_CLASS_CHARGER] = "cha",
        [DEVICE_CLASS_INVERTER] = "inv",   [DEVICE_CLASS_CONSUMPTION] = "consumption", [DEVICE_CLASS_HEATER] = "hea",
};
static const char *const status_names[_DEVICE_STATUS_MAX] = {
        [DEVICE_STATUS_OFF] = "off",
        [DEVICE_STATUS_ON] = "on",
        [DEVICE_STATUS_SYNCING] = "syncing",
        [DEVICE_STATUS_FAULT] = "fault",
};

const char *device_class_to_string(enum device_class c) {
        return (unsigned) c < _DEVICE_CLASS_MAX ? class_names[c] : NULL;
}

const char *device_class_to_short(enum device_class c) {
        return (unsigned) c < _DEVICE_CLASS_MAX ? class_shorts[c] : NULL;
}

const char *device_status_to_string(enum device_status s) {
        return (unsigned) s < _DEVICE_STATUS_MAX ? status_names[s] : NULL;
}
