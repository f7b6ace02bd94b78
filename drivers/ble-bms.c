/* SPDX-License-Identifier: MIT */
/* One read of a BLE BMS: queue a link (one BLE connection at a time), let the
 * protocol session decide what to write and when a record is complete, and
 * always end with either device_report_battery() or _read_failed(). */

#include <stdlib.h>
#include <string.h>

#include "ble-bms.h"
#include "homebattery/log.h"
#include "homebattery/transport.h"
#include "homebattery/time-util.h"

/* Whatever happens inside, a read ends within this. */
#define READ_MAX_USEC (60 * USEC_PER_SEC)

struct ble_bms {
        struct device *device;
        const char *name;
        const struct ble_battery_config *config;
        enum bms_kind kind;
        struct ble_profile profile;
        struct bms_session *session;
        struct ble_link *link;
        struct host_timer *answer_timer;
        struct host_timer *read_timer; /* both armed only during a read */
        struct ratelimit rl;
};

static void end_read(struct ble_bms *b) {
        host_timer_disarm(b->device, b->answer_timer);
        host_timer_disarm(b->device, b->read_timer);
        transport_ble_close(b->device, b->link);
        b->link = NULL;
}

static void read_failed(struct ble_bms *b, int error, const char *step) {
        end_read(b);
        device_report_read_failed(b->device, error, step);
}

static void handle(struct ble_bms *b, const struct bms_event *ev) {
        if (ev->rejected && ratelimit_below(&b->rl, device_now_usec(b->device)))
                log_warning(b->name, "Frame rejected: %s", ev->reason ? ev->reason : "?");

        switch (ev->action) {
        case BMS_ACTION_WAIT:
                break;
        case BMS_ACTION_WRITE: {
                int r = transport_ble_write(b->device, b->link, ev->write, ev->write_len);
                if (r < 0) {
                        read_failed(b, r, "write request");
                        return;
                }
                if (host_timer_arm(b->device, b->answer_timer,
                                   device_now_usec(b->device) + (ev->timeout_usec ? ev->timeout_usec : 2 * USEC_PER_SEC),
                                   0) < 0) {
                        read_failed(b, -ENOMEM, "answer timer");
                        return;
                }
                /* Bytes that arrived with the previous answer may already
                 * hold this one (JK streams frames). */
                struct bms_event next = {};
                bms_session_feed(b->session, NULL, 0, &next);
                if (next.action != BMS_ACTION_WAIT || next.rejected)
                        handle(b, &next);
                break;
        }
        case BMS_ACTION_RECORD: {
                struct battery_record rec = ev->record;
                end_read(b);
                log_debug(b->name, "Read %.2f V %.2f A SoC %.0f %% %zu cells", rec.voltage_v, rec.current_a,
                          rec.soc_pct, rec.n_cells);
                device_report_battery(b->device, &rec);
                break;
        }
        case BMS_ACTION_FAILED:
                read_failed(b, -ETIMEDOUT, ev->reason ? ev->reason : "no answer");
                break;
        }
}

static void on_answer_timeout(void *userdata) {
        struct ble_bms *b = userdata;
        struct bms_event ev = {};

        bms_session_timeout(b->session, &ev);
        handle(b, &ev);
}

static void on_read_timeout(void *userdata) {
        struct ble_bms *b = userdata;

        read_failed(b, -ETIMEDOUT, "read did not complete within 60 s");
}

static void on_ready(void *userdata) {
        struct ble_bms *b = userdata;
        struct bms_event ev = {};

        bms_session_reset(b->session);
        bms_session_start(b->session, &ev);
        handle(b, &ev);
}

static void on_notification(void *userdata, const uint8_t *data, size_t len) {
        struct ble_bms *b = userdata;
        struct bms_event ev = {};

        bms_session_feed(b->session, data, len, &ev);
        handle(b, &ev);
}

static void on_failed(void *userdata, int error, const char *step) {
        struct ble_bms *b = userdata;

        /* The transport already dropped the link. */
        b->link = NULL;
        bms_session_reset(b->session);
        read_failed(b, error, step);
}

static int ble_bms_read(void *state) {
        static const struct ble_callbacks cb = {
                .ready = on_ready,
                .notification = on_notification,
                .failed = on_failed,
        };
        struct ble_bms *b = state;
        int r;

        if (b->link)
                return -EBUSY;
        r = host_timer_arm(b->device, b->read_timer, device_now_usec(b->device) + READ_MAX_USEC, 0);
        if (r < 0)
                return r;
        r = transport_ble_open(b->device, b->config->mac, &b->profile, &cb, b, &b->link);
        if (r < 0) {
                host_timer_disarm(b->device, b->read_timer);
                return r;
        }
        return 0;
}

const struct battery_ops ble_bms_battery_ops = {
        .read = ble_bms_read,
        .serialized = true,
};

int ble_bms_new(struct device *d, const struct ble_battery_config *c, enum bms_kind kind, void **ret) {
        const struct bms_gatt *g = bms_gatt(kind);
        struct ble_bms *b;
        int r;

        if (!g)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->device = d;
        b->name = device_get_name(d);
        b->config = c;
        b->kind = kind;
        b->rl = RATELIMIT_INIT(60 * USEC_PER_SEC, 5);
        for (size_t i = 0; i < 3; i++) {
                b->profile.service_uuids[i] = g->service_uuids[i];
                b->profile.notify_uuids[i] = g->notify_uuid[i];
                b->profile.write_uuids[i] = g->write_uuid[i];
        }
        b->profile.write_command = g->write_command;
        r = bms_session_new(kind, kind == BMS_KIND_JK ? (enum bms_layout) c->layout : BMS_LAYOUT_AUTO, &b->session);
        if (r >= 0)
                r = host_timer_new(d, on_answer_timeout, b, &b->answer_timer);
        if (r >= 0)
                r = host_timer_new(d, on_read_timeout, b, &b->read_timer);
        if (r < 0) {
                ble_bms_free(b);
                return r;
        }
        device_set_read_interval(d, (uint64_t) c->interval_s * USEC_PER_SEC);
        *ret = b;
        return 0;
}

void ble_bms_free(void *state) {
        struct ble_bms *b = state;
        if (!b)
                return;
        end_read(b);
        host_timer_free(b->device, b->answer_timer);
        host_timer_free(b->device, b->read_timer);
        bms_session_free(b->session);
        free(b);
}
