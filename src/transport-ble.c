/* SPDX-License-Identifier: MIT */
/* Bluetooth LE links through BlueZ over D-Bus, fully asynchronous: every call
 * is sd_bus_call_async() with its own timeout, every wait is a signal match
 * plus a timer. Links run one at a time (BlueZ answers overlapping connects
 * with InProgress); the steps are: objects → (discovery) → connect →
 * services resolved → find characteristics → (stop) start notify → ready. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "bluez-objects.h"
#include "homebattery/log.h"
#include "transport-ble.h"
#include "homebattery/time-util.h"

#define SENDER "bluetooth"
#define T_OBJECTS (5 * USEC_PER_SEC)
#define T_DISCOVERY (15 * USEC_PER_SEC)
#define T_CONNECT (20 * USEC_PER_SEC)
#define T_RESOLVE (10 * USEC_PER_SEC)
#define T_NOTIFY (5 * USEC_PER_SEC)
#define T_WRITE (5 * USEC_PER_SEC)
#define T_DISCONNECT (5 * USEC_PER_SEC)
#define RESOLVE_FAILURES_BEFORE_REMOVE 3
#define MAX_REMEMBERED 32

enum ble_step {
        STEP_QUEUED,
        STEP_OBJECTS,
        STEP_DISCOVERY,
        STEP_CONNECT,
        STEP_RESOLVE,
        STEP_SERVICES,
        STEP_NOTIFY,
        STEP_READY,
        STEP_CLOSING,
};

struct ble_link {
        struct ble_manager *bm;
        struct ble_link *next;
        char name[64];
        char mac[18];
        char dev_path[96];
        const struct ble_profile *profile;
        struct ble_callbacks cb;
        void *userdata;

        enum ble_step step;
        bool detached; /* the driver closed it: no more callbacks */
        bool connect_called, notify_started, resolved;
        unsigned connect_attempts;
        char *notify_path, *write_path;
        sd_bus_slot *call, *match_dev, *match_char, *match_added;
        sd_event_source *timer;
        char step_text[160];
};

struct resolve_failures {
        char mac[18];
        unsigned count;
};

struct ble_manager {
        sd_event *event;
        sd_bus *bus;
        char adapter_path[64];
        struct ble_link *active;
        struct ble_link *queue;
        struct resolve_failures failures[MAX_REMEMBERED];
};

static void start_next(struct ble_manager *bm);
static void step_objects(struct ble_link *l, enum ble_step next);
static void step_connect(struct ble_link *l);
static void begin_close(struct ble_link *l);

static void link_release(struct ble_link *l) {
        l->call = sd_bus_slot_unref(l->call);
        l->match_dev = sd_bus_slot_unref(l->match_dev);
        l->match_char = sd_bus_slot_unref(l->match_char);
        l->match_added = sd_bus_slot_unref(l->match_added);
        l->timer = sd_event_source_disable_unref(l->timer);
}

static void link_free(struct ble_link *l) {
        link_release(l);
        free(l->notify_path);
        free(l->write_path);
        free(l);
}

/* The active link is done (closed or failed): free it, run the next. */
static void finish(struct ble_link *l) {
        struct ble_manager *bm = l->bm;
        if (bm->active == l)
                bm->active = NULL;
        link_free(l);
        start_next(bm);
}

static void fail(struct ble_link *l, int error, const char *fmt, ...) _printf_(3, 4);
static void fail(struct ble_link *l, int error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(l->step_text, sizeof(l->step_text), fmt, ap);
        va_end(ap);
        if (!l->detached && l->cb.failed) {
                l->detached = true;
                l->cb.failed(l->userdata, error, l->step_text);
        }
        l->detached = true;
        begin_close(l);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void arm(struct ble_link *l, uint64_t timeout_usec) {
        l->timer = sd_event_source_disable_unref(l->timer);
        if (sd_event_add_time_relative(l->bm->event, &l->timer, CLOCK_MONOTONIC, timeout_usec, 0, on_timer, l) < 0)
                log_warning(l->name, "Cannot arm the BLE step timer");
}

static int call(struct ble_link *l, const char *path, const char *iface, const char *member, uint64_t timeout,
                sd_bus_message_handler_t cb, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(l->bm->bus, &m, "org.bluez", path, iface, member);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        l->call = sd_bus_slot_unref(l->call);
        return sd_bus_call_async(l->bm->bus, &l->call, m, cb, l, timeout);
}

/* Fire and forget (StopDiscovery, RemoveDevice): the answer does not matter. */
static void call_floating(struct ble_manager *bm, const char *path, const char *iface, const char *member,
                          const char *types, const char *arg) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        if (sd_bus_message_new_method_call(bm->bus, &m, "org.bluez", path, iface, member) < 0)
                return;
        if (types && sd_bus_message_append(m, types, arg) < 0)
                return;
        (void) sd_bus_call_async(bm->bus, NULL, m, NULL, NULL, T_OBJECTS);
}

