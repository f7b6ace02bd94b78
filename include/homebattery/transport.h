/* SPDX-License-Identifier: MIT */
/* Transports a driver may use. They all run on the daemon's one event loop
 * and never block; a driver gets its data through callbacks. */
#pragma once

#include <stddef.h>

#include "homebattery/device.h"

/* MQTT: subscribe through the daemon's own client. The subscription is
 * re-sent after every reconnect; the handler gets the raw payload. */
typedef void (*transport_mqtt_handler)(void *userdata, const char *topic, const void *payload, size_t len);
int transport_mqtt_subscribe(struct device *d, const char *pattern, int qos, transport_mqtt_handler handler,
                             void *userdata);
