/* SPDX-License-Identifier: MIT */
/* Unit tests of the control core (classes, power split, netzero wiring, battery reads, supervisor → modes,
 * safe state, energy report) with fake drivers, a recording `struct outputs` and an injected clock. */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "class.h"
#include "config.h"
#include "control.h"
#include "log-setup.h"
#include "outputs.h"

#define SEC(s) ((uint64_t) (s) * UINT64_C(1000000))
#define MSEC(ms) ((uint64_t) (ms) * UINT64_C(1000))
/* The monotonic clock is far from zero when the daemon starts. */
#define START SEC(7000)
#define AT(s) (START + SEC(s))

#define CHA DEVICE_CLASS_CHARGER
#define INV DEVICE_CLASS_INVERTER
#define SOL DEVICE_CLASS_SOLAR

/* ---- recording outputs ---- */

enum event_type {
        EV_MODE_ACTUAL,
        EV_LOCKS,
        EV_CLASS_STATE,
        EV_CLASS_POWER,
        EV_DEVICE_STATE,
        EV_DEVICE_POWER,
        EV_ENERGY,
        EV_BATTERY,
        EV_BATTERY_SUM,
        EV_CONSUMPTION,
};

struct event {
        enum event_type type;
        enum device_class cls;
        char name[32]; /* "" = none (class sum of an energy report) */
        enum device_status status;
        int power_w;
        enum mode mode;
        double energy_wh;
        struct battery_record record;
        double current_a, remaining_ah, soc_pct;
        char top[32];
        bool top_changed, list_changed;
        size_t n_locks;
};

#define EVENTS_MAX 128

struct recorder {
        struct event ev[EVENTS_MAX];
        size_t n;
};

static struct event *rec_add(void *userdata, enum event_type type) {
        struct recorder *rec = userdata;

        assert_true(rec->n < EVENTS_MAX);
        rec->ev[rec->n] = (struct event) { .type = type, .power_w = INT32_MIN };
        return &rec->ev[rec->n++];
}

static void set_name(struct event *e, const char *name) {
        if (name)
                snprintf(e->name, sizeof(e->name), "%s", name);
}

static void out_mode_actual(void *u, enum mode displayed) {
        rec_add(u, EV_MODE_ACTUAL)->mode = displayed;
}

static void out_locks(void *u, const struct supervisor_lock *locks, size_t n, const char *top_name,
                      bool top_changed, bool list_changed) {
        struct event *e = rec_add(u, EV_LOCKS);

        (void) locks;
        snprintf(e->top, sizeof(e->top), "%s", top_name);
        e->n_locks = n;
        e->top_changed = top_changed;
        e->list_changed = list_changed;
}

static void out_class_state(void *u, enum device_class c, enum device_status s, int power_w) {
        struct event *e = rec_add(u, EV_CLASS_STATE);

        e->cls = c;
        e->status = s;
        e->power_w = power_w;
}

static void out_class_power(void *u, enum device_class c, int power_w) {
        struct event *e = rec_add(u, EV_CLASS_POWER);

        e->cls = c;
        e->power_w = power_w;
}

static void out_device_state(void *u, enum device_class c, const char *name, enum device_status s,
                             int power_w) {
        struct event *e = rec_add(u, EV_DEVICE_STATE);

        e->cls = c;
        set_name(e, name);
        e->status = s;
        e->power_w = power_w;
}

static void out_device_power(void *u, enum device_class c, const char *name, int power_w) {
        struct event *e = rec_add(u, EV_DEVICE_POWER);

        e->cls = c;
        set_name(e, name);
        e->power_w = power_w;
}

static void out_energy(void *u, enum device_class c, const char *name, double energy_wh,
                       enum device_status s, int power_w) {
        struct event *e = rec_add(u, EV_ENERGY);

        e->cls = c;
        set_name(e, name);
        e->energy_wh = energy_wh;
        e->status = s;
        e->power_w = power_w;
}

static void out_battery(void *u, const char *name, const struct battery_record *r) {
        struct event *e = rec_add(u, EV_BATTERY);

        set_name(e, name);
        e->record = *r;
}

static void out_battery_sum(void *u, double current_a, double remaining_ah, double soc_pct) {
        struct event *e = rec_add(u, EV_BATTERY_SUM);

        e->current_a = current_a;
        e->remaining_ah = remaining_ah;
        e->soc_pct = soc_pct;
}

static void out_consumption(void *u, int power_w) {
        rec_add(u, EV_CONSUMPTION)->power_w = power_w;
}

static const struct outputs_ops recorder_ops = {
        .mode_actual = out_mode_actual,
        .locks = out_locks,
        .class_state = out_class_state,
        .class_power = out_class_power,
        .device_state = out_device_state,
        .device_power = out_device_power,
        .energy = out_energy,
        .battery = out_battery,
        .battery_sum = out_battery_sum,
        .consumption = out_consumption,
};

static size_t count_events(const struct recorder *rec, enum event_type type) {
        size_t n = 0;

        for (size_t i = 0; i < rec->n; i++)
                n += rec->ev[i].type == type;
        return n;
}

/* The only event of this type (and class, unless cls < 0); fails when there is none or more. */
static const struct event *only_event(const struct recorder *rec, enum event_type type, int cls) {
        const struct event *found = NULL;

        for (size_t i = 0; i < rec->n; i++) {
                if (rec->ev[i].type != type || (cls >= 0 && (int) rec->ev[i].cls != cls))
                        continue;
                assert_null(found);
                found = &rec->ev[i];
        }
        assert_non_null(found);
        return found;
}

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static size_t count_class_events(const struct recorder *rec, enum event_type type, enum device_class c) {
        size_t n = 0;

        for (size_t i = 0; i < rec->n; i++)
                n += rec->ev[i].type == type && rec->ev[i].cls == c;
        return n;
}

/* ---- fake drivers ---- */

struct fake {
        const char *name;
        /* inverter: range and LUT-like answer (rounds down to step_w, then clamps to [min_w, max_w]) */
        int min_w, max_w, step_w;
        int asks[16];
        int applied[16];
        size_t n_asks;
        /* switching */
        unsigned n_on, n_off;
        /* energy */
        int energy_r;
        double energy_wh;
        /* battery */
        unsigned n_reads;
        int read_r;
};

/* Every set_on of any device, in call order. */
struct switch_call {
        enum device_class cls;
        const struct fake *dev;
        bool on;
};

static struct switch_call calls[64];
static size_t n_calls;

static int fake_set_on(enum device_class c, void *state, bool on) {
        struct fake *f = state;

        assert_true(n_calls < ELEMENTSOF(calls));
        calls[n_calls++] = (struct switch_call) { .cls = c, .dev = f, .on = on };
        if (on)
                f->n_on++;
        else
                f->n_off++;
        return 0;
}

static int charger_set_on(void *state, bool on) {
        return fake_set_on(DEVICE_CLASS_CHARGER, state, on);
}

static int solar_set_on(void *state, bool on) {
        return fake_set_on(DEVICE_CLASS_SOLAR, state, on);
}

static int inverter_set_on(void *state, bool on) {
        return fake_set_on(DEVICE_CLASS_INVERTER, state, on);
}

static int lut_answer(const struct fake *f, int p_w) {
        int a = p_w;

        if (f->step_w > 1)
                a = (int) floor((double) a / f->step_w) * f->step_w;
        if (a < f->min_w)
                a = f->min_w;
        if (a > f->max_w)
                a = f->max_w;
        return a;
}

static int fake_set_power(void *state, int power_w, int *ret_applied_w) {
        struct fake *f = state;

        assert_true(f->n_asks < ELEMENTSOF(f->asks));
        f->asks[f->n_asks] = power_w;
        f->applied[f->n_asks] = lut_answer(f, power_w);
        *ret_applied_w = f->applied[f->n_asks++];
        return 0;
}

static void fake_power_range(void *state, int *ret_min_w, int *ret_max_w) {
        const struct fake *f = state;

        *ret_min_w = f->min_w;
        *ret_max_w = f->max_w;
}

static int fake_energy(void *state, double *ret_wh) {
        const struct fake *f = state;

        if (f->energy_r < 0)
                return f->energy_r;
        *ret_wh = f->energy_wh;
        return 0;
}

static int fake_read(void *state) {
        struct fake *f = state;

        f->n_reads++;
        return f->read_r;
}

static const struct switch_ops charger_ops = { .set_on = charger_set_on, .energy_wh = fake_energy };
static const struct switch_ops solar_ops = { .set_on = solar_set_on, .energy_wh = fake_energy };
static const struct inverter_ops inverter_ops = {
        .set_on = inverter_set_on,
        .set_power = fake_set_power,
        .power_range = fake_power_range,
        .energy_wh = fake_energy,
};
static const struct battery_ops battery_ops = { .read = fake_read };
static const struct battery_ops ble_battery_ops = { .read = fake_read, .serialized = true };
static const struct battery_ops forwarded_battery_ops = { .read = fake_read, .forwarded = true };