static struct resolve_failures *failures_for(struct ble_manager *bm, const char *mac) {
        struct resolve_failures *empty = NULL;
        for (size_t i = 0; i < MAX_REMEMBERED; i++) {
                if (strcmp(bm->failures[i].mac, mac) == 0)
                        return &bm->failures[i];
                if (!empty && !bm->failures[i].mac[0])
                        empty = &bm->failures[i];
        }
        if (!empty)
                empty = &bm->failures[0];
        snprintf(empty->mac, sizeof(empty->mac), "%s", mac);
        empty->count = 0;
        return empty;
}

/* ---- closing ---- */

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        l->call = sd_bus_slot_unref(l->call);
        finish(l);
        return 0;
}

static void disconnect(struct ble_link *l) {
        l->step = STEP_CLOSING;
        if (!l->connect_called) {
                finish(l);
                return;
        }
        if (call(l, l->dev_path, "org.bluez.Device1", "Disconnect", T_DISCONNECT, on_disconnected, NULL) < 0)
                finish(l);
}

static int on_notify_stopped(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        l->call = sd_bus_slot_unref(l->call);
        disconnect(l);
        return 0;
}

static void begin_close(struct ble_link *l) {
        l->match_char = sd_bus_slot_unref(l->match_char);
        l->match_added = sd_bus_slot_unref(l->match_added);
        l->timer = sd_event_source_disable_unref(l->timer);
        if (l->step == STEP_DISCOVERY)
                call_floating(l->bm, l->bm->adapter_path, "org.bluez.Adapter1", "StopDiscovery", NULL, NULL);
        l->step = STEP_CLOSING;
        /* Leave the BMS free for its phone app: notifications off, link down. */
        if (l->notify_started && l->notify_path &&
            call(l, l->notify_path, "org.bluez.GattCharacteristic1", "StopNotify", T_NOTIFY, on_notify_stopped,
                 NULL) >= 0)
                return;
        disconnect(l);
}

/* ---- signals ---- */

static int on_dev_props(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        struct bluez_object obj = {};
        const char *iface;
        unsigned seen;

        if (sd_bus_message_read(m, "s", &iface) < 0 || strcmp(iface, "org.bluez.Device1") != 0)
                return 0;
        if (bluez_read_props(m, &obj, &seen) < 0) {
                free(obj.uuid);
                return 0;
        }
        free(obj.uuid);
        if ((seen & BLUEZ_SEEN_CONNECTED) && l->step == STEP_CONNECT) {
                /* BlueZ answers Connect only once the services are resolved, so
                 * from Connected=true on this wait is the resolve step: a stale
                 * cache shows up here, not as a failed Connect. */
                if (obj.connected)
                        arm(l, T_RESOLVE);
                else
                        l->timer = sd_event_source_disable_unref(l->timer);
        }
        if ((seen & BLUEZ_SEEN_CONNECTED) && !obj.connected && l->step > STEP_CONNECT && l->step < STEP_CLOSING) {
                /* The BMS dropped the link mid-read. */
                l->notify_started = false;
                fail(l, -ECONNRESET, "link dropped (Connected=false)");
                return 0;
        }
        if ((seen & BLUEZ_SEEN_RESOLVED) && obj.services_resolved) {
                l->resolved = true;
                if (l->step == STEP_CONNECT) /* resolved: the Connect reply follows */
                        l->timer = sd_event_source_disable_unref(l->timer);
                if (l->step == STEP_RESOLVE) {
                        failures_for(l->bm, l->mac)->count = 0;
                        step_objects(l, STEP_SERVICES);
                }
        }
        return 0;
}

