/* SPDX-License-Identifier: MIT */
/* BlueZ's object tree as far as homebattery needs it: the answer of
 * ObjectManager.GetManagedObjects parsed into a flat list of adapters,
 * devices, services and characteristics with the properties we use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-bus.h>

enum bluez_kind {
        BLUEZ_ADAPTER,
        BLUEZ_DEVICE,
        BLUEZ_SERVICE,
        BLUEZ_CHARACTERISTIC,
};

#define BLUEZ_FLAG_NOTIFY (1u << 0)
#define BLUEZ_FLAG_WRITE (1u << 1)
#define BLUEZ_FLAG_WRITE_WITHOUT_RESPONSE (1u << 2)

struct bluez_object {
        enum bluez_kind kind;
        char *path;
        char *uuid; /* services, characteristics; lower case */
        unsigned flags;
        bool powered, connected, services_resolved, notifying;
};

struct bluez_objects {
        struct bluez_object *v;
        size_t n;
};

/* Parses a{oa{sa{sv}}}; unknown interfaces and properties are skipped. */
int bluez_objects_parse(sd_bus_message *m, struct bluez_objects *ret);
void bluez_objects_clear(struct bluez_objects *o);
const struct bluez_object *bluez_objects_find(const struct bluez_objects *o, enum bluez_kind kind, const char *path);
/* A service (or characteristic) with that UUID directly below parent; for
 * characteristics, want_flags must all be present (0: any). */
const struct bluez_object *bluez_objects_child(const struct bluez_objects *o, enum bluez_kind kind, const char *parent,
                                               const char *uuid, unsigned want_flags);
/* The notify and write characteristics of the first of `n` services (by UUID,
 * below the device) that has both; two characteristics may share a UUID, so
 * they are told apart by their Flags. */
bool bluez_objects_find_gatt(const struct bluez_objects *o, const char *dev_path, const char *const *service_uuids,
                             const char *const *notify_uuids, const char *const *write_uuids, size_t n,
                             bool write_command, const struct bluez_object **ret_notify,
                             const struct bluez_object **ret_write);
/* A characteristic's PropertiesChanged signal: 1 and the new Value (valid as
 * long as the message), 0 when it carries no Value, negative on a bad message. */
int bluez_read_value_changed(sd_bus_message *m, const void **ret_data, size_t *ret_size);
/* A BlueZ or D-Bus error name → negative errno. */
int bluez_error_to_errno(const sd_bus_error *e, int fallback);
/* Reads the booleans of interest from an a{sv} (PropertiesChanged). */
int bluez_read_props(sd_bus_message *m, struct bluez_object *obj, unsigned *ret_seen);
#define BLUEZ_SEEN_CONNECTED (1u << 0)
#define BLUEZ_SEEN_RESOLVED (1u << 1)
#define BLUEZ_SEEN_NOTIFYING (1u << 2)
#define BLUEZ_SEEN_POWERED (1u << 3)
