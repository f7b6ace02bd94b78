/* SPDX-License-Identifier: MIT */
/* The ahoyDtu/openDtu sync loop (drivers.md, ahoyDtu "Sync loop"): compares
 * the target with the last read, picks the next command by priority (off,
 * restart, limit, on), keeps each command's wait, and derives the status,
 * power and energy to report. Pure: no clock or I/O of its own. */

#include <assert.h>

#include "dtu-sync.h"

const char *dtu_action_to_string(enum dtu_action a) {
        switch (a) {
        case DTU_ACTION_NONE:
                return "none";
        case DTU_ACTION_READ:
                return "read";
        case DTU_ACTION_OFF:
                return "off";
        case DTU_ACTION_ON:
                return "on";
        case DTU_ACTION_RESTART:
                return "restart";
        case DTU_ACTION_LIMIT:
                return "limit";
        }
        return "?";
}

const char *dtu_state_to_string(enum dtu_state s) {
        switch (s) {
        case DTU_STATE_OFF:
                return "off";
        case DTU_STATE_ON:
                return "on";
        case DTU_STATE_FAULT:
                return "fault";
        }
        return "?";
}

void dtu_sync_init(struct dtu_sync *s, const struct lut *lut) {
        assert(s);
        assert(lut);

        *s = (struct dtu_sync) {
                .lut = lut,
                .target_percent = lut_start_percent(lut),
                .force_off = true, /* off at start, whatever the inverter was doing */
        };
}

bool dtu_sync_set_on(struct dtu_sync *s, bool on) {
        if (!on) {
                s->force_off = true;
                s->restart_requested = false;
        }
        if (s->target_on == on)
                return !on; /* a repeated off still goes out */
        s->target_on = on;
        s->target_percent = lut_start_percent(s->lut);
        /* The wait protected the effect of a command that is no longer
         * wanted; the safe-state off must not sit behind it. */
        s->wait_action = DTU_ACTION_NONE;
        s->retry_at_usec = 0;
        s->was_on = false;
        return true;
}

void dtu_sync_set_refresh(struct dtu_sync *s, uint64_t refresh_usec) {
        s->refresh_usec = refresh_usec;
}

void dtu_sync_request_restart(struct dtu_sync *s) {
        s->restart_requested = s->target_on;
}

int dtu_sync_set_power(struct dtu_sync *s, int power_w) {
        s->target_percent = lut_power_to_percent(s->lut, power_w);
        return lut_percent_to_power_w(s->lut, s->target_percent);
}

void dtu_sync_power_range(const struct dtu_sync *s, int *ret_min_w, int *ret_max_w) {
        *ret_min_w = lut_min_w(s->lut);
        *ret_max_w = lut_max_w(s->lut);
}

static int percent_round(int percent_x10) {
        return (percent_x10 + 5) / 10;
}

/* A read that still tells the inverter's status: none since an on or a
 * restart went out (it may have arrived, even when it failed or was cancelled). */
static bool read_fresh(const struct dtu_sync *s) {
        return s->has_read && !s->read_stale;
}

/* A read whose percent can be trusted: known, and no limit on its way. */
static bool read_percent_definite(const struct dtu_sync *s) {
        return s->has_read && s->read.percent_known && s->read.limit_ack;
}

static bool percent_synced(const struct dtu_sync *s) {
        if (read_percent_definite(s))
                return percent_round(s->read.percent_x10) == s->target_percent;
        /* The DTU does not tell (yet): trust the limit it accepted, or the
         * loop would send limits forever and never get to the on. */
        return s->limit_sent && s->limit_sent_percent == s->target_percent;
}

static bool wait_reached(const struct dtu_sync *s) {
        switch (s->wait_action) {
        case DTU_ACTION_OFF:
                return read_fresh(s) && s->read.state == DTU_STATE_OFF;
        case DTU_ACTION_ON:
        case DTU_ACTION_RESTART:
                return read_fresh(s) && s->read.state == DTU_STATE_ON;
        case DTU_ACTION_LIMIT:
                return read_percent_definite(s) && percent_round(s->read.percent_x10) == s->wait_percent;
        default:
                return true;
        }
}

static bool waiting(const struct dtu_sync *s, uint64_t now_usec) {
        return s->wait_action != DTU_ACTION_NONE && now_usec < s->wait_until_usec && !wait_reached(s);
}