static int on_char_props(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        const void *data;
        size_t size;

        if (bluez_read_value_changed(m, &data, &size) <= 0)
                return 0;
        if (l->step == STEP_READY && !l->detached && l->cb.notification)
                l->cb.notification(l->userdata, data, size);
        return 0; /* the callback may have closed the link */
}

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        const char *path;

        if (sd_bus_message_read(m, "o", &path) < 0 || strcmp(path, l->dev_path) != 0 || l->step != STEP_DISCOVERY)
                return 0;
        log_debug(SENDER, "%s: discovered %s", l->name, l->mac);
        l->match_added = sd_bus_slot_unref(l->match_added);
        call_floating(l->bm, l->bm->adapter_path, "org.bluez.Adapter1", "StopDiscovery", NULL, NULL);
        step_connect(l);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct ble_link *l = userdata;

        l->timer = sd_event_source_disable_unref(l->timer);
        switch (l->step) {
        case STEP_DISCOVERY:
                fail(l, -EHOSTUNREACH, "discovery: %s not found within %llu s", l->mac,
                     T_DISCOVERY / USEC_PER_SEC);
                break;
        case STEP_CONNECT: /* Connected=true, but Connect still unanswered */
        case STEP_RESOLVE: {
                struct resolve_failures *f = failures_for(l->bm, l->mac);
                if (++f->count >= RESOLVE_FAILURES_BEFORE_REMOVE) {
                        /* A stale cache in BlueZ: forget the device, discover it anew next time. */
                        log_warning(l->name, "Services never resolved %u times: removing %s from BlueZ's cache",
                                    f->count, l->mac);
                        f->count = 0;
                        l->connect_called = false;
                        call_floating(l->bm, l->bm->adapter_path, "org.bluez.Adapter1", "RemoveDevice", "o",
                                      l->dev_path);
                }
                fail(l, -ETIMEDOUT, "services never resolved");
                break;
        }
        default:
                break;
        }
        return 0;
}

/* ---- steps ---- */

static int on_notify_started(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);

        l->call = sd_bus_slot_unref(l->call);
        if (err) {
                fail(l, bluez_error_to_errno(err, -EIO), "StartNotify: %s", err->message ? err->message : err->name);
                return 0;
        }
        l->notify_started = true;
        l->step = STEP_READY;
        log_debug(SENDER, "%s: ready, notifications on %s", l->name, l->notify_path);
        if (l->cb.ready)
                l->cb.ready(l->userdata);
        return 0;
}

static void start_notify(struct ble_link *l) {
        int r = sd_bus_match_signal_async(l->bm->bus, &l->match_char, "org.bluez", l->notify_path,
                                          "org.freedesktop.DBus.Properties", "PropertiesChanged", on_char_props,
                                          NULL, l);
        if (r >= 0)
                r = call(l, l->notify_path, "org.bluez.GattCharacteristic1", "StartNotify", T_NOTIFY,
                         on_notify_started, NULL);
        if (r < 0)
                fail(l, r, "StartNotify");
}

static int on_stale_notify_stopped(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        l->call = sd_bus_slot_unref(l->call);
        start_notify(l);
        return 0;
}

static bool find_characteristics(struct ble_link *l, const struct bluez_objects *o) {
        const struct ble_profile *p = l->profile;
        const struct bluez_object *n, *w;

        if (!bluez_objects_find_gatt(o, l->dev_path, p->service_uuids, p->notify_uuids, p->write_uuids,
                                     ELEMENTSOF(p->service_uuids), p->write_command, &n, &w))
                return false;
        free(l->notify_path);
        free(l->write_path);
        l->notify_path = strdup(n->path);
        l->write_path = strdup(w->path);
        if (!l->notify_path || !l->write_path)
                return false;
        l->notify_started = n->notifying; /* left enabled by an earlier run? */
        return true;
}