static const struct driver drv_charger = {
        .version = DRIVER_VERSION,
        .name = "fakeCharger",
        .classes = CLASS_BIT(DEVICE_CLASS_CHARGER),
        .charger = &charger_ops,
};
static const struct driver drv_solar = {
        .version = DRIVER_VERSION,
        .name = "fakeSolar",
        .classes = CLASS_BIT(DEVICE_CLASS_SOLAR),
        .solar = &solar_ops,
};
/* A driver may serve several classes (overview.md); it reports a status per class. */
static const struct driver drv_charger_solar = {
        .version = DRIVER_VERSION,
        .name = "fakeChargerSolar",
        .classes = CLASS_BIT(DEVICE_CLASS_CHARGER) | CLASS_BIT(DEVICE_CLASS_SOLAR),
        .charger = &charger_ops,
        .solar = &solar_ops,
};
static const struct driver drv_inverter = {
        .version = DRIVER_VERSION,
        .name = "fakeInverter",
        .classes = CLASS_BIT(DEVICE_CLASS_INVERTER),
        .inverter = &inverter_ops,
};
static const struct driver drv_battery = {
        .version = DRIVER_VERSION,
        .name = "fakeBattery",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .battery = &battery_ops,
};
static const struct driver drv_ble_battery = {
        .version = DRIVER_VERSION,
        .name = "fakeBleBattery",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .battery = &ble_battery_ops,
};
static const struct driver drv_forwarded_battery = {
        .version = DRIVER_VERSION,
        .name = "fakeMqttBattery",
        .classes = CLASS_BIT(DEVICE_CLASS_BATTERY),
        .battery = &forwarded_battery_ops,
};
static const struct driver drv_meter = {
        .version = DRIVER_VERSION,
        .name = "fakeConsumption",
        .classes = CLASS_BIT(DEVICE_CLASS_CONSUMPTION),
};

/* ---- fixture ---- */

struct fixture {
        struct config config;
        struct recorder rec;
        struct outputs out;
        struct control *ctl;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        /* Zeroed: every supervisor check disabled, netzero absent, no fixed inverter power. */
        f->config.general.default_mode = MODE_DISCHARGE;
        f->out = (struct outputs) { .ops = &recorder_ops, .userdata = &f->rec };
        n_calls = 0;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        control_free(f->ctl);
        free(f);
        return 0;
}

static void start(struct fixture *f) {
        assert_int_equal(control_new(&f->config, START, &f->out, &f->ctl), 0);
        assert_non_null(f->ctl);
}

static struct control_device *add(struct fixture *f, struct fake *dev, const struct driver *drv) {
        struct control_device *d = NULL;

        assert_int_equal(control_add_device(f->ctl, dev->name, drv, dev, &d), 0);
        assert_non_null(d);
        return d;
}

static void clear_recorded(struct fixture *f) {
        f->rec.n = 0;
        n_calls = 0;
}

/* The reference configuration of control.md's netzero example. */
static void enable_netzero(struct config *c) {
        c->netzero.present = true;
        c->netzero.enabled = true;
        c->netzero.nz = NETZERO_CONFIG_DEFAULTS;
        c->netzero.nz.signed_meter = true;
        /* control.md's example is of "classic" with its own step limits (direct is the default). */
        c->netzero.nz.algorithm = NETZERO_ALGORITHM_CLASSIC;
        netzero_config_default_steps(&c->netzero.nz, false, false);
}

static void enable_check(struct config *c, enum lock_id id, double threshold, double hysteresis) {
        c->supervisor.checks[id] = (struct supervisor_check_config) {
                .enabled = true,
                .threshold = threshold,
                .hysteresis = hysteresis,
        };
}

static struct battery_record cells_record(double cell_v) {
        struct battery_record r = {
                .voltage_v = 4 * cell_v,
                .current_a = 1.0,
                .soc_pct = 50,
                .remaining_ah = 50,
                .full_ah = 100,
                .n_cells = 4,
                .n_temps = 1,
                .temps_c = { 20 },
        };

        for (size_t i = 0; i < r.n_cells; i++)
                r.cells_v[i] = cell_v;
        return r;
}

/* ---- status merge ---- */

static void test_merge_status(void **state) {
        static const struct {
                enum device_status s[4];
                size_t n;
                enum device_status merged;
        } cases[] = {
                { { 0 }, 0, DEVICE_STATUS_OFF },
                { { DEVICE_STATUS_ON }, 1, DEVICE_STATUS_ON },
                { { DEVICE_STATUS_OFF }, 1, DEVICE_STATUS_OFF },
                { { DEVICE_STATUS_SYNCING }, 1, DEVICE_STATUS_SYNCING },
                { { DEVICE_STATUS_FAULT }, 1, DEVICE_STATUS_FAULT },
                { { DEVICE_STATUS_ON, DEVICE_STATUS_ON, DEVICE_STATUS_ON }, 3, DEVICE_STATUS_ON },
                { { DEVICE_STATUS_OFF, DEVICE_STATUS_OFF }, 2, DEVICE_STATUS_OFF },
                { { DEVICE_STATUS_ON, DEVICE_STATUS_OFF }, 2, DEVICE_STATUS_SYNCING },
                { { DEVICE_STATUS_OFF, DEVICE_STATUS_ON }, 2, DEVICE_STATUS_SYNCING },
                { { DEVICE_STATUS_ON, DEVICE_STATUS_SYNCING }, 2, DEVICE_STATUS_SYNCING },
                { { DEVICE_STATUS_OFF, DEVICE_STATUS_SYNCING }, 2, DEVICE_STATUS_SYNCING },
                { { DEVICE_STATUS_SYNCING, DEVICE_STATUS_SYNCING }, 2, DEVICE_STATUS_SYNCING },
                { { DEVICE_STATUS_ON, DEVICE_STATUS_FAULT }, 2, DEVICE_STATUS_FAULT },
                { { DEVICE_STATUS_FAULT, DEVICE_STATUS_ON, DEVICE_STATUS_ON }, 3, DEVICE_STATUS_FAULT },
                { { DEVICE_STATUS_OFF, DEVICE_STATUS_ON, DEVICE_STATUS_SYNCING, DEVICE_STATUS_FAULT }, 4,
                  DEVICE_STATUS_FAULT },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                enum device_status got = class_merge_status(cases[i].s, cases[i].n);
                if (got != cases[i].merged)
                        fail_msg("case %zu: merged %s, expected %s", i, device_status_to_string(got),
                                 device_status_to_string(cases[i].merged));
        }
}

/* ---- class status publication ---- */

static void test_class_status_published_on_change(void **state) {
        struct fixture *f = *state;
        struct fake a = { .name = "cha1" }, b = { .name = "cha2" };
        struct control_device *d[2];
        static const struct {
                size_t dev;
                enum device_status s;
                bool device_state; /* the device's own state is published */
                bool class_state;  /* the merged class state is published */
                enum device_status merged;
        } steps[] = {
                /* both start syncing; their power (0 W) is known: only statuses change below */
                { 0, DEVICE_STATUS_OFF, true, false, DEVICE_STATUS_SYNCING },
                { 1, DEVICE_STATUS_OFF, true, true, DEVICE_STATUS_OFF },
                { 1, DEVICE_STATUS_OFF, false, false, DEVICE_STATUS_OFF },
                { 0, DEVICE_STATUS_ON, true, true, DEVICE_STATUS_SYNCING },
                { 1, DEVICE_STATUS_ON, true, true, DEVICE_STATUS_ON },
                { 1, DEVICE_STATUS_ON, false, false, DEVICE_STATUS_ON },
                { 0, DEVICE_STATUS_FAULT, true, true, DEVICE_STATUS_FAULT },
                { 1, DEVICE_STATUS_FAULT, true, false, DEVICE_STATUS_FAULT },
                { 0, DEVICE_STATUS_ON, true, false, DEVICE_STATUS_FAULT },
                { 1, DEVICE_STATUS_ON, true, true, DEVICE_STATUS_ON },
                { 1, DEVICE_STATUS_SYNCING, true, true, DEVICE_STATUS_SYNCING },
                { 0, DEVICE_STATUS_SYNCING, true, false, DEVICE_STATUS_SYNCING },
        };

        start(f);
        d[0] = add(f, &a, &drv_charger);
        d[1] = add(f, &b, &drv_charger);

        /* The first report publishes the first merged state (nothing was published before). */
        control_device_power(d[0], CHA, 0, AT(0));
        assert_int_equal(count_class_events(&f->rec, EV_CLASS_STATE, CHA), 1);
        assert_int_equal(only_event(&f->rec, EV_CLASS_STATE, CHA)->status, DEVICE_STATUS_SYNCING);
        control_device_power(d[1], CHA, 0, AT(0));

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                clear_recorded(f);
                control_device_status(d[steps[i].dev], CHA, steps[i].s, AT(1 + i));
                if (count_events(&f->rec, EV_DEVICE_STATE) != (steps[i].device_state ? 1u : 0u))
                        fail_msg("step %zu: %zu device states published, expected %d", i,
                                 count_events(&f->rec, EV_DEVICE_STATE), steps[i].device_state);
                if (count_events(&f->rec, EV_CLASS_STATE) != (steps[i].class_state ? 1u : 0u))
                        fail_msg("step %zu: %zu class states published, expected %d", i,
                                 count_events(&f->rec, EV_CLASS_STATE), steps[i].class_state);
                if (steps[i].device_state) {
                        const struct event *e = only_event(&f->rec, EV_DEVICE_STATE, CHA);
                        assert_string_equal(e->name, steps[i].dev == 0 ? "cha1" : "cha2");
                        assert_int_equal(e->status, steps[i].s);
                }
                if (steps[i].class_state) {
                        const struct event *e = only_event(&f->rec, EV_CLASS_STATE, CHA);
                        if (e->status != steps[i].merged)
                                fail_msg("step %zu: class state %s, expected %s", i,
                                         device_status_to_string(e->status),
                                         device_status_to_string(steps[i].merged));
                        assert_int_equal(e->power_w, 0);
                }
        }
}

