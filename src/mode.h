/* SPDX-License-Identifier: MIT */
/* Mode switcher: turns the mode requested over MQTT and the classes locked by
 * the supervisor into an effective mode per switched class, the list of class
 * switch actions to perform, and the mode displayed on <root>/mode/actual.
 * Pure logic: it only decides, the caller commands devices and publishes. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "homebattery/device.h"

enum mode {
        MODE_CHARGE,
        MODE_DISCHARGE,
        MODE_IDLE,
        MODE_PROTECT,
        _MODE_MAX,
        _MODE_INVALID = -EINVAL,
};

/* "charge", "discharge", "idle", "protect"; NULL for anything else. */
const char *mode_to_string(enum mode m);
/* Exact lowercase match of a NUL-terminated string; _MODE_INVALID otherwise (also for NULL). */
enum mode mode_from_string(const char *s);
/* The same for bytes that are not NUL-terminated (an MQTT payload). */
enum mode mode_from_bytes(const char *s, size_t len);

/* One class to switch now. */
struct mode_action {
        enum device_class class;  /* DEVICE_CLASS_CHARGER, _INVERTER or _SOLAR */
        enum mode mode;           /* the new effective mode of the class */
        bool devices_on;          /* whether the class's devices must be on in that mode */
};

#define MODE_ACTIONS_MAX 3

struct mode_result {
        /* Classes whose effective mode changed, in the order charger, inverter, solar. */
        size_t n_actions;
        struct mode_action actions[MODE_ACTIONS_MAX];
        enum mode displayed;
        /* Publish `displayed` on <root>/mode/actual: it changed, or a request was answered. */
        bool publish;
};

struct mode_switcher;

/* Starts with every switched class locked, hence every effective mode (and the displayed mode)
 * is protect and no action is pending. -EINVAL when default_mode is not a mode, -ENOMEM. */
int mode_switcher_new(enum mode default_mode, struct mode_switcher **ret);
struct mode_switcher *mode_switcher_free(struct mode_switcher *ms);

/* A message on <root>/mode/set: raw bytes, not NUL-terminated; anything but an exact mode name
 * (including an empty payload, or payload == NULL) requests protect. Always sets ret->publish. */
int mode_request(struct mode_switcher *ms, const char *payload, size_t len, struct mode_result *ret);

/* The union of the classes locked by the supervisor (CLASS_BIT() mask). Bits of classes that are
 * not switched are ignored. ret->publish is set only when the displayed mode changed. */
int mode_set_locked(struct mode_switcher *ms, unsigned locked_class_mask, struct mode_result *ret);

enum mode mode_switcher_get_requested(const struct mode_switcher *ms);
/* _MODE_INVALID for a class that is not switched (battery, consumption). */
enum mode mode_switcher_get_effective(const struct mode_switcher *ms, enum device_class c);
unsigned mode_switcher_get_locked(const struct mode_switcher *ms);
enum mode mode_switcher_get_displayed(const struct mode_switcher *ms);
