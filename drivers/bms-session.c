/* SPDX-License-Identifier: MIT */
/* The read session shared by the three BLE batteries: which request to write
 * at which step, retries on timeouts, a bounded reassembly buffer that the
 * protocol's decoder (bms-llt.c, bms-daly.c, bms-jk.c) turns into frames, and
 * frames into one plausible record. Also the GATT table. */

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms-decode.h"
#include "homebattery/cleanup.h"
#include "homebattery/time-util.h"

#define UUID16(x) "0000" x "-0000-1000-8000-00805f9b34fb"
#define BMS_STEPS_MAX 2

struct bms_step {
        const char *what; /* "no answer to the <what> request" */
        uint64_t timeout_usec;
        unsigned attempts;
};

struct bms_proto {
        const char *driver;
        bms_scan_fn scan;
        size_t (*find_start)(const uint8_t *buf, size_t len);
        size_t header_len;
        unsigned n_steps;
        struct bms_step steps[BMS_STEPS_MAX];
        struct bms_gatt gatt;
};

static const struct bms_proto protos[_BMS_KIND_MAX] = {
        [BMS_KIND_LLT] = {
                .driver = "lltPowerBmsV4Ble",
                .scan = bms_llt_scan,
                .find_start = bms_llt_find_start,
                .header_len = 2,
                .n_steps = 2,
                .steps = {
                        { "basic info", 2 * USEC_PER_SEC, 5 },
                        { "cell voltages", 2 * USEC_PER_SEC, 5 },
                },
                .gatt = {
                        .service_uuids = { UUID16("ff00") },
                        .notify_uuid = { UUID16("ff01") },
                        .write_uuid = { UUID16("ff02") },
                },
        },
        [BMS_KIND_DALY] = {
                .driver = "daly8S24V60A",
                .scan = bms_daly_scan,
                .find_start = bms_daly_find_start,
                .header_len = 2,
                .n_steps = 1,
                .steps = {
                        { "status", 2 * USEC_PER_SEC, 5 },
                },
                .gatt = {
                        .service_uuids = { UUID16("fff0"), UUID16("ff00") },
                        .notify_uuid = { UUID16("fff1"), UUID16("ff01") },
                        .write_uuid = { UUID16("fff2"), UUID16("ff02") },
                },
        },
        [BMS_KIND_JK] = {
                .driver = "jkBmsBd4",
                .scan = bms_jk_scan,
                .find_start = bms_jk_find_start,
                .header_len = 4,
                .n_steps = 2,
                .steps = {
                        { "device info", 2 * USEC_PER_SEC, 5 },
                        /* Settings, then cell info about once a second. */
                        { "cell info", 5 * USEC_PER_SEC, 3 },
                },
                .gatt = {
                        .service_uuids = { UUID16("ffe0") },
                        .notify_uuid = { UUID16("ffe1") },
                        .write_uuid = { UUID16("ffe1") },
                        .write_command = true,
                        .pick_by_flags = true,
                },
        },
};

struct bms_session {
        const struct bms_proto *proto;
        enum bms_kind kind;
        enum bms_layout layout; /* configured */
        enum bms_layout learnt; /* JK: from the last device info frame */
        bool running;           /* between start and RECORD/FAILED */
        unsigned step;
        unsigned attempt;
        bool have_basic, have_cells; /* LLT */
        struct battery_record basic, cells;
        uint8_t requests[BMS_STEPS_MAX][BMS_JK_COMMAND_LEN];
        size_t request_len[BMS_STEPS_MAX];
        char reason[BMS_REASON_MAX];
        size_t len;
        uint8_t buf[BMS_BUF_MAX];
};

const struct bms_gatt *bms_gatt(enum bms_kind k) {
        if (k < 0 || k >= _BMS_KIND_MAX)
                return NULL;
        return &protos[k].gatt;
}

enum bms_kind bms_kind_from_driver(const char *driver_name) {
        if (!driver_name)
                return _BMS_KIND_INVALID;
        for (enum bms_kind k = 0; k < _BMS_KIND_MAX; k++)
                if (strcmp(protos[k].driver, driver_name) == 0)
                        return k;
        return _BMS_KIND_INVALID;
}

const char *bms_kind_to_driver(enum bms_kind k) {
        if (k < 0 || k >= _BMS_KIND_MAX)
                return NULL;
        return protos[k].driver;
}

size_t bms_find_marker(const uint8_t *buf, size_t len, const uint8_t *pat, size_t pat_len) {
        for (size_t p = 0; p < len; p++) {
                size_t n = len - p < pat_len ? len - p : pat_len;
                if (memcmp(buf + p, pat, n) == 0)
                        return p;
        }
        return len;
}