static void test_status_per_class(void **state) {
        struct fixture *f = *state;
        struct fake combo = { .name = "combo" };
        struct control_device *d;

        start(f);
        d = add(f, &combo, &drv_charger_solar);
        control_device_status(d, CHA, DEVICE_STATUS_ON, AT(0));
        control_device_power(d, CHA, 100, AT(0));
        control_device_status(d, SOL, DEVICE_STATUS_OFF, AT(1));
        /* The charger's power changes: the charger class is recomputed. */
        control_device_power(d, CHA, 110, AT(2));

        /* control.md: "A driver reports a status per class it serves": the solar report must not
         * change the charger's status (nor make its power count 0 W). */
        clear_recorded(f);
        control_republish(f->ctl);
        const struct event *e = only_event(&f->rec, EV_CLASS_STATE, CHA);
        if (e->status != DEVICE_STATUS_ON || e->power_w != 110)
                fail_msg("charger class %s %d W after the solar report, expected on 110 W",
                         device_status_to_string(e->status), e->power_w);
        e = only_event(&f->rec, EV_CLASS_STATE, SOL);
        assert_int_equal(e->status, DEVICE_STATUS_OFF);
        assert_int_equal(e->power_w, 0);
}

static void test_republish(void **state) {
        struct fixture *f = *state;
        struct fake cha = { .name = "cha" }, inv = { .name = "inv", .max_w = 800, .step_w = 50 },
                    sol = { .name = "sol" };
        struct control_device *dc, *di, *ds;

        start(f);
        dc = add(f, &cha, &drv_charger);
        di = add(f, &inv, &drv_inverter);
        ds = add(f, &sol, &drv_solar);
        control_device_status(dc, CHA, DEVICE_STATUS_ON, AT(0));
        control_device_power(dc, CHA, 120, AT(0));
        control_device_status(di, INV, DEVICE_STATUS_FAULT, AT(0));
        control_device_status(ds, SOL, DEVICE_STATUS_OFF, AT(0));
        (void) control_tick(f->ctl, AT(0), true);

        clear_recorded(f);
        control_republish(f->ctl);
        assert_int_equal(count_events(&f->rec, EV_CLASS_STATE), 3);
        const struct event *e = only_event(&f->rec, EV_CLASS_STATE, CHA);
        assert_int_equal(e->status, DEVICE_STATUS_ON);
        assert_int_equal(e->power_w, 120);
        e = only_event(&f->rec, EV_CLASS_STATE, INV);
        assert_int_equal(e->status, DEVICE_STATUS_FAULT);
        assert_int_equal(e->power_w, 0); /* not on: counts 0 W, so the class power is known */
        e = only_event(&f->rec, EV_CLASS_STATE, SOL);
        assert_int_equal(e->status, DEVICE_STATUS_OFF);
        /* The mode and the top lock are re-sent too. */
        assert_int_equal(only_event(&f->rec, EV_MODE_ACTUAL, -1)->mode, MODE_DISCHARGE);
        e = only_event(&f->rec, EV_LOCKS, -1);
        assert_string_equal(e->top, "");
        assert_true(e->top_changed);
        assert_int_equal(n_calls, 0);

        /* The class powers too (<root>/cha/p ...): a power that changed while the broker was away
         * would otherwise wait for its next change. */
        assert_int_equal(count_events(&f->rec, EV_CLASS_POWER), 3);
        assert_int_equal(only_event(&f->rec, EV_CLASS_POWER, CHA)->power_w, 120);
        assert_int_equal(only_event(&f->rec, EV_CLASS_POWER, INV)->power_w, 0);

        /* Again: the same three, nothing is "already published". */
        clear_recorded(f);
        control_republish(f->ctl);
        assert_int_equal(count_events(&f->rec, EV_CLASS_STATE), 3);
        assert_int_equal(count_events(&f->rec, EV_CLASS_POWER), 3);
}

static void test_republish_empty_classes(void **state) {
        struct fixture *f = *state;

        /* A class without devices is off. */
        start(f);
        control_republish(f->ctl);
        assert_int_equal(count_events(&f->rec, EV_CLASS_STATE), 3);
        assert_int_equal(only_event(&f->rec, EV_CLASS_STATE, CHA)->status, DEVICE_STATUS_OFF);
        assert_int_equal(only_event(&f->rec, EV_CLASS_STATE, INV)->status, DEVICE_STATUS_OFF);
        assert_int_equal(only_event(&f->rec, EV_CLASS_STATE, SOL)->status, DEVICE_STATUS_OFF);
        assert_int_equal(only_event(&f->rec, EV_MODE_ACTUAL, -1)->mode, MODE_PROTECT);
}

/* ---- inverter power split ---- */

static void test_inverter_split(void **state) {
        static const struct {
                const char *name;
                size_t n;
                int max[3], min[3], step[3];
                int p;
                int asks[3];    /* round(max_i * P / max_total); the last: P - what the others took */
                int applied[3]; /* the LUT answers: down to the step, clamped to [min, max] */
                int total;
        } cases[] = {
                { "one 800: gets P", 1, { 800 }, { 0 }, { 50 }, 333, { 333 }, { 300 }, 300 },
                { "one 800 min 100: 0 clamps to min", 1, { 800 }, { 100 }, { 50 }, 0, { 0 }, { 100 }, 100 },
                { "one 800: above max clamps", 1, { 800 }, { 0 }, { 50 }, 1000, { 1000 }, { 800 }, 800 },
                { "600+800: half each", 2, { 600, 800 }, { 0, 0 }, { 50, 50 }, 700,
                  { 300, 400 }, { 300, 400 }, 700 },
                /* r = 1000/1400: 600 r = 428.57 → 429, takes 400; the last gets 1000 - 400 */
                { "600+800: last takes the rest", 2, { 600, 800 }, { 0, 0 }, { 50, 50 }, 1000,
                  { 429, 600 }, { 400, 600 }, 1000 },
                /* step 1: round(428.57) is 429, not 428 */
                { "600+800 exact: rounding", 2, { 600, 800 }, { 0, 0 }, { 1, 1 }, 1000,
                  { 429, 571 }, { 429, 571 }, 1000 },
                /* r = 1000/2900: 206.90 → 207 takes 200; 275.86 → 276 takes 250; last 1000 - 450 */
                { "600+800+1500: 1000", 3, { 600, 800, 1500 }, { 0, 0, 0 }, { 50, 50, 50 }, 1000,
                  { 207, 276, 550 }, { 200, 250, 550 }, 1000 },
                /* r = 2000/2900: 413.79 → 414 takes 400; 551.72 → 552 takes 550; last 2000 - 950 */
                { "600+800+1500: 2000", 3, { 600, 800, 1500 }, { 0, 0, 0 }, { 50, 50, 50 }, 2000,
                  { 414, 552, 1050 }, { 400, 550, 1050 }, 2000 },
                { "600+800+1500: max", 3, { 600, 800, 1500 }, { 0, 0, 0 }, { 50, 50, 50 }, 2900,
                  { 600, 800, 1500 }, { 600, 800, 1500 }, 2900 },
                /* r = 3500/2900: 724.14 → 724 clamps 600; 965.52 → 966 clamps 800; last 3500 - 1400 */
                { "600+800+1500: above max", 3, { 600, 800, 1500 }, { 0, 0, 0 }, { 50, 50, 50 }, 3500,
                  { 724, 966, 2100 }, { 600, 800, 1500 }, 2900 },
                /* 0: everyone at minimum; the last is asked 0 - 100 and clamps */
                { "600+800+1500 min 50: zero", 3, { 600, 800, 1500 }, { 50, 50, 50 }, { 50, 50, 50 }, 0,
                  { 0, 0, -100 }, { 50, 50, 50 }, 150 },
                /* another order: 1500 r = 517.24 → 517 takes 500; 800 r → 276 takes 250;
                 * the last gets 1000 - 750 */
                { "1500+800+600: 1000", 3, { 1500, 800, 600 }, { 0, 0, 0 }, { 50, 50, 50 }, 1000,
                  { 517, 276, 250 }, { 500, 250, 250 }, 1000 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct fake fk[3] = { { .name = "i0" }, { .name = "i1" }, { .name = "i2" } };
                struct class_member m[3], *mp[3];
                struct switch_class c = { .cls = INV, .members = mp, .n_members = cases[i].n };
                int max_total = 0;

                for (size_t k = 0; k < cases[i].n; k++) {
                        fk[k].max_w = cases[i].max[k];
                        fk[k].min_w = cases[i].min[k];
                        fk[k].step_w = cases[i].step[k];
                        m[k] = (struct class_member) {
                                .name = (char *) fk[k].name,
                                .drv = &drv_inverter,
                                .state = &fk[k],
                                .status = { [INV] = DEVICE_STATUS_ON },
                        };
                        mp[k] = &m[k];
                        max_total += cases[i].max[k];
                }
                assert_int_equal(inverter_class_max_w(&c), max_total);
                int total = inverter_class_set_power(&c, cases[i].p);
                for (size_t k = 0; k < cases[i].n; k++) {
                        if (fk[k].n_asks != 1)
                                fail_msg("%s: inverter %zu asked %zu times", cases[i].name, k, fk[k].n_asks);
                        if (fk[k].asks[0] != cases[i].asks[k])
                                fail_msg("%s: inverter %zu asked %d W, expected %d W", cases[i].name, k,
                                         fk[k].asks[0], cases[i].asks[k]);
                        assert_int_equal(fk[k].applied[0], cases[i].applied[k]);
                }
                if (total != cases[i].total)
                        fail_msg("%s: total %d W, expected %d W", cases[i].name, total, cases[i].total);
        }
}

static void test_inverter_split_no_members(void **state) {
        struct switch_class c = { .cls = INV };

        (void) state;
        assert_int_equal(inverter_class_max_w(&c), 0);
        assert_int_equal(inverter_class_set_power(&c, 500), 0);
}

/* ---- class and device power ---- */

#define NONE INT32_MIN

static void test_class_power_known(void **state) {
        struct fixture *f = *state;
        struct fake a = { .name = "invA", .max_w = 600, .step_w = 1 },
                    b = { .name = "invB", .max_w = 800, .step_w = 1 };
        struct control_device *d[2];
        enum { STATUS, POWER };
        static const struct {
                int what;
                size_t dev;
                int value;
                int class_power;  /* the class_power event, NONE: not published */
                int state_power;  /* the class_state event's power (-1 unknown), NONE: not published */
                size_t device_power; /* device power events */
        } steps[] = {
                /* A on without a power: unknown */
                { STATUS, 0, DEVICE_STATUS_ON, NONE, -1, 0 },
                /* A knows 200, B is not on (0 W): known */
                { POWER, 0, 200, 200, 200, 1 },
                { POWER, 0, 200, NONE, NONE, 0 },
                /* B on without a power: unknown again */
                { STATUS, 1, DEVICE_STATUS_ON, NONE, -1, 0 },
                { POWER, 1, 300, 500, 500, 1 },
                /* A off: counts 0 W although it knows 200 W */
                { STATUS, 0, DEVICE_STATUS_OFF, 300, 300, 0 },
                { POWER, 1, 350, 350, 350, 1 },
                { POWER, 1, 350, NONE, NONE, 0 },
                /* A's power changes while it is off: the device publishes, the class does not change */
                { POWER, 0, 250, NONE, NONE, 1 },
                { STATUS, 0, DEVICE_STATUS_ON, 600, 600, 0 },
        };

        start(f);
        d[0] = add(f, &a, &drv_inverter);
        d[1] = add(f, &b, &drv_inverter);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                clear_recorded(f);
                if (steps[i].what == STATUS)
                        control_device_status(d[steps[i].dev], INV, (enum device_status) steps[i].value,
                                              AT(i));
                else
                        control_device_power(d[steps[i].dev], INV, steps[i].value, AT(i));

                size_t n_class_power = count_class_events(&f->rec, EV_CLASS_POWER, INV);
                if (steps[i].class_power == NONE) {
                        if (n_class_power != 0)
                                fail_msg("step %zu: class power published", i);
                } else {
                        if (n_class_power != 1)
                                fail_msg("step %zu: %zu class powers published, expected 1", i,
                                         n_class_power);
                        assert_int_equal(only_event(&f->rec, EV_CLASS_POWER, INV)->power_w,
                                         steps[i].class_power);
                }
                size_t n_state = count_class_events(&f->rec, EV_CLASS_STATE, INV);
                if (steps[i].state_power == NONE)
                        assert_int_equal(n_state, 0);
                else {
                        assert_int_equal(n_state, 1);
                        if (only_event(&f->rec, EV_CLASS_STATE, INV)->power_w != steps[i].state_power)
                                fail_msg("step %zu: class state with %d W, expected %d W", i,
                                         only_event(&f->rec, EV_CLASS_STATE, INV)->power_w,
                                         steps[i].state_power);
                }
                if (count_events(&f->rec, EV_DEVICE_POWER) != steps[i].device_power)
                        fail_msg("step %zu: %zu device powers published, expected %zu", i,
                                 count_events(&f->rec, EV_DEVICE_POWER), steps[i].device_power);
                if (steps[i].device_power) {
                        const struct event *e = only_event(&f->rec, EV_DEVICE_POWER, INV);
                        assert_string_equal(e->name, steps[i].dev == 0 ? "invA" : "invB");
                        assert_int_equal(e->power_w, steps[i].value);
                }
        }
        /* Netzero is off and there is no fixed power: nobody set a power. */
        assert_int_equal(a.n_asks + b.n_asks, 0);
}

