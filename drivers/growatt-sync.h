/* SPDX-License-Identifier: MIT */
/* The Growatt inverter's registers (xx00-S and MIC TL-X) and the
 * growattInverterModbus sync loop: which Modbus transaction goes next (by
 * priority: Pmax, limit memory, on/off, limit, then round robin reads), what
 * an answer means, the status and the power <-> percent mapping (linear on
 * Pmax or max_power, or a LUT). Pure: no clock or I/O of its own. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "homebattery/device.h"
#include "homebattery/lut.h"
#include "modbus-rtu.h"

enum growatt_family {
        GROWATT_XX00_S, /* e.g. 1000-S, protocol v3.x */
        GROWATT_TL_X,   /* e.g. MIC 1500TL-X, protocol v1.x */
};

enum growatt_txn {
        GROWATT_TXN_NONE,
        GROWATT_TXN_READ_PMAX,    /* H6-H7 */
        GROWATT_TXN_WRITE_MEMORY, /* H2 */
        GROWATT_TXN_WRITE_ONOFF,  /* H0 */
        GROWATT_TXN_READ_ONOFF,   /* H0 */
        GROWATT_TXN_WRITE_LIMIT,  /* H3 */
        GROWATT_TXN_READ_LIMIT,   /* H3 */
        GROWATT_TXN_READ_STATE,   /* I0 */
        GROWATT_TXN_READ_POWER,   /* I11-I12 or I35-I36 */
        GROWATT_TXN_KINDS,
};

enum {
        GROWATT_STATE_WAITING = 0, /* I0 */
        GROWATT_STATE_NORMAL = 1,
        GROWATT_STATE_FAULT = 3,
        GROWATT_NOT_LIMITED = 255, /* H3 */
        GROWATT_WRITE_WAIT_S = 5,  /* no second write of H0 or H3 within this */
        GROWATT_MEASURED_WINDOW = 6,
};

struct growatt_sync {
        enum growatt_family family;
        const struct lut *lut; /* NULL: linear */
        int max_w;             /* linear: max_power or Pmax; 0 while unknown */
        bool pmax_needed;      /* linear without max_power */
        bool memorise;

        bool target_on;
        int target_percent;

        bool h0_known, h0_on;
        bool h3_known;
        int h3_percent;
        bool i0_known;
        int i0;
        bool left_normal;      /* I0 left normal while on: a restart until it is back */
        bool memory_due;       /* H2 after a connect or an inverter restart */
        bool h0_readback, h3_readback;
        uint64_t h0_written_usec, h3_written_usec;
        bool h0_written, h3_written;
        unsigned slot;         /* round robin */

        enum growatt_txn last_failed;
        unsigned failures;     /* failed transactions in a row */

        double measured_w[GROWATT_MEASURED_WINDOW];
        unsigned n_measured, next_measured;
};

void growatt_sync_init(struct growatt_sync *s, enum growatt_family family, const struct lut *lut, int max_power_w,
                       bool memorise);
/* The port (re)opened: nothing read is known any more, H2 is due again. */
void growatt_sync_connected(struct growatt_sync *s);

/* The transaction to send now, and its request (address filled in by the caller). */
enum growatt_txn growatt_sync_next(struct growatt_sync *s, uint64_t now_usec, struct modbus_request *ret);
/* The answer to txn (registers of a read at data, or NULL for a write) */
void growatt_sync_answer(struct growatt_sync *s, enum growatt_txn txn, const struct modbus_request *req,
                         const uint8_t *data, uint64_t now_usec);
/* txn failed (timeout, bad frame, exception). */
void growatt_sync_failed(struct growatt_sync *s, enum growatt_txn txn);

/* The commands of the inverter class. */
void growatt_sync_set_on(struct growatt_sync *s, bool on);
int growatt_sync_set_power(struct growatt_sync *s, int power_w);
void growatt_sync_power_range(const struct growatt_sync *s, int *ret_min_w, int *ret_max_w);

enum device_status growatt_sync_status(const struct growatt_sync *s);
/* The power for the class: at the read-back percent while on, else 0. */
int growatt_sync_power_w(const struct growatt_sync *s);
/* The mean of the last measured output powers (W); false when none. */
bool growatt_sync_measured_w(const struct growatt_sync *s, double *ret_w);

const char *growatt_txn_to_string(enum growatt_txn t);
/* Power <-> percent on a linear scale of max_w: percent clamp(floor(100 P / max), 1, 100), power floor(pct max / 100). */
int growatt_linear_percent(int max_w, int power_w);
int growatt_linear_power_w(int max_w, int percent);
