/* SPDX-License-Identifier: MIT */
/* Mode switcher (control.md "Mode switcher", "Classes and modes"): keeps the
 * requested mode and the locked classes, derives the effective mode of each
 * switched class and the displayed mode, and says which classes to switch. */

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "mode.h"

/* The order in which classes are switched when several change at once. */
static const enum device_class switch_order[MODE_ACTIONS_MAX] = {
        DEVICE_CLASS_CHARGER,
        DEVICE_CLASS_INVERTER,
        DEVICE_CLASS_SOLAR,
};

static const char *const mode_names[_MODE_MAX] = {
        [MODE_CHARGE] = "charge",
        [MODE_DISCHARGE] = "discharge",
        [MODE_IDLE] = "idle",
        [MODE_PROTECT] = "protect",
};

struct mode_switcher {
        enum mode requested;
        unsigned locked_mask;
        enum mode effective[_DEVICE_CLASS_MAX]; /* only the switched classes are used */
        enum mode displayed;
};

const char *mode_to_string(enum mode m) {
        if (m < 0 || m >= _MODE_MAX)
                return NULL;
        return mode_names[m];
}

/* Payloads come straight from MQTT: compare by length, never rely on a terminating NUL. */
enum mode mode_from_bytes(const char *s, size_t len) {
        if (!s)
                return _MODE_INVALID;
        for (enum mode m = 0; m < _MODE_MAX; m++)
                if (strlen(mode_names[m]) == len && memcmp(mode_names[m], s, len) == 0)
                        return m;
        return _MODE_INVALID;
}

enum mode mode_from_string(const char *s) {
        if (!s)
                return _MODE_INVALID;
        return mode_from_bytes(s, strlen(s));
}

static bool class_is_switched(enum device_class c) {
        return c >= 0 && c < _DEVICE_CLASS_MAX && (CLASS_SWITCHED_MASK & CLASS_BIT(c));
}

static bool devices_on(enum device_class c, enum mode effective) {
        switch (c) {
        case DEVICE_CLASS_CHARGER:
                return effective == MODE_CHARGE;
        case DEVICE_CLASS_INVERTER:
                return effective == MODE_DISCHARGE;
        case DEVICE_CLASS_SOLAR:
                return effective != MODE_PROTECT;
        default:
                assert(!"not a switched class");
                return false;
        }
}

static enum mode displayed_mode(const struct mode_switcher *ms) {
        if (ms->effective[DEVICE_CLASS_INVERTER] == MODE_DISCHARGE)
                return MODE_DISCHARGE;
        if (ms->effective[DEVICE_CLASS_CHARGER] == MODE_CHARGE)
                return MODE_CHARGE;
        if (ms->effective[DEVICE_CLASS_SOLAR] == MODE_IDLE)
                return MODE_IDLE;
        return MODE_PROTECT;
}

/* Recompute everything from (requested, locked_mask) so that the state can never drift from the rule. */
static void recompute(struct mode_switcher *ms, bool requested, struct mode_result *ret) {
        enum mode old_displayed = ms->displayed;

        *ret = (struct mode_result) { .n_actions = 0 };
        for (size_t i = 0; i < MODE_ACTIONS_MAX; i++) {
                enum device_class c = switch_order[i];
                enum mode m = (ms->locked_mask & CLASS_BIT(c)) ? MODE_PROTECT : ms->requested;

                if (m == ms->effective[c])
                        continue;
                ms->effective[c] = m;
                ret->actions[ret->n_actions++] = (struct mode_action) {
                        .class = c,
                        .mode = m,
                        .devices_on = devices_on(c, m),
                };
        }

        ms->displayed = displayed_mode(ms);
        ret->displayed = ms->displayed;
        ret->publish = requested || ms->displayed != old_displayed;
}

int mode_switcher_new(enum mode default_mode, struct mode_switcher **ret) {
        struct mode_switcher *ms;

        assert(ret);

        if (default_mode < 0 || default_mode >= _MODE_MAX)
                return -EINVAL;

        ms = calloc(1, sizeof(*ms));
        if (!ms)
                return -ENOMEM;

        /* Everything is locked until the supervisor's first pass says otherwise. */
        ms->requested = default_mode;
        ms->locked_mask = CLASS_SWITCHED_MASK;
        for (size_t i = 0; i < _DEVICE_CLASS_MAX; i++)
                ms->effective[i] = MODE_PROTECT;
        ms->displayed = MODE_PROTECT;

        *ret = ms;
        return 0;
}

struct mode_switcher *mode_switcher_free(struct mode_switcher *ms) {
        free(ms);
        return NULL;
}

int mode_request(struct mode_switcher *ms, const char *payload, size_t len, struct mode_result *ret) {
        enum mode m;

        assert(ms);
        assert(ret);

        /* An unknown request must not leave the previous (maybe charging) mode running: protect. */
        m = mode_from_bytes(payload, len);
        ms->requested = m == _MODE_INVALID ? MODE_PROTECT : m;

        recompute(ms, /* requested= */ true, ret);
        return 0;
}

int mode_set_locked(struct mode_switcher *ms, unsigned locked_class_mask, struct mode_result *ret) {
        assert(ms);
        assert(ret);

        ms->locked_mask = locked_class_mask & CLASS_SWITCHED_MASK;
        recompute(ms, /* requested= */ false, ret);
        return 0;
}

enum mode mode_switcher_get_requested(const struct mode_switcher *ms) {
        assert(ms);
        return ms->requested;
}

enum mode mode_switcher_get_effective(const struct mode_switcher *ms, enum device_class c) {
        assert(ms);
        if (!class_is_switched(c))
                return _MODE_INVALID;
        return ms->effective[c];
}

unsigned mode_switcher_get_locked(const struct mode_switcher *ms) {
        assert(ms);
        return ms->locked_mask;
}

enum mode mode_switcher_get_displayed(const struct mode_switcher *ms) {
        assert(ms);
        return ms->displayed;
}