static void test_inverter_fault_sets_zero(void **state) {
        struct fixture *f = *state;
        struct fake a = { .name = "invA", .min_w = 50, .max_w = 600, .step_w = 50 },
                    b = { .name = "invB", .min_w = 50, .max_w = 800, .step_w = 50 };
        struct control_device *da, *db;

        start(f);
        da = add(f, &a, &drv_inverter);
        db = add(f, &b, &drv_inverter);
        control_device_status(da, INV, DEVICE_STATUS_ON, AT(0));
        control_device_status(db, INV, DEVICE_STATUS_ON, AT(0));
        assert_int_equal(a.n_asks + b.n_asks, 0);

        /* Class fault: P = 0, A is asked round(600 * 0) = 0 and takes its minimum 50, B gets 0 - 50. */
        control_device_status(da, INV, DEVICE_STATUS_FAULT, AT(1));
        assert_int_equal(a.n_asks, 1);
        assert_int_equal(b.n_asks, 1);
        assert_int_equal(a.asks[0], 0);
        assert_int_equal(a.applied[0], 50);
        assert_int_equal(b.asks[0], -50);
        assert_int_equal(b.applied[0], 50);

        /* Still fault: no new command. */
        control_device_status(db, INV, DEVICE_STATUS_FAULT, AT(2));
        control_device_status(da, INV, DEVICE_STATUS_ON, AT(3));
        assert_int_equal(a.n_asks + b.n_asks, 2);

        /* Recovered, then fault again: set to 0 again. */
        control_device_status(db, INV, DEVICE_STATUS_ON, AT(4));
        assert_int_equal(a.n_asks + b.n_asks, 2);
        control_device_status(db, INV, DEVICE_STATUS_FAULT, AT(5));
        assert_int_equal(a.n_asks, 2);
        assert_int_equal(b.n_asks, 2);
        assert_int_equal(a.asks[1], 0);
        assert_int_equal(b.asks[1], -50);
}

