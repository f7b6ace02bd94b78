/* SPDX-License-Identifier: MIT */
/* The sync loop shared by the ahoyDtu and openDtu drivers (drivers.md,
 * ahoyDtu "Sync loop"): what the inverter should do (target status and
 * percent), what it was last read to do, which request comes next, and what
 * to report. Pure: the driver feeds it the clock, the reads and the answers,
 * so the whole decision table is unit-tested without a DTU. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "homebattery/energy.h"
#include "homebattery/device.h"
#include "homebattery/lut.h"
#include "homebattery/time-util.h"

#define DTU_TICK_USEC (1 * USEC_PER_SEC)
/* Read at least this often even when everything is synced. */
#define DTU_READ_MAX_AGE_USEC (30 * USEC_PER_SEC)
/* How long a command gets to take effect before the next one. */
#define DTU_WAIT_SWITCH_USEC (30 * USEC_PER_SEC)
#define DTU_WAIT_RESTART_USEC (60 * USEC_PER_SEC)
#define DTU_WAIT_LIMIT_USEC (30 * USEC_PER_SEC)
/* After a command got no answer or was refused: the transport already
 * retried it, so do not hammer the DTU. */
#define DTU_RETRY_USEC (10 * USEC_PER_SEC)

/* The inverter's state as the DTU reports it, already mapped. */
enum dtu_state {
        DTU_STATE_OFF,
        DTU_STATE_ON,
        DTU_STATE_FAULT,
};

struct dtu_reading {
        enum dtu_state state;
        bool percent_known; /* false: absent or > 100 */
        int percent_x10;    /* the relative limit the inverter runs at, tenths of a percent */
        bool limit_ack;     /* false while a limit command is still travelling to the inverter */
};

enum dtu_action {
        DTU_ACTION_NONE,
        DTU_ACTION_READ,
        DTU_ACTION_OFF,
        DTU_ACTION_ON,
        DTU_ACTION_RESTART,
        DTU_ACTION_LIMIT,
};

const char *dtu_action_to_string(enum dtu_action a);
const char *dtu_state_to_string(enum dtu_state s);

struct dtu_sync {
        const struct lut *lut; /* not owned */

        bool target_on;
        int target_percent;
        /* An off was asked for (again): send it whatever the last read said,
         * until one is accepted. The safe state must not trust a stale read. */
        bool force_off;

        bool has_read; /* false until the first answer, and after a read got none */
        struct dtu_reading read;
        bool read_stale; /* an on or restart went out after it */
        bool ever_read_started;
        uint64_t last_read_start_usec;
        bool was_on; /* read on since the target became on */

        enum dtu_action in_flight;
        int in_flight_percent;
        enum dtu_action last_status_cmd; /* the last accepted on, off or restart */
        bool limit_sent;                 /* a limit was accepted since the last restart */
        int limit_sent_percent;
        enum dtu_action wait_action; /* the accepted command still taking effect */
        int wait_percent;
        uint64_t wait_until_usec;
        uint64_t retry_at_usec; /* no command before this after a failed one */

        uint64_t refresh_usec;    /* re-send the limit after this long without one; 0 = never */
        uint64_t last_limit_usec; /* the last accepted limit (or when the inverter read on without one) */
        bool restart_requested;   /* the daily restart is due */
        bool in_flight_daily;     /* the restart in flight is the daily one */
        bool rebooting;           /* after the daily restart, until it reads on (or the restart wait ends) */
        uint64_t rebooting_until_usec;

        struct energy_integrator energy;
        bool status_reported;
        enum device_status reported_status;
        bool power_reported;
        int reported_power_w;
};

void dtu_sync_init(struct dtu_sync *s, const struct lut *lut);

/* The class switches the inverter; returns true when the target changed (the
 * driver should run the loop now rather than at the next tick). Switching
 * resets the target percent to the LUT's start percent and ends any wait. */
bool dtu_sync_set_on(struct dtu_sync *s, bool on);
/* limit_refresh: the limit goes out again after this long without a limit
 * command while the inverter reads on, even when unchanged (0: never). */
void dtu_sync_set_refresh(struct dtu_sync *s, uint64_t refresh_usec);
/* restart_at: restart the inverter now (ignored while the target is off).
 * After it the limit is the first command, sent before any on, without the
 * usual wait for the inverter to read on again. */
void dtu_sync_request_restart(struct dtu_sync *s);
/* Sets the target percent from the LUT; returns the watt of that step. */
int dtu_sync_set_power(struct dtu_sync *s, int power_w);
void dtu_sync_power_range(const struct dtu_sync *s, int *ret_min_w, int *ret_max_w);

/* The next request to send, once per tick (or when kicked). A returned action
 * counts as in flight until dtu_sync_read_done()/dtu_sync_command_done()/
 * dtu_sync_abort(); while one is in flight the answer is DTU_ACTION_NONE.
 * For DTU_ACTION_LIMIT *ret_percent is the percent to set. */
enum dtu_action dtu_sync_next(struct dtu_sync *s, uint64_t now_usec, int *ret_percent);
/* True when a command (not a read) would go out now: the driver sends it at
 * once rather than at the next tick (a new limit from netzero, or one that
 * waited for the request in flight or for the read that ended a wait). */
bool dtu_sync_command_due(const struct dtu_sync *s, uint64_t now_usec);
/* True when an off is due and the request in flight is something else: the
 * driver cancels it (and calls dtu_sync_abort()) so the off goes out now. */
bool dtu_sync_should_preempt(const struct dtu_sync *s, uint64_t now_usec);
void dtu_sync_abort(struct dtu_sync *s);
/* error: 0, or negative errno when the DTU did not answer or refused. */
void dtu_sync_command_done(struct dtu_sync *s, uint64_t now_usec, int error);
/* r is ignored when error < 0 (no answer: the state becomes unknown). */
void dtu_sync_read_done(struct dtu_sync *s, uint64_t now_usec, int error, const struct dtu_reading *r);

/* True while a command is in flight or one is due (e.g. the off at shutdown). */
bool dtu_sync_busy(const struct dtu_sync *s, uint64_t now_usec);

enum device_status dtu_sync_status(const struct dtu_sync *s);
/* The power now: the LUT power at the read percent while the inverter reads
 * on, 0 otherwise; false when it is on at an unknown percent. */
bool dtu_sync_power_w(const struct dtu_sync *s, int *ret_w);
/* Report helpers: true (and the value) once per change. */
bool dtu_sync_status_changed(struct dtu_sync *s, enum device_status *ret);
bool dtu_sync_power_changed(struct dtu_sync *s, int *ret_w);
/* Energy since the last call, Wh. */
double dtu_sync_energy_take(struct dtu_sync *s, uint64_t now_usec);
