/* SPDX-License-Identifier: MIT */
/* The outputs interface of the control core, implemented for MQTT: the
 * compatibility topics with their binary encodings, the JSON topics and
 * Home Assistant discovery (mqtt.md). */
#pragma once

#include "config.h"
#include "mqtt.h"
#include "outputs.h"

struct outputs_mqtt;

int outputs_mqtt_new(struct mqtt *mqtt, const struct config *c, struct outputs_mqtt **ret);
struct outputs_mqtt *outputs_mqtt_free(struct outputs_mqtt *o);
const struct outputs *outputs_mqtt_get(struct outputs_mqtt *o);
/* After every connect: Home Assistant discovery documents. */
void outputs_mqtt_connected(struct outputs_mqtt *o);
const char *outputs_mqtt_status_topic(struct outputs_mqtt *o);