static void test_inverter_on_fixed_power(void **state) {
        static const struct {
                bool netzero;
                int fixed_w;
                size_t n_asks;
                int ask_a, ask_b;
        } cases[] = {
                /* r = 700/1400: A round(300), B 700 - 300 */
                { false, 700, 1, 300, 400 },
                /* r = 1000/1400: A 429 takes 400, B 1000 - 400 */
                { false, 1000, 1, 429, 600 },
                /* netzero sets the power, not the fixed value */
                { true, 700, 0, 0, 0 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct fixture *f;
                struct fake a = { .name = "invA", .max_w = 600, .step_w = 50 },
                            b = { .name = "invB", .max_w = 800, .step_w = 50 };
                struct control_device *da, *db;

                assert_int_equal(setup((void **) &f), 0);
                f->config.general.has_inverter_power = true;
                f->config.general.inverter_power_w = cases[i].fixed_w;
                if (cases[i].netzero)
                        enable_netzero(&f->config);
                start(f);
                da = add(f, &a, &drv_inverter);
                db = add(f, &b, &drv_inverter);

                control_device_status(da, INV, DEVICE_STATUS_ON, AT(0));
                assert_int_equal(a.n_asks + b.n_asks, 0); /* class syncing */
                control_device_status(db, INV, DEVICE_STATUS_ON, AT(0));
                if (a.n_asks != cases[i].n_asks || b.n_asks != cases[i].n_asks)
                        fail_msg("case %zu: asked %zu/%zu times, expected %zu", i, a.n_asks, b.n_asks,
                                 cases[i].n_asks);
                if (cases[i].n_asks) {
                        assert_int_equal(a.asks[0], cases[i].ask_a);
                        assert_int_equal(b.asks[0], cases[i].ask_b);
                }
                /* Only when the class becomes on: a power report or a repeated on does not set again. */
                control_device_power(da, INV, 300, AT(1));
                control_device_status(db, INV, DEVICE_STATUS_ON, AT(1));
                assert_int_equal(a.n_asks, cases[i].n_asks);
                /* Leaves on and comes back: set again. */
                control_device_status(db, INV, DEVICE_STATUS_SYNCING, AT(2));
                control_device_status(db, INV, DEVICE_STATUS_ON, AT(3));
                assert_int_equal(a.n_asks, 2 * cases[i].n_asks);
                assert_int_equal(b.n_asks, 2 * cases[i].n_asks);
                teardown((void **) &f);
        }
}

/* ---- netzero wiring ---- */

static const int reference_window[] = { 300, 280, 290, 285, 310 };

struct nz_setup {
        struct fake inv, meter;
        struct control_device *di, *dm;
};

static void nz_start(struct fixture *f, struct nz_setup *s) {
        *s = (struct nz_setup) {
                .inv = { .name = "inv", .max_w = 800, .step_w = 1 },
                .meter = { .name = "meter" },
        };
        enable_netzero(&f->config);
        start(f);
        s->di = add(f, &s->inv, &drv_inverter);
        s->dm = add(f, &s->meter, &drv_meter);
}

/* Feeds the reference window at t0, t0 + 5, ... t0 + 20; asserts that nothing was set before the last. */
static void feed_reference(struct nz_setup *s, unsigned t0) {
        size_t asks = s->inv.n_asks;

        for (size_t i = 0; i < ELEMENTSOF(reference_window); i++) {
                if (i > 0)
                        assert_int_equal(s->inv.n_asks, asks);
                control_device_consumption(s->dm, reference_window[i], AT(t0 + 5 * i));
        }
}

static void test_netzero_reference(void **state) {
        struct fixture *f = *state;
        struct nz_setup s;

        nz_start(f, &s);
        control_device_status(s.di, INV, DEVICE_STATUS_ON, AT(0));
        control_device_power(s.di, INV, 200, AT(0));
        assert_int_equal(s.inv.n_asks, 0); /* netzero on: no fixed power */

        /* 300, 280, 290, 285, 310 over 20 s: m = 285, delta = min(100, 275) = +100 → 200 + 100. */
        feed_reference(&s, 0);
        assert_int_equal(s.inv.n_asks, 1);
        assert_int_equal(s.inv.asks[0], 300);

        const struct control_stats *st = control_get_stats(f->ctl);
        assert_true(st->netzero_valid);
        assert_int_equal(st->netzero.delta_w, 100);
        assert_int_equal(st->netzero.m_w, 285);
        assert_int_equal(st->netzero.n, 5);
        assert_int_equal(st->netzero.age_s, 20);
        assert_int_equal(st->netzero_usec, AT(20));
        assert_int_equal(st->netzero_commands, 1);
        assert_int_equal(count_events(&f->rec, EV_CONSUMPTION), 5);
}

static void test_netzero_fed_only_while_on(void **state) {
        struct fixture *f = *state;
        struct nz_setup s;

        nz_start(f, &s);
        /* The inverter knows its power but the class is syncing: nothing is fed. */
        control_device_power(s.di, INV, 200, AT(0));
        feed_reference(&s, 0);
        assert_int_equal(s.inv.n_asks, 0);
        assert_false(control_get_stats(f->ctl)->netzero_valid);
        /* Consumption is still published. */
        assert_int_equal(count_events(&f->rec, EV_CONSUMPTION), 5);

        /* off is not on either */
        control_device_status(s.di, INV, DEVICE_STATUS_OFF, AT(21));
        feed_reference(&s, 22);
        assert_int_equal(s.inv.n_asks, 0);
        assert_false(control_get_stats(f->ctl)->netzero_valid);

        /* On: the same window now sets 200 + 100. */
        control_device_status(s.di, INV, DEVICE_STATUS_ON, AT(50));
        feed_reference(&s, 51);
        assert_int_equal(s.inv.n_asks, 1);
        assert_int_equal(s.inv.asks[0], 300);
}

static void test_netzero_cleared_when_leaving_on(void **state) {
        struct fixture *f = *state;
        struct nz_setup s;

        nz_start(f, &s);
        control_device_status(s.di, INV, DEVICE_STATUS_ON, AT(0));
        control_device_power(s.di, INV, 200, AT(0));
        for (size_t i = 0; i < 4; i++)
                control_device_consumption(s.dm, reference_window[i], AT(5 * i));
        /* Leaves on and comes back: the window starts again, the fifth sample alone decides nothing. */
        control_device_status(s.di, INV, DEVICE_STATUS_SYNCING, AT(16));
        control_device_status(s.di, INV, DEVICE_STATUS_ON, AT(17));
        control_device_consumption(s.dm, reference_window[4], AT(20));
        assert_int_equal(s.inv.n_asks, 0);
        assert_int_equal(control_get_stats(f->ctl)->netzero.n, 1);

        /* A known power change clears too. */
        for (size_t i = 1; i < 4; i++)
                control_device_consumption(s.dm, reference_window[i], AT(20 + 5 * i));
        control_device_power(s.di, INV, 250, AT(36));
        control_device_consumption(s.dm, reference_window[4], AT(40));
        assert_int_equal(s.inv.n_asks, 0);
        assert_int_equal(control_get_stats(f->ctl)->netzero.n, 1);
}

static void test_netzero_no_act_when_power_unknown(void **state) {
        struct fixture *f = *state;
        struct nz_setup s;

        nz_start(f, &s);
        control_device_status(s.di, INV, DEVICE_STATUS_ON, AT(0));
        /* no power report: the class power is unknown */
        feed_reference(&s, 0);
        const struct control_stats *st = control_get_stats(f->ctl);
        assert_true(st->netzero_valid);
        assert_int_equal(st->netzero.delta_w, 100); /* evaluated ... */
        assert_int_equal(s.inv.n_asks, 0);          /* ... but nothing set */
        assert_int_equal(st->netzero_commands, 0);
}

static void test_netzero_reduce(void **state) {
        struct fixture *f = *state;
        struct nz_setup s;

        /* The second reference example: 3, -40, 2 (signed) → m = 2 → delta = max(-50, 2 - 10) = -8. */
        nz_start(f, &s);
        control_device_status(s.di, INV, DEVICE_STATUS_ON, AT(0));
        control_device_power(s.di, INV, 400, AT(0));
        control_device_consumption(s.dm, 3, AT(0));
        control_device_consumption(s.dm, -40, AT(1));
        assert_int_equal(s.inv.n_asks, 1); /* -40 is the only low one: m = 3 < 5 already reduces by 7 */
        assert_int_equal(s.inv.asks[0], 393);
        control_device_consumption(s.dm, 2, AT(2));
        assert_int_equal(s.inv.n_asks, 2);
        assert_int_equal(s.inv.asks[1], 392);
}

/* ---- consumption ---- */

static void test_consumption_total(void **state) {
        struct fixture *f = *state;
        struct fake a = { .name = "phase1" }, b = { .name = "phase2" };
        struct control_device *d[2];
        static const struct {
                size_t dev;
                int w;
                int total; /* NONE: no total yet */
        } steps[] = {
                { 0, 100, NONE }, /* phase2 never heard */
                { 0, 150, NONE },
                { 1, 50, 200 },
                { 0, 120, 170 },
                { 1, 60, 180 },
                { 1, 60, 180 }, /* the same value again is a new sample */
                { 0, -300, -240 },
        };

        start(f);
        d[0] = add(f, &a, &drv_meter);
        d[1] = add(f, &b, &drv_meter);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                clear_recorded(f);
                control_device_consumption(d[steps[i].dev], steps[i].w, AT(i));
                if (steps[i].total == NONE) {
                        assert_int_equal(count_events(&f->rec, EV_CONSUMPTION), 0);
                        continue;
                }
                if (count_events(&f->rec, EV_CONSUMPTION) != 1)
                        fail_msg("step %zu: %zu totals, expected 1", i,
                                 count_events(&f->rec, EV_CONSUMPTION));
                assert_int_equal(only_event(&f->rec, EV_CONSUMPTION, -1)->power_w, steps[i].total);
                assert_int_equal(control_get_stats(f->ctl)->consumption_w, steps[i].total);
        }
}

static void test_consumption_last_seen(void **state) {
        static const struct {
                uint64_t arrival[3];
                size_t n;
                uint64_t last_seen;
        } cases[] = {
                { { 0 }, 0, 0 },
                { { 500 }, 1, 500 },
                { { 500, 300, 900 }, 3, 300 },
                { { 500, 0, 900 }, 3, 0 }, /* never heard counts as 0 */
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct class_member m[3], *mp[3];
                for (size_t k = 0; k < cases[i].n; k++) {
                        m[k] = (struct class_member) { .last_arrival_usec = cases[i].arrival[k] };
                        mp[k] = &m[k];
                }
                assert_int_equal(consumption_class_last_seen(mp, cases[i].n), cases[i].last_seen);
        }
}

/* ---- battery ---- */

static void tick(struct fixture *f, uint64_t now_usec) {
        (void) control_tick(f->ctl, now_usec, true);
}

static void test_battery_schedule_parallel(void **state) {
        struct fixture *f = *state;
        struct fake a = { .name = "batA" }, b = { .name = "batB" }, c = { .name = "batC", .read_r = -EIO };
        struct control_device *da, *db, *dc;
        struct battery_record r = cells_record(3.3);

        start(f);
        da = add(f, &a, &drv_battery);
        db = add(f, &b, &drv_battery);
        dc = add(f, &c, &drv_battery);
        control_device_set_read_interval(da, SEC(10));
        control_device_set_read_interval(db, SEC(10));
        control_device_set_read_interval(dc, SEC(10));

        /* Never attempted: all due at once, in parallel. */
        tick(f, AT(0));
        assert_int_equal(a.n_reads, 1);
        assert_int_equal(b.n_reads, 1);
        assert_int_equal(c.n_reads, 1); /* could not even start */
        tick(f, AT(1));
        assert_int_equal(a.n_reads + b.n_reads + c.n_reads, 3);

        /* A answers, B fails: neither is read again before the interval. */
        control_device_battery(da, &r, AT(2));
        control_device_read_failed(db, AT(2), -ETIMEDOUT, "test");
        for (unsigned t = 2; t < 10; t++)
                tick(f, AT(t));
        assert_int_equal(a.n_reads, 1);
        assert_int_equal(b.n_reads, 1);
        assert_int_equal(c.n_reads, 1);

        tick(f, AT(10));
        tick(f, AT(11));
        assert_int_equal(a.n_reads, 2);
        assert_int_equal(b.n_reads, 2);
        assert_int_equal(c.n_reads, 2);
}

static void test_battery_default_interval(void **state) {
        struct fixture *f = *state;
        struct fake a = { .name = "batA" };
        struct control_device *da;
        struct battery_record r = cells_record(3.3);

        /* Without a configured interval a battery is read every 60 s. */
        start(f);
        da = add(f, &a, &drv_battery);
        tick(f, AT(0));
        control_device_battery(da, &r, AT(1));
        for (unsigned t = 1; t < 60; t++)
                tick(f, AT(t));
        assert_int_equal(a.n_reads, 1);
        tick(f, AT(60));
        tick(f, AT(61));
        assert_int_equal(a.n_reads, 2);
}

