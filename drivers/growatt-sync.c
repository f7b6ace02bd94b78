/* SPDX-License-Identifier: MIT */
/* The growattInverterModbus sync loop (growatt-sync.h): one Modbus
 * transaction at a time, chosen by priority; the limit goes out before an
 * inverter is switched on; H2 (limit memory) is written after each connect
 * and after each restart of the inverter (I0 leaving and re-entering
 * normal). Pure code. */

#include <math.h>

#include "growatt-sync.h"
#include "homebattery/time-util.h"

enum {
        REG_ONOFF = 0,
        REG_MEMORY = 2,
        REG_LIMIT = 3,
        REG_PMAX = 6,
        REG_STATE = 0,
        REG_POWER_XX00_S = 11,
        REG_POWER_TL_X = 35,
};

/* The round robin once nothing is due: mostly the output power. */
static const enum growatt_txn round_robin[] = {
        GROWATT_TXN_READ_POWER, GROWATT_TXN_READ_POWER, GROWATT_TXN_READ_STATE, GROWATT_TXN_READ_ONOFF,
        GROWATT_TXN_READ_POWER, GROWATT_TXN_READ_POWER, GROWATT_TXN_READ_LIMIT,
};

const char *growatt_txn_to_string(enum growatt_txn t) {
        static const char *const names[GROWATT_TXN_KINDS] = {
                "none", "read of Pmax (H6-H7)", "write of the limit memory (H2)", "write of on/off (H0)",
                "read of on/off (H0)", "write of the limit (H3)", "read of the limit (H3)", "read of the state (I0)",
                "read of the output power",
        };
        return t < GROWATT_TXN_KINDS ? names[t] : "?";
}

/* The step at or below the request, as a LUT gives (the netzero algorithms count on it: a request never
 * produces more); upstream rounds to the nearest percent. */
int growatt_linear_percent(int max_w, int power_w) {
        long p;

        if (max_w <= 0)
                return 1;
        p = power_w <= 0 ? 0 : (long) power_w * 100 / max_w;
        return (int) (p < 1 ? 1 : p > 100 ? 100 : p);
}

int growatt_linear_power_w(int max_w, int percent) {
        return (int) ((long) percent * max_w / 100);
}

static int start_percent(const struct growatt_sync *s) {
        return s->lut ? lut_start_percent(s->lut) : 1;
}

void growatt_sync_init(struct growatt_sync *s, enum growatt_family family, const struct lut *lut, int max_power_w,
                       bool memorise) {
        *s = (struct growatt_sync) {
                .family = family,
                .lut = lut,
                .max_w = lut ? 0 : max_power_w,
                .pmax_needed = !lut && max_power_w <= 0,
                .memorise = memorise,
        };
        s->target_percent = start_percent(s);
        growatt_sync_connected(s);
}

void growatt_sync_connected(struct growatt_sync *s) {
        s->h0_known = s->h3_known = s->i0_known = false;
        s->h0_readback = s->h3_readback = false;
        s->memory_due = true;
        s->n_measured = 0;
        if (s->pmax_needed)
                s->max_w = 0;
}

static bool max_known(const struct growatt_sync *s) {
        return s->lut || s->max_w > 0;
}

static bool may_write(bool written, uint64_t at_usec, uint64_t now_usec) {
        return !written || now_usec >= at_usec + GROWATT_WRITE_WAIT_S * USEC_PER_SEC;
}

static enum growatt_txn choose(struct growatt_sync *s, uint64_t now_usec) {
        bool limit_wanted, onoff_wanted;

