/* SPDX-License-Identifier: MIT */
/* The daemon in virtual time: control.c with a zeroed supervisor config
 * (no locks), default mode discharge and netzero enabled; one inverter
 * device whose driver is the Hoymiles sync loop of dtu-sync.c talking to the
 * plant instead of an AhoyDTU; one meter device fed the grid power. Each
 * virtual second: the plant acknowledges what is due, the driver takes its
 * tick (one read or one command, as the real glue does, answered at once),
 * the control core takes its tick, and the meter publishes; a limit decided
 * on that reading goes out in the same second, as the glue sends it at once. */

#include <assert.h>
#include <errno.h>
#include <math.h>

#include "bench/run.h"
#include "config.h"
#include "control.h"
#include "dtu-sync.h"
#include "homebattery/time-util.h"

/* Virtual time starts here, not at 0: the control core treats 0 as "never". */
#define EPOCH_S UINT64_C(1000)

struct bench_inverter {
        struct plant_inverter plant;
        struct dtu_sync sync;
        struct control_device *dev;
        struct bench_metrics *metrics;
        bool queue_overflow;
        bool kicked; /* the target percent changed: the glue runs its loop at once */
};

static int inv_set_on(void *state, bool on) {
        struct bench_inverter *b = state;

        (void) dtu_sync_set_on(&b->sync, on);
        return 0;
}

static int inv_set_power(void *state, int power_w, int *ret_applied_w) {
        struct bench_inverter *b = state;

        int before = b->sync.target_percent;

        *ret_applied_w = dtu_sync_set_power(&b->sync, power_w);
        if (b->sync.target_percent != before)
                b->kicked = true;
        return 0;
}

static void inv_power_range(void *state, int *ret_min_w, int *ret_max_w) {
        struct bench_inverter *b = state;

        dtu_sync_power_range(&b->sync, ret_min_w, ret_max_w);
}

static const struct inverter_ops inv_ops = {
        .set_on = inv_set_on,
        .set_power = inv_set_power,
        .power_range = inv_power_range,
};

static const struct driver inv_driver = {
        .version = DRIVER_VERSION,
        .name = "benchHoymiles",
        .classes = CLASS_BIT(DEVICE_CLASS_INVERTER),
        .inverter = &inv_ops,
};

static const struct driver meter_driver = {
        .version = DRIVER_VERSION,
        .name = "benchMeter",
        .classes = CLASS_BIT(DEVICE_CLASS_CONSUMPTION),
};

/* What the glue's report() does: power first, then status. */
static void inv_report(struct bench_inverter *b, uint64_t now_usec) {
        enum device_status st;
        int w;

        if (dtu_sync_power_changed(&b->sync, &w))
                control_device_power(b->dev, DEVICE_CLASS_INVERTER, w, now_usec);
        if (dtu_sync_status_changed(&b->sync, &st))
                control_device_status(b->dev, DEVICE_CLASS_INVERTER, st, now_usec);
}

/* One step of the glue: one request, answered at once by the plant. */
static enum dtu_action inv_step(struct bench_inverter *b, double now_s, uint64_t now_usec) {
        enum plant_command_kind kind;
        int percent = 0;
        enum dtu_action act = dtu_sync_next(&b->sync, now_usec, &percent);

        switch (act) {
        case DTU_ACTION_NONE:
                return act;
        case DTU_ACTION_READ: {
                struct dtu_reading rd = {
                        .state = b->plant.on ? DTU_STATE_ON : DTU_STATE_OFF,
                        .percent_known = true,
                        .percent_x10 = b->plant.percent * 10,
                        .limit_ack = !plant_inverter_limit_pending(&b->plant),
                };
                dtu_sync_read_done(&b->sync, now_usec, 0, &rd);
                inv_report(b, now_usec);
                return act;
        }
        case DTU_ACTION_LIMIT:
                kind = PLANT_COMMAND_LIMIT;
                bench_metrics_command(b->metrics, percent);
                break;
        case DTU_ACTION_OFF:
                kind = PLANT_COMMAND_OFF;
                break;
        case DTU_ACTION_ON:
        case DTU_ACTION_RESTART:
        default:
                kind = PLANT_COMMAND_ON;
                break;
        }
        if (!plant_inverter_send(&b->plant, now_s, kind, percent))
                b->queue_overflow = true;
        dtu_sync_command_done(&b->sync, now_usec, 0);
        inv_report(b, now_usec);
        return act;
}