static void test_battery_schedule_serialized(void **state) {
        static const bool answer_with_failure[] = { false, true };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(answer_with_failure); i++) {
                struct fixture *f;
                struct fake a = { .name = "bleA" }, b = { .name = "bleB" }, c = { .name = "batC" };
                struct control_device *da, *db;
                struct battery_record r = cells_record(3.3);
                uint64_t done, second_read = 0;

                assert_int_equal(setup((void **) &f), 0);
                start(f);
                da = add(f, &a, &drv_ble_battery);
                db = add(f, &b, &drv_ble_battery);
                add(f, &c, &drv_battery);

                /* One BLE read at a time; the other kind does not wait for it. */
                tick(f, AT(0));
                assert_int_equal(a.n_reads + b.n_reads, 1);
                assert_int_equal(c.n_reads, 1);
                struct fake *first = a.n_reads ? &a : &b, *second = a.n_reads ? &b : &a;
                struct control_device *dfirst = a.n_reads ? da : db;
                tick(f, AT(1));
                tick(f, AT(2));
                assert_int_equal(second->n_reads, 0);

                /* The first one ends (record or failure); the second starts after a pause of 2–5 s. */
                done = AT(2) + MSEC(500);
                if (answer_with_failure[i])
                        control_device_read_failed(dfirst, done, -ETIMEDOUT, "test");
                else
                        control_device_battery(dfirst, &r, done);
                for (uint64_t t = AT(3); t <= done + SEC(5); t += SEC(1)) {
                        tick(f, t);
                        if (second->n_reads && !second_read)
                                second_read = t;
                }
                if (second->n_reads != 1)
                        fail_msg("case %zu: second BLE battery read %u times", i, second->n_reads);
                if (second_read < done + SEC(2))
                        fail_msg("case %zu: second BLE read %.1f s after the first ended", i,
                                 (double) (second_read - done) / 1e6);
                /* The failed one is not retried at once: its interval (60 s) counts. */
                assert_int_equal(first->n_reads, 1);
                teardown((void **) &f);
        }
}

static void test_battery_outputs(void **state) {
        struct fixture *f = *state;
        struct fake a = { .name = "batA" }, m = { .name = "remote" };
        struct control_device *da, *dm;
        struct battery_record ra = {
                .voltage_v = 26.1, .current_a = -3.2, .soc_pct = 50, .remaining_ah = 50, .full_ah = 100,
                .cycles = 12, .n_temps = 2, .temps_c = { 21.5, 22.0 },
                .n_cells = 2, .cells_v = { 3.262, 3.261 },
        };
        struct battery_record rm = {
                .voltage_v = 26.5, .current_a = 1.0, .soc_pct = 80, .remaining_ah = 160, .full_ah = 200,
                .n_cells = 1, .cells_v = { 3.3 },
        };

        start(f);
        da = add(f, &a, &drv_battery);
        dm = add(f, &m, &drv_forwarded_battery);

        /* A's record is published; no sum while "remote" has none. */
        control_device_battery(da, &ra, AT(1));
        const struct event *e = only_event(&f->rec, EV_BATTERY, -1);
        assert_string_equal(e->name, "batA");
        assert_float_equal(e->record.voltage_v, 26.1, 1e-9);
        assert_float_equal(e->record.current_a, -3.2, 1e-9);
        assert_int_equal(e->record.n_cells, 2);
        assert_int_equal(e->record.time_usec, AT(1));
        assert_int_equal(count_events(&f->rec, EV_BATTERY_SUM), 0);

        /* The forwarded record is not re-published, but completes the sum:
         * current -3.2 + 1.0, capacity 50 + 160, SoC (100 * 50 + 200 * 80) / 300 = 70. */
        clear_recorded(f);
        control_device_battery(dm, &rm, AT(2));
        assert_int_equal(count_events(&f->rec, EV_BATTERY), 0);
        e = only_event(&f->rec, EV_BATTERY_SUM, -1);
        assert_float_equal(e->current_a, -2.2, 1e-9);
        assert_float_equal(e->remaining_ah, 210, 1e-9);
        assert_float_equal(e->soc_pct, 70, 1e-9);

        /* Each further record: its data and the sum. */
        clear_recorded(f);
        ra.current_a = 2.0;
        control_device_battery(da, &ra, AT(3));
        assert_int_equal(count_events(&f->rec, EV_BATTERY), 1);
        assert_float_equal(only_event(&f->rec, EV_BATTERY_SUM, -1)->current_a, 3.0, 1e-9);
        clear_recorded(f);
        control_device_battery(dm, &rm, AT(4));
        assert_int_equal(count_events(&f->rec, EV_BATTERY), 0);
        assert_int_equal(count_events(&f->rec, EV_BATTERY_SUM), 1);
}

static void test_battery_sums(void **state) {
        static const struct {
                const char *name;
                size_t n;
                bool has[3];
                double current[3], remaining[3], full[3], soc[3];
                bool complete;
                double current_a, remaining_ah, soc_pct;
        } cases[] = {
                { "no batteries", 0, { false }, { 0 }, { 0 }, { 0 }, { 0 }, false, 0, 0, 0 },
                { "one without record", 2, { true, false }, { 1, 2 }, { 10, 20 }, { 100, 100 }, { 10, 20 },
                  false, 0, 0, 0 },
                { "one", 1, { true }, { -12.5 }, { 61.2 }, { 100 }, { 61 }, true, -12.5, 61.2, 61 },
                /* (100 * 50 + 200 * 80) / 300 */
                { "weighted by full capacity", 2, { true, true }, { -3.2, 1 }, { 50, 160 }, { 100, 200 },
                  { 50, 80 }, true, -2.2, 210, 70 },
                /* full capacity unknown: 30 Ah at 60 % is a 50 Ah battery: (50 * 60 + 100 * 20) / 150 */
                { "weighted, implied capacity", 2, { true, true }, { 0, 0 }, { 30, 20 }, { 0, 100 },
                  { 60, 20 }, true, 0, 50, 100.0 / 3 },
                { "three", 3, { true, true, true }, { 1, 2, 3 }, { 10, 20, 30 }, { 100, 100, 100 },
                  { 10, 20, 30 }, true, 6, 60, 20 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct class_member m[3], *mp[3];
                struct battery_sums sums;

                for (size_t k = 0; k < cases[i].n; k++) {
                        m[k] = (struct class_member) {
                                .has_record = cases[i].has[k],
                                .record = {
                                        .current_a = cases[i].current[k],
                                        .remaining_ah = cases[i].remaining[k],
                                        .full_ah = cases[i].full[k],
                                        .soc_pct = cases[i].soc[k],
                                },
                        };
                        mp[k] = &m[k];
                }
                battery_class_sums(mp, cases[i].n, &sums);
                if (sums.complete != cases[i].complete)
                        fail_msg("%s: complete %d", cases[i].name, sums.complete);
                if (!cases[i].complete)
                        continue;
                assert_float_equal(sums.current_a, cases[i].current_a, 1e-9);
                assert_float_equal(sums.remaining_ah, cases[i].remaining_ah, 1e-9);
                if (fabs(sums.soc_pct - cases[i].soc_pct) > 1e-9)
                        fail_msg("%s: SoC %f, expected %f", cases[i].name, sums.soc_pct, cases[i].soc_pct);
        }
}

/* ---- supervisor → mode wiring ---- */

struct switched {
        struct fake cha, inv, sol;
};

static void add_switched(struct fixture *f, struct switched *s) {
        *s = (struct switched) {
                .cha = { .name = "cha" },
                .inv = { .name = "inv", .max_w = 800, .step_w = 1 },
                .sol = { .name = "sol" },
        };
        add(f, &s->cha, &drv_charger);
        add(f, &s->inv, &drv_inverter);
        add(f, &s->sol, &drv_solar);
}

static size_t count_calls(const struct fake *dev, bool on) {
        size_t n = 0;

        for (size_t i = 0; i < n_calls; i++)
                n += calls[i].dev == dev && calls[i].on == on;
        return n;
}

static void assert_calls(const struct switch_call *expected, size_t n) {
        if (n_calls != n)
                fail_msg("%zu set_on calls, expected %zu", n_calls, n);
        for (size_t i = 0; i < n; i++)
                if (calls[i].cls != expected[i].cls || calls[i].dev != expected[i].dev ||
                    calls[i].on != expected[i].on)
                        fail_msg("call %zu: %s %s set_on(%d), expected %s %s set_on(%d)", i,
                                 device_class_to_string(calls[i].cls), calls[i].dev->name, calls[i].on,
                                 device_class_to_string(expected[i].cls), expected[i].dev->name,
                                 expected[i].on);
}

static void test_start_applies_default_mode(void **state) {
        static const struct {
                enum mode def;
                bool cha, inv, sol; /* devices on */
        } cases[] = {
                { MODE_CHARGE, true, false, true },
                { MODE_DISCHARGE, false, true, true },
                { MODE_IDLE, false, false, true },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct fixture *f;
                struct switched s;

                assert_int_equal(setup((void **) &f), 0);
                f->config.general.default_mode = cases[i].def;
                start(f);
                add_switched(f, &s);

                /* Before the first pass: everything locked. */
                assert_int_equal(control_get_displayed(f->ctl), MODE_PROTECT);
                assert_int_equal(control_get_requested(f->ctl), cases[i].def);
                assert_string_equal(control_get_top_lock(f->ctl), "startup");
                assert_int_equal(n_calls, 0);

                assert_true(control_tick(f->ctl, AT(0), true));
                const struct switch_call expected[] = {
                        { CHA, &s.cha, cases[i].cha },
                        { INV, &s.inv, cases[i].inv },
                        { SOL, &s.sol, cases[i].sol },
                };
                assert_calls(expected, ELEMENTSOF(expected));
                assert_int_equal(control_get_displayed(f->ctl), cases[i].def);
                assert_int_equal(only_event(&f->rec, EV_MODE_ACTUAL, -1)->mode, cases[i].def);
                const struct event *e = only_event(&f->rec, EV_LOCKS, -1);
                assert_string_equal(e->top, "");
                assert_int_equal(e->n_locks, 0);
                assert_string_equal(control_get_top_lock(f->ctl), "");

                /* A second pass changes nothing. */
                clear_recorded(f);
                assert_true(control_tick(f->ctl, AT(1), true));
                assert_int_equal(n_calls, 0);
                assert_int_equal(f->rec.n, 0);
                teardown((void **) &f);
        }
}

static void test_default_protect_switches_nothing(void **state) {
        struct fixture *f = *state;
        struct switched s;

        f->config.general.default_mode = MODE_PROTECT;
        start(f);
        add_switched(f, &s);
        tick(f, AT(0));
        assert_int_equal(n_calls, 0);
        assert_int_equal(control_get_displayed(f->ctl), MODE_PROTECT);
}

static void test_cell_low_locks_inverter(void **state) {
        struct fixture *f = *state;
        struct switched s;
        struct fake bat = { .name = "bat" };
        struct control_device *db;
        struct battery_record r;

        enable_check(&f->config, LOCK_CELL_LOW, 3.0, 0.1);
        start(f);
        add_switched(f, &s);
        db = add(f, &bat, &drv_battery);

        /* No record yet: cell_low holds (no data = locked), startup with it; nothing is switched. */
        tick(f, AT(0));
        assert_int_equal(n_calls, 0);
        assert_int_equal(control_get_displayed(f->ctl), MODE_PROTECT);
        assert_string_equal(control_get_top_lock(f->ctl), "startup");

        r = cells_record(3.3);
        control_device_battery(db, &r, AT(1));
        clear_recorded(f);
        tick(f, AT(1));
        const struct switch_call start_calls[] = {
                { CHA, &s.cha, false },
                { INV, &s.inv, true },
                { SOL, &s.sol, true },
        };
        assert_calls(start_calls, ELEMENTSOF(start_calls));
        assert_int_equal(control_get_displayed(f->ctl), MODE_DISCHARGE);

        /* A cell under 3.0 V: the inverter (only) is switched off. */
        r.cells_v[2] = 2.95;
        control_device_battery(db, &r, AT(2));
        clear_recorded(f);
        tick(f, AT(2));
        const struct switch_call lock_calls[] = { { INV, &s.inv, false } };
        assert_calls(lock_calls, ELEMENTSOF(lock_calls));
        assert_string_equal(control_get_top_lock(f->ctl), "cell_low");
        assert_int_equal(control_get_displayed(f->ctl), MODE_PROTECT);
        assert_int_equal(only_event(&f->rec, EV_MODE_ACTUAL, -1)->mode, MODE_PROTECT);
        const struct event *e = only_event(&f->rec, EV_LOCKS, -1);
        assert_string_equal(e->top, "cell_low");
        assert_true(e->top_changed);

        /* Inside the hysteresis (3.05 < 3.1): still locked. */
        r.cells_v[2] = 3.05;
        control_device_battery(db, &r, AT(3));
        clear_recorded(f);
        tick(f, AT(3));
        assert_int_equal(n_calls, 0);

        /* 3.15 ≥ 3.1: unlocked, the inverter is on again. */
        r.cells_v[2] = 3.15;
        control_device_battery(db, &r, AT(4));
        clear_recorded(f);
        tick(f, AT(4));
        const struct switch_call unlock_calls[] = { { INV, &s.inv, true } };
        assert_calls(unlock_calls, ELEMENTSOF(unlock_calls));
        assert_string_equal(control_get_top_lock(f->ctl), "");
}

static void test_live_data_lost(void **state) {
        struct fixture *f = *state;
        struct switched s;
        struct fake ma = { .name = "phase1" }, mb = { .name = "phase2" };
        struct control_device *da, *db;

        enable_check(&f->config, LOCK_LIVE_DATA_LOST_DISCHARGE, 10, 0);
        start(f);
        add_switched(f, &s);
        da = add(f, &ma, &drv_meter);
        db = add(f, &mb, &drv_meter);
        control_device_consumption(da, 100, AT(0));
        control_device_consumption(db, 100, AT(0));
        tick(f, AT(0));
        assert_int_equal(s.inv.n_on, 1);

        /* phase1 keeps talking, phase2 is silent: the oldest arrival counts. */
        clear_recorded(f);
        for (unsigned t = 1; t <= 10; t++) {
                control_device_consumption(da, 100, AT(t));
                tick(f, AT(t));
        }
        assert_int_equal(n_calls, 0); /* 10 s old is not older than 10 s */
        control_device_consumption(da, 100, AT(11));
        tick(f, AT(11));
        const struct switch_call lock_calls[] = { { INV, &s.inv, false } };
        assert_calls(lock_calls, ELEMENTSOF(lock_calls));
        assert_string_equal(control_get_top_lock(f->ctl), "live_data_lost_discharge");

        clear_recorded(f);
        control_device_consumption(db, 100, AT(12));
        tick(f, AT(12));
        const struct switch_call unlock_calls[] = { { INV, &s.inv, true } };
        assert_calls(unlock_calls, ELEMENTSOF(unlock_calls));
}

static void test_watchdog(void **state) {
        struct fixture *f = *state;
        static const struct {
                unsigned t;
                bool connected;
                bool feed;
        } steps[] = {
                { 0, false, true },   /* grace from start */
                { 30, false, true },  /* exactly the threshold: not older */
                { 31, false, false }, /* mqtt_offline is fatal */
                { 32, true, true },
                { 40, false, true },
                { 71, false, false },
        };

        enable_check(&f->config, LOCK_MQTT_OFFLINE, 30, 0);
        start(f);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                bool feed = control_tick(f->ctl, AT(steps[i].t), steps[i].connected);
                if (feed != steps[i].feed)
                        fail_msg("step %zu (t=%u): feed %d, expected %d", i, steps[i].t, feed,
                                 steps[i].feed);
        }
        assert_string_equal(control_get_top_lock(f->ctl), "mqtt_offline");
}