static int on_objects(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);
        struct bluez_objects o;
        enum ble_step next = l->step;
        int r;

        l->call = sd_bus_slot_unref(l->call);
        if (err) {
                fail(l, bluez_error_to_errno(err, -EIO), "GetManagedObjects: %s",
                     err->message ? err->message : err->name);
                return 0;
        }
        r = bluez_objects_parse(m, &o);
        if (r < 0) {
                fail(l, r, "GetManagedObjects: cannot parse the answer");
                return 0;
        }
        if (next == STEP_OBJECTS) {
                const struct bluez_object *a = bluez_objects_find(&o, BLUEZ_ADAPTER, l->bm->adapter_path);
                const struct bluez_object *d = bluez_objects_find(&o, BLUEZ_DEVICE, l->dev_path);
                if (!a)
                        fail(l, -ENODEV, "adapter lookup: %s not found (is bluetoothd running?)", l->bm->adapter_path);
                else if (!a->powered)
                        fail(l, -ENETDOWN, "adapter %s is powered off", l->bm->adapter_path);
                else if (!d) {
                        /* Unknown to BlueZ (or forgotten after a discovery): discover it. */
                        l->step = STEP_DISCOVERY;
                        r = sd_bus_match_signal_async(l->bm->bus, &l->match_added, "org.bluez", "/",
                                                      "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
                                                      on_interfaces_added, NULL, l);
                        if (r >= 0) {
                                _cleanup_(sd_bus_message_unrefp) sd_bus_message *f = NULL;
                                r = sd_bus_message_new_method_call(l->bm->bus, &f, "org.bluez", l->bm->adapter_path,
                                                                   "org.bluez.Adapter1", "SetDiscoveryFilter");
                                if (r >= 0)
                                        r = sd_bus_message_append(f, "a{sv}", 1, "Transport", "s", "le");
                                if (r >= 0)
                                        (void) sd_bus_call_async(l->bm->bus, NULL, f, NULL, NULL, T_OBJECTS);
                                /* InProgress (someone else discovers) is fine: we only wait for the device. */
                                call_floating(l->bm, l->bm->adapter_path, "org.bluez.Adapter1", "StartDiscovery", NULL,
                                              NULL);
                                arm(l, T_DISCOVERY);
                                log_debug(SENDER, "%s: discovering %s", l->name, l->mac);
                        } else
                                fail(l, r, "discovery");
                } else if (d->connected && d->services_resolved) {
                        l->connect_called = true;
                        step_objects(l, STEP_SERVICES);
                } else
                        step_connect(l);
        } else if (next == STEP_SERVICES) {
                if (!find_characteristics(l, &o))
                        fail(l, -ENOENT, "service lookup: the BMS service/characteristics were not found");
                else if (l->notify_started) {
                        l->step = STEP_NOTIFY;
                        if (call(l, l->notify_path, "org.bluez.GattCharacteristic1", "StopNotify", T_NOTIFY,
                                 on_stale_notify_stopped, NULL) < 0)
                                start_notify(l);
                } else {
                        l->step = STEP_NOTIFY;
                        start_notify(l);
                }
        }
        bluez_objects_clear(&o);
        return 0;
}

static void step_objects(struct ble_link *l, enum ble_step next) {
        l->timer = sd_event_source_disable_unref(l->timer);
        l->step = next;
        int r = call(l, "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", T_OBJECTS, on_objects, NULL);
        if (r < 0)
                fail(l, r, "GetManagedObjects");
}

static int on_removed_for_retry(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        /* Only now is the device gone: asking for the objects earlier would
         * still find it and connect to a path that is being removed. */
        l->call = sd_bus_slot_unref(l->call);
        step_objects(l, STEP_OBJECTS);
        return 0;
}

static int on_connected(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);

        l->call = sd_bus_slot_unref(l->call);
        if (err) {
                const char *msg = err->message ? err->message : err->name;
                bool abort = strstr(msg, "abort") != NULL;
                /* "le-connection-abort-by-local" / "Software caused connection
                 * abort": BlueZ's view is stale; discover afresh and try once more. */
                if (abort && l->connect_attempts < 2) {
                        log_info(SENDER, "%s: connect failed (%s): discovering again and retrying", l->name, msg);
                        l->resolved = false;
                        l->match_dev = sd_bus_slot_unref(l->match_dev);
                        l->timer = sd_event_source_disable_unref(l->timer);
                        if (call(l, l->bm->adapter_path, "org.bluez.Adapter1", "RemoveDevice", T_OBJECTS,
                                 on_removed_for_retry, "o", l->dev_path) < 0)
                                step_objects(l, STEP_OBJECTS);
                        return 0;
                }
                fail(l, bluez_error_to_errno(err, -EIO), "connect: %s", msg);
                return 0;
        }
        if (l->resolved) {
                failures_for(l->bm, l->mac)->count = 0;
                step_objects(l, STEP_SERVICES);
        } else {
                l->step = STEP_RESOLVE;
                arm(l, T_RESOLVE);
        }
        return 0;
}