        if (!max_known(s))
                return GROWATT_TXN_READ_PMAX;
        if (s->memory_due)
                return GROWATT_TXN_WRITE_MEMORY;
        if (!s->h0_known || s->h0_readback)
                return GROWATT_TXN_READ_ONOFF;
        if (s->h3_readback)
                return GROWATT_TXN_READ_LIMIT;
        limit_wanted = s->target_on && (!s->h3_known || s->h3_percent != s->target_percent) &&
                       may_write(s->h3_written, s->h3_written_usec, now_usec);
        onoff_wanted = s->h0_on != s->target_on && may_write(s->h0_written, s->h0_written_usec, now_usec);
        /* An inverter that is switched on starts at the limit it has: send ours first. */
        if (limit_wanted && !s->h0_on)
                return GROWATT_TXN_WRITE_LIMIT;
        if (onoff_wanted)
                return GROWATT_TXN_WRITE_ONOFF;
        if (limit_wanted)
                return GROWATT_TXN_WRITE_LIMIT;
        s->slot = (s->slot + 1) % (sizeof(round_robin) / sizeof(round_robin[0]));
        return round_robin[s->slot];
}

enum growatt_txn growatt_sync_next(struct growatt_sync *s, uint64_t now_usec, struct modbus_request *ret) {
        enum growatt_txn t = choose(s, now_usec);
        uint8_t fc = MODBUS_READ_HOLDING;
        uint16_t reg = 0, value = 1;

        switch (t) {
        case GROWATT_TXN_READ_PMAX:
                reg = REG_PMAX, value = 2;
                break;
        case GROWATT_TXN_WRITE_MEMORY:
                fc = MODBUS_WRITE_SINGLE, reg = REG_MEMORY, value = s->memorise ? 1 : 0;
                break;
        case GROWATT_TXN_WRITE_ONOFF:
                fc = MODBUS_WRITE_SINGLE, reg = REG_ONOFF;
                /* xx00-S: upstream's values 0x0101/0x0100; TL-X: 1/0. */
                value = (uint16_t) ((s->family == GROWATT_XX00_S ? 0x0100 : 0) | (s->target_on ? 1 : 0));
                break;
        case GROWATT_TXN_READ_ONOFF:
                reg = REG_ONOFF;
                break;
        case GROWATT_TXN_WRITE_LIMIT:
                fc = MODBUS_WRITE_SINGLE, reg = REG_LIMIT, value = (uint16_t) s->target_percent;
                break;
        case GROWATT_TXN_READ_LIMIT:
                reg = REG_LIMIT;
                break;
        case GROWATT_TXN_READ_STATE:
                fc = MODBUS_READ_INPUT, reg = REG_STATE;
                break;
        default:
                fc = MODBUS_READ_INPUT, value = 2;
                reg = s->family == GROWATT_XX00_S ? REG_POWER_XX00_S : REG_POWER_TL_X;
                break;
        }
        *ret = (struct modbus_request) { .function = fc, .reg = reg, .value = value };
        return t;
}

static uint32_t u32_high_first(const uint8_t *data) {
        return (uint32_t) modbus_u16(data, 0) << 16 | modbus_u16(data, 1);
}

static void state_read(struct growatt_sync *s, int i0) {
        /* Left normal while it was meant to run (not because it was switched off): a restart. */
        if (s->i0_known && s->i0 == GROWATT_STATE_NORMAL && i0 != GROWATT_STATE_NORMAL && s->target_on && s->h0_on)
                s->left_normal = true;
        /* Back to normal after a restart: the limit is volatile and H2 may be back to its default. */
        if (s->left_normal && i0 == GROWATT_STATE_NORMAL) {
                s->left_normal = false;
                s->memory_due = true;
                s->h3_known = false;
        }
        s->i0 = i0;
        s->i0_known = true;
}

