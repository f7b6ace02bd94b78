/* SPDX-License-Identifier: MIT */
/* The battery class: when each battery is read (serialized for BLE, one
 * connection at a time, with a pause between reads), and the class sums. */

#include <math.h>
#include <stdio.h>

#include "class.h"
#include "homebattery/log.h"
#include "homebattery/time-util.h"

/* Pause between two serialized (BLE) reads: lets BlueZ settle. */
#define SERIAL_PAUSE_USEC (3ULL * USEC_PER_SEC)
/* A driver must always answer; this only guards against one that never does. */
#define READ_STUCK_USEC (120ULL * USEC_PER_SEC)

static bool read_due(const struct class_member *m, uint64_t now_usec) {
        if (m->last_attempt_usec == 0)
                return true;
        return now_usec >= m->last_attempt_usec + m->read_interval_usec;
}

static void start_read(struct class_member *m, uint64_t now_usec) {
        m->last_attempt_usec = now_usec ? now_usec : 1;
        m->read_pending = true;
        int r = m->drv->battery->read(m->state);
        if (r < 0) {
                log_warning_errno(r, m->name, "Cannot start a read: %m");
                m->read_pending = false;
                m->read_failures++;
        }
}

void battery_class_schedule(struct class_member *const *members, size_t n, uint64_t now_usec,
                            uint64_t *serial_idle_since_usec) {
        struct class_member *next_serial = NULL;
        bool serial_busy = false;

        for (size_t i = 0; i < n; i++) {
                struct class_member *m = members[i];
                if (m->read_pending && now_usec >= m->last_attempt_usec + READ_STUCK_USEC) {
                        log_warning(m->name, "Read did not finish within %llu s: giving up on it",
                                    READ_STUCK_USEC / USEC_PER_SEC);
                        m->read_pending = false;
                        m->read_failures++;
                }
                if (m->read_pending && m->drv->battery && m->drv->battery->serialized)
                        serial_busy = true;
        }

        for (size_t i = 0; i < n; i++) {
                struct class_member *m = members[i];
                const struct battery_ops *ops = m->drv->battery;

                if (!ops || !ops->read || m->read_pending || !read_due(m, now_usec))
                        continue;
                if (ops->serialized) {
                        /* Serialized reads take turns: of the due ones, the one
                         * that was attempted longest ago goes next. Going by the
                         * order in the config would starve the last ones when a
                         * round takes longer than the interval (a failing read). */
                        if (!next_serial || m->last_attempt_usec < next_serial->last_attempt_usec)
                                next_serial = m;
                        continue;
                }
                start_read(m, now_usec);
        }
        if (next_serial && !serial_busy && now_usec >= *serial_idle_since_usec + SERIAL_PAUSE_USEC)
                start_read(next_serial, now_usec);
}

double battery_record_size_ah(const struct battery_record *r) {
        /* Its full capacity when the BMS tells it, else as implied by remaining and SoC. */
        if (r->full_ah > 0)
                return r->full_ah;
        return r->soc_pct > 0 ? r->remaining_ah * 100 / r->soc_pct : 0;
}

void battery_class_sums(struct class_member *const *members, size_t n, struct battery_sums *ret) {
        double weight = 0, weighted = 0, soc_sum = 0;

        *ret = (struct battery_sums) { .complete = n > 0 };
        for (size_t i = 0; i < n; i++) {
                const struct class_member *m = members[i];
                if (!m->has_record) {
                        ret->complete = false;
                        return;
                }
                const struct battery_record *r = &m->record;
                ret->current_a += r->current_a;
                ret->remaining_ah += r->remaining_ah;
                soc_sum += r->soc_pct;
                double w = battery_record_size_ah(r);
                weight += w;
                weighted += w * r->soc_pct;
        }
        ret->soc_pct = weight > 0 ? weighted / weight : soc_sum / (double) n;
}

const char *battery_record_implausible(const struct battery_record *r, char *buf, size_t size) {
        /* Bounds of the hardware any supported BMS can measure; beyond them a
         * decoder or a peer sent garbage, and garbage must not steer a lock. */
        if (r->n_cells > BATTERY_CELLS_MAX || r->n_temps > BATTERY_TEMPS_MAX) {
                snprintf(buf, size, "%zu cells, %zu temperatures", r->n_cells, r->n_temps);
                return buf;
        }
        for (size_t i = 0; i < r->n_cells; i++)
                if (!isfinite(r->cells_v[i]) || r->cells_v[i] < 0.0 || r->cells_v[i] > 5.0) {
                        snprintf(buf, size, "cell %zu at %g V, outside 0..5 V", i + 1, r->cells_v[i]);
                        return buf;
                }
        for (size_t i = 0; i < r->n_temps; i++)
                if (!isfinite(r->temps_c[i]) || r->temps_c[i] < -40.0 || r->temps_c[i] > 100.0) {
                        snprintf(buf, size, "temperature %zu at %g °C, outside -40..100 °C", i + 1, r->temps_c[i]);
                        return buf;
                }
        if (!isfinite(r->current_a) || fabs(r->current_a) > 2000.0) {
                snprintf(buf, size, "current %g A, beyond ±2000 A", r->current_a);
                return buf;
        }
        if (!isfinite(r->soc_pct) || r->soc_pct < 0.0 || r->soc_pct > 100.0) {
                snprintf(buf, size, "SoC %g %%, outside 0..100 %%", r->soc_pct);
                return buf;
        }
        if (!isfinite(r->voltage_v)) {
                snprintf(buf, size, "voltage %g V", r->voltage_v);
                return buf;
        }
        return NULL;
}