static enum dtu_action command_due(const struct dtu_sync *s, uint64_t now_usec, bool ignore_retry,
                                   int *ret_percent) {
        if (!ignore_retry && now_usec < s->retry_at_usec)
                return DTU_ACTION_NONE;
        if (!s->target_on && s->force_off)
                return DTU_ACTION_OFF;
        if (waiting(s, now_usec))
                return DTU_ACTION_NONE;

        /* (1) Off. An unknown state is not off: the safe state must not
         * depend on a read that did not come. */
        if (!s->target_on)
                return read_fresh(s) && s->read.state == DTU_STATE_OFF ? DTU_ACTION_NONE : DTU_ACTION_OFF;

        /* Never switch on blind: wait for a read first. */
        if (!read_fresh(s))
                return DTU_ACTION_NONE;
        /* The daily restart (restart_at); while it reboots the DTU cannot
         * reach it (it reads fault): nothing to send yet. */
        if (s->restart_requested)
                return DTU_ACTION_RESTART;
        if (s->rebooting && s->read.state == DTU_STATE_FAULT)
                return DTU_ACTION_NONE;
        /* (2) Restart: the on did not take, and a limit does not survive a
         * restart, so restart before setting it. */
        if (s->read.state != DTU_STATE_ON && s->last_status_cmd == DTU_ACTION_ON)
                return DTU_ACTION_RESTART;
        /* (3) Limit, before the on so that it starts at the right power. */
        if (!percent_synced(s)) {
                *ret_percent = s->target_percent;
                return DTU_ACTION_LIMIT;
        }
        /* (4) On. */
        if (s->read.state != DTU_STATE_ON)
                return DTU_ACTION_ON;
        /* Some Hoymiles firmware falls back to 100 % a while after the last
         * limit: send it again (limit_refresh). */
        if (s->refresh_usec && s->last_limit_usec && now_usec - s->last_limit_usec >= s->refresh_usec) {
                *ret_percent = s->target_percent;
                return DTU_ACTION_LIMIT;
        }
        return DTU_ACTION_NONE;
}

static bool synced(const struct dtu_sync *s, uint64_t now_usec) {
        if (!read_fresh(s) || !s->read.limit_ack || waiting(s, now_usec))
                return false;
        if (!s->target_on)
                return s->read.state == DTU_STATE_OFF;
        return s->read.state == DTU_STATE_ON && percent_synced(s);
}

static bool read_due(const struct dtu_sync *s, uint64_t now_usec) {
        if (!s->ever_read_started || now_usec - s->last_read_start_usec >= DTU_READ_MAX_AGE_USEC)
                return true;
        return !synced(s, now_usec);
}

enum dtu_action dtu_sync_next(struct dtu_sync *s, uint64_t now_usec, int *ret_percent) {
        enum dtu_action a;
        int percent = 0;

        if (s->in_flight != DTU_ACTION_NONE)
                return DTU_ACTION_NONE;

        a = command_due(s, now_usec, false, &percent);
        if (a == DTU_ACTION_NONE && read_due(s, now_usec)) {
                a = DTU_ACTION_READ;
                s->ever_read_started = true;
                s->last_read_start_usec = now_usec;
        }
        if (a == DTU_ACTION_ON || a == DTU_ACTION_RESTART)
                s->read_stale = true;
        s->in_flight_daily = a == DTU_ACTION_RESTART && s->restart_requested;
        s->in_flight = a;
        s->in_flight_percent = percent;
        if (ret_percent)
                *ret_percent = percent;
        return a;
}

bool dtu_sync_command_due(const struct dtu_sync *s, uint64_t now_usec) {
        int percent;

        return s->in_flight == DTU_ACTION_NONE && command_due(s, now_usec, false, &percent) != DTU_ACTION_NONE;
}

bool dtu_sync_should_preempt(const struct dtu_sync *s, uint64_t now_usec) {
        int percent;

        if (s->in_flight == DTU_ACTION_NONE || s->in_flight == DTU_ACTION_OFF)
                return false;
        return command_due(s, now_usec, false, &percent) == DTU_ACTION_OFF;
}

void dtu_sync_abort(struct dtu_sync *s) {
        /* Cancelled before its answer: as if it had not been sent. */
        s->in_flight = DTU_ACTION_NONE;
}

static void integrate(struct dtu_sync *s, uint64_t now_usec);

static uint64_t wait_usec(enum dtu_action a) {
        switch (a) {
        case DTU_ACTION_RESTART:
                return DTU_WAIT_RESTART_USEC;
        case DTU_ACTION_LIMIT:
                return DTU_WAIT_LIMIT_USEC;
        default:
                return DTU_WAIT_SWITCH_USEC;
        }
}

