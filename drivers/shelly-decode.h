/* SPDX-License-Identifier: MIT */
/* Shelly answers → values (Gen1 and Gen2+ APIs). Pure, tested from JSON
 * texts; the driver in shelly-charger.c does the talking. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct shelly_state {
        bool on;
        bool has_power;
        double power_w;
        bool has_energy;
        double energy_wh; /* the device's total counter */
};

/* GET /shelly: 1 for Gen1 (no "gen"), 2 or more for Gen2+; -EBADMSG. */
int shelly_decode_generation(const char *body, size_t size);
/* Gen1 GET /relay/<id> (or the answer of a turn= command): "ison". */
int shelly_decode_gen1_relay(const char *body, size_t size, struct shelly_state *ret);
/* Gen1 GET /meter/<id>: "power" W and "total" watt-minutes (→ Wh). */
int shelly_decode_gen1_meter(const char *body, size_t size, struct shelly_state *ret);
/* Gen2 GET /rpc/Switch.GetStatus: "output", optional "apower", "aenergy.total". */
int shelly_decode_gen2_status(const char *body, size_t size, struct shelly_state *ret);