void growatt_sync_answer(struct growatt_sync *s, enum growatt_txn txn, const struct modbus_request *req,
                         const uint8_t *data, uint64_t now_usec) {
        s->failures = 0;
        s->last_failed = GROWATT_TXN_NONE;
        switch (txn) {
        case GROWATT_TXN_READ_PMAX:
                s->max_w = (int) (u32_high_first(data) / 10);
                break;
        case GROWATT_TXN_WRITE_MEMORY:
                s->memory_due = false;
                break;
        case GROWATT_TXN_WRITE_ONOFF:
                s->h0_written = true, s->h0_written_usec = now_usec, s->h0_readback = true;
                break;
        case GROWATT_TXN_READ_ONOFF:
                s->h0_known = true, s->h0_on = modbus_u16(data, 0) & 1, s->h0_readback = false;
                break;
        case GROWATT_TXN_WRITE_LIMIT:
                s->h3_written = true, s->h3_written_usec = now_usec, s->h3_readback = true;
                break;
        case GROWATT_TXN_READ_LIMIT:
                s->h3_known = true, s->h3_percent = modbus_u16(data, 0), s->h3_readback = false;
                break;
        case GROWATT_TXN_READ_STATE:
                state_read(s, modbus_u16(data, 0));
                break;
        case GROWATT_TXN_READ_POWER:
                s->measured_w[s->next_measured] = u32_high_first(data) / 10.0;
                s->next_measured = (s->next_measured + 1) % GROWATT_MEASURED_WINDOW;
                if (s->n_measured < GROWATT_MEASURED_WINDOW)
                        s->n_measured++;
                break;
        default:
                break;
        }
        (void) req;
}

/* Two failures in a row, of any transactions, are a fault (upstream's debounce counts the same one twice;
 * with the round robin an unplugged inverter would fail a different one each time and never be a fault). */
void growatt_sync_failed(struct growatt_sync *s, enum growatt_txn txn) {
        s->last_failed = txn;
        s->failures++;
}

void growatt_sync_set_on(struct growatt_sync *s, bool on) {
        if (s->target_on != on)
                s->h0_written = false; /* a new command is not held back by the last one's wait */
        s->target_on = on;
        s->target_percent = start_percent(s);
}

/* The 5 s wait holds back a repeat of a limit the inverter did not take, not a new one: netzero takes a
 * request that has not shown in the read-back limit within two maturity spans for the step below it. */
static void set_target_percent(struct growatt_sync *s, int percent) {
        if (percent != s->target_percent)
                s->h3_written = false;
        s->target_percent = percent;
}

int growatt_sync_set_power(struct growatt_sync *s, int power_w) {
        if (s->lut) {
                set_target_percent(s, lut_power_to_percent(s->lut, power_w));
                return lut_percent_to_power_w(s->lut, s->target_percent);
        }
        if (s->max_w <= 0)
                return 0;
        set_target_percent(s, growatt_linear_percent(s->max_w, power_w));
        return growatt_linear_power_w(s->max_w, s->target_percent);
}

void growatt_sync_power_range(const struct growatt_sync *s, int *ret_min_w, int *ret_max_w) {
        if (s->lut) {
                *ret_min_w = lut_min_w(s->lut);
                *ret_max_w = lut_max_w(s->lut);
        } else if (s->max_w > 0) {
                *ret_min_w = growatt_linear_power_w(s->max_w, 1);
                *ret_max_w = s->max_w;
        } else
                *ret_min_w = *ret_max_w = 0;
}

enum device_status growatt_sync_status(const struct growatt_sync *s) {
        if (s->failures >= 2)
                return DEVICE_STATUS_FAULT;
        if (!max_known(s) || !s->h0_known || s->h0_on != s->target_on)
                return DEVICE_STATUS_SYNCING;
        if (!s->target_on)
                return DEVICE_STATUS_OFF;
        if (!s->i0_known)
                return DEVICE_STATUS_SYNCING;
        return s->i0 == GROWATT_STATE_WAITING || s->i0 == GROWATT_STATE_NORMAL ? DEVICE_STATUS_ON
                                                                                : DEVICE_STATUS_FAULT;
}

int growatt_sync_power_w(const struct growatt_sync *s) {
        int pct;

        if (growatt_sync_status(s) != DEVICE_STATUS_ON)
                return 0;
        pct = !s->h3_known ? s->target_percent : s->h3_percent > 100 ? 100 : s->h3_percent;
        if (s->lut)
                return lut_percent_to_power_w(s->lut, pct);
        return growatt_linear_power_w(s->max_w, pct);
}

bool growatt_sync_measured_w(const struct growatt_sync *s, double *ret_w) {
        double sum = 0;

        if (s->n_measured == 0)
                return false;
        for (unsigned i = 0; i < s->n_measured; i++)
                sum += s->measured_w[i];
        *ret_w = sum / s->n_measured;
        return true;
}