bool bms_record_plausible(const struct battery_record *r, char reason[static BMS_REASON_MAX]) {
        if (!(r->soc_pct <= 100.0))
                snprintf(reason, BMS_REASON_MAX, "implausible: SoC %g %%", r->soc_pct);
        else if (!(r->voltage_v > 0.0))
                snprintf(reason, BMS_REASON_MAX, "implausible: voltage %g V", r->voltage_v);
        else if (r->n_cells == 0 || r->n_cells > BATTERY_CELLS_MAX)
                snprintf(reason, BMS_REASON_MAX, "implausible: %zu cells", r->n_cells);
        else
                return true;
        return false;
}

int bms_session_new(enum bms_kind k, enum bms_layout layout, struct bms_session **ret) {
        struct bms_session *s;

        if (k < 0 || k >= _BMS_KIND_MAX || (unsigned) layout > BMS_LAYOUT_32S || !ret)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->proto = &protos[k];
        s->kind = k;
        s->layout = layout;
        s->learnt = BMS_LAYOUT_AUTO;
        switch (k) {
        case BMS_KIND_LLT:
                memcpy(s->requests[0], bms_llt_request_basic, sizeof(bms_llt_request_basic));
                s->request_len[0] = sizeof(bms_llt_request_basic);
                memcpy(s->requests[1], bms_llt_request_cells, sizeof(bms_llt_request_cells));
                s->request_len[1] = sizeof(bms_llt_request_cells);
                break;
        case BMS_KIND_DALY:
                memcpy(s->requests[0], bms_daly_request, sizeof(bms_daly_request));
                s->request_len[0] = sizeof(bms_daly_request);
                break;
        default:
                bms_jk_command(BMS_JK_CMD_DEVICE_INFO, 0, 0, s->requests[0]);
                bms_jk_command(BMS_JK_CMD_CELL_INFO, 0, 0, s->requests[1]);
                s->request_len[0] = s->request_len[1] = BMS_JK_COMMAND_LEN;
                break;
        }
        *ret = s;
        return 0;
}

struct bms_session *bms_session_free(struct bms_session *s) {
        free(s);
        return NULL;
}

void bms_session_reset(struct bms_session *s) {
        s->running = false;
        s->step = 0;
        s->attempt = 0;
        s->have_basic = s->have_cells = false;
        s->len = 0;
        s->reason[0] = 0;
}

enum bms_layout bms_session_get_layout(const struct bms_session *s) {
        return s->layout != BMS_LAYOUT_AUTO ? s->layout : s->learnt;
}

static enum bms_layout scan_layout(const struct bms_session *s) {
        enum bms_layout l = bms_session_get_layout(s);
        return l == BMS_LAYOUT_AUTO ? BMS_LAYOUT_32S : l;
}

static void event_init(struct bms_event *ev) {
        *ev = (struct bms_event) { .action = BMS_ACTION_WAIT };
}

_printf_(3, 4) static void reject(struct bms_session *s, struct bms_event *ev, const char *fmt, ...) {
        if (!ev->rejected) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
                va_end(ap);
                ev->reason = s->reason;
                ev->rejected = true;
        }
        ev->n_rejected++;
}

static void drop(struct bms_session *s, size_t n) {
        assert(n <= s->len);
        memmove(s->buf, s->buf + n, s->len - n);
        s->len -= n;
}

/* Bounded: what does not fit drops the oldest bytes (the decoder resyncs). */
static void append(struct bms_session *s, const uint8_t *data, size_t len, struct bms_event *ev) {
        if (len == 0)
                return;
        if (s->len + len > BMS_BUF_MAX) {
                size_t dropped = s->len + len - BMS_BUF_MAX;
                if (len >= BMS_BUF_MAX) {
                        data += len - BMS_BUF_MAX;
                        len = BMS_BUF_MAX;
                        s->len = 0;
                } else
                        drop(s, dropped);
                reject(s, ev, "buffer overflow: %zu bytes dropped", dropped);
        }
        memcpy(s->buf + s->len, data, len);
        s->len += len;
}

/* The next frame or rejection in the buffer, skipping frames of no interest. */
static enum bms_scan scan_next(struct bms_session *s, struct bms_frame *f, char reason[static BMS_REASON_MAX]) {
        for (;;) {
                size_t consumed = 0;
                enum bms_scan r = s->proto->scan(s->buf, s->len, scan_layout(s), &consumed, f, reason);
                drop(s, consumed);
                if (r != BMS_SCAN_SKIP)
                        return r;
        }
}

static void write_request(struct bms_session *s, struct bms_event *ev) {
        ev->action = BMS_ACTION_WRITE;
        ev->write = s->requests[s->step];
        ev->write_len = s->request_len[s->step];
        ev->timeout_usec = s->proto->steps[s->step].timeout_usec;
}

