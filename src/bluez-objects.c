/* SPDX-License-Identifier: MIT */
/* Walks BlueZ's GetManagedObjects answer and PropertiesChanged payloads.
 * Only the few properties the BLE transport decides on are kept. */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bluez-objects.h"
#include "homebattery/cleanup.h"

static int read_flags(sd_bus_message *m, unsigned *ret) {
        const char *f;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "s", &f)) > 0) {
                if (strcmp(f, "notify") == 0 || strcmp(f, "indicate") == 0)
                        *ret |= BLUEZ_FLAG_NOTIFY;
                else if (strcmp(f, "write") == 0)
                        *ret |= BLUEZ_FLAG_WRITE;
                else if (strcmp(f, "write-without-response") == 0)
                        *ret |= BLUEZ_FLAG_WRITE_WITHOUT_RESPONSE;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_bool_variant(sd_bus_message *m, bool *ret) {
        int b, r = sd_bus_message_read(m, "v", "b", &b);
        if (r >= 0)
                *ret = b;
        return r;
}

/* One a{sv}: the properties we know, everything else skipped. */
static int read_props(sd_bus_message *m, struct bluez_object *obj, unsigned *seen) {
        const char *name;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                if (strcmp(name, "UUID") == 0) {
                        const char *u;
                        r = sd_bus_message_read(m, "v", "s", &u);
                        if (r >= 0) {
                                free(obj->uuid);
                                obj->uuid = strdup(u);
                                if (!obj->uuid)
                                        return -ENOMEM;
                                for (char *p = obj->uuid; *p; p++)
                                        *p = (char) tolower((unsigned char) *p);
                        }
                } else if (strcmp(name, "Flags") == 0) {
                        r = sd_bus_message_enter_container(m, 'v', "as");
                        if (r >= 0)
                                r = read_flags(m, &obj->flags);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                } else if (strcmp(name, "Powered") == 0) {
                        r = read_bool_variant(m, &obj->powered);
                        *seen |= BLUEZ_SEEN_POWERED;
                } else if (strcmp(name, "Connected") == 0) {
                        r = read_bool_variant(m, &obj->connected);
                        *seen |= BLUEZ_SEEN_CONNECTED;
                } else if (strcmp(name, "ServicesResolved") == 0) {
                        r = read_bool_variant(m, &obj->services_resolved);
                        *seen |= BLUEZ_SEEN_RESOLVED;
                } else if (strcmp(name, "Notifying") == 0) {
                        r = read_bool_variant(m, &obj->notifying);
                        *seen |= BLUEZ_SEEN_NOTIFYING;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int bluez_read_props(sd_bus_message *m, struct bluez_object *obj, unsigned *ret_seen) {
        *ret_seen = 0;
        return read_props(m, obj, ret_seen);
}

static int push(struct bluez_objects *o, const struct bluez_object *obj) {
        struct bluez_object *v = realloc(o->v, (o->n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        o->v = v;
        o->v[o->n++] = *obj;
        return 0;
}

int bluez_objects_parse(sd_bus_message *m, struct bluez_objects *ret) {
        const char *path, *iface;
        unsigned seen;
        int r;

        *ret = (struct bluez_objects) {};
        r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
                r = sd_bus_message_read(m, "o", &path);
                if (r >= 0)
                        r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
                while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                        struct bluez_object obj = {};
                        bool known = true;

                        r = sd_bus_message_read(m, "s", &iface);
                        if (r < 0)
                                break;
                        if (strcmp(iface, "org.bluez.Adapter1") == 0)
                                obj.kind = BLUEZ_ADAPTER;
                        else if (strcmp(iface, "org.bluez.Device1") == 0)
                                obj.kind = BLUEZ_DEVICE;
                        else if (strcmp(iface, "org.bluez.GattService1") == 0)
                                obj.kind = BLUEZ_SERVICE;
                        else if (strcmp(iface, "org.bluez.GattCharacteristic1") == 0)
                                obj.kind = BLUEZ_CHARACTERISTIC;
                        else
                                known = false;
                        if (!known)
                                r = sd_bus_message_skip(m, "a{sv}");
                        else {
                                r = read_props(m, &obj, &seen);
                                if (r >= 0 && !(obj.path = strdup(path)))
                                        r = -ENOMEM;
                                if (r >= 0)
                                        r = push(ret, &obj);
                                if (r < 0) {
                                        free(obj.path);
                                        free(obj.uuid);
                                }
                        }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(m); /* a{sa{sv}} */
                if (r >= 0)
                        r = sd_bus_message_exit_container(m); /* e */
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0) {
                bluez_objects_clear(ret);
                return r;
        }
        return 0;
}

void bluez_objects_clear(struct bluez_objects *o) {
        for (size_t i = 0; i < o->n; i++) {
                free(o->v[i].path);
                free(o->v[i].uuid);
        }
        free(o->v);
        *o = (struct bluez_objects) {};
}

const struct bluez_object *bluez_objects_find(const struct bluez_objects *o, enum bluez_kind kind, const char *path) {
        for (size_t i = 0; i < o->n; i++)
                if (o->v[i].kind == kind && strcmp(o->v[i].path, path) == 0)
                        return &o->v[i];
        return NULL;
}

static bool is_direct_child(const char *path, const char *parent) {
        size_t n = strlen(parent);
        return strncmp(path, parent, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/');
}

const struct bluez_object *bluez_objects_child(const struct bluez_objects *o, enum bluez_kind kind, const char *parent,
                                               const char *uuid, unsigned want_flags) {
        for (size_t i = 0; i < o->n; i++) {
                const struct bluez_object *b = &o->v[i];
                if (b->kind == kind && b->uuid && strcmp(b->uuid, uuid) == 0 && is_direct_child(b->path, parent) &&
                    (b->flags & want_flags) == want_flags)
                        return b;
        }
        return NULL;
}

bool bluez_objects_find_gatt(const struct bluez_objects *o, const char *dev_path, const char *const *service_uuids,
                             const char *const *notify_uuids, const char *const *write_uuids, size_t n,
                             bool write_command, const struct bluez_object **ret_notify,
                             const struct bluez_object **ret_write) {
        unsigned want_write = write_command ? BLUEZ_FLAG_WRITE_WITHOUT_RESPONSE : BLUEZ_FLAG_WRITE;

        for (size_t i = 0; i < n && service_uuids[i]; i++) {
                const struct bluez_object *svc = bluez_objects_child(o, BLUEZ_SERVICE, dev_path, service_uuids[i], 0);
                if (!svc)
                        continue;
                const struct bluez_object *nc =
                        bluez_objects_child(o, BLUEZ_CHARACTERISTIC, svc->path, notify_uuids[i], BLUEZ_FLAG_NOTIFY);
                const struct bluez_object *wc =
                        bluez_objects_child(o, BLUEZ_CHARACTERISTIC, svc->path, write_uuids[i], want_write);
                /* A write of the other kind still works (BlueZ forces the procedure by "type"). */
                if (!wc)
                        wc = bluez_objects_child(o, BLUEZ_CHARACTERISTIC, svc->path, write_uuids[i],
                                                 want_write ^ (BLUEZ_FLAG_WRITE | BLUEZ_FLAG_WRITE_WITHOUT_RESPONSE));
                if (nc && wc) {
                        *ret_notify = nc;
                        *ret_write = wc;
                        return true;
                }
        }
        return false;
}

int bluez_error_to_errno(const sd_bus_error *e, int fallback) {
        if (!e || !e->name)
                return fallback < 0 ? fallback : -EIO;
        if (strcmp(e->name, "org.bluez.Error.InProgress") == 0)
                return -EBUSY;
        if (strcmp(e->name, "org.bluez.Error.NotConnected") == 0)
                return -ENOTCONN;
        if (strcmp(e->name, "org.bluez.Error.DoesNotExist") == 0)
                return -ENODEV;
        if (strcmp(e->name, "org.bluez.Error.NotReady") == 0 || strcmp(e->name, "org.bluez.Error.NotAvailable") == 0)
                return -EAGAIN;
        if (strcmp(e->name, "org.freedesktop.DBus.Error.NoReply") == 0 ||
            strcmp(e->name, "org.freedesktop.DBus.Error.Timeout") == 0)
                return -ETIMEDOUT;
        int r = sd_bus_error_get_errno(e);
        return r > 0 ? -r : -EIO;
}


int bluez_read_value_changed(sd_bus_message *m, const void **ret_data, size_t *ret_size) {
        const char *iface, *name;
        int r;

        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0)
                return r;
        if (strcmp(iface, "org.bluez.GattCharacteristic1") != 0)
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                if (strcmp(name, "Value") == 0) {
                        r = sd_bus_message_enter_container(m, 'v', "ay");
                        if (r >= 0)
                                r = sd_bus_message_read_array(m, 'y', ret_data, ret_size);
                        return r < 0 ? r : 1;
                }
                r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : 0;
}