void dtu_sync_command_done(struct dtu_sync *s, uint64_t now_usec, int error) {
        enum dtu_action a = s->in_flight;
        int percent = s->in_flight_percent;
        bool wanted;

        s->in_flight = DTU_ACTION_NONE;
        if (a == DTU_ACTION_NONE || a == DTU_ACTION_READ)
                return;
        if (error < 0) {
                s->retry_at_usec = now_usec + DTU_RETRY_USEC;
                /* A daily restart the DTU refused is not pressed: tomorrow again. */
                if (a == DTU_ACTION_RESTART && s->in_flight_daily)
                        s->restart_requested = false;
                return;
        }

        switch (a) {
        case DTU_ACTION_OFF:
        case DTU_ACTION_ON:
                if (a == DTU_ACTION_OFF)
                        s->force_off = false;
                s->last_status_cmd = a;
                wanted = (a == DTU_ACTION_ON) == s->target_on;
                break;
        case DTU_ACTION_RESTART:
                s->last_status_cmd = a;
                s->limit_sent = false;
                wanted = s->target_on;
                if (s->in_flight_daily) {
                        /* No wait for it to read on: the limit goes first. And
                         * off while it reboots is expected, not a fault (a fault
                         * would set the class to its minimum). */
                        s->restart_requested = false;
                        s->was_on = false;
                        s->rebooting = true;
                        s->rebooting_until_usec = now_usec + DTU_WAIT_RESTART_USEC;
                        wanted = false;
                }
                break;
        case DTU_ACTION_LIMIT:
                s->limit_sent = true;
                s->limit_sent_percent = percent;
                s->last_limit_usec = now_usec;
                wanted = s->target_on;
                /* The power may come from this limit when the DTU does not tell. */
                integrate(s, now_usec);
                break;
        default:
                return;
        }

        /* A command the target changed against while it travelled gets no
         * wait: the next one (e.g. the off at shutdown) goes out at once. */
        if (wanted) {
                s->wait_action = a;
                s->wait_percent = percent;
                s->wait_until_usec = now_usec + wait_usec(a);
        } else
                s->wait_action = DTU_ACTION_NONE;
}

static void integrate(struct dtu_sync *s, uint64_t now_usec) {
        int w = 0;
        bool on = s->has_read && s->read.state == DTU_STATE_ON;

        if (!dtu_sync_power_w(s, &w))
                w = 0;
        energy_integrate(&s->energy, now_usec, on, w);
}

void dtu_sync_read_done(struct dtu_sync *s, uint64_t now_usec, int error, const struct dtu_reading *r) {
        if (s->in_flight == DTU_ACTION_READ)
                s->in_flight = DTU_ACTION_NONE;
        s->read_stale = false;
        if (error < 0 || !r)
                s->has_read = false;
        else {
                s->has_read = true;
                s->read = *r;
                if (s->rebooting && (r->state == DTU_STATE_ON || now_usec >= s->rebooting_until_usec))
                        s->rebooting = false;
                if (s->target_on && r->state == DTU_STATE_ON) {
                        s->was_on = true;
                        /* On at the right limit without one sent: the refresh counts from here. */
                        if (!s->last_limit_usec)
                                s->last_limit_usec = now_usec ? now_usec : 1;
                }
        }
        integrate(s, now_usec);
}

bool dtu_sync_busy(const struct dtu_sync *s, uint64_t now_usec) {
        int percent;

        if (s->in_flight != DTU_ACTION_NONE && s->in_flight != DTU_ACTION_READ)
                return true;
        /* A failed command still counts: it will be sent again. */
        return command_due(s, now_usec, true, &percent) != DTU_ACTION_NONE;
}

enum device_status dtu_sync_status(const struct dtu_sync *s) {
        if (!s->has_read)
                return DEVICE_STATUS_SYNCING;
        /* The daily restart: unreachable or off while it reboots is expected. */
        if (s->rebooting && s->read.state != DTU_STATE_ON)
                return DEVICE_STATUS_SYNCING;
        if (s->read.state == DTU_STATE_FAULT)
                return DEVICE_STATUS_FAULT;
        if (!s->target_on)
                return s->read.state == DTU_STATE_OFF ? DEVICE_STATUS_OFF : DEVICE_STATUS_SYNCING;
        if (s->read.state == DTU_STATE_ON)
                return DEVICE_STATUS_ON;
        /* It was on and should be on: it switched itself off. */
        return s->was_on ? DEVICE_STATUS_FAULT : DEVICE_STATUS_SYNCING;
}

bool dtu_sync_power_w(const struct dtu_sync *s, int *ret_w) {
        int percent;

        if (!s->has_read || s->read.state != DTU_STATE_ON) {
                *ret_w = 0;
                return true;
        }
        /* The LUT, not the inverter's own measurement: that one is
         * unreliable at high load. */
        if (s->read.percent_known)
                percent = percent_round(s->read.percent_x10);
        else if (s->limit_sent)
                percent = s->limit_sent_percent;
        else
                return false;
        *ret_w = lut_percent_to_power_w(s->lut, percent);
        return true;
}

bool dtu_sync_status_changed(struct dtu_sync *s, enum device_status *ret) {
        enum device_status st = dtu_sync_status(s);

        if (s->status_reported && st == s->reported_status)
                return false;
        s->status_reported = true;
        s->reported_status = st;
        *ret = st;
        return true;
}

bool dtu_sync_power_changed(struct dtu_sync *s, int *ret_w) {
        int w;

        if (!dtu_sync_power_w(s, &w))
                return false;
        if (s->power_reported && w == s->reported_power_w)
                return false;
        s->power_reported = true;
        s->reported_power_w = w;
        *ret_w = w;
        return true;
}

double dtu_sync_energy_take(struct dtu_sync *s, uint64_t now_usec) {
        return energy_take(&s->energy, now_usec);
}