static void test_implausible_record_refused(void **state) {
        struct fixture *f = *state;
        struct fake bat = { .name = "bat" };
        struct control_device *db;
        struct battery_record r = cells_record(3.3);
        struct control_device_info info;

        enable_check(&f->config, LOCK_CELL_LOW, 3.0, 0.1);
        enable_check(&f->config, LOCK_CELL_HIGH, 3.6, 0.1);
        start(f);
        db = add(f, &bat, &drv_battery);
        control_device_battery(db, &r, AT(0));
        assert_true(control_tick(f->ctl, AT(0), true));
        /* A record beyond what a record holds used to raise the fatal internal lock: the watchdog
         * stopped and systemd restarted the daemon, again and again while the BMS sent such records.
         * Now it is refused like a failed read: counted, not published, not seen by the supervisor. */
        clear_recorded(f);
        r.n_temps = BATTERY_TEMPS_MAX + 1;
        control_device_battery(db, &r, AT(1));
        assert_true(control_tick(f->ctl, AT(1), true));
        assert_string_equal(control_get_top_lock(f->ctl), "");
        /* A cell at 5.2 V would lock cell_high if it were believed. */
        r = cells_record(3.3);
        r.cells_v[2] = 5.2;
        control_device_battery(db, &r, AT(2));
        assert_true(control_tick(f->ctl, AT(2), true));
        assert_string_equal(control_get_top_lock(f->ctl), "");
        assert_int_equal(count_events(&f->rec, EV_BATTERY), 0);
        control_get_device(f->ctl, 0, &info);
        assert_int_equal(info.read_failures, 2);
        assert_true(info.record->cells_v[2] < 3.4); /* the last good record stays */
        /* A record without cells (a SmartShunt) is valid: taken, and with no other battery the cell
         * checks hold for lack of cells, never the fatal internal lock. */
        r = cells_record(3.3);
        r.n_cells = 0;
        control_device_battery(db, &r, AT(3));
        assert_true(control_tick(f->ctl, AT(3), true));
        assert_int_equal(count_events(&f->rec, EV_BATTERY), 1);
        assert_string_not_equal(control_get_top_lock(f->ctl), "internal");
        assert_true(strncmp(control_get_top_lock(f->ctl), "cell_", 5) == 0);
}

/* More batteries than the supervisor's input once held (64): that used to raise the fatal
 * internal lock on every pass, a restart loop for a large installation. */
static void test_many_batteries(void **state) {
        struct fixture *f = *state;
        static struct fake bats[70];
        static char names[70][8];
        struct battery_record r = cells_record(3.3);

        enable_check(&f->config, LOCK_CELL_LOW, 3.0, 0.1);
        start(f);
        for (size_t i = 0; i < ELEMENTSOF(bats); i++) {
                snprintf(names[i], sizeof(names[i]), "b%zu", i);
                bats[i] = (struct fake) { .name = names[i] };
                control_device_battery(add(f, &bats[i], &drv_battery), &r, AT(0));
                clear_recorded(f);
        }
        assert_true(control_tick(f->ctl, AT(1), true));
        assert_string_equal(control_get_top_lock(f->ctl), "");
}

static void test_plausibility_bounds(void **state) {
        static const struct {
                double cell_v, temp_c, current_a, soc_pct;
                bool ok;
        } cases[] = {
                { 0.0, 20, 0, 50, true },    { 5.0, 20, 0, 50, true },      { 5.001, 20, 0, 50, false },
                { -0.01, 20, 0, 50, false }, { 3.3, -40, 0, 50, true },     { 3.3, -40.1, 0, 50, false },
                { 3.3, 100, 0, 50, true },   { 3.3, 100.5, 0, 50, false },  { 3.3, 20, 2000, 50, true },
                { 3.3, 20, -2000, 50, true }, { 3.3, 20, 2000.5, 50, false }, { 3.3, 20, -2001, 50, false },
                { 3.3, 20, 0, 0, true },     { 3.3, 20, 0, 100, true },     { 3.3, 20, 0, 100.1, false },
                { 3.3, 20, 0, -1, false },   { NAN, 20, 0, 50, false },     { 3.3, NAN, 0, 50, false },
                { 3.3, 20, INFINITY, 50, false }, { 3.3, 20, 0, NAN, false },
        };
        char why[96];

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct battery_record r = cells_record(3.3);
                r.cells_v[0] = cases[i].cell_v;
                r.n_temps = 1;
                r.temps_c[0] = cases[i].temp_c;
                r.current_a = cases[i].current_a;
                r.soc_pct = cases[i].soc_pct;
                r.full_ah = NAN; /* not reported: fine */
                if ((battery_record_implausible(&r, why, sizeof(why)) == NULL) != cases[i].ok)
                        fail_msg("case %zu: cell %g V, %g °C, %g A, SoC %g: expected %s", i, cases[i].cell_v,
                                 cases[i].temp_c, cases[i].current_a, cases[i].soc_pct,
                                 cases[i].ok ? "plausible" : "refused");
        }
        /* A battery without cells (a SmartShunt) is plausible; more cells than a record holds is not. */
        struct battery_record shunt = cells_record(3.3);
        shunt.n_cells = 0;
        shunt.n_temps = 0;
        assert_null(battery_record_implausible(&shunt, why, sizeof(why)));
        shunt.n_cells = BATTERY_CELLS_MAX + 1;
        assert_non_null(battery_record_implausible(&shunt, why, sizeof(why)));
}