static bool next_step(struct bms_session *s, struct bms_event *ev) {
        s->step++;
        s->attempt = 1;
        write_request(s, ev);
        return true;
}

static bool emit_record(struct bms_session *s, const struct battery_record *r, bool decode_only,
                        struct bms_event *ev) {
        char reason[BMS_REASON_MAX];

        if (!bms_record_plausible(r, reason)) {
                reject(s, ev, "%s", reason);
                return false;
        }
        ev->action = BMS_ACTION_RECORD;
        ev->record = *r;
        if (!decode_only)
                s->running = false;
        return true;
}

static bool llt_complete(struct bms_session *s, bool decode_only, struct bms_event *ev) {
        struct battery_record r = s->basic;

        r.n_cells = s->cells.n_cells;
        memcpy(r.cells_v, s->cells.cells_v, sizeof(r.cells_v));
        s->have_cells = false;
        if (decode_only)
                s->have_basic = false;
        return emit_record(s, &r, decode_only, ev);
}

/* Returns true when the frame ends this call with WRITE or RECORD; a
 * rejection (implausible record) is added to the event. */
static bool on_frame(struct bms_session *s, const struct bms_frame *f, bool decode_only, struct bms_event *ev) {
        switch (s->kind) {
        case BMS_KIND_LLT:
                if (f->type == 0x03) {
                        s->basic = f->record;
                        s->have_basic = true;
                        if (!decode_only && s->step == 0)
                                return next_step(s, ev);
                        if (decode_only && s->have_cells)
                                return llt_complete(s, decode_only, ev);
                        return false;
                }
                if (!decode_only && s->step != 1)
                        return false; /* not asked for yet */
                s->cells = f->record;
                s->have_cells = true;
                return s->have_basic ? llt_complete(s, decode_only, ev) : false;

        case BMS_KIND_DALY:
                return emit_record(s, &f->record, decode_only, ev);

        default:
                if (f->type == 0x03) {
                        if (f->version_major >= 0)
                                s->learnt = f->version_major < 11 ? BMS_LAYOUT_24S : BMS_LAYOUT_32S;
                        if (!decode_only && s->step == 0)
                                return next_step(s, ev);
                        return false;
                }
                if (f->type == 0x02 && (decode_only || s->step == 1))
                        return emit_record(s, &f->record, decode_only, ev);
                return false; /* settings, or cell info before the device info */
        }
}

void bms_session_start(struct bms_session *s, struct bms_event *ev) {
        event_init(ev);
        bms_session_reset(s);
        s->running = true;
        s->attempt = 1;
        write_request(s, ev);
}

void bms_session_feed(struct bms_session *s, const uint8_t *data, size_t len, struct bms_event *ev) {
        char reason[BMS_REASON_MAX];
        struct bms_frame f;

        event_init(ev);
        if (!s->running)
                return; /* late notifications after the read */
        append(s, data, len, ev);
        for (;;) {
                enum bms_scan r = scan_next(s, &f, reason);
                if (r == BMS_SCAN_MORE)
                        return;
                if (r == BMS_SCAN_REJECT)
                        reject(s, ev, "%s", reason);
                else if (on_frame(s, &f, false, ev))
                        return;
        }
}

void bms_session_timeout(struct bms_session *s, struct bms_event *ev) {
        event_init(ev);
        if (!s->running)
                return;

        const struct bms_step *step = &s->proto->steps[s->step];
        if (s->attempt >= step->attempts) {
                snprintf(s->reason, sizeof(s->reason), "no answer to the %s request (%u attempts)", step->what,
                         s->attempt);
                ev->action = BMS_ACTION_FAILED;
                ev->reason = s->reason;
                s->running = false;
                s->len = 0;
                return;
        }
        /* A partial answer is stale now: the repeated request starts afresh. */
        s->attempt++;
        s->len = 0;
        write_request(s, ev);
}

void bms_session_decode_only(struct bms_session *s, const uint8_t *data, size_t len, struct bms_event *ev) {
        char reason[BMS_REASON_MAX];
        struct bms_frame f;

        event_init(ev);
        append(s, data, len, ev);
        if (ev->rejected)
                return;
        for (;;) {
                enum bms_scan r = scan_next(s, &f, reason);
                if (r == BMS_SCAN_MORE)
                        return;
                if (r == BMS_SCAN_REJECT) {
                        reject(s, ev, "%s", reason);
                        return;
                }
                if (on_frame(s, &f, true, ev) || ev->rejected)
                        return;
        }
}

void bms_session_decode_end(struct bms_session *s, struct bms_event *ev) {
        size_t p = s->proto->find_start(s->buf, s->len);

        event_init(ev);
        if (p < s->len && s->len - p >= s->proto->header_len)
                reject(s, ev, "truncated");
        s->len = 0;
}