/* The 1 s tick; a command that a read made due (it ended a wait) follows the
 * read at once, as in the glue. */
static void inv_tick(struct bench_inverter *b, double now_s, uint64_t now_usec) {
        if (inv_step(b, now_s, now_usec) == DTU_ACTION_READ && dtu_sync_command_due(&b->sync, now_usec))
                (void) inv_step(b, now_s, now_usec);
}

/* The glue's kick after set_power(): the new limit goes out now. */
static void inv_kicked(struct bench_inverter *b, double now_s, uint64_t now_usec) {
        if (!b->kicked)
                return;
        b->kicked = false;
        if (dtu_sync_command_due(&b->sync, now_usec))
                (void) inv_step(b, now_s, now_usec);
}

int bench_run_netzero(const struct profile *p, const struct lut *lut, const struct bench_run_config *c,
                      struct bench_run_result *ret) {
        struct config config = {
                .general.default_mode = MODE_DISCHARGE,
                .netzero = { .present = true, .enabled = true, .nz = c->netzero,
                             .fallback_after_s = NETZERO_FALLBACK_AFTER_S_DEFAULT,
                             .fallback_power_w = NETZERO_FALLBACK_POWER_W_DEFAULT },
        };
        struct outputs out = {};
        struct bench_inverter inv = {};
        struct control *ctl = NULL;
        struct control_device *meter = NULL;
        uint32_t duration = profile_duration_s(p);
        int min_w = lut_min_w(lut), max_w = lut_max_w(lut), r;

        assert(c->meter_interval_s >= 1);
        *ret = (struct bench_run_result) { .metrics = BENCH_METRICS_INIT };

        r = control_new(&config, EPOCH_S * USEC_PER_SEC, &out, &ctl);
        if (r < 0)
                return r;
        plant_inverter_init(&inv.plant, lut, &c->plant);
        dtu_sync_init(&inv.sync, lut);
        inv.metrics = &ret->metrics;
        r = control_add_device(ctl, "inverter", &inv_driver, &inv, &inv.dev);
        if (r >= 0)
                r = control_add_device(ctl, "meter", &meter_driver, NULL, &meter);
        if (r < 0) {
                control_free(ctl);
                return r;
        }

        for (uint32_t t = 0; t < duration && !inv.queue_overflow; t++) {
                uint64_t now_usec = (EPOCH_S + t) * USEC_PER_SEC;
                int load = profile_load_at(p, t);
                double output = plant_inverter_second(&inv.plant, t);
                struct control_class_info ci;

                bench_metrics_add(&ret->metrics, load, output, bench_ideal_w(load, c->netzero.power_offset_w,
                                                                               min_w, max_w), 1.0);
                ret->metrics.seconds++;

                inv_tick(&inv, t, now_usec);
                (void) control_tick(ctl, now_usec, true);
                inv_kicked(&inv, t, now_usec);
                control_get_class(ctl, DEVICE_CLASS_INVERTER, &ci);
                if (ci.status == DEVICE_STATUS_ON)
                        ret->seconds_on += 1.0;

                if (t % c->meter_interval_s == 0) {
                        long grid = lround(load - output);

                        /* An unsigned meter shows 0 while power flows out. */
                        if (!c->netzero.signed_meter && grid < 0)
                                grid = 0;
                        control_device_consumption(meter, (int) grid, now_usec);
                        inv_kicked(&inv, t, now_usec);
                }
        }
        ret->set_power_calls = control_get_stats(ctl)->netzero_commands;
        control_free(ctl);
        return inv.queue_overflow ? -ENOBUFS : 0;
}