/* ---- safe state ---- */

static void test_protect_all(void **state) {
        struct fixture *f = *state;
        struct switched s;
        struct fake inv2 = { .name = "inv2", .max_w = 600, .step_w = 1 };

        start(f);
        add_switched(f, &s);
        add(f, &inv2, &drv_inverter);
        tick(f, AT(0));
        assert_int_equal(control_get_displayed(f->ctl), MODE_DISCHARGE);
        assert_int_equal(s.inv.n_on, 1);
        assert_int_equal(inv2.n_on, 1);

        clear_recorded(f);
        control_protect_all(f->ctl, AT(1));
        /* Every device off, the charger too although it already was. */
        const struct fake *all[] = { &s.cha, &s.inv, &inv2, &s.sol };
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                if (count_calls(all[i], false) < 1)
                        fail_msg("%s was not switched off", all[i]->name);
        for (size_t i = 0; i < n_calls; i++)
                assert_false(calls[i].on);
        assert_int_equal(control_get_displayed(f->ctl), MODE_PROTECT);
        assert_int_equal(only_event(&f->rec, EV_MODE_ACTUAL, -1)->mode, MODE_PROTECT);

        /* Later requests and passes change nothing. */
        clear_recorded(f);
        control_mode_request(f->ctl, "charge", 6, AT(2));
        tick(f, AT(2));
        tick(f, AT(3));
        for (size_t i = 0; i < n_calls; i++)
                assert_false(calls[i].on);
        assert_int_equal(count_events(&f->rec, EV_MODE_ACTUAL), 0);
        assert_int_equal(control_get_displayed(f->ctl), MODE_PROTECT);
}

static void test_protect_all_already_protect(void **state) {
        struct fixture *f = *state;
        struct switched s;
        struct fake inv2 = { .name = "inv2", .max_w = 600, .step_w = 1 };

        /* Before the first pass everything is protect already: still command every device off. */
        start(f);
        add_switched(f, &s);
        add(f, &inv2, &drv_inverter);
        control_protect_all(f->ctl, AT(0));
        assert_int_equal(s.cha.n_off, 1);
        assert_int_equal(s.inv.n_off, 1);
        assert_int_equal(inv2.n_off, 1);
        assert_int_equal(s.sol.n_off, 1);
        assert_int_equal(s.cha.n_on + s.inv.n_on + inv2.n_on + s.sol.n_on, 0);
        assert_int_equal(control_get_displayed(f->ctl), MODE_PROTECT);
}

static void test_mode_request(void **state) {
        struct fixture *f = *state;
        struct switched s;

        start(f);
        add_switched(f, &s);
        tick(f, AT(0));

        /* charge: every effective mode changes; charger on, inverter off, solar on */
        clear_recorded(f);
        control_mode_request(f->ctl, "charge", 6, AT(1));
        const struct switch_call charge_calls[] = {
                { CHA, &s.cha, true },
                { INV, &s.inv, false },
                { SOL, &s.sol, true },
        };
        assert_calls(charge_calls, ELEMENTSOF(charge_calls));
        assert_int_equal(only_event(&f->rec, EV_MODE_ACTUAL, -1)->mode, MODE_CHARGE);

        /* A repeated request is answered without switching. */
        clear_recorded(f);
        control_mode_request(f->ctl, "charge", 6, AT(2));
        assert_int_equal(n_calls, 0);
        assert_int_equal(only_event(&f->rec, EV_MODE_ACTUAL, -1)->mode, MODE_CHARGE);

        /* Unknown payload: protect. */
        clear_recorded(f);
        control_mode_request(f->ctl, "bogus", 5, AT(3));
        const struct switch_call protect_calls[] = {
                { CHA, &s.cha, false },
                { INV, &s.inv, false },
                { SOL, &s.sol, false },
        };
        assert_calls(protect_calls, ELEMENTSOF(protect_calls));
        assert_int_equal(only_event(&f->rec, EV_MODE_ACTUAL, -1)->mode, MODE_PROTECT);
}

/* ---- energy report ---- */

static void test_energy_report(void **state) {
        struct fixture *f = *state;
        struct fake cha = { .name = "cha", .energy_wh = 100 };
        struct fake inv1 = { .name = "inv1", .max_w = 600, .energy_wh = 12.5 };
        struct fake inv2 = { .name = "inv2", .max_w = 800, .energy_r = -ENODATA };
        struct fake inv3 = { .name = "inv3", .max_w = 800, .energy_wh = 30 };
        struct fake sol = { .name = "sol", .energy_r = -ENODATA };

        start(f);
        add(f, &cha, &drv_charger);
        add(f, &inv1, &drv_inverter);
        add(f, &inv2, &drv_inverter);
        add(f, &inv3, &drv_inverter);
        add(f, &sol, &drv_solar);
        control_energy_report(f->ctl, AT(900), 0);

        size_t n_cha = 0, n_inv = 0;
        bool cha_dev = false, cha_sum = false, inv1_seen = false, inv3_seen = false, inv_sum = false;
        for (size_t i = 0; i < f->rec.n; i++) {
                const struct event *e = &f->rec.ev[i];
                if (e->type != EV_ENERGY)
                        continue;
                switch (e->cls) {
                case DEVICE_CLASS_CHARGER:
                        n_cha++;
                        if (streq(e->name, "cha")) {
                                cha_dev = true;
                                assert_float_equal(e->energy_wh, 100, 1e-9);
                        } else {
                                assert_string_equal(e->name, "");
                                cha_sum = true;
                                assert_float_equal(e->energy_wh, 100, 1e-9);
                        }
                        break;
                case DEVICE_CLASS_INVERTER:
                        n_inv++;
                        if (e->name[0] == '\0') {
                                inv_sum = true;
                                /* inv2 is unknown: left out, not counted as 0 and not published */
                                assert_float_equal(e->energy_wh, 42.5, 1e-9);
                        } else if (streq(e->name, "inv1")) {
                                inv1_seen = true;
                                assert_float_equal(e->energy_wh, 12.5, 1e-9);
                        } else if (streq(e->name, "inv3")) {
                                inv3_seen = true;
                                assert_float_equal(e->energy_wh, 30, 1e-9);
                        } else
                                fail_msg("energy published for %s", e->name);
                        break;
                default:
                        fail_msg("energy published for class %s (%s)", device_class_to_string(e->cls),
                                 e->name);
                }
        }
        assert_int_equal(n_cha, 2);
        assert_int_equal(n_inv, 3);
        assert_true(cha_dev && cha_sum && inv1_seen && inv3_seen && inv_sum);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_merge_status),
                cmocka_unit_test_setup_teardown(test_class_status_published_on_change, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_per_class, setup, teardown),
                cmocka_unit_test_setup_teardown(test_republish, setup, teardown),
                cmocka_unit_test_setup_teardown(test_republish_empty_classes, setup, teardown),
                cmocka_unit_test(test_inverter_split),
                cmocka_unit_test(test_inverter_split_no_members),
                cmocka_unit_test_setup_teardown(test_class_power_known, setup, teardown),
                cmocka_unit_test_setup_teardown(test_inverter_fault_sets_zero, setup, teardown),
                cmocka_unit_test(test_inverter_on_fixed_power),
                cmocka_unit_test_setup_teardown(test_netzero_reference, setup, teardown),
                cmocka_unit_test_setup_teardown(test_netzero_fed_only_while_on, setup, teardown),
                cmocka_unit_test_setup_teardown(test_netzero_cleared_when_leaving_on, setup, teardown),
                cmocka_unit_test_setup_teardown(test_netzero_no_act_when_power_unknown, setup, teardown),
                cmocka_unit_test_setup_teardown(test_netzero_reduce, setup, teardown),
                cmocka_unit_test_setup_teardown(test_consumption_total, setup, teardown),
                cmocka_unit_test(test_consumption_last_seen),
                cmocka_unit_test_setup_teardown(test_battery_schedule_parallel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_battery_default_interval, setup, teardown),
                cmocka_unit_test(test_battery_schedule_serialized),
                cmocka_unit_test_setup_teardown(test_battery_outputs, setup, teardown),
                cmocka_unit_test(test_battery_sums),
                cmocka_unit_test(test_start_applies_default_mode),
                cmocka_unit_test_setup_teardown(test_default_protect_switches_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cell_low_locks_inverter, setup, teardown),
                cmocka_unit_test_setup_teardown(test_live_data_lost, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
                cmocka_unit_test_setup_teardown(test_implausible_record_refused, setup, teardown),
                cmocka_unit_test(test_plausibility_bounds),
                cmocka_unit_test_setup_teardown(test_many_batteries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_protect_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_protect_all_already_protect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mode_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_energy_report, setup, teardown),
        };

        /* The core logs every decision; keep the test output readable. */
        log_set_max_level(LOG_WARNING);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