static void step_connect(struct ble_link *l) {
        int r;

        l->timer = sd_event_source_disable_unref(l->timer);
        l->step = STEP_CONNECT;
        l->connect_attempts++;
        l->connect_called = true;
        if (!l->match_dev) {
                r = sd_bus_match_signal_async(l->bm->bus, &l->match_dev, "org.bluez", l->dev_path,
                                              "org.freedesktop.DBus.Properties", "PropertiesChanged", on_dev_props,
                                              NULL, l);
                if (r < 0) {
                        fail(l, r, "connect: cannot watch the device");
                        return;
                }
        }
        r = call(l, l->dev_path, "org.bluez.Device1", "Connect", T_CONNECT, on_connected, NULL);
        if (r < 0)
                fail(l, r, "connect");
}

/* ---- queue ---- */

static void start_next(struct ble_manager *bm) {
        struct ble_link *l;

        if (bm->active || !bm->queue)
                return;
        l = bm->queue;
        bm->queue = l->next;
        l->next = NULL;
        bm->active = l;
        if (!bm->bus) {
                int r = sd_bus_open_system(&bm->bus);
                if (r >= 0)
                        r = sd_bus_attach_event(bm->bus, bm->event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0) {
                        bm->bus = sd_bus_flush_close_unref(bm->bus);
                        l->step = STEP_CLOSING;
                        fail(l, r, "D-Bus: cannot connect to the system bus");
                        return;
                }
        }
        log_debug(SENDER, "%s: read of %s starts", l->name, l->mac);
        step_objects(l, STEP_OBJECTS);
}

int ble_manager_new(sd_event *e, const char *adapter, struct ble_manager **ret) {
        struct ble_manager *bm = calloc(1, sizeof(*bm));
        if (!bm)
                return -ENOMEM;
        bm->event = sd_event_ref(e);
        snprintf(bm->adapter_path, sizeof(bm->adapter_path), "/org/bluez/%s", adapter ? adapter : "hci0");
        *ret = bm;
        return 0;
}

struct ble_manager *ble_manager_free(struct ble_manager *bm) {
        if (!bm)
                return NULL;
        while (bm->queue) {
                struct ble_link *l = bm->queue;
                bm->queue = l->next;
                link_free(l);
        }
        if (bm->active)
                link_free(bm->active);
        sd_bus_flush_close_unref(bm->bus);
        sd_event_unref(bm->event);
        free(bm);
        return NULL;
}

int ble_manager_open(struct ble_manager *bm, const char *name, const char *mac, const struct ble_profile *p,
                     const struct ble_callbacks *cb, void *userdata, struct ble_link **ret) {
        struct ble_link *l = calloc(1, sizeof(*l)), **tail;

        if (!l)
                return -ENOMEM;
        l->bm = bm;
        l->profile = p;
        l->cb = *cb;
        l->userdata = userdata;
        snprintf(l->name, sizeof(l->name), "%s", name);
        snprintf(l->mac, sizeof(l->mac), "%s", mac);
        snprintf(l->dev_path, sizeof(l->dev_path), "%s/dev_%s", bm->adapter_path, mac);
        for (char *c = l->dev_path + strlen(bm->adapter_path); *c; c++)
                if (*c == ':')
                        *c = '_';
        for (tail = &bm->queue; *tail; tail = &(*tail)->next)
                ;
        *tail = l;
        *ret = l;
        start_next(bm);
        return 0;
}

static int on_written(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct ble_link *l = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);

        l->call = sd_bus_slot_unref(l->call);
        if (err)
                fail(l, bluez_error_to_errno(err, -EIO), "write: %s", err->message ? err->message : err->name);
        return 0;
}

int ble_link_write(struct ble_link *l, const uint8_t *data, size_t len) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!l || l->step != STEP_READY)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(l->bm->bus, &m, "org.bluez", l->write_path, "org.bluez.GattCharacteristic1",
                                           "WriteValue");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', data, len);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 1, "type", "s", l->profile->write_command ? "command" : "request");
        if (r < 0)
                return r;
        l->call = sd_bus_slot_unref(l->call);
        return sd_bus_call_async(l->bm->bus, &l->call, m, on_written, l, T_WRITE);
}

void ble_link_close(struct ble_link *l) {
        struct ble_link **p;

        if (!l)
                return;
        l->detached = true;
        for (p = &l->bm->queue; *p; p = &(*p)->next)
                if (*p == l) {
                        *p = l->next;
                        link_free(l);
                        return;
                }
        if (l->step != STEP_CLOSING)
                begin_close(l);
}
